"""A failing database, injected into real requests: the in-process handler over DynamoDB Local.

Faults go in through botocore's own event system on the repository's client, at `before-send`:
below the retry loop, so every attempt meets the fault and botocore's standard retry mode
(throttling and timeouts retried, DYNAMODB_MAX_ATTEMPTS in all) runs exactly as in Lambda. A
throttling fault is a real DynamoDB error response that botocore parses; a timeout is the
exception its HTTP layer raises. Backoff sleeps are recorded instead of slept.
"""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from calls.settings import MAX_SEQUENTIAL_DYNAMODB_CALLS
from callsctl.store import AdminStore
from localrun.dynamodb_local import free_port
from localrun.gateway import LocalLambdaContext
from localrun.server import build_event

from tests.conftest import ROOT
from tests.services import TABLE_NAMES, TestApp

pytestmark = pytest.mark.integration

# What an error body must never show a client.
INTERNALS = (
    "botocore",
    "Traceback",
    "Exception",
    "dynamodb",
    "DynamoDB",
    TABLE_NAMES.apps,
    TABLE_NAMES.calls,
)


class _Body:
    def __init__(self, payload: bytes):
        self._payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._payload


def dynamodb_error(status: int, code: str) -> AWSResponse:
    """An HTTP error answer as DynamoDB sends it (JSON protocol), for botocore to parse and retry."""
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": f"injected {code}"})
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
    return AWSResponse("http://injected", status, headers, _Body(body.encode()))


def throttled(code: str) -> Callable[[Any], AWSResponse]:
    return lambda _request: dynamodb_error(400, code)


def failing_with(code: str, status: int = 400) -> Callable[[Any], AWSResponse]:
    return lambda _request: dynamodb_error(status, code)


def read_timeout(request: Any) -> None:
    raise ReadTimeoutError(endpoint_url=request.url)


def connect_timeout(request: Any) -> None:
    raise ConnectTimeoutError(endpoint_url=request.url)


def crash(_request: Any) -> None:
    raise RuntimeError("botocore internals at it-calls: Traceback (most recent call last)")


@dataclass
class DynamoDBTraffic:
    """What the handler asked DynamoDB, attempt by attempt, and the faults it will meet."""

    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (operation, table)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # before retries
    backoff: list[float] = field(default_factory=list)
    faults: dict[tuple[str, str], Callable[[Any], Any]] = field(default_factory=dict)

    def inject(self, operation: str, table: str, fault: Callable[[Any], Any]) -> None:
        self.faults[operation, table] = fault

    def attempts_on(self, operation: str, table: str) -> int:
        return self.attempts[operation, table]

    @property
    def total_attempts(self) -> int:
        return sum(self.attempts.values())

    def watch(self, client: Any) -> Callable[[], None]:
        """Hook onto a botocore client's events; returns the function that unhooks."""
        hooks = (
            ("before-parameter-build.dynamodb", self._before_call, f"faults-calls-{id(self)}"),
            ("before-send.dynamodb", self._before_send, f"faults-send-{id(self)}"),
        )
        for event, handler, unique_id in hooks:
            client.meta.events.register(event, handler, unique_id=unique_id)

        def unwatch() -> None:
            for event, _, unique_id in hooks:
                client.meta.events.unregister(event, unique_id=unique_id)

        return unwatch

    def _before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls[model.name, params.get("TableName", "")] += 1

    def _before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        operation = event_name.rsplit(".", 1)[-1]
        table = json.loads(request.body or b"{}").get("TableName", "")
        self.attempts[operation, table] += 1
        fault = self.faults.get((operation, table))
        return fault(request) if fault is not None else None


def watch_traffic(monkeypatch: pytest.MonkeyPatch) -> tuple[DynamoDBTraffic, Callable[[], None]]:
    """Watch the client the handler will use (built here from the configuration now in force)."""
    from calls import repository

    # The idempotency table keeps the client it was built with; it must use the one watched here.
    repository.get_idempotency_table.cache_clear()
    seen = DynamoDBTraffic()
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=seen.backoff.append))
    unwatch = seen.watch(repository.get_repository().client)

    def unwatch_and_forget() -> None:
        unwatch()
        repository.get_idempotency_table.cache_clear()

    return seen, unwatch_and_forget


@pytest.fixture
def traffic(db_environment: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBTraffic]:
    seen, unwatch = watch_traffic(monkeypatch)
    yield seen
    unwatch()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    from calls.handler import logger

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]


@dataclass
class Answer:
    request_id: str
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    text: str


def post_call(
    app: TestApp, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Answer:
    from calls.handler import lambda_handler

    request_id = f"fault-{uuid.uuid4()}"
    event = build_event(
        "POST",
        "/api/calls",
        [("X-App-Id", app.app_id), ("X-Widget-Key", app.widget_key), *(headers or {}).items()],
        json.dumps(body if body is not None else {"title": "Fault injection", "metadata": {"k": 1}}).encode(),
        request_id=request_id,
    )
    result = lambda_handler(event, LocalLambdaContext(aws_request_id=f"lambda-{request_id}"))
    merged = {name.lower(): values[-1] for name, values in (result.get("multiValueHeaders") or {}).items()}
    merged.update({name.lower(): value for name, value in (result.get("headers") or {}).items()})
    return Answer(request_id, result["statusCode"], merged, json.loads(result["body"]), result["body"])


def stored_calls(admin: AdminStore, app_id: str) -> list[dict[str, Any]]:
    """Every call item of the app, read by a scan: nothing partial can hide from it."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": TABLE_NAMES.calls,
        "FilterExpression": "appId = :app",
        "ExpressionAttributeValues": {":app": {"S": app_id}},
        "ConsistentRead": True,
    }
    while True:
        page = admin.client.scan(**request)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def log_records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def assert_error_envelope(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.text
    assert answer.body == {
        "ok": False,
        "error": {"code": code, "message": answer.body["error"]["message"], "requestId": answer.request_id},
    }
    assert answer.headers["x-request-id"] == answer.request_id
    assert answer.headers["cache-control"] == "no-store"
    for internal in INTERNALS:
        assert internal not in answer.text


def assert_logged_once(stream: io.StringIO, answer: Answer, app: TestApp, code: str) -> None:
    records = log_records(stream)
    errors = [record for record in records if record["level"] == "ERROR"]
    assert len(errors) == 1, errors
    assert errors[0]["correlation_id"] == answer.request_id
    assert errors[0].get("errorCode", code) == code
    assert app.widget_key not in stream.getvalue()


@pytest.fixture
def app(make_app: Callable[..., TestApp]) -> TestApp:
    return make_app()


MAX_ATTEMPTS = 2  # DYNAMODB_MAX_ATTEMPTS' default
API_GATEWAY_TIMEOUT_SECONDS = 29
# "Well inside" API Gateway's limit: room for the function's own work and a cold start.
GATEWAY_MARGIN_SECONDS = 9


def backoff_bound(attempts: int) -> float:
    """botocore's longest total sleep between `attempts` attempts: before retry i it sleeps
    rand(0, 1) x min(2 ** (i - 1), 20) s (the throttling scale; other errors may scale less)."""
    return float(sum(min(2 ** (retry - 1), 20) for retry in range(1, attempts)))


def assert_backoff_within_bound(delays: list[float]) -> None:
    for retry, delay in enumerate(delays, start=1):
        assert 0 <= delay <= min(2 ** (retry - 1), 20), delays


RETRIED_FAULTS = {
    "provisioned-throughput-exceeded": throttled("ProvisionedThroughputExceededException"),
    "throttling": throttled("ThrottlingException"),
    "request-limit-exceeded": throttled("RequestLimitExceeded"),
    "internal-server-error": failing_with("InternalServerError", status=500),
    "read-timeout": read_timeout,
    "connect-timeout": connect_timeout,
}


@pytest.mark.parametrize("fault", sorted(RETRIED_FAULTS))
def test_a_busy_or_slow_write_is_a_503_with_retry_after_after_bounded_retries(
    fault: str, app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore, log_stream: io.StringIO
) -> None:
    traffic.inject("PutItem", TABLE_NAMES.calls, RETRIED_FAULTS[fault])
    before = stored_calls(admin, app.app_id)

    answer = post_call(app)

    assert_error_envelope(answer, 503, "SERVICE_UNAVAILABLE")
    assert int(answer.headers["retry-after"]) >= 1
    # The read succeeded first; the write was tried exactly max-attempts times, then given up.
    assert traffic.attempts_on("Query", TABLE_NAMES.apps) == 1
    assert traffic.attempts_on("PutItem", TABLE_NAMES.calls) == MAX_ATTEMPTS
    assert len(traffic.backoff) == MAX_ATTEMPTS - 1
    assert_backoff_within_bound(traffic.backoff)
    assert stored_calls(admin, app.app_id) == before == []
    assert_logged_once(log_stream, answer, app, "SERVICE_UNAVAILABLE")


def test_a_throttled_read_is_a_503_and_nothing_is_written(
    app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore, log_stream: io.StringIO
) -> None:
    traffic.inject("Query", TABLE_NAMES.apps, throttled("ProvisionedThroughputExceededException"))

    answer = post_call(app)

    assert_error_envelope(answer, 503, "SERVICE_UNAVAILABLE")
    assert answer.headers["retry-after"] == "1"
    assert traffic.attempts_on("Query", TABLE_NAMES.apps) == MAX_ATTEMPTS
    assert traffic.calls["PutItem", TABLE_NAMES.calls] == 0
    assert stored_calls(admin, app.app_id) == []
    assert_logged_once(log_stream, answer, app, "SERVICE_UNAVAILABLE")


UNEXPECTED_FAULTS = {
    "missing-table": failing_with("ResourceNotFoundException"),
    "validation": failing_with("ValidationException"),
    "access-denied": failing_with("AccessDeniedException"),
    "crash-in-the-client": crash,
}


@pytest.mark.parametrize("fault", sorted(UNEXPECTED_FAULTS))
def test_an_unexpected_write_error_is_a_500_with_the_request_id_and_no_internals(
    fault: str, app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore, log_stream: io.StringIO
) -> None:
    traffic.inject("PutItem", TABLE_NAMES.calls, UNEXPECTED_FAULTS[fault])

    answer = post_call(app)

    assert_error_envelope(answer, 500, "INTERNAL_ERROR")
    assert "retry-after" not in answer.headers
    # Not a transient error: no retry.
    assert traffic.attempts_on("PutItem", TABLE_NAMES.calls) == 1
    assert traffic.backoff == []
    assert stored_calls(admin, app.app_id) == []
    assert_logged_once(log_stream, answer, app, "INTERNAL_ERROR")


@pytest.mark.parametrize("max_attempts", [1, 5])
def test_retries_follow_dynamodb_max_attempts(
    max_attempts: int, app: TestApp, db_environment: str, monkeypatch: pytest.MonkeyPatch, admin: AdminStore
) -> None:
    monkeypatch.setenv("DYNAMODB_MAX_ATTEMPTS", str(max_attempts))
    traffic, unwatch = watch_traffic(monkeypatch)
    traffic.inject("PutItem", TABLE_NAMES.calls, read_timeout)
    try:
        answer = post_call(app)
    finally:
        unwatch()

    assert answer.status == 503
    assert traffic.attempts_on("PutItem", TABLE_NAMES.calls) == max_attempts
    assert len(traffic.backoff) == max_attempts - 1
    assert stored_calls(admin, app.app_id) == []


def test_a_fault_that_clears_leaves_exactly_one_call(
    app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore
) -> None:
    """Throttled on every attempt but the last: botocore's retries absorb it, the caller sees one 201."""
    remaining = [MAX_ATTEMPTS - 1]

    def throttled_until_the_last_attempt(request: Any) -> AWSResponse | None:
        if remaining[0] == 0:
            return None
        remaining[0] -= 1
        return dynamodb_error(400, "ProvisionedThroughputExceededException")

    traffic.inject("PutItem", TABLE_NAMES.calls, throttled_until_the_last_attempt)

    answer = post_call(app)

    assert answer.status == 201, answer.text
    assert traffic.attempts_on("PutItem", TABLE_NAMES.calls) == MAX_ATTEMPTS
    items = stored_calls(admin, app.app_id)
    assert [item["callId"]["S"] for item in items] == [answer.body["data"]["callId"]]


def test_a_retry_with_the_same_idempotency_key_after_a_503_creates_the_call_once(
    app: TestApp, traffic: DynamoDBTraffic, admin: AdminStore
) -> None:
    """The failed attempt is not remembered (docs/behaviour.md section 3): its retry runs anew, once."""
    key = {"Idempotency-Key": f"fault-{uuid.uuid4()}"}
    traffic.inject("PutItem", TABLE_NAMES.calls, throttled("ProvisionedThroughputExceededException"))
    failed = post_call(app, headers=key)
    assert failed.status == 503

    del traffic.faults["PutItem", TABLE_NAMES.calls]
    first = post_call(app, headers=key)
    replayed = post_call(app, headers=key)

    assert first.status == 201, first.text
    assert replayed.status == 201
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert replayed.body == first.body
    assert [item["callId"]["S"] for item in stored_calls(admin, app.app_id)] == [first.body["data"]["callId"]]


def test_an_unreachable_database_is_a_503(
    app: TestApp,
    db_environment: str,
    monkeypatch: pytest.MonkeyPatch,
    admin: AdminStore,
    log_stream: io.StringIO,
) -> None:
    """A real closed port on loopback: connection refused on every attempt, then a clean 503."""
    closed_port = free_port()  # bound, then released: nothing listens there
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    seen, unwatch = watch_traffic(monkeypatch)
    try:
        answer = post_call(app)
    finally:
        unwatch()

    assert_error_envelope(answer, 503, "SERVICE_UNAVAILABLE")
    assert answer.headers["retry-after"] == "1"
    assert seen.attempts_on("Query", TABLE_NAMES.apps) == MAX_ATTEMPTS
    assert seen.total_attempts == MAX_ATTEMPTS
    assert stored_calls(admin, app.app_id) == []
    assert_logged_once(log_stream, answer, app, "SERVICE_UNAVAILABLE")


# The worst case, by configuration: no clock is read, the bound follows from the settings.


def lambda_timeout_seconds() -> float:
    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return float(context["lambdaTimeoutSeconds"])


def worst_call_seconds(attempts: int) -> float:
    """One DynamoDB call: every attempt runs into both timeouts, every backoff is the longest."""
    from calls.settings import get_settings

    settings = get_settings()
    per_attempt = settings.dynamodb_connect_timeout_seconds + settings.dynamodb_read_timeout_seconds
    return attempts * per_attempt + backoff_bound(attempts)


def attempts_botocore_makes() -> int:
    """What the client will really do, which must be what DYNAMODB_MAX_ATTEMPTS says."""
    from calls.repository import get_repository

    attempts: int = get_repository().client.meta.config.retries["total_max_attempts"]
    return attempts


def test_the_client_makes_as_many_attempts_as_configured(db_environment: str) -> None:
    from calls.settings import get_settings

    assert attempts_botocore_makes() == get_settings().dynamodb_max_attempts == MAX_ATTEMPTS


@pytest.mark.skipif(not (ROOT / "cdk.json").exists(), reason="no cdk.json: the Lambda timeout is unknown")
def test_one_dynamodb_call_at_its_worst_fits_inside_the_lambda_and_gateway_timeouts(
    db_environment: str,
) -> None:
    worst = worst_call_seconds(attempts_botocore_makes())

    assert worst <= API_GATEWAY_TIMEOUT_SECONDS - GATEWAY_MARGIN_SECONDS, worst
    assert worst < lambda_timeout_seconds(), (worst, lambda_timeout_seconds())


@pytest.mark.skipif(not (ROOT / "cdk.json").exists(), reason="no cdk.json: the Lambda timeout is unknown")
def test_a_whole_request_at_its_worst_fits_inside_the_lambda_and_gateway_timeouts(
    app: TestApp, traffic: DynamoDBTraffic
) -> None:
    """The longest path makes its DynamoDB calls one after the other; each may take its worst."""
    answer = post_call(app, headers={"Idempotency-Key": f"budget-{uuid.uuid4()}"})
    assert answer.status == 201, answer.text
    sequential_calls = sum(traffic.calls.values())
    assert sequential_calls >= 2  # the app, the call
    # The bound the stack checks its timeout against covers every call this request made.
    assert sequential_calls <= MAX_SEQUENTIAL_DYNAMODB_CALLS

    worst = sequential_calls * worst_call_seconds(attempts_botocore_makes())

    assert worst <= API_GATEWAY_TIMEOUT_SECONDS - GATEWAY_MARGIN_SECONDS, (sequential_calls, worst)
    assert worst < lambda_timeout_seconds(), (sequential_calls, worst, lambda_timeout_seconds())
