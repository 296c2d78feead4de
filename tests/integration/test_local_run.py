"""The local run as a developer uses it: `make run` with an operator at work beside it, and `make invoke`."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from callsctl.store import AdminStore

from tests.integration.conftest import HttpResult, LocalApi, TestApp

pytestmark = pytest.mark.integration


def create_call(local_api: LocalApi, app_id: str, widget_key: str, body: Any = None) -> HttpResult:
    headers = {"X-App-Id": app_id, "X-Widget-Key": widget_key, "Content-Type": "application/json"}
    return local_api.request(headers=headers, json_body=body if body is not None else {})


def error_code(result: HttpResult) -> str:
    code: str = result.body["error"]["code"]
    return code


def test_an_operators_change_is_obeyed_on_the_very_next_request(
    local_api: LocalApi, admin: AdminStore, make_app: Any
) -> None:
    """Each change follows a request that has just read the app, so a cache of any length would hide it."""
    assert "CACHE_TTL_SECONDS" not in local_api.environment, "the test must hold the local run's own default"
    app: TestApp = make_app()
    assert create_call(local_api, app.app_id, app.widget_key).status == 201

    new_key = secrets.token_urlsafe(24)
    admin.add_key(app.app_id, "k2", new_key)
    assert create_call(local_api, app.app_id, new_key).status == 201, "a key just added"

    admin.revoke_key(app.app_id, "k1")
    revoked = create_call(local_api, app.app_id, app.widget_key)
    assert (revoked.status, error_code(revoked)) == (401, "UNAUTHORIZED"), "a key just revoked"

    admin.put_preset(app.app_id, "branded", {"hostName": "Brand host", "previewEnabled": False})
    branded = create_call(local_api, app.app_id, new_key, {"presetId": "branded"})
    assert branded.status == 201, branded.body
    assert branded.body["data"]["presetId"] == "branded"
    assert branded.body["data"]["previewEnabled"] is False

    admin.set_active_preset(app.app_id, "branded")
    assert create_call(local_api, app.app_id, new_key).body["data"]["presetId"] == "branded"

    admin.set_status(app.app_id, "disabled")
    disabled = create_call(local_api, app.app_id, new_key)
    assert (disabled.status, error_code(disabled)) == (403, "APP_DISABLED"), "an app just disabled"


def test_the_local_run_says_the_app_cache_is_off(local_api: LocalApi) -> None:
    assert "app cache (CACHE_TTL_SECONDS): off" in local_api.logs()
