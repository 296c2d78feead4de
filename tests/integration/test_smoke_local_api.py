from __future__ import annotations

from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY

from tests.integration.conftest import LocalApi


def test_demo_credentials_create_a_call(local_api: LocalApi) -> None:
    result = local_api.request(headers={"X-App-Id": DEMO_APP_ID, "X-Widget-Key": DEMO_WIDGET_KEY})

    assert result.status == 201
    assert result.body["ok"] is True
    assert result.body["data"]["guestJoinUrl"].endswith(result.body["data"]["callId"])
