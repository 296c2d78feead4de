"""callsctl against DynamoDB Local: every command, and its effect on the API served by the local server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from calls.view import utc_now
from callsctl import target
from callsctl.cli import cli
from callsctl.store import AdminStore, TableNames, key_digest
from click.testing import CliRunner, Result
from localrun.database import admin_store
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY, DISABLED_APP_ID, seed_demo_data

from tests.integration.conftest import TABLE_NAMES, LocalApi

pytestmark = pytest.mark.integration

CONSOLE_SCRIPT = Path(sys.executable).with_name("callsctl")


def tables_environment(names: TableNames = TABLE_NAMES) -> dict[str, str]:
    return {
        "APPS_TABLE_NAME": names.apps,
        "CALLS_TABLE_NAME": names.calls,
        "IDEMPOTENCY_TABLE_NAME": names.idempotency,
    }


@dataclass
class Ctl:
    """`callsctl --endpoint-url <DynamoDB Local>` run in-process, on the tests' tables."""

    endpoint: str
    names: TableNames = TABLE_NAMES

    def __call__(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(
            cli,
            ["--endpoint-url", self.endpoint, *args],
            input=input,
            env=tables_environment(self.names),
            catch_exceptions=False,
        )

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self.ok("--json", *args, input=input).stdout)

    def fails(self, exit_code: int, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == exit_code, result.output
        assert "Traceback" not in result.output
        return result


@pytest.fixture
def ctl(prepared_endpoint: str) -> Ctl:
    return Ctl(prepared_endpoint)


@dataclass(frozen=True)
class CreatedApp:
    app_id: str
    key_id: str
    widget_key: str


def create_app(ctl: Ctl, *origins: str, name: str = "Test app") -> CreatedApp:
    options = [part for origin in origins for part in ("--allowed-origin", origin)]
    data = ctl.json("apps", "create", name, *options)
    return CreatedApp(data["appId"], data["keyId"], data["widgetKey"])


def one_line_error(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def raw_app_item(admin: AdminStore, app_id: str) -> dict[str, Any] | None:
    found = admin.client.get_item(
        TableName=TABLE_NAMES.apps, Key={"appId": {"S": app_id}, "sk": {"S": "APP"}}, ConsistentRead=True
    )
    item: dict[str, Any] | None = found.get("Item")
    return item


def post_call(
    local_api: LocalApi, app_id: str, widget_key: str, body: Any = None, origin: str | None = None
) -> Any:
    headers = {"X-App-Id": app_id, "X-Widget-Key": widget_key, "Content-Type": "application/json"}
    if origin:
        headers["Origin"] = origin
    return local_api.request(headers=headers, json_body=body if body is not None else {})


# The console script


def test_the_console_script_is_installed_and_runs(prepared_endpoint: str) -> None:
    shown = subprocess.run(
        [str(CONSOLE_SCRIPT), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert shown.returncode == 0, shown.stderr
    for group in ("apps", "keys", "presets", "calls"):
        assert group in shown.stdout

    env = {**os.environ, **tables_environment()}
    run = subprocess.run(
        [str(CONSOLE_SCRIPT), "--endpoint-url", prepared_endpoint, "--json", "apps", "show", DEMO_APP_ID],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["appId"] == DEMO_APP_ID


def test_the_console_script_fails_in_one_line_when_the_database_is_unreachable() -> None:
    from localrun.dynamodb_local import free_port

    run = subprocess.run(
        [str(CONSOLE_SCRIPT), "--endpoint-url", f"http://127.0.0.1:{free_port()}", "apps", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **tables_environment()},
        check=False,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]
    assert "cannot reach" in run.stderr
    assert "Traceback" not in run.stderr


def test_python_dash_m_callsctl_is_the_same_tool() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "callsctl", "keys", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "revoke" in shown.stdout


# Targets and usage


def test_without_a_target_a_data_command_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APPS_TABLE_NAME", "CALLS_TABLE_NAME", "DYNAMODB_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["apps", "list"])
    assert result.exit_code == 2
    assert "no target" in result.stderr

    assert CliRunner().invoke(cli, ["apps", "list", "--help"]).exit_code == 0


def test_two_targets_are_a_usage_error(prepared_endpoint: str) -> None:
    result = CliRunner().invoke(cli, ["--local", "--endpoint-url", prepared_endpoint, "apps", "list"])
    assert result.exit_code == 2
    assert "choose one target" in result.stderr


def test_unknown_commands_and_missing_arguments_are_usage_errors(ctl: Ctl) -> None:
    ctl.fails(2, "apps", "frobnicate")
    ctl.fails(2, "apps", "show")
    ctl.fails(2, "keys", "revoke", "app-only")
    ctl.fails(2, "calls", "list", "x", "--limit", "0")


def test_the_environment_alone_is_a_target(prepared_endpoint: str) -> None:
    env = {**tables_environment(), "DYNAMODB_ENDPOINT_URL": prepared_endpoint}
    result = CliRunner().invoke(cli, ["--json", "apps", "show", DEMO_APP_ID], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["appId"] == DEMO_APP_ID


def test_local_is_the_local_runs_port(prepared_endpoint: str) -> None:
    port = prepared_endpoint.rsplit(":", 1)[1]
    env = {**tables_environment(), "DYNAMODB_LOCAL_PORT": port}
    result = CliRunner().invoke(cli, ["--local", "--json", "apps", "show", DEMO_APP_ID], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["appId"] == DEMO_APP_ID


def test_a_missing_table_is_a_one_line_failure(prepared_endpoint: str) -> None:
    result = Ctl(prepared_endpoint, TableNames("no-such-apps", "no-such-calls", "x"))("apps", "list")
    assert result.exit_code == 1
    assert "table was not found" in one_line_error(result)


class _StackSession:
    """A boto3 session whose CloudFormation answers from a stub and whose DynamoDB is the local one."""

    def __init__(self, endpoint: str, outputs: dict[str, str]):
        self.endpoint = endpoint
        self.outputs = outputs
        self.stubbers: list[Stubber] = []

    def client(self, service: str, **options: Any) -> Any:
        session = boto3.Session(region_name="eu-west-1")
        if service == "dynamodb":
            return session.client("dynamodb", **{**options, "endpoint_url": self.endpoint})
        client = session.client(service, **options)
        stubber = Stubber(client)
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "calls-test",
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()],
                    }
                ]
            },
            {"StackName": "calls-test"},
        )
        stubber.activate()
        self.stubbers.append(stubber)
        return client


STACK_JOIN_BASE_URL = "https://meet.example.test"


@pytest.fixture
def stack_session(prepared_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[_StackSession]:
    session = _StackSession(
        prepared_endpoint,
        {
            "AppsTableName": TABLE_NAMES.apps,
            "CallsTableName": TABLE_NAMES.calls,
            "IdempotencyTableName": TABLE_NAMES.idempotency,
            "JoinBaseUrl": STACK_JOIN_BASE_URL,
        },
    )
    seen: list[target.Target] = []

    def fake_session(chosen: target.Target, _environ: Any) -> _StackSession:
        seen.append(chosen)
        return session

    monkeypatch.setattr(target, "aws_session", fake_session)
    # Prove the stack's outputs are what names the tables, not the environment.
    for name in ("APPS_TABLE_NAME", "CALLS_TABLE_NAME", "DYNAMODB_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    yield session
    assert [(t.stack, t.region, t.profile) for t in seen] == [("calls-test", "eu-west-1", "ops")]
    for stubber in session.stubbers:
        stubber.assert_no_pending_responses()


def test_a_stack_target_works_on_the_tables_its_outputs_name(
    stack_session: _StackSession, admin: AdminStore
) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--stack",
            "calls-test",
            "--region",
            "eu-west-1",
            "--profile",
            "ops",
            "--json",
            "apps",
            "create",
            "S",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert admin.get_app(json.loads(result.stdout)["appId"]).name == "S"


def test_a_stack_targets_guest_links_use_the_stacks_join_base_url(
    stack_session: _StackSession, local_api: LocalApi
) -> None:
    created = post_call(local_api, DEMO_APP_ID, DEMO_WIDGET_KEY)
    call_id = created.body["data"]["callId"]
    show = ("calls", "show", DEMO_APP_ID, call_id)
    result = CliRunner().invoke(
        cli,
        ["--stack", "calls-test", "--region", "eu-west-1", "--profile", "ops", "--json", *show],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["guestJoinUrl"] == shown["joinUrl"] == f"{STACK_JOIN_BASE_URL}/c/{call_id}"


# apps


def test_apps_create_prints_the_key_once_and_stores_only_its_digest(ctl: Ctl, admin: AdminStore) -> None:
    result = ctl.ok("apps", "create", "Support desk")
    fields = dict(line.split(None, 1) for line in result.stdout.splitlines())
    app_id, key_id, widget_key = fields["appId"], fields["keyId"], fields["widgetKey"]
    assert "cannot be shown again" in result.stderr

    item = raw_app_item(admin, app_id)
    assert item is not None
    assert item["name"]["S"] == "Support desk"
    assert item["status"]["S"] == "active"
    assert item["widgetKeys"]["M"][key_id]["M"]["digest"]["S"] == key_digest(widget_key)
    assert widget_key not in json.dumps(item)
    assert len(widget_key) >= 40


def test_apps_create_validates_the_name_and_origins(ctl: Ctl) -> None:
    before = len(ctl.json("apps", "list"))
    ctl.fails(2, "apps", "create", "")
    ctl.fails(2, "apps", "create", "x" * 101)
    ctl.fails(2, "apps", "create", "Shop", "--allowed-origin", "https://shop.example/")
    assert len(ctl.json("apps", "list")) == before

    app = create_app(ctl, "https://Shop.Example:443", "http://localhost:5173", name="Shop")
    assert ctl.json("apps", "show", app.app_id)["allowedOrigins"] == [
        "https://shop.example",
        "http://localhost:5173",
    ]


def test_list_and_show_never_print_a_key_or_a_full_digest(ctl: Ctl) -> None:
    app = create_app(ctl)
    second = ctl.json("keys", "add", app.app_id)
    digests = [key_digest(app.widget_key), key_digest(second["widgetKey"])]
    secrets = [app.widget_key, second["widgetKey"], *digests]

    outputs = {
        (json_flag, command): ctl.ok(*json_flag, *command).output
        for json_flag in ((), ("--json",))
        for command in (("apps", "list"), ("apps", "show", app.app_id), ("keys", "list", app.app_id))
    }
    for (_, command), text in outputs.items():
        for secret in secrets:
            assert secret not in text
        if command[0] == "apps":
            assert app.app_id in text
        if command[-1] == app.app_id:
            assert app.key_id in text
            assert digests[0][:8] in text

    shown = ctl.json("apps", "show", app.app_id)
    assert [key["keyId"] for key in shown["keys"]] == [app.key_id, second["keyId"]]
    assert all(key["createdAt"] for key in shown["keys"])


def test_apps_list_shows_every_app(ctl: Ctl) -> None:
    app = create_app(ctl, name="Listed")
    listed = {entry["appId"]: entry for entry in ctl.json("apps", "list")}
    assert listed[app.app_id]["name"] == "Listed"
    assert listed[DEMO_APP_ID]["activePresetId"] == "default"
    assert listed[DISABLED_APP_ID]["status"] == "disabled"
    text = ctl.ok("apps", "list").stdout
    assert text.splitlines()[0].split()[:3] == ["APP", "ID", "NAME"]
    assert any(line.startswith(app.app_id) and "Listed" in line for line in text.splitlines())


def test_apps_show_of_an_unknown_app_fails_in_one_line(ctl: Ctl) -> None:
    result = ctl.fails(1, "apps", "show", "app_does_not_exist")
    assert one_line_error(result) == "Error: app 'app_does_not_exist' not found"


def test_apps_disable_and_enable_change_the_status(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    assert ctl.json("apps", "disable", app.app_id) == {
        "appId": app.app_id,
        "status": "disabled",
        "changed": True,
    }
    assert admin.get_app(app.app_id).status == "disabled"
    assert "already" in ctl.ok("apps", "disable", app.app_id).stdout
    ctl.ok("apps", "enable", app.app_id)
    assert admin.get_app(app.app_id).status == "active"
    for command in ("disable", "enable"):
        ctl.fails(1, "apps", command, "app_missing")
    assert not admin.app_exists("app_missing")


def test_apps_delete_asks_first_and_removes_the_presets(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    ctl.ok("presets", "put", app.app_id, "one", "--host-name", "A")
    ctl.ok("presets", "put", app.app_id, "two")

    declined = ctl.fails(1, "apps", "delete", app.app_id, input="n\n")
    assert "Aborted" in declined.stderr
    assert admin.app_exists(app.app_id)
    ctl.fails(1, "apps", "delete", app.app_id, input="")
    assert admin.app_exists(app.app_id)

    ctl.ok("apps", "delete", app.app_id, input="y\n")
    assert not admin.app_exists(app.app_id)
    assert not admin.preset_exists(app.app_id, "one")
    assert not admin.preset_exists(app.app_id, "two")

    ctl.fails(1, "apps", "delete", app.app_id, "--yes")


def test_apps_delete_yes_skips_the_question(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    ctl.ok("presets", "put", app.app_id, "p")
    assert ctl.json("apps", "delete", "--yes", app.app_id) == {
        "appId": app.app_id,
        "deleted": True,
        "presetsDeleted": 1,
    }
    assert not admin.app_exists(app.app_id)
    assert not admin.preset_exists(app.app_id, "p")


def test_apps_set_preset_requires_the_preset_and_the_app(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    missing = ctl.fails(1, "apps", "set-preset", app.app_id, "nope")
    assert "preset 'nope' not found" in one_line_error(missing)
    assert admin.get_app(app.app_id).active_preset_id is None

    ctl.fails(1, "apps", "set-preset", "app_missing", "nope")
    ctl.fails(2, "apps", "set-preset", app.app_id, "bad id")
    assert not admin.app_exists("app_missing")

    ctl.ok("presets", "put", app.app_id, "live")
    ctl.ok("apps", "set-preset", app.app_id, "live")
    assert admin.get_app(app.app_id).active_preset_id == "live"
    ctl.ok("apps", "clear-preset", app.app_id)
    assert admin.get_app(app.app_id).active_preset_id is None
    ctl.fails(1, "apps", "clear-preset", "app_missing")


def test_apps_set_and_clear_origins(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    shown = ctl.json("apps", "set-origins", app.app_id, "https://a.example", "HTTP://B.example:8080")
    assert shown["allowedOrigins"] == ["https://a.example", "http://b.example:8080"]
    assert admin.get_app(app.app_id).allowed_origins == ("https://a.example", "http://b.example:8080")

    for bad in ("https://a.example/", "https://a.example/path", "a.example", "ftp://a.example"):
        ctl.fails(2, "apps", "set-origins", app.app_id, bad)
    ctl.fails(2, "apps", "set-origins", app.app_id)
    assert admin.get_app(app.app_id).allowed_origins == ("https://a.example", "http://b.example:8080")

    ctl.ok("apps", "clear-origins", app.app_id)
    assert admin.get_app(app.app_id).allowed_origins == ()
    ctl.fails(1, "apps", "set-origins", "app_missing", "https://a.example")
    ctl.fails(1, "apps", "clear-origins", "app_missing")


# keys


def test_keys_add_list_and_revoke(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    added = ctl.ok("keys", "add", app.app_id)
    fields = dict(line.split(None, 1) for line in added.stdout.splitlines())
    assert "cannot be shown again" in added.stderr
    new_key_id, new_key = fields["keyId"], fields["widgetKey"]
    assert new_key not in (app.widget_key,)

    listed = ctl.json("keys", "list", app.app_id)
    assert [key["keyId"] for key in listed] == [app.key_id, new_key_id]
    assert [key["digestPrefix"] for key in listed] == [
        key_digest(app.widget_key)[:8],
        key_digest(new_key)[:8],
    ]

    revoked = ctl.json("keys", "revoke", app.app_id, app.key_id)
    assert revoked["remainingKeys"] == 1
    assert [key.key_id for key in admin.list_keys(app.app_id)] == [new_key_id]

    again = ctl.fails(1, "keys", "revoke", app.app_id, app.key_id)
    assert f"has no key '{app.key_id}'" in one_line_error(again)
    ctl.fails(1, "keys", "revoke", "app_missing", app.key_id)
    ctl.fails(1, "keys", "add", "app_missing")
    ctl.fails(1, "keys", "list", "app_missing")
    assert not admin.app_exists("app_missing")

    last = ctl.ok("keys", "revoke", app.app_id, new_key_id)
    assert "no keys left" in last.stderr
    assert "no keys" in ctl.ok("keys", "list", app.app_id).stdout


# presets


def test_presets_put_from_flags(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    ctl.ok(
        "presets", "put", app.app_id, "support",
        "--host-name", "Agent", "--guest-name", "Customer", "--record-on-start", "--no-preview",
    )  # fmt: skip
    preset = admin.get_preset(app.app_id, "support")
    assert preset.settings == {
        "hostName": "Agent",
        "guestName": "Customer",
        "recordOnStart": True,
        "previewEnabled": False,
    }

    ctl.ok("presets", "put", app.app_id, "support", "--no-record-on-start")
    assert admin.get_preset(app.app_id, "support").settings == {"recordOnStart": False}


def test_presets_put_from_a_file_keeps_further_settings_and_flags_win(
    ctl: Ctl, admin: AdminStore, tmp_path: Path
) -> None:
    app = create_app(ctl)
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(
        '{"hostName": "From file", "guestName": "Guest",'
        ' "layout": {"ratio": 1.0, "n": 12345678901234567890}}',
        encoding="utf-8",
    )
    ctl.ok("presets", "put", app.app_id, "filed", "--file", str(settings_file), "--host-name", "Flag")
    stored = admin.client.get_item(
        TableName=TABLE_NAMES.apps, Key={"appId": {"S": app.app_id}, "sk": {"S": "PRESET#filed"}}
    )["Item"]
    assert stored["settings"]["S"] == (
        '{"hostName":"Flag","guestName":"Guest","layout":{"ratio":1.0,"n":12345678901234567890}}'
    )

    ctl.ok("presets", "put", app.app_id, "piped", "--file", "-", input='{"previewEnabled": false}')
    assert admin.get_preset(app.app_id, "piped").settings == {"previewEnabled": False}


def test_presets_put_refuses_what_the_api_would(ctl: Ctl, admin: AdminStore, tmp_path: Path) -> None:
    app = create_app(ctl)
    for settings in ('{"recordOnStart": "yes"}', '{"hostName": ""}', "[]", "{oops"):
        result = ctl.fails(2, "presets", "put", app.app_id, "p", "--file", "-", input=settings)
        assert "Error:" in result.stderr
    ctl.fails(2, "presets", "put", app.app_id, "p", "--guest-name", "x" * 101)
    ctl.fails(2, "presets", "put", app.app_id, "not/valid")
    ctl.fails(2, "presets", "put", app.app_id, "p", "--file", str(tmp_path / "missing.json"))
    assert not admin.preset_exists(app.app_id, "p")

    missing_app = ctl.fails(1, "presets", "put", "app_missing", "p", "--host-name", "A")
    assert one_line_error(missing_app) == "Error: app 'app_missing' not found"
    assert not admin.preset_exists("app_missing", "p")


def test_presets_list_show_and_delete(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    ctl.ok("presets", "put", app.app_id, "b", "--host-name", "B")
    ctl.ok("presets", "put", app.app_id, "a", "--guest-name", "A")
    ctl.ok("apps", "set-preset", app.app_id, "b")

    listed = ctl.json("presets", "list", app.app_id)
    assert [(p["presetId"], p["settings"], p["active"]) for p in listed] == [
        ("a", {"guestName": "A"}, False),
        ("b", {"hostName": "B"}, True),
    ]
    text = ctl.ok("presets", "list", app.app_id).stdout.splitlines()
    assert text[2].split()[:2] == ["*", "b"]

    shown = ctl.json("presets", "show", app.app_id, "b")
    assert (shown["presetId"], shown["settings"], shown["active"]) == ("b", {"hostName": "B"}, True)
    assert "hostName" in ctl.ok("presets", "show", app.app_id, "b").stdout
    ctl.fails(1, "presets", "show", app.app_id, "zzz")
    ctl.fails(1, "presets", "list", "app_missing")

    active = ctl.fails(1, "presets", "delete", app.app_id, "b")
    assert "active preset" in one_line_error(active)
    assert admin.preset_exists(app.app_id, "b")

    ctl.ok("presets", "delete", app.app_id, "a")
    assert not admin.preset_exists(app.app_id, "a")
    ctl.fails(1, "presets", "delete", app.app_id, "a")
    assert "no presets" in ctl.ok("presets", "list", create_app(ctl).app_id).stdout


# calls: the same store code and decisions as the API (calls.repository, calls.read, calls.end)

HOST_LINKS = ("hostJoinUrl", "agentJoinUrl")


def api_headers(app: CreatedApp) -> dict[str, str]:
    return {"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}


def make_calls(local_api: LocalApi, app: CreatedApp, *bodies: dict[str, Any]) -> list[str]:
    made = []
    for body in bodies:
        result = post_call(local_api, app.app_id, app.widget_key, body)
        assert result.status == 201, result.body
        made.append(result.body["data"]["callId"])
    return made


def api_get(local_api: LocalApi, app: CreatedApp, call_id: str) -> Any:
    return local_api.request("GET", f"/api/calls/{call_id}", headers=api_headers(app))


def api_list(local_api: LocalApi, app: CreatedApp, **query: str) -> list[dict[str, Any]]:
    """Every call the API lists for these filters, following nextCursor."""
    calls: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        result = local_api.request("GET", "/api/calls", headers=api_headers(app), query=params)
        assert result.status == 200, result.body
        calls.extend(result.body["data"]["calls"])
        cursor = result.body["data"].get("nextCursor")
        if cursor is None:
            return calls


def without_host_links(view: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in view.items() if name not in HOST_LINKS}


def expire(admin: AdminStore, call_id: str) -> None:
    """Move a call's expiresAt into the past, as time would (the TTL removes it later)."""
    admin.client.update_item(
        TableName=TABLE_NAMES.calls,
        Key={"callId": {"S": call_id}},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 10)}},
    )


def test_calls_show_is_the_apis_view_without_host_links(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    (call_id,) = make_calls(
        local_api,
        app,
        {
            "title": "Support",
            "metadata": {"n": 1.0, "big": 12345678901234567890},
            "genesys": {"conversationId": "c-1"},
        },
    )

    shown = ctl.ok("--json", "calls", "show", app.app_id, call_id).stdout
    assert '"metadata":{"n":1.0,"big":12345678901234567890}' in shown  # exactly as sent
    view = json.loads(shown)
    api_view = api_get(local_api, app, call_id).body["data"]
    assert view == without_host_links(api_view)
    assert view["status"] == "created"
    assert view["guestJoinUrl"] == f"https://video.apifycloud.io/c/{call_id}"
    for secret_bearing in HOST_LINKS:
        assert secret_bearing not in view

    text = ctl.ok("calls", "show", app.app_id, call_id).stdout
    fields = dict(line.split(None, 1) for line in text.splitlines())
    assert (fields["callId"], fields["status"], fields["title"]) == (call_id, "created", "Support")
    assert fields["guestJoinUrl"] == view["guestJoinUrl"]
    assert app.widget_key not in text + shown


def test_calls_show_answers_not_found_as_the_api_does(ctl: Ctl, local_api: LocalApi) -> None:
    app, other = create_app(ctl), create_app(ctl)
    (call_id,) = make_calls(local_api, app, {})

    # Another app's call is no different from a call that does not exist.
    theirs = one_line_error(ctl.fails(1, "calls", "show", other.app_id, call_id))
    unknown_id = "00000000-0000-4000-8000-000000000000"
    unknown = one_line_error(ctl.fails(1, "calls", "show", other.app_id, unknown_id))
    assert theirs == unknown.replace(unknown_id, call_id)
    assert (
        theirs
        == f"Error: call '{call_id}' not found in app '{other.app_id}' (calls are removed after their TTL)"
    )
    assert api_get(local_api, other, call_id).status == 404
    ctl.fails(1, "calls", "show", app.app_id, "not-a-uuid")
    missing_app = ctl.fails(1, "calls", "show", "app_missing", call_id)
    assert one_line_error(missing_app) == "Error: app 'app_missing' not found"
    # The app must be named: the old `calls show CALL_ID` is a usage error.
    assert "Missing argument" in ctl.fails(2, "calls", "show", call_id).stderr


def test_calls_list_newest_first_with_limit_and_all(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    assert "no calls" in ctl.ok("calls", "list", app.app_id).stdout
    made = make_calls(local_api, app, *({"title": f"call {n}"} for n in range(5)))

    listed = ctl.json("calls", "list", app.app_id)
    assert [call["callId"] for call in listed] == made[::-1]
    assert listed == [without_host_links(call) for call in api_list(local_api, app)]

    limited = ctl("--json", "calls", "list", app.app_id, "--limit", "2")
    assert limited.exit_code == 0, limited.output
    assert [call["callId"] for call in json.loads(limited.stdout)] == made[:2:-1]
    assert "more calls may follow" in limited.stderr
    # DynamoDB cannot tell a full last page from a page with more behind it: "may".
    assert "more calls" not in ctl("calls", "list", app.app_id, "--limit", "6").stderr

    everything = ctl("--json", "calls", "list", app.app_id, "--all")
    assert [call["callId"] for call in json.loads(everything.stdout)] == made[::-1]
    assert everything.stderr == ""

    text = ctl.ok("calls", "list", app.app_id).stdout.splitlines()
    assert text[0].split() == ["CALL", "ID", "CREATED", "STATUS", "ENDED", "PRESET", "TITLE"]
    assert text[1].startswith(made[-1])
    ctl.fails(1, "calls", "list", "app_missing")


def test_calls_list_pages_through_more_than_a_query_page(
    ctl: Ctl, local_api: LocalApi, admin: AdminStore
) -> None:
    app = create_app(ctl)
    made = make_calls(local_api, app, *({} for _ in range(7)))
    # The store's own page size, small, so that the listing must follow LastEvaluatedKey.
    listing = admin.list_calls(app.app_id, now=utc_now(), limit=None, page_size=3)
    assert [call.call_id for call in listing.calls] == made[::-1]
    assert listing.more is False
    first = admin.list_calls(app.app_id, now=utc_now(), limit=4, page_size=3)
    assert [call.call_id for call in first.calls] == made[:2:-1]
    assert first.more is True


def test_calls_list_filters_as_the_api_does(ctl: Ctl, local_api: LocalApi, admin: AdminStore) -> None:
    app = create_app(ctl)
    live, ended, expired, in_conversation, also_in_conversation = make_calls(
        local_api,
        app,
        {},
        {},
        {},
        {"genesys": {"conversationId": "conv-a"}},
        {"genesys": {"conversationId": "conv-a"}},
    )
    make_calls(local_api, create_app(ctl), {"genesys": {"conversationId": "conv-a"}})  # another app's
    ctl.ok("calls", "end", app.app_id, ended)
    expire(admin, expired)

    def ids(*options: str) -> list[str]:
        return [call["callId"] for call in ctl.json("calls", "list", app.app_id, "--all", *options)]

    assert ids("--status", "ended") == [ended]
    assert ids("--status", "expired") == [expired]
    assert ids("--status", "created") == [also_in_conversation, in_conversation, live]
    assert ids("--conversation-id", "conv-a") == [also_in_conversation, in_conversation]
    assert ids("--conversation-id", "conv-b") == []
    ctl.ok("calls", "end", app.app_id, in_conversation)
    assert ids("--conversation-id", "conv-a", "--status", "ended") == [in_conversation]
    for status in ("created", "ended", "expired"):
        api = [call["callId"] for call in api_list(local_api, app, status=status)]
        assert ids("--status", status) == api, status
    api = [call["callId"] for call in api_list(local_api, app, conversationId="conv-a", status="created")]
    assert ids("--conversation-id", "conv-a", "--status", "created") == api == [also_in_conversation]


def test_calls_list_refuses_what_the_api_would(ctl: Ctl) -> None:
    app = create_app(ctl)
    assert (
        "Invalid value for '--status'" in ctl.fails(2, "calls", "list", app.app_id, "--status", "live").stderr
    )
    ctl.fails(2, "calls", "list", app.app_id, "--conversation-id", "x" * 257)
    ctl.fails(2, "calls", "list", app.app_id, "--conversation-id", "")
    ctl.fails(2, "calls", "list", app.app_id, "--limit", "1001")
    ctl.ok("calls", "list", app.app_id, "--conversation-id", "x" * 256)


def test_a_call_ended_with_callsctl_is_ended_for_the_api(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    (call_id,) = make_calls(local_api, app, {"title": "to end"})

    ended = ctl.json("calls", "end", app.app_id, call_id)
    assert ended["status"] == "ended"
    assert ended["endedAt"]
    seen = api_get(local_api, app, call_id).body["data"]
    assert (seen["status"], seen["endedAt"]) == ("ended", ended["endedAt"])
    assert without_host_links(seen) == ended

    # The API's end of an ended call is 200 with the first endedAt; so is callsctl's.
    again_by_api = local_api.request("POST", f"/api/calls/{call_id}/end", headers=api_headers(app))
    assert again_by_api.status == 200
    assert again_by_api.body["data"]["endedAt"] == ended["endedAt"]
    again = ctl.ok("calls", "end", app.app_id, call_id).stdout
    assert again.splitlines()[0] == f"call {call_id} was ended already, at {ended['endedAt']}"


def test_a_call_ended_by_the_api_is_ended_for_callsctl(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    (call_id,) = make_calls(local_api, app, {})
    by_api = local_api.request("POST", f"/api/calls/{call_id}/end", headers=api_headers(app))
    assert by_api.status == 200, by_api.body
    ended_at = by_api.body["data"]["endedAt"]

    shown = ctl.json("calls", "show", app.app_id, call_id)
    assert (shown["status"], shown["endedAt"]) == ("ended", ended_at)
    assert [call["callId"] for call in ctl.json("calls", "list", app.app_id, "--status", "ended")] == [
        call_id
    ]
    assert ctl.json("calls", "end", app.app_id, call_id)["endedAt"] == ended_at


def test_calls_end_text_says_what_happened(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    (call_id,) = make_calls(local_api, app, {})
    lines = ctl.ok("calls", "end", app.app_id, call_id).stdout.splitlines()
    assert lines[0].startswith(f"call {call_id} ended, at ")
    fields = dict(line.split(None, 1) for line in lines[2:])
    assert (fields["callId"], fields["status"]) == (call_id, "ended")


def test_calls_end_refuses_another_apps_call_and_an_expired_one(
    ctl: Ctl, local_api: LocalApi, admin: AdminStore
) -> None:
    app, other = create_app(ctl), create_app(ctl)
    mine, old = make_calls(local_api, app, {}, {})

    refused = one_line_error(ctl.fails(1, "calls", "end", other.app_id, mine))
    assert (
        refused
        == f"Error: call '{mine}' not found in app '{other.app_id}' (calls are removed after their TTL)"
    )
    assert api_get(local_api, app, mine).body["data"]["status"] == "created"  # untouched
    ctl.fails(1, "calls", "end", app.app_id, "00000000-0000-4000-8000-000000000000")
    assert (
        one_line_error(ctl.fails(1, "calls", "end", "app_missing", mine))
        == "Error: app 'app_missing' not found"
    )

    expire(admin, old)
    expired = one_line_error(ctl.fails(1, "calls", "end", app.app_id, old))
    assert "expired without being ended" in expired
    assert local_api.request("POST", f"/api/calls/{old}/end", headers=api_headers(app)).status == 409
    stored = admin.get_call(old)
    assert stored is not None
    assert "endedAt" not in stored
    assert stored["status"] == {"S": "created"}
    assert ctl.json("calls", "show", app.app_id, old)["status"] == "expired"


def test_calls_commands_on_missing_tables_fail_in_one_line(prepared_endpoint: str) -> None:
    broken = Ctl(prepared_endpoint, TableNames("no-such-apps", "no-such-calls", "x"))
    call_id = "00000000-0000-4000-8000-000000000000"
    for command in (("calls", "show", "a", call_id), ("calls", "list", "a"), ("calls", "end", "a", call_id)):
        result = broken(*command)
        assert result.exit_code == 1, result.output
        assert "table was not found" in one_line_error(result), command


# End to end: what the CLI does, the API obeys


def test_an_app_created_with_the_cli_can_create_calls(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    result = post_call(local_api, app.app_id, app.widget_key)
    assert result.status == 201, result.body
    assert post_call(local_api, app.app_id, app.widget_key + "x").status == 401


def test_rotation_without_downtime(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    new_key = ctl.json("keys", "add", app.app_id)["widgetKey"]
    assert post_call(local_api, app.app_id, app.widget_key).status == 201
    assert post_call(local_api, app.app_id, new_key).status == 201

    ctl.ok("keys", "revoke", app.app_id, app.key_id)
    old = post_call(local_api, app.app_id, app.widget_key)
    assert old.status == 401
    assert old.body["error"]["code"] == "UNAUTHORIZED"
    assert post_call(local_api, app.app_id, new_key).status == 201


def test_a_disabled_app_is_refused_and_an_enabled_one_accepted(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    ctl.ok("apps", "disable", app.app_id)
    refused = post_call(local_api, app.app_id, app.widget_key)
    assert refused.status == 403
    assert refused.body["error"]["code"] == "APP_DISABLED"
    ctl.ok("apps", "enable", app.app_id)
    assert post_call(local_api, app.app_id, app.widget_key).status == 201


def test_the_active_preset_is_the_one_a_call_without_preset_gets(
    ctl: Ctl, local_api: LocalApi, admin: AdminStore
) -> None:
    app = create_app(ctl)
    ctl.ok(
        "presets", "put", app.app_id, "support",
        "--host-name", "Support Agent", "--guest-name", "Customer", "--record-on-start", "--no-preview",
    )  # fmt: skip
    ctl.ok("presets", "put", app.app_id, "other", "--host-name", "Other")
    before = post_call(local_api, app.app_id, app.widget_key)
    assert "presetId" not in before.body["data"]

    ctl.ok("apps", "set-preset", app.app_id, "support")
    result = post_call(local_api, app.app_id, app.widget_key)
    assert result.status == 201
    data = result.body["data"]
    assert data["presetId"] == "support"
    assert data["previewEnabled"] is False

    stored = admin.get_call(data["callId"])
    assert stored is not None
    assert stored["presetId"] == {"S": "support"}
    assert stored["hostName"] == {"S": "Support Agent"}
    assert stored["guestName"] == {"S": "Customer"}
    assert stored["recordOnStart"] == {"BOOL": True}

    ctl.ok("apps", "clear-preset", app.app_id)
    assert "presetId" not in post_call(local_api, app.app_id, app.widget_key).body["data"]


def test_allowed_origins_set_with_the_cli_bind_the_key_to_its_site(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    ctl.ok("apps", "set-origins", app.app_id, "https://Shop.Example:443")
    allowed = post_call(local_api, app.app_id, app.widget_key, origin="https://shop.example")
    assert allowed.status == 201
    assert allowed.header("Access-Control-Allow-Origin") == "https://shop.example"
    refused = post_call(local_api, app.app_id, app.widget_key, origin="https://evil.example")
    assert refused.status == 403
    assert refused.body["error"]["code"] == "ORIGIN_NOT_ALLOWED"

    ctl.ok("apps", "clear-origins", app.app_id)
    assert post_call(local_api, app.app_id, app.widget_key, origin="https://evil.example").status == 201


def test_a_deleted_app_is_unknown_to_the_api(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)
    ctl.ok("apps", "delete", "--yes", app.app_id)
    assert post_call(local_api, app.app_id, app.widget_key).status == 401


# The local demo data goes through the same store operations


def test_demo_seeding_makes_what_the_cli_shows(prepared_endpoint: str, tmp_path: Path) -> None:
    names = TableNames(
        apps=f"seed-{tmp_path.name}-apps",
        calls=f"seed-{tmp_path.name}-calls",
        idempotency=f"seed-{tmp_path.name}-i",
    )
    store = admin_store(prepared_endpoint, names)
    store.ensure_tables()
    assert seed_demo_data(store) is True
    assert seed_demo_data(store) is False

    seeded = Ctl(prepared_endpoint, names)
    demo = seeded.json("apps", "show", DEMO_APP_ID)
    assert (demo["status"], demo["activePresetId"], demo["presets"]) == (
        "active",
        "default",
        ["default", "support"],
    )
    assert [key["keyId"] for key in demo["keys"]] == ["demo"]
    assert demo["keys"][0]["digestPrefix"] == key_digest(DEMO_WIDGET_KEY)[:8]
    assert seeded.json("apps", "show", DISABLED_APP_ID)["status"] == "disabled"
    assert seeded.json("presets", "show", DEMO_APP_ID, "support")["settings"]["hostName"] == "Support Agent"

    # Data an operator removed comes back on the next start, through the same operations.
    seeded.ok("apps", "clear-preset", DEMO_APP_ID)
    seeded.ok("apps", "enable", DISABLED_APP_ID)
    assert seed_demo_data(store) is True
    assert seeded.json("apps", "show", DEMO_APP_ID)["activePresetId"] == "default"
    assert seeded.json("apps", "show", DISABLED_APP_ID)["status"] == "disabled"
