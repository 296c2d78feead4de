"""The attack on host-key mode that an adversarial probe found, kept step by step.

A widget key lives in customers' browsers: treat it as public. The Genesys panel starts a
conversation's call with an Idempotency-Key and a body that anyone holding the widget key can
rebuild from what `GET /api/calls` shows (each call's `genesys` object, and the conversation's
calls in order). Replaying that create used to answer the original host link, and the host link
makes its bearer the agent. No request authenticated by the widget key alone may obtain the host
key of an existing call: a replay in host-key mode answers without the host link, and says so.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from urllib.parse import quote

import pytest
from callsctl.store import AdminStore

from tests.integration.conftest import LocalApi, TestApp
from tests.integration.test_join import join, link_query
from tests.integration.test_lifecycle import assert_error, assert_ok, creds

pytestmark = pytest.mark.integration


@pytest.fixture
def host_key_app(make_app: Callable[..., TestApp], admin: AdminStore) -> TestApp:
    app = make_app()
    admin.set_host_links(app.app_id, "hostKey")
    return app


def panel_idempotency_key(conversation_id: str, previous_call_id: str | None) -> str:
    """What widget/genesys/genesys.js sends: the conversation and the call it follows."""
    after = ":after:" + (quote(previous_call_id, safe="") if previous_call_id else "none")
    return "genesys-" + quote(conversation_id, safe="") + after


def test_the_widget_key_cannot_rebuild_a_panel_create_into_a_host_link(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    conversation = f"conv-{uuid.uuid4()}"
    genesys = {
        "conversationId": conversation,
        "gcLangTag": "en-us",
        "gcHostOrigin": "https://apps.mypurecloud.com",
    }

    # The agent's panel starts the conversation's first call; only the agent sees this answer.
    started = local_api.request(
        headers={**creds(host_key_app), "Idempotency-Key": panel_idempotency_key(conversation, None)},
        json_body={"genesys": genesys},
    )
    assert started.status == 201, started.raw
    call_id = started.body["data"]["callId"]
    host_key = link_query(started.body["data"]["hostJoinUrl"])["hostKey"]

    # Step 1: with the widget key alone, list the conversation's calls and read their genesys context.
    listed = assert_ok(
        local_api.request(
            "GET", "/api/calls", headers=creds(host_key_app), query={"conversationId": conversation}
        )
    )
    (seen,) = listed["calls"]
    assert seen["callId"] == call_id
    assert "hostJoinUrl" not in seen

    # Step 2: rebuild the panel's key (the call followed nothing) and its body, and replay the create.
    replay = local_api.request(
        headers={**creds(host_key_app), "Idempotency-Key": panel_idempotency_key(conversation, None)},
        json_body={"genesys": seen["genesys"]},
    )

    # The replay is the same call, and says that the host link is withheld; the host key is nowhere.
    assert replay.status == 201, replay.raw
    assert replay.header("Idempotent-Replayed") == "true"
    data = replay.body["data"]
    assert data["callId"] == call_id
    assert data["hostLinkWithheld"] is True
    assert "hostJoinUrl" not in data
    assert "agentJoinUrl" not in data
    assert data["guestJoinUrl"] == started.body["data"]["guestJoinUrl"]
    assert host_key not in replay.raw.decode()
    assert "hostKey" not in replay.raw.decode()

    # Step 3: nothing the replay answered makes its bearer the agent.
    from_replay = link_query(data["guestJoinUrl"])
    assert_error(join(local_api, call_id, {**from_replay, "role": "agent"}), 401, "UNAUTHORIZED")
    assert_error(
        join(local_api, call_id, {"role": "agent", **creds_query(host_key_app)}), 401, "UNAUTHORIZED"
    )
    # The genuine link still works: only its bearer is the agent.
    assert assert_ok(join(local_api, call_id, {"role": "agent", "hostKey": host_key}))["role"] == "agent"


def test_a_replay_in_widget_key_mode_still_returns_the_host_link_of_the_caller(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    """The widget-key mode's host link carries only what the caller sent: replaying it reveals nothing."""
    app = make_app()
    key = f"retry-{uuid.uuid4()}"
    first = local_api.request(headers={**creds(app), "Idempotency-Key": key}, json_body={})
    again = local_api.request(headers={**creds(app), "Idempotency-Key": key}, json_body={})
    assert again.header("Idempotent-Replayed") == "true"
    assert again.raw == first.raw
    assert "hostLinkWithheld" not in json.loads(again.raw)["data"]


def creds_query(app: TestApp) -> dict[str, str]:
    return {"appId": app.app_id, "widgetKey": app.widget_key}
