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
from localrun.server import LocalLambdaContext
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
