"""The handler driven by the sample events in events/, over moto's in-memory DynamoDB."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from callsctl.store import AdminStore, TableNames
from localrun.demo import DEMO_WIDGET_KEY, seed_demo_data
from localrun.gateway import LocalLambdaContext
from moto import mock_aws

from tests.conftest import EVENTS_DIR, load_event

NAMES = TableNames(apps="apps", calls="calls", idempotency="idempotency")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[AdminStore]:
    monkeypatch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("APPS_TABLE_NAME", NAMES.apps)
    monkeypatch.setenv("CALLS_TABLE_NAME", NAMES.calls)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", NAMES.idempotency)
    with mock_aws():
        admin = AdminStore(boto3.client("dynamodb"), NAMES)
        admin.ensure_tables()
        seed_demo_data(admin)
        yield admin


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    from calls.handler import lambda_handler

    return lambda_handler(event, LocalLambdaContext(aws_request_id="lambda-request-id"))


def headers_of(result: dict[str, Any]) -> dict[str, str]:
    merged = {name.lower(): values[-1] for name, values in (result.get("multiValueHeaders") or {}).items()}
    merged.update({name.lower(): value for name, value in (result.get("headers") or {}).items()})
    return merged


def stored_call(store: AdminStore, result: dict[str, Any]) -> dict[str, Any]:
    call_id = json.loads(result["body"])["data"]["callId"]
    item = store.get_call(call_id)
    assert item is not None
    return item


EXPECTED_STATUS = {
    "minimal.json": 201,
    "full-upstream-example.json": 201,
    "credentials-in-query.json": 201,
    "credentials-in-body.json": 201,
    "genesys-in-query.json": 201,
    "base64-body.json": 201,
    "wrong-widget-key.json": 401,
    "invalid-json.json": 400,
    # Names a call the seeded tables do not hold; test_get_call_event_reads_a_call_just_created
    # puts a real call's id in it.
    "get-call.json": 404,
    # The same for the guest's join; test_join_call_event_joins_a_call_just_created.
    "join-call.json": 404,
}


def test_every_sample_event_has_an_expectation() -> None:
    assert {path.name for path in EVENTS_DIR.glob("*.json")} == set(EXPECTED_STATUS)


@pytest.mark.parametrize(("name", "status"), sorted(EXPECTED_STATUS.items()))
def test_sample_event_status_and_envelope(store: AdminStore, name: str, status: int) -> None:
    event = load_event(name)
    result = invoke(event)

    assert result["statusCode"] == status
    headers = headers_of(result)
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert headers["x-request-id"] == event["requestContext"]["requestId"]
    body = json.loads(result["body"])
    assert body["ok"] is (status == 201)
    if status != 201:
        assert body["error"]["requestId"] == event["requestContext"]["requestId"]


def test_full_upstream_example(store: AdminStore) -> None:
    result = invoke(load_event("full-upstream-example.json"))
    data = json.loads(result["body"])["data"]

    assert data["title"] == "Support Session #1234"
    assert data["metadata"] == {"ticketId": "T-1234"}
    assert data["presetId"] == "support"
    assert data["previewEnabled"] is False
    assert data["hostJoinUrl"] == (
        f"https://video.apifycloud.io/c/{data['callId']}?role=agent&appId=demo-app&widgetKey={DEMO_WIDGET_KEY}"
    )
    item = stored_call(store, result)
    assert item["hostName"] == {"S": "Sarah (Support)"}
    assert item["guestName"] == {"S": "John"}
    assert item["recordOnStart"] == {"BOOL": True}
    assert item["metadata"] == {"S": '{"ticketId":"T-1234"}'}
    assert item["requestId"] == {"S": "11111111-0000-4000-8000-000000000002"}
    assert DEMO_WIDGET_KEY not in json.dumps(item)


def with_call_id(event: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A GET sample event naming another call: its id replaced wherever the path carries it."""
    sample_id = event["path"].rsplit("/", 1)[-1]
    changed: dict[str, Any] = json.loads(json.dumps(event).replace(sample_id, call_id))
    return changed


def test_get_call_event_reads_a_call_just_created(store: AdminStore) -> None:
    created = json.loads(invoke(load_event("full-upstream-example.json"))["body"])["data"]
    event = with_call_id(load_event("get-call.json"), created["callId"])
    result = invoke(event)

    assert result["statusCode"] == 200
    assert headers_of(result)["x-request-id"] == event["requestContext"]["requestId"]
    data = json.loads(result["body"])["data"]
    assert data["callId"] == created["callId"]
    assert data["status"] == "created"
    assert data["title"] == "Support Session #1234"
    assert data["hostJoinUrl"] == created["hostJoinUrl"]


def test_join_call_event_joins_a_call_just_created(store: AdminStore) -> None:
    created = json.loads(invoke(load_event("full-upstream-example.json"))["body"])["data"]
    event = load_event("join-call.json")
    sample_id = event["pathParameters"]["callId"]
    event = json.loads(json.dumps(event).replace(sample_id, created["callId"]))
    result = invoke(event)

    assert result["statusCode"] == 200
    assert headers_of(result)["access-control-allow-origin"] == "https://video.apifycloud.io"
    data = json.loads(result["body"])["data"]
    assert (data["callId"], data["role"], data["displayName"]) == (created["callId"], "guest", "John")
    stamped = store.get_call(created["callId"])
    assert stamped is not None
    assert "guestJoinedAt" in stamped
    assert "agentJoinedAt" not in stamped
    # Joining again changes nothing: the first join's stamp stays.
    assert invoke(event)["statusCode"] == 200
    assert store.get_call(created["callId"]) == stamped


def test_genesys_from_the_query_is_stored_not_echoed(store: AdminStore) -> None:
    result = invoke(load_event("genesys-in-query.json"))

    assert "genesys" not in json.loads(result["body"])["data"]
    genesys = stored_call(store, result)["genesys"]["M"]
    assert genesys["gcUsePopupAuth"] == {"BOOL": True}
    assert genesys["gcLangTag"] == {"S": "en-us"}
    assert genesys["conversationId"] == {"S": "5f1c2d3e-aaaa-bbbb-cccc-1234567890ab"}


def test_base64_body_is_decoded(store: AdminStore) -> None:
    result = invoke(load_event("base64-body.json"))
    assert stored_call(store, result)["guestName"] == {"S": "Zoë"}


def test_metrics_count_created_calls_and_failures_by_code(
    store: AdminStore, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(load_event("minimal.json"))
    invoke(load_event("wrong-widget-key.json"))

    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    created = [blob for blob in emitted if "CallCreated" in blob]
    failed = [blob for blob in emitted if "CallFailed" in blob]
    assert len(created) == 1
    assert [blob["ErrorCode"] for blob in failed] == ["UNAUTHORIZED"]


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """What the handler's logger writes (its stream was bound when the module was imported)."""
    from calls.handler import logger

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]


def test_logs_carry_the_request_id_and_never_the_widget_key(
    store: AdminStore, log_stream: io.StringIO
) -> None:
    for name in EXPECTED_STATUS:
        invoke(load_event(name))

    lines = log_stream.getvalue().splitlines()
    records = [json.loads(line) for line in lines if '"level"' in line]
    assert {record["correlation_id"] for record in records} >= {
        load_event(name)["requestContext"]["requestId"] for name in EXPECTED_STATUS
    }
    assert not [line for line in lines if DEMO_WIDGET_KEY in line or "not-the-key" in line]


def odd(event_changes: dict[str, Any], base: str = "minimal.json") -> dict[str, Any]:
    event = load_event(base)
    event.update(event_changes)
    return event


def error_code(result: dict[str, Any]) -> str:
    code: str = json.loads(result["body"])["error"]["code"]
    return code


def test_a_number_beyond_decimal_range_is_invalid_json_even_without_credentials(store: AdminStore) -> None:
    result = invoke(odd({"headers": {}, "multiValueHeaders": {}, "body": '{"z": 1e9999999999999999999}'}))
    assert (result["statusCode"], error_code(result)) == (400, "INVALID_JSON")


def test_a_lone_surrogate_under_deep_nesting_is_invalid_json(store: AdminStore) -> None:
    body = '{"x": ' + "[" * 900 + "]" * 900 + ', "y": "\\ud800"}'
    result = invoke(odd({"body": body}))
    assert (result["statusCode"], error_code(result)) == (400, "INVALID_JSON")


@pytest.mark.parametrize("body", ["\x0b", "\x0c", " \x0b "])
def test_whitespace_unknown_to_json_is_invalid_json(store: AdminStore, body: str) -> None:
    result = invoke(odd({"body": body}))
    assert (result["statusCode"], error_code(result)) == (400, "INVALID_JSON")


@pytest.mark.parametrize("body", [{"title": "x"}, 5, ["a"]])
def test_a_body_that_is_not_a_string_is_invalid_body(store: AdminStore, body: Any) -> None:
    result = invoke(odd({"body": body}))
    assert (result["statusCode"], error_code(result)) == (400, "INVALID_BODY")


def test_null_query_values_are_absent(store: AdminStore) -> None:
    result = invoke(odd({"multiValueQueryStringParameters": {"appId": None, "gcLangTag": None}}))
    assert result["statusCode"] == 201


def test_single_value_query_is_read_when_the_multi_value_one_is_missing(store: AdminStore) -> None:
    event = load_event("credentials-in-query.json")
    event["multiValueQueryStringParameters"] = None
    assert invoke(event)["statusCode"] == 201


def test_a_request_context_without_request_id_uses_the_invocation_id(store: AdminStore) -> None:
    result = invoke(odd({"requestContext": {"stage": "prod"}}))
    assert result["statusCode"] == 201
    assert headers_of(result)["x-request-id"] == "lambda-request-id"
