"""The local run as a developer uses it: `make run` with an operator at work beside it, and `make invoke`."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from typing import Any

import pytest
from callsctl.store import AdminStore

from tests.conftest import ROOT
from tests.integration.conftest import HttpResult, LocalApi, TestApp, table_environment

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


def test_make_invoke_prints_only_the_lambdas_result_on_stdout(prepared_endpoint: str) -> None:
    """`make -s invoke EVENT=... | jq` as the README has it: the logs go to stderr."""
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("MAKE", "MFLAGS"))},
        **table_environment(prepared_endpoint),
    }
    run = subprocess.run(
        ["make", "-s", "invoke", "EVENT=events/minimal.json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr

    result = json.loads(run.stdout)  # exactly one JSON document, or this raises
    assert result["statusCode"] == 201, result
    assert json.loads(result["body"])["ok"] is True

    logs = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    created = [entry for entry in logs if entry.get("message") == "Call created"]
    assert created, run.stderr
    assert created[0]["callId"] == json.loads(result["body"])["data"]["callId"]
