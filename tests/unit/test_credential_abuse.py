"""Credentials an attacker controls, before any DynamoDB call; and the app cache under a flood.

On AWS, DynamoDB refuses a partition key over 2,048 bytes with a ValidationException; DynamoDB
Local does not check, so these tests stand in for AWS with botocore's Stubber: a client that
answers exactly what it is told and fails on any request it was not told to expect.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.session import get_session
from botocore.stub import Stubber
from calls import repository
from calls.access import MAX_CREDENTIAL_LENGTH, AppDirectory
from calls.models import AppRecord

from tests.conftest import load_event

KEY = "the-widget-key"


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The handler's repository on a stubbed client: no request is expected unless a test adds it."""
    client = get_session().create_client("dynamodb", region_name="us-east-1")
    stubber = Stubber(client)
    stubbed_repository = repository.Repository(client, "apps", "calls")
    monkeypatch.setattr(repository, "get_repository", functools.cache(lambda: stubbed_repository))
    with stubber:
        yield stubber


def invoke(app_id: str, widget_key: str = KEY) -> dict[str, Any]:
    from calls.handler import lambda_handler
    from localrun.gateway import LocalLambdaContext

    event = load_event("minimal.json")
    event["headers"] = {**(event.get("headers") or {}), "X-App-Id": app_id, "X-Widget-Key": widget_key}
    event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
    result: dict[str, Any] = lambda_handler(event, LocalLambdaContext(aws_request_id="req"))
    return result


def error_code(result: dict[str, Any]) -> str:
    code: str = json.loads(result["body"])["error"]["code"]
    return code


@pytest.mark.parametrize("length", [MAX_CREDENTIAL_LENGTH + 1, 2049, 100_000])
def test_an_over_long_app_id_is_401_without_a_database_call(stubbed: Stubber, length: int) -> None:
    result = invoke("a" * length)
    assert result["statusCode"] == 401
    assert error_code(result) == "UNAUTHORIZED"
    stubbed.assert_no_pending_responses()  # and the Stubber raised on none unexpected


def test_an_over_long_widget_key_is_401_without_a_database_call(stubbed: Stubber) -> None:
    result = invoke("demo-app", "k" * (MAX_CREDENTIAL_LENGTH + 1))
    assert result["statusCode"] == 401
    assert error_code(result) == "UNAUTHORIZED"


def test_a_validation_exception_from_the_callers_app_id_is_401_not_500(stubbed: Stubber) -> None:
    """Whatever bound the code sets, DynamoDB may refuse a key for reasons of its own (bytes, not
    characters): the caller's value named no app, which is a 401, never the 5xx alarm's business."""
    app_id = "é" * MAX_CREDENTIAL_LENGTH  # within the bound in characters
    stubbed.add_client_error(
        "query",
        service_error_code="ValidationException",
        service_message="One or more parameter values were invalid: Size of hashkey has exceeded the maximum",
        http_status_code=400,
    )
    result = invoke(app_id)
    assert result["statusCode"] == 401
    assert error_code(result) == "UNAUTHORIZED"
    stubbed.assert_no_pending_responses()


def test_other_database_failures_still_answer_as_before(stubbed: Stubber) -> None:
    stubbed.add_client_error("query", service_error_code="ThrottlingException", http_status_code=400)
    stubbed.add_client_error("query", service_error_code="ThrottlingException", http_status_code=400)
    result = invoke("demo-app")
    assert result["statusCode"] == 503


# The app cache


def test_a_flood_of_made_up_app_ids_does_not_push_a_real_app_out_of_the_cache() -> None:
    real = AppRecord("real-app", "active", (hashlib.sha256(KEY.encode()).hexdigest(),))
    loads: list[str] = []

    def load(app_id: str) -> AppRecord | None:
        loads.append(app_id)
        return real if app_id == "real-app" else None

    apps = AppDirectory(load, ttl_seconds=30, clock=lambda: 0.0)
    assert apps.get("real-app") is real
    for number in range(10_000):
        assert apps.get(f"made-up-{number}") is None
    loads.clear()
    assert apps.get("real-app") is real
    assert loads == []  # still cached: no read


def test_real_apps_are_evicted_least_recently_used_first() -> None:
    def load(app_id: str) -> AppRecord:
        return AppRecord(app_id, "active", ())

    loads: list[str] = []

    def counting(app_id: str) -> AppRecord:
        loads.append(app_id)
        return load(app_id)

    apps = AppDirectory(counting, ttl_seconds=30, clock=lambda: 0.0)
    apps.get("hot")
    for number in range(5_000):
        apps.get(f"app-{number}")
        apps.get("hot")  # used all along: never the least recently used
    loads.clear()
    apps.get("hot")
    assert loads == []
    apps.get("app-0")  # long unused: evicted, read again
    assert loads == ["app-0"]
