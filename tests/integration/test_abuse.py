"""Abuse limits: oversized and deeply nested bodies are refused before any database work.

The in-process handler over DynamoDB Local; every DynamoDB request it makes is counted with a
hook on botocore's events (see test_faults), so "before any database work" is measured.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from callsctl.store import AdminStore
from localrun.gateway import LocalLambdaContext
from localrun.server import build_event

from tests.integration.test_faults import DynamoDBTraffic, stored_calls, watch_traffic
from tests.services import TABLE_NAMES, TestApp

pytestmark = pytest.mark.integration

MAX_BODY_BYTES = 32 * 1024  # the specified limit, written out: a test must not borrow the code's constant


@pytest.fixture
def app(make_app: Callable[..., TestApp]) -> TestApp:
    return make_app()


@pytest.fixture
def traffic(db_environment: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBTraffic]:
    seen, unwatch = watch_traffic(monkeypatch)
    yield seen
    unwatch()


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[io.StringIO]:
    from calls.handler import logger

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]


def post(
    body: bytes, app: TestApp | None = None, *, base64_encoded: bool = False
) -> tuple[int, dict[str, Any]]:
    from calls.handler import lambda_handler

    headers = [("Content-Type", "application/json")]
    if app is not None:
        headers += [("X-App-Id", app.app_id), ("X-Widget-Key", app.widget_key)]
    event = build_event("POST", "/api/calls", headers, body, request_id=f"abuse-{uuid.uuid4()}")
    if base64_encoded:
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    result = lambda_handler(event, LocalLambdaContext(aws_request_id="abuse"))
    return result["statusCode"], json.loads(result["body"])


def body_of_size(size: int) -> bytes:
    """A valid JSON object of exactly `size` bytes; the padding is an unknown field, so ignored."""
    empty = b'{"title":"big","padding":""}'
    body = empty[:-2] + b"x" * (size - len(empty)) + b'"}'
    assert len(body) == size
    json.loads(body)
    return body


def nested_object(levels: int) -> str:
    """A JSON object `levels` deep: {"a":{"a":...{"a":1}}}."""
    return '{"a":' * levels + "1" + "}" * levels


def nested_arrays(levels: int) -> str:
    """An object holding arrays, `levels` deep in all: {"a":[[...[1]...]]}."""
    return '{"a":' + "[" * (levels - 1) + "1" + "]" * (levels - 1) + "}"


def metadata_body(metadata_json: str) -> bytes:
    return f'{{"title":"abuse","metadata":{metadata_json}}}'.encode()


# Body size: refused first, whoever asks.


@pytest.mark.parametrize("credentials", [False, True], ids=["no-credentials", "valid-credentials"])
@pytest.mark.parametrize("base64_encoded", [False, True], ids=["text", "base64"])
def test_a_body_just_over_32_kib_is_a_413_without_touching_the_database(
    credentials: bool, base64_encoded: bool, app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore
) -> None:
    status, body = post(
        body_of_size(MAX_BODY_BYTES + 1), app if credentials else None, base64_encoded=base64_encoded
    )

    assert status == 413
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert traffic.total_attempts == 0
    assert stored_calls(admin, app.app_id) == []


def test_a_body_of_exactly_32_kib_is_accepted(
    app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore
) -> None:
    status, body = post(body_of_size(MAX_BODY_BYTES), app)

    assert status == 201, body
    assert [item["callId"]["S"] for item in stored_calls(admin, app.app_id)] == [body["data"]["callId"]]


# Metadata depth and size: with valid credentials, nothing but the app read happens.


def assert_refused_with_at_most_the_app_read(
    traffic: DynamoDBTraffic, admin: AdminStore, app: TestApp, status: int, body: dict[str, Any]
) -> None:
    assert status == 422, body
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in body["error"]["details"]] == ["metadata"]
    assert set(traffic.attempts) <= {("Query", TABLE_NAMES.apps)}
    assert traffic.total_attempts <= 1
    assert stored_calls(admin, app.app_id) == []


@pytest.mark.parametrize("levels", [11, 12, 100, 500])
@pytest.mark.parametrize("shape", [nested_object, nested_arrays], ids=["objects", "arrays"])
def test_metadata_nested_deeper_than_10_levels_is_a_422(
    levels: int,
    shape: Callable[[int], str],
    app: TestApp,
    traffic: DynamoDBTraffic,
    admin: AdminStore,
) -> None:
    status, body = post(metadata_body(shape(levels)), app)

    assert_refused_with_at_most_the_app_read(traffic, admin, app, status, body)


@pytest.mark.parametrize("shape", [nested_object, nested_arrays], ids=["objects", "arrays"])
def test_metadata_of_exactly_10_levels_is_accepted(
    shape: Callable[[int], str], app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore
) -> None:
    status, body = post(metadata_body(shape(10)), app)

    assert status == 201, body
    assert body["data"]["metadata"] == json.loads(shape(10))


@pytest.mark.parametrize("credentials", [False, True], ids=["no-credentials", "valid-credentials"])
def test_metadata_5000_levels_deep_is_refused_before_credentials_or_database(
    credentials: bool, app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore
) -> None:
    """Deeper than the JSON parser nests (about 1,000 levels): 400 INVALID_JSON, like any body it
    cannot read (RFC 8259 section 9 lets a parser limit nesting)."""
    raw = metadata_body(nested_object(5000))
    assert len(raw) <= MAX_BODY_BYTES  # refused for its depth, not its size

    status, body = post(raw, app if credentials else None)

    assert status == 400, body
    assert body["error"]["code"] == "INVALID_JSON"
    assert traffic.total_attempts == 0
    assert stored_calls(admin, app.app_id) == []


def test_deep_metadata_without_credentials_is_a_401_without_touching_the_database(
    app: TestApp, traffic: DynamoDBTraffic
) -> None:
    """A caller without credentials learns nothing about the fields of its body."""
    status, body = post(metadata_body(nested_object(11)))

    assert status == 401
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert traffic.total_attempts == 0


def test_metadata_over_8192_bytes_is_a_422(app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore) -> None:
    metadata = {"blob": "x" * (8192 - len('{"blob":""}') + 1)}
    assert len(json.dumps(metadata, separators=(",", ":")).encode()) == 8193

    status, body = post(json.dumps({"metadata": metadata}).encode(), app)

    assert_refused_with_at_most_the_app_read(traffic, admin, app, status, body)


def test_metadata_over_8192_bytes_counted_in_utf8_is_a_422(
    app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore
) -> None:
    """2,731 characters of 3 bytes each: under 8,192 characters, over 8,192 bytes."""
    metadata = {"t": "€" * 2731}
    assert len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode()) > 8192

    status, body = post(json.dumps({"metadata": metadata}, ensure_ascii=False).encode(), app)

    assert_refused_with_at_most_the_app_read(traffic, admin, app, status, body)


def test_metadata_of_exactly_8192_bytes_is_accepted(
    app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore
) -> None:
    metadata = {"blob": "x" * (8192 - len('{"blob":""}'))}
    assert len(json.dumps(metadata, separators=(",", ":")).encode()) == 8192

    status, body = post(json.dumps({"metadata": metadata}).encode(), app)

    assert status == 201, body
    assert body["data"]["metadata"] == metadata
