"""Safe retries with Idempotency-Key (docs/behaviour.md section 3), over the local server and
DynamoDB Local."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from calls.idempotency import idempotency_record_id
from callsctl.store import AdminStore

from tests.integration.conftest import TABLE_NAMES, HttpResult, LocalApi, TestApp

pytestmark = pytest.mark.integration


def calls_of(admin: AdminStore, app_id: str) -> list[dict[str, Any]]:
    pages = admin.client.get_paginator("scan").paginate(
        TableName=TABLE_NAMES.calls,
        FilterExpression="appId = :app",
        ExpressionAttributeValues={":app": {"S": app_id}},
        ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


@pytest.fixture
def app(make_app: Callable[..., TestApp]) -> TestApp:
    return make_app(presets={"p": {"hostName": "Preset host"}})


def post(
    local_api: LocalApi, app: TestApp, key: str | None, body: dict[str, Any], **kwargs: Any
) -> HttpResult:
    headers = {"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}
    if key is not None:
        headers["Idempotency-Key"] = key
    return local_api.request(headers=headers, json_body=body, **kwargs)


def test_same_key_same_request_replays_the_first_response(
    local_api: LocalApi, admin: AdminStore, app: TestApp
) -> None:
    first = post(local_api, app, "retry-1", {"title": "T", "metadata": {"n": 1.0}})
    again = post(local_api, app, "retry-1", {"metadata": {"n": 1.0}, "title": "T"})

    assert first.status == again.status == 201
    assert again.raw == first.raw
    assert again.header("Idempotent-Replayed") == "true"
    assert first.header("Idempotent-Replayed") is None
    assert again.header("X-Request-Id") != first.header("X-Request-Id")
    assert len(calls_of(admin, app.app_id)) == 1


def test_credentials_placement_is_not_part_of_the_request(
    local_api: LocalApi, admin: AdminStore, app: TestApp
) -> None:
    first = post(local_api, app, "placement", {"title": "T"})
    again = local_api.request(
        headers={"Idempotency-Key": "placement"},
        json_body={"title": "T", "appId": app.app_id, "widgetKey": app.widget_key},
    )
    assert again.raw == first.raw
    assert again.header("Idempotent-Replayed") == "true"


def test_genesys_query_fields_are_part_of_the_request(local_api: LocalApi, app: TestApp) -> None:
    assert post(local_api, app, "genesys", {}, query={"gcLangTag": "en-us"}).status == 201
    reused = post(local_api, app, "genesys", {}, query={"gcLangTag": "de-de"})
    assert reused.status == 422
    assert reused.body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_same_key_different_request_is_422(local_api: LocalApi, admin: AdminStore, app: TestApp) -> None:
    assert post(local_api, app, "reuse", {"title": "one"}).status == 201
    reused = post(local_api, app, "reuse", {"title": "two"})

    assert reused.status == 422
    assert reused.body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert reused.header("Idempotent-Replayed") is None
    assert len(calls_of(admin, app.app_id)) == 1


def put_record(admin: AdminStore, app: TestApp, key: str, **attributes: dict[str, str]) -> None:
    admin.client.put_item(
        TableName=TABLE_NAMES.idempotency,
        Item={"id": {"S": idempotency_record_id(app.app_id, key)}, "appId": {"S": app.app_id}, **attributes},
    )


def fingerprint_of(local_api: LocalApi, admin: AdminStore, app: TestApp, body: dict[str, Any]) -> str:
    """The request hash the service stores, read from a completed record of the same request."""
    post(local_api, app, "fingerprint-probe", body)
    item = admin.client.get_item(
        TableName=TABLE_NAMES.idempotency,
        Key={"id": {"S": idempotency_record_id(app.app_id, "fingerprint-probe")}},
        ConsistentRead=True,
    )["Item"]
    text: str = item["requestHash"]["S"]
    return text


def test_request_in_progress_is_409_with_retry_after(
    local_api: LocalApi, admin: AdminStore, app: TestApp
) -> None:
    fingerprint = fingerprint_of(local_api, admin, app, {"title": "slow"})
    now = int(time.time())
    put_record(
        admin,
        app,
        "busy",
        requestHash={"S": fingerprint},
        status={"S": "IN_PROGRESS"},
        expiration={"N": str(now + 86_400)},
        inProgressUntil={"N": str(now + 60)},
    )

    result = post(local_api, app, "busy", {"title": "slow"})

    assert result.status == 409
    assert result.body["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert int(result.header("Retry-After") or 0) >= 1


def test_an_attempt_that_crashed_in_progress_is_taken_over(
    local_api: LocalApi, admin: AdminStore, app: TestApp
) -> None:
    now = int(time.time())
    put_record(
        admin,
        app,
        "crashed",
        requestHash={"S": "whatever"},
        status={"S": "IN_PROGRESS"},
        expiration={"N": str(now + 86_400)},
        inProgressUntil={"N": str(now - 1)},
    )
    result = post(local_api, app, "crashed", {"title": "again"})
    assert result.status == 201
    assert result.header("Idempotent-Replayed") is None


def test_a_failed_request_is_not_remembered(local_api: LocalApi, admin: AdminStore, app: TestApp) -> None:
    failed = post(local_api, app, "fails-first", {"presetId": "missing"})
    assert failed.status == 422
    assert failed.body["error"]["code"] == "PRESET_NOT_FOUND"

    retried = post(local_api, app, "fails-first", {"presetId": "missing"})
    assert retried.status == 422
    assert retried.header("Idempotent-Replayed") is None

    fixed = post(local_api, app, "fails-first", {"presetId": "p"})
    assert fixed.status == 201
    assert fixed.header("Idempotent-Replayed") is None
    assert len(calls_of(admin, app.app_id)) == 1


def test_two_apps_with_the_same_key_never_meet(
    local_api: LocalApi, admin: AdminStore, make_app: Callable[..., TestApp]
) -> None:
    first, second = make_app(), make_app()
    one = post(local_api, first, "shared-key", {"title": "same"})
    two = post(local_api, second, "shared-key", {"title": "same"})

    assert one.status == two.status == 201
    assert two.header("Idempotent-Replayed") is None
    assert one.body["data"]["callId"] != two.body["data"]["callId"]


def test_expired_records_are_forgotten(local_api: LocalApi, admin: AdminStore, app: TestApp) -> None:
    first = post(local_api, app, "old", {"title": "T"})
    admin.client.update_item(
        TableName=TABLE_NAMES.idempotency,
        Key={"id": {"S": idempotency_record_id(app.app_id, "old")}},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    again = post(local_api, app, "old", {"title": "T"})

    assert again.status == 201
    assert again.header("Idempotent-Replayed") is None
    assert again.body["data"]["callId"] != first.body["data"]["callId"]


def test_records_expire_24_hours_after_the_first_request(
    local_api: LocalApi, admin: AdminStore, app: TestApp
) -> None:
    before = int(time.time())
    post(local_api, app, "ttl", {})
    item = admin.client.get_item(
        TableName=TABLE_NAMES.idempotency,
        Key={"id": {"S": idempotency_record_id(app.app_id, "ttl")}},
        ConsistentRead=True,
    )["Item"]
    assert before + 86_400 <= int(item["expiration"]["N"]) <= int(time.time()) + 86_400
    assert item["status"] == {"S": "COMPLETED"}
    assert app.widget_key not in str(item)


@pytest.mark.parametrize("key", ["", "k" * 256, "é-not-ascii", "tab\there"])
def test_malformed_keys_are_422(local_api: LocalApi, app: TestApp, key: str) -> None:
    result = post(local_api, app, key, {})
    assert result.status == 422
    assert result.body["error"]["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in result.body["error"]["details"]] == ["Idempotency-Key"]


def test_longest_key_is_accepted(local_api: LocalApi, app: TestApp) -> None:
    assert post(local_api, app, "~" * 255, {}).status == 201


def test_without_the_header_every_request_creates_a_call(
    local_api: LocalApi, admin: AdminStore, app: TestApp
) -> None:
    post(local_api, app, None, {"title": "T"})
    post(local_api, app, None, {"title": "T"})
    assert len(calls_of(admin, app.app_id)) == 2
