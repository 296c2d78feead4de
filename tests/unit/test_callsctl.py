"""The pure parts of callsctl: input checks, target choice, stack outputs, output formatting."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore import exceptions as aws
from botocore.stub import Stubber
from calls.access import widget_key_digest
from calls.models import CreateCallRequest
from callsctl import inputs, output, store
from callsctl.cli import describe_failure
from callsctl.target import (
    ConflictingTargets,
    NoTarget,
    Target,
    TargetError,
    TargetOptions,
    aws_session,
    choose_target,
    table_names_from_stack,
)

# Origins


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://example.com", "https://example.com"),
        ("https://Shop.Example.COM", "https://shop.example.com"),
        ("HTTPS://example.com", "https://example.com"),
        ("http://localhost:5173", "http://localhost:5173"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:443", "http://example.com:443"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("  https://example.com  ", "https://example.com"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_stored_as_browsers_send_them(given: str, stored: str) -> None:
    assert inputs.origin(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "https://example.com/",
        "https://example.com/app",
        "https://example.com?x=1",
        "https://example.com#top",
        "https://example.com?",
        "example.com",
        "//example.com",
        "ftp://example.com",
        "file:///tmp/x",
        "null",
        "*",
        "https://",
        "https://user:pw@example.com",
        "https://example.com:99999",
        "https://exa mple.com",
        "https://bücher.example",
        "https://-bad-.example",
        "",
    ],
)
def test_anything_but_scheme_host_port_is_not_an_origin(given: str) -> None:
    with pytest.raises(inputs.InvalidInput):
        inputs.origin(given)


# Preset ids, names and settings: the API's own constraints


def test_preset_ids_follow_the_api_pattern() -> None:
    longest = "a" * 128
    assert inputs.preset_id("support.v2:eu-1_x") == "support.v2:eu-1_x"
    assert inputs.preset_id(longest) == longest
    for bad in ("", "a b", "a/b", "a" * 129, "é"):
        with pytest.raises(inputs.InvalidInput):
            inputs.preset_id(bad)


def test_preset_id_check_agrees_with_the_request_model() -> None:
    for candidate in ("ok-1", "a" * 128, "a" * 129, "x y", ""):
        api_accepts = _api_accepts({"presetId": candidate})
        try:
            inputs.preset_id(candidate)
            cli_accepts = True
        except inputs.InvalidInput:
            cli_accepts = False
        assert cli_accepts == api_accepts, candidate


def _api_accepts(body: dict[str, Any]) -> bool:
    try:
        CreateCallRequest.model_validate(body)
    except ValueError:
        return False
    return True


def test_display_name_limits_are_the_api_limits() -> None:
    for name in ("", "x", "x" * 100, "x" * 101):
        api_accepts = _api_accepts({"hostName": name})
        try:
            inputs.preset_settings({"hostName": name, "guestName": name})
            cli_accepts = True
        except inputs.InvalidInput:
            cli_accepts = False
        assert cli_accepts == api_accepts, len(name)
        try:
            inputs.app_name(name)
            name_accepted = True
        except inputs.InvalidInput:
            name_accepted = False
        assert name_accepted == api_accepts, len(name)


def test_preset_settings_keep_further_settings_exactly_and_drop_nulls() -> None:
    settings = inputs.settings_from_json(
        '{"hostName": "Agent", "recordOnStart": true, "previewEnabled": false, "guestName": null,'
        ' "layout": {"grid": 1.0, "big": 12345678901234567890}}'
    )

    assert settings == {
        "hostName": "Agent",
        "recordOnStart": True,
        "previewEnabled": False,
        "layout": {"grid": Decimal("1.0"), "big": Decimal("12345678901234567890")},
    }
    assert output.as_json(settings["layout"]) == '{"grid":1.0,"big":12345678901234567890}'


@pytest.mark.parametrize(
    ("settings", "mentioned"),
    [
        ({"recordOnStart": "yes"}, "recordOnStart"),
        ({"previewEnabled": 1}, "previewEnabled"),
        ({"hostName": 5}, "hostName"),
        ({"guestName": "x" * 101}, "guestName"),
        ({"language": "english please"}, "language"),
        ({"branding": {"logoUrl": "javascript:alert(1)"}}, "branding.logoUrl"),
        ({"branding": {"accentColor": "blue"}}, "branding.accentColor"),
        ({"branding": {"logoURL": "https://x.example/l.svg"}}, "branding.logoURL"),
    ],
)
def test_wrong_preset_settings_are_refused_naming_the_field(settings: dict[str, Any], mentioned: str) -> None:
    with pytest.raises(inputs.InvalidInput, match=mentioned) as refused:
        inputs.preset_settings(settings)
    assert "\n" not in str(refused.value)


def test_the_example_branded_preset_is_accepted_as_the_join_answer_returns_it() -> None:
    from tests.conftest import ROOT

    settings = inputs.settings_from_json((ROOT / "docs/examples/branded-preset.json").read_text())
    assert settings["branding"] == {"logoUrl": "https://www.example.com/logo.svg", "accentColor": "#0b5fff"}
    assert settings["language"] == "en-US"
    assert inputs.preset_settings({"branding": {"accentColor": "#000000"}}) == {
        "branding": {"accentColor": "#000000"}
    }


@pytest.mark.parametrize("text", ["[1, 2]", '"x"', "{not json", '{"a": NaN}'])
def test_a_settings_file_must_hold_a_json_object(text: str) -> None:
    with pytest.raises(inputs.InvalidInput):
        inputs.settings_from_json(text)


def test_further_settings_get_the_metadata_limits() -> None:
    from calls.models import METADATA_MAX_BYTES, METADATA_MAX_DEPTH

    with pytest.raises(inputs.InvalidInput, match="larger"):
        inputs.preset_settings({"blob": "x" * METADATA_MAX_BYTES})
    deep: dict[str, Any] = {}
    for _ in range(METADATA_MAX_DEPTH):
        deep = {"d": deep}
    with pytest.raises(inputs.InvalidInput, match="nested"):
        inputs.preset_settings(deep)


# Keys and ids


def test_the_store_hashes_keys_exactly_as_the_lambda_does() -> None:
    key = store.new_widget_key()
    assert store.key_digest(key) == widget_key_digest(key) == hashlib.sha256(key.encode()).hexdigest()


def test_widget_keys_are_long_random_and_distinct() -> None:
    keys = {store.new_widget_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("wk_")
        assert len(key) >= 3 + 43  # 32 random bytes, base64url
    app_ids = {store.new_app_id() for _ in range(200)}
    key_ids = {store.new_key_id() for _ in range(200)}
    assert len(app_ids) == 200
    assert len(key_ids) == 200
    assert all(app_id.startswith("app_") for app_id in app_ids)


# Targets


def test_local_target_is_the_local_runs_port() -> None:
    assert choose_target(TargetOptions(local=True), {}).endpoint_url == "http://127.0.0.1:8000"
    chosen = choose_target(TargetOptions(local=True), {"DYNAMODB_LOCAL_PORT": "8123"})
    assert chosen.endpoint_url == "http://127.0.0.1:8123"
    assert chosen.is_local


def test_endpoint_and_stack_targets() -> None:
    assert choose_target(TargetOptions(endpoint_url="http://h:1"), {}).endpoint_url == "http://h:1"
    stack = choose_target(TargetOptions(stack="calls-prod", region="eu-west-1", profile="ops"), {})
    assert (stack.stack, stack.region, stack.profile, stack.endpoint_url) == (
        "calls-prod",
        "eu-west-1",
        "ops",
        None,
    )


def test_the_environment_is_a_target_only_when_it_names_tables() -> None:
    with pytest.raises(NoTarget):
        choose_target(TargetOptions(), {})
    from_environment = choose_target(TargetOptions(), {"APPS_TABLE_NAME": "a", "CALLS_TABLE_NAME": "c"})
    assert from_environment.endpoint_url is None
    assert from_environment.stack is None


def test_two_targets_at_once_are_refused() -> None:
    with pytest.raises(ConflictingTargets):
        choose_target(TargetOptions(local=True, stack="s"), {})
    with pytest.raises(ConflictingTargets):
        choose_target(TargetOptions(endpoint_url="http://h:1", stack="s"), {})


def test_local_targets_get_dummy_credentials_and_a_region_only_when_missing() -> None:
    local = choose_target(TargetOptions(local=True), {})
    session = aws_session(local, {})
    credentials = session.get_credentials()
    assert credentials is not None
    assert credentials.access_key == "local"
    assert session.region_name == "us-east-1"

    own = aws_session(local, {"AWS_ACCESS_KEY_ID": "testing", "AWS_REGION": "us-east-1"})
    own_credentials = own.get_credentials()
    assert own_credentials is not None
    assert own_credentials.access_key == "testing"  # the caller's own credentials are kept


def test_remote_targets_never_get_dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = aws_session(Target("stack s", stack="s", region="eu-west-1"), {})
    assert session.get_credentials() is None
    assert session.region_name == "eu-west-1"


# Stack outputs


def _stubbed_cloudformation() -> tuple[Any, Stubber]:
    client = boto3.client("cloudformation", region_name="eu-west-1")
    return client, Stubber(client)


def _stack(outputs: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "calls",
                "CreationTime": "2026-01-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
            }
        ]
    }


def test_table_names_come_from_the_stack_outputs() -> None:
    client, stubber = _stubbed_cloudformation()
    stubber.add_response(
        "describe_stacks",
        _stack(
            {
                "AppsTableName": "calls-Apps-1",
                "CallsTableName": "calls-Calls-2",
                "IdempotencyTableName": "calls-Idem-3",
                "ApiUrl": "https://x",
            }
        ),
        {"StackName": "calls"},
    )
    with stubber:
        names = table_names_from_stack(client, "calls")
    assert (names.apps, names.calls, names.idempotency) == ("calls-Apps-1", "calls-Calls-2", "calls-Idem-3")
    stubber.assert_no_pending_responses()


def test_a_stack_without_the_table_outputs_is_refused() -> None:
    client, stubber = _stubbed_cloudformation()
    stubber.add_response("describe_stacks", _stack({"AppsTableName": "a"}), {"StackName": "other"})
    with stubber, pytest.raises(TargetError, match="CallsTableName"):
        table_names_from_stack(client, "other")


def test_a_missing_stack_is_a_one_line_failure() -> None:
    client, stubber = _stubbed_cloudformation()
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message="Stack with id nope does not exist",
        expected_params={"StackName": "nope"},
    )
    with stubber, pytest.raises(TargetError, match="'nope' not found in eu-west-1"):
        table_names_from_stack(client, "nope")


def test_other_cloudformation_errors_are_reported_as_aws_refusals() -> None:
    client, stubber = _stubbed_cloudformation()
    stubber.add_client_error(
        "describe_stacks", service_error_code="AccessDenied", service_message="not allowed\nat all"
    )
    with stubber, pytest.raises(aws.ClientError) as raised:
        table_names_from_stack(client, "calls")
    assert (
        describe_failure(raised.value, None) == "AWS refused the request (AccessDenied): not allowed at all"
    )


# Failures and output


def test_expected_failures_become_one_line_and_bugs_do_not() -> None:
    local = choose_target(TargetOptions(local=True), {})
    unreachable = aws.EndpointConnectionError(endpoint_url="http://127.0.0.1:8000")
    assert describe_failure(unreachable, local) == (
        "cannot reach the local run's DynamoDB at http://127.0.0.1:8000 (is `make run` running?)"
    )
    assert describe_failure(aws.NoRegionError(), None) == "no AWS region: pass --region or set AWS_REGION"
    assert "credentials" in (describe_failure(aws.NoCredentialsError(), None) or "")
    assert describe_failure(KeyError("bug"), local) is None


def test_failures_the_apis_repository_translated_are_described_by_their_aws_cause() -> None:
    from calls.errors import InternalError, ServiceUnavailable

    local = choose_target(TargetOptions(local=True), {})
    unreachable = aws.EndpointConnectionError(endpoint_url="http://127.0.0.1:8000")
    translated = ServiceUnavailable()
    translated.__cause__ = unreachable
    assert describe_failure(translated, local) == describe_failure(unreachable, local)
    missing = aws.ClientError(
        {
            "Error": {
                "Code": "ResourceNotFoundException",
                "Message": "Cannot do operations on a non-existent table",
            }
        },
        "GetItem",
    )
    internal = InternalError()
    internal.__cause__ = missing
    assert describe_failure(internal, local) == (
        "a table was not found on the local run's DynamoDB at http://127.0.0.1:8000: "
        "Cannot do operations on a non-existent table"
    )
    # Without an AWS cause it is a bug: the traceback shows.
    assert describe_failure(InternalError(), local) is None


def test_conversation_ids_are_checked_as_the_list_query_checks_them() -> None:
    from calls.models import ListCallsQuery

    for candidate in ("c", "x" * 256, "x" * 257, "conv é/1"):
        try:
            ListCallsQuery.model_validate({"conversationId": candidate})
            api_accepts = True
        except ValueError:
            api_accepts = False
        try:
            inputs.conversation_id(candidate)
            cli_accepts = True
        except inputs.InvalidInput:
            cli_accepts = False
        assert cli_accepts == api_accepts, len(candidate)
    with pytest.raises(inputs.InvalidInput, match="empty"):
        inputs.conversation_id("")


def test_a_stacks_outputs_name_its_tables_and_join_links() -> None:
    from callsctl.target import JOIN_BASE_URL_OUTPUT, stack_outputs, table_names_from_outputs

    client, stubber = _stubbed_cloudformation()
    stubber.add_response(
        "describe_stacks",
        _stack({"AppsTableName": "a", "CallsTableName": "c", JOIN_BASE_URL_OUTPUT: "https://meet.example"}),
        {"StackName": "calls"},
    )
    with stubber:
        outputs = stack_outputs(client, "calls")
    assert outputs[JOIN_BASE_URL_OUTPUT] == "https://meet.example"
    names = table_names_from_outputs("calls", outputs)
    assert (names.apps, names.calls) == ("a", "c")


def test_tables_align_columns_and_say_when_empty() -> None:
    rendered = output.table(["ID", "ON"], [("a", True), ("longer", None)])
    assert rendered.splitlines() == ["ID      ON", "a       yes", "longer  -"]
    assert output.table(["ID"], [], empty="(no apps)") == "(no apps)"


def test_records_show_lists_and_objects_readably() -> None:
    rendered = output.record({"origins": ("https://a", "https://b"), "settings": {"x": Decimal("1.0")}})
    assert rendered.splitlines() == ["origins   https://a, https://b", 'settings  {"x":1.0}']
