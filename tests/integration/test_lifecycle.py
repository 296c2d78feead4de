"""docs/behaviour.md section 5 (read, list, end), rule by rule, through the local server over
DynamoDB Local."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from callsctl.store import AdminStore
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY, DISABLED_APP_ID, DISABLED_WIDGET_KEY

from tests.integration.conftest import TABLE_NAMES, HttpResult, LocalApi, TestApp, assert_error

pytestmark = pytest.mark.integration

DEMO = {"X-App-Id": DEMO_APP_ID, "X-Widget-Key": DEMO_WIDGET_KEY}


def creds(app: TestApp) -> dict[str, str]:
    return {"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}


def assert_ok(result: HttpResult) -> Any:
    assert result.status == 200, result.raw
    assert result.header("Content-Type") == "application/json"
    assert result.header("Cache-Control") == "no-store"
    assert result.header("X-Request-Id")
    assert result.body["ok"] is True
    return result.body["data"]


def create(
    local_api: LocalApi, headers: dict[str, str], body: dict[str, Any] | None = None
) -> dict[str, Any]:
    result = local_api.request(headers=headers, json_body=body if body is not None else {})
    assert result.status == 201, result.raw
    data: dict[str, Any] = result.body["data"]
    return data


def expire(admin: AdminStore, call_id: str, seconds_ago: int = 10) -> None:
    """Move a call's expiresAt into the past, as time would (the TTL removes it later)."""
    admin.client.update_item(
        TableName=TABLE_NAMES.calls,
        Key={"callId": {"S": call_id}},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - seconds_ago)}},
    )


def list_all(local_api: LocalApi, headers: dict[str, str], **query: str) -> list[list[dict[str, Any]]]:
    """Every page, following nextCursor until it is absent."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params = dict(query, **({"cursor": cursor} if cursor else {}))
        data = assert_ok(local_api.request("GET", "/api/calls", headers=headers, query=params))
        pages.append(data["calls"])
        cursor = data.get("nextCursor")
        if cursor is None:
            return pages
        assert len(pages) < 100, "the listing never ends"


# Reading one call


def test_get_returns_the_call_view(local_api: LocalApi) -> None:
    body = {
        "title": "Support Session #1234",
        "description": "Printer on fire",
        "metadata": {"ticketId": "T-1234", "score": 1.0, "big": 12345678901234567890},
        "presetId": "support",
        "hostName": "Sarah",
        "genesys": {"conversationId": "conv-get", "gcUsePopupAuth": True},
    }
    created = create(local_api, DEMO, body)
    result = local_api.request("GET", f"/api/calls/{created['callId']}", headers=DEMO)
    view = assert_ok(result)
    assert b'"score":1.0' in result.raw
    assert b'"big":12345678901234567890' in result.raw
    assert view["callId"] == created["callId"]
    assert view["status"] == "created"
    assert view["createdAt"] == created["createdAt"]
    assert view["expiresAt"] == created["expiresAt"]
    assert view["presetId"] == "support"
    assert view["hostName"] == "Sarah"
    assert view["title"] == body["title"]
    assert view["description"] == body["description"]
    assert view["metadata"] == body["metadata"]
    assert view["genesys"] == {"conversationId": "conv-get", "gcUsePopupAuth": True}
    assert isinstance(view["recordOnStart"], bool)
    assert isinstance(view["previewEnabled"], bool)
    assert view["guestJoinUrl"] == view["joinUrl"] == created["guestJoinUrl"]
    assert view["hostJoinUrl"] == view["agentJoinUrl"] == created["hostJoinUrl"]
    for absent in ("endedAt", "agentJoinedAt", "guestJoinedAt"):
        assert absent not in view


def test_get_leaves_out_what_the_call_does_not_have(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app = make_app()
    created = create(local_api, creds(app))
    view = assert_ok(local_api.request("GET", f"/api/calls/{created['callId']}", headers=creds(app)))
    for absent in ("title", "description", "metadata", "genesys", "presetId", "endedAt"):
        assert absent not in view
    assert (view["hostName"], view["guestName"], view["recordOnStart"], view["previewEnabled"]) == (
        "Host",
        "Guest",
        False,
        True,
    )


def test_get_takes_credentials_from_the_query(local_api: LocalApi) -> None:
    created = create(local_api, DEMO)
    query = {"appId": DEMO_APP_ID, "widgetKey": DEMO_WIDGET_KEY}
    assert assert_ok(local_api.request("GET", f"/api/calls/{created['callId']}", query=query))["callId"]


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "UNAUTHORIZED"),
        ({"X-App-Id": DEMO_APP_ID, "X-Widget-Key": "wrong"}, 401, "UNAUTHORIZED"),
        ({"X-App-Id": DISABLED_APP_ID, "X-Widget-Key": DISABLED_WIDGET_KEY}, 403, "APP_DISABLED"),
    ],
)
@pytest.mark.parametrize("route", ["GET /api/calls/{id}", "GET /api/calls", "POST /api/calls/{id}/end"])
def test_every_route_checks_credentials_first(
    local_api: LocalApi, headers: dict[str, str], status: int, code: str, route: str
) -> None:
    created = create(local_api, DEMO)
    method, path = route.split(" ")
    # Bad fields as well: credentials are checked before them.
    result = local_api.request(
        method, path.format(id=created["callId"]), headers=headers, query={"limit": "0", "status": "nope"}
    )
    assert_error(result, status, code)


@pytest.mark.parametrize("route", ["GET /api/calls/{id}", "GET /api/calls", "POST /api/calls/{id}/end"])
def test_every_route_enforces_allowed_origins(
    local_api: LocalApi, make_app: Callable[..., TestApp], route: str
) -> None:
    app = make_app(allowed_origins=("https://shop.example",))
    created = create(local_api, creds(app))
    method, path = route.split(" ")
    path = path.format(id=created["callId"])
    refused = local_api.request(
        method, path, headers={**creds(app), "Origin": "https://evil.example"}, query={"limit": "0"}
    )
    assert_error(refused, 403, "ORIGIN_NOT_ALLOWED")
    allowed = local_api.request(method, path, headers={**creds(app), "Origin": "https://shop.example"})
    assert allowed.status == 200, allowed.raw
    assert allowed.header("Access-Control-Allow-Origin") == "https://shop.example"
    assert allowed.header("Vary") == "Origin"


def test_unknown_malformed_and_foreign_calls_answer_the_same_404(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    other = make_app()
    foreign = create(local_api, creds(other))["callId"]
    bodies = []
    for call_id in (str(uuid.uuid4()), "not-a-uuid", foreign, foreign.upper()):
        for method, path in (("GET", f"/api/calls/{call_id}"), ("POST", f"/api/calls/{call_id}/end")):
            error = assert_error(local_api.request(method, path, headers=DEMO), 404, "CALL_NOT_FOUND")
            bodies.append({name: value for name, value in error.items() if name != "requestId"})
    assert all(body == bodies[0] for body in bodies)
    # The other app's call was not ended by the refused attempt.
    assert (
        assert_ok(local_api.request("GET", f"/api/calls/{foreign}", headers=creds(other)))["status"]
        == "created"
    )


def test_a_call_the_ttl_removed_is_gone(local_api: LocalApi, admin: AdminStore) -> None:
    call_id = create(local_api, DEMO)["callId"]
    admin.client.delete_item(TableName=TABLE_NAMES.calls, Key={"callId": {"S": call_id}})
    assert_error(local_api.request("GET", f"/api/calls/{call_id}", headers=DEMO), 404, "CALL_NOT_FOUND")


def test_a_call_past_its_expiry_reads_expired(local_api: LocalApi, admin: AdminStore) -> None:
    call_id = create(local_api, DEMO)["callId"]
    expire(admin, call_id)
    view = assert_ok(local_api.request("GET", f"/api/calls/{call_id}", headers=DEMO))
    assert view["status"] == "expired"
    assert "endedAt" not in view


# Ending


def test_end_ends_once_and_again_changes_nothing(local_api: LocalApi, admin: AdminStore) -> None:
    call_id = create(local_api, DEMO, {"title": "to end"})["callId"]
    first = assert_ok(local_api.request("POST", f"/api/calls/{call_id}/end", headers=DEMO))
    assert first["status"] == "ended"
    assert first["endedAt"].endswith("Z")
    assert first["title"] == "to end"
    time.sleep(0.01)
    again = assert_ok(local_api.request("POST", f"/api/calls/{call_id}/end", headers=DEMO))
    assert again == first
    item = admin.get_call(call_id)
    assert item is not None
    assert item["status"] == {"S": "ended"}
    assert item["endedAt"] == {"S": first["endedAt"]}
    read = assert_ok(local_api.request("GET", f"/api/calls/{call_id}", headers=DEMO))
    assert (read["status"], read["endedAt"]) == ("ended", first["endedAt"])


def test_end_takes_credentials_from_the_body(local_api: LocalApi) -> None:
    call_id = create(local_api, DEMO)["callId"]
    result = local_api.request(
        "POST",
        f"/api/calls/{call_id}/end",
        headers={"Content-Type": "text/plain"},
        json_body={"appId": DEMO_APP_ID, "widgetKey": DEMO_WIDGET_KEY},
    )
    assert assert_ok(result)["status"] == "ended"


def test_end_reads_its_body_like_create(local_api: LocalApi) -> None:
    call_id = create(local_api, DEMO)["callId"]
    path = f"/api/calls/{call_id}/end"
    assert_error(local_api.request("POST", path, headers=DEMO, body="{"), 400, "INVALID_JSON")
    assert_error(local_api.request("POST", path, headers=DEMO, body="[]"), 400, "INVALID_BODY")
    assert_error(
        local_api.request("POST", path, headers=DEMO, body="x" * (32 * 1024 + 1)), 413, "PAYLOAD_TOO_LARGE"
    )


def test_racing_ends_record_one_ended_at(local_api: LocalApi) -> None:
    call_id = create(local_api, DEMO)["callId"]
    barrier = threading.Barrier(8)

    def end() -> HttpResult:
        barrier.wait()
        return local_api.request("POST", f"/api/calls/{call_id}/end", headers=DEMO)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: end(), range(8)))
    ended_at = {assert_ok(result)["endedAt"] for result in results}
    assert len(ended_at) == 1


def test_ending_an_expired_call_is_409_and_writes_nothing(local_api: LocalApi, admin: AdminStore) -> None:
    call_id = create(local_api, DEMO)["callId"]
    expire(admin, call_id)
    before = admin.get_call(call_id)
    assert_error(local_api.request("POST", f"/api/calls/{call_id}/end", headers=DEMO), 409, "CALL_EXPIRED")
    assert admin.get_call(call_id) == before
    assert assert_ok(local_api.request("GET", f"/api/calls/{call_id}", headers=DEMO))["status"] == "expired"


def test_an_ended_call_that_then_expires_still_reads_ended(local_api: LocalApi, admin: AdminStore) -> None:
    call_id = create(local_api, DEMO)["callId"]
    ended = assert_ok(local_api.request("POST", f"/api/calls/{call_id}/end", headers=DEMO))
    expire(admin, call_id)
    again = assert_ok(local_api.request("POST", f"/api/calls/{call_id}/end", headers=DEMO))
    assert (again["status"], again["endedAt"]) == ("ended", ended["endedAt"])


# Listing


def test_paging_45_calls_by_7_yields_each_once_newest_first(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app = make_app()
    with ThreadPoolExecutor(4) as pool:
        created = list(pool.map(lambda n: create(local_api, creds(app), {"title": f"#{n}"}), range(45)))
    pages = list_all(local_api, creds(app), limit="7")
    assert all(len(page) <= 7 for page in pages)
    listed = [call for page in pages for call in page]
    ids = [call["callId"] for call in listed]
    assert sorted(ids) == sorted(call["callId"] for call in created)
    assert len(set(ids)) == 45
    stamps = [call["createdAt"] for call in listed]
    assert stamps == sorted(stamps, reverse=True)
    assert all(call["hostJoinUrl"].endswith(f"widgetKey={app.widget_key}") for call in listed)


def test_default_page_is_20(local_api: LocalApi, make_app: Callable[..., TestApp]) -> None:
    app = make_app()
    for _ in range(21):
        create(local_api, creds(app))
    data = assert_ok(local_api.request("GET", "/api/calls", headers=creds(app)))
    assert len(data["calls"]) == 20
    assert data["nextCursor"]


def test_an_app_without_calls_lists_nothing(local_api: LocalApi, make_app: Callable[..., TestApp]) -> None:
    app = make_app()
    assert assert_ok(local_api.request("GET", "/api/calls", headers=creds(app))) == {"calls": []}


def test_status_filters_with_paging(
    local_api: LocalApi, make_app: Callable[..., TestApp], admin: AdminStore
) -> None:
    app = make_app()
    ids = [create(local_api, creds(app))["callId"] for _ in range(12)]
    ended, expired = set(ids[0:4]), set(ids[4:7])
    for call_id in ended:
        assert_ok(local_api.request("POST", f"/api/calls/{call_id}/end", headers=creds(app)))
    for call_id in expired:
        expire(admin, call_id)
    expected = {"ended": ended, "expired": expired, "created": set(ids) - ended - expired}
    for status, wanted in expected.items():
        listed = [call for page in list_all(local_api, creds(app), status=status, limit="2") for call in page]
        assert {call["callId"] for call in listed} == wanted, status
        assert len(listed) == len(wanted)
        assert {call["status"] for call in listed} == {status}


def test_conversation_filter_finds_its_calls_only(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app, other = make_app(), make_app()
    conversation = f"conv-{uuid.uuid4()}"
    mine = {
        create(local_api, creds(app), {"genesys": {"conversationId": conversation}})["callId"]
        for _ in range(3)
    }
    # From the query string too, as Genesys fills it in.
    created = local_api.request(
        "POST", "/api/calls", headers=creds(app), query={"conversationId": conversation}
    )
    mine.add(created.body["data"]["callId"])
    create(local_api, creds(app), {"genesys": {"conversationId": "another"}})
    create(local_api, creds(app))
    create(local_api, creds(other), {"genesys": {"conversationId": conversation}})
    listed = [
        call
        for page in list_all(local_api, creds(app), conversationId=conversation, limit="3")
        for call in page
    ]
    assert {call["callId"] for call in listed} == mine
    assert all(call["genesys"]["conversationId"] == conversation for call in listed)
    # Combined with a status, as the Genesys page asks for the live call.
    newest = sorted(listed, key=lambda call: call["createdAt"])[-1]["callId"]
    assert_ok(local_api.request("POST", f"/api/calls/{newest}/end", headers=creds(app)))
    live = [
        call
        for page in list_all(local_api, creds(app), conversationId=conversation, status="created", limit="1")
        for call in page
    ]
    assert {call["callId"] for call in live} == mine - {newest}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "running"}, "status"),
        ({"conversationId": "c" * 257}, "conversationId"),
    ],
)
def test_bad_list_parameters_are_422_with_details(
    local_api: LocalApi, query: dict[str, str], field: str
) -> None:
    error = assert_error(
        local_api.request("GET", "/api/calls", headers=DEMO, query=query), 422, "VALIDATION_ERROR"
    )
    assert [detail["field"] for detail in error["details"]] == [field]


def test_limits_at_their_bounds_are_accepted(local_api: LocalApi) -> None:
    for limit in ("1", "100"):
        data = assert_ok(local_api.request("GET", "/api/calls", headers=DEMO, query={"limit": limit}))
        assert len(data["calls"]) <= int(limit)


def test_cursors_only_work_for_their_app_and_filters(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app, other = make_app(), make_app()
    for target in (app, other):
        for _ in range(3):
            create(local_api, creds(target))
    cursor = assert_ok(local_api.request("GET", "/api/calls", headers=creds(app), query={"limit": "1"}))[
        "nextCursor"
    ]
    assert assert_ok(
        local_api.request("GET", "/api/calls", headers=creds(app), query={"limit": "1", "cursor": cursor})
    )["calls"]
    position, tag = cursor.split(".")
    flipped = position[:-1] + ("A" if position[-1] != "A" else "B")
    refused = {
        "edited": f"{flipped}.{tag}",
        "truncated": cursor[:-3],
        "stray character": cursor[:5] + "!" + cursor[5:],
        "garbage": "not-a-cursor",
        "too long": "A" * 5000,
    }
    for name, bad in refused.items():
        result = local_api.request("GET", "/api/calls", headers=creds(app), query={"cursor": bad})
        assert result.status == 400, name
        assert_error(result, 400, "INVALID_CURSOR")
    assert_error(
        local_api.request("GET", "/api/calls", headers=creds(other), query={"cursor": cursor}),
        400,
        "INVALID_CURSOR",
    )
    for filters in ({"status": "created"}, {"conversationId": "x"}):
        result = local_api.request(
            "GET", "/api/calls", headers=creds(app), query={"cursor": cursor, **filters}
        )
        assert_error(result, 400, "INVALID_CURSOR")


# Methods and CORS


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/calls", "GET, POST, OPTIONS"),
        ("PUT", "/api/calls", "GET, POST, OPTIONS"),
        ("POST", "/api/calls/{id}", "GET, OPTIONS"),
        ("DELETE", "/api/calls/{id}", "GET, OPTIONS"),
        ("GET", "/api/calls/{id}/end", "POST, OPTIONS"),
        ("PATCH", "/api/calls/{id}/end", "POST, OPTIONS"),
    ],
)
def test_wrong_methods_are_405_with_allow(local_api: LocalApi, method: str, path: str, allow: str) -> None:
    result = local_api.request(method, path.format(id=uuid.uuid4()), headers=DEMO)
    assert_error(result, 405, "METHOD_NOT_ALLOWED")
    assert result.header("Allow") == allow


def test_unknown_paths_are_404(local_api: LocalApi) -> None:
    for path in (f"/api/calls/{uuid.uuid4()}/restart", "/api/call", "/api/calls/a/b/c"):
        assert_error(local_api.request("GET", path, headers=DEMO), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/calls", "GET, POST, OPTIONS"),
        ("/api/calls/{id}", "GET, OPTIONS"),
        ("/api/calls/{id}/end", "POST, OPTIONS"),
    ],
)
def test_preflight_of_every_path(local_api: LocalApi, path: str, methods: str) -> None:
    result = local_api.request(
        "OPTIONS",
        path.format(id=uuid.uuid4()),
        headers={"Origin": "https://site.example", "Access-Control-Request-Method": "GET"},
    )
    assert result.status == 204
    assert result.header("Access-Control-Allow-Methods") == methods
    assert "X-Widget-Key" in (result.header("Access-Control-Allow-Headers") or "")
    assert result.header("Access-Control-Max-Age")
    assert result.header("Access-Control-Allow-Origin") == "https://site.example"
