"""Host links and the join API (docs/behaviour.md section 6), through the local server over DynamoDB Local."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from callsctl.store import AdminStore
from localrun.gateway import LocalLambdaContext
from localrun.server import build_event

from tests.integration.conftest import TABLE_NAMES, HttpResult, LocalApi, TestApp
from tests.integration.test_lifecycle import assert_error, assert_ok, creds, expire

pytestmark = pytest.mark.integration


@pytest.fixture
def widget_key_app(make_app: Callable[..., TestApp]) -> TestApp:
    return make_app()


@pytest.fixture
def host_key_app(make_app: Callable[..., TestApp], admin: AdminStore) -> TestApp:
    app = make_app()
    admin.set_host_links(app.app_id, "hostKey")
    return app


def create(
    local_api: LocalApi,
    app: TestApp,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    result = local_api.request(
        headers={**creds(app), **(headers or {})}, json_body=body if body is not None else {}
    )
    assert result.status == 201, result.raw
    data: dict[str, Any] = result.body["data"]
    return data


def link_query(link: str) -> dict[str, str]:
    """What the page behind a join link reads from its own URL and forwards to the join API."""
    return {name: values[0] for name, values in parse_qs(urlsplit(link).query).items()}


def join(
    local_api: LocalApi,
    call_id: str,
    query: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> HttpResult:
    return local_api.request(
        "POST", f"/api/calls/{call_id}/join", query=query, json_body=body, headers=headers
    )


def without_signaling(answer: dict[str, Any]) -> dict[str, Any]:
    """The join answer as it was before section 9 added the signaling fields (tested on their own)."""
    return {name: value for name, value in answer.items() if name not in ("signaling", "iceServers")}


def scan_everything(admin: AdminStore) -> str:
    """Every item of every table, as one text to search for secrets."""
    items = []
    for table in (TABLE_NAMES.apps, TABLE_NAMES.calls, TABLE_NAMES.idempotency):
        for page in admin.client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(page["Items"])
    return json.dumps(items)


# Both modes, end to end


def test_host_key_mode_end_to_end(local_api: LocalApi, host_key_app: TestApp, admin: AdminStore) -> None:
    created = create(local_api, host_key_app, {"title": "Support Session #1234", "hostName": "Sarah"})
    call_id = created["callId"]
    host_link = created["hostJoinUrl"]
    assert created["agentJoinUrl"] == host_link
    assert urlsplit(host_link).path == f"/c/{call_id}"
    query = link_query(host_link)
    assert set(query) == {"role", "hostKey"}
    assert query["role"] == "agent"
    assert len(query["hostKey"]) >= 22  # 128 bits, base64url
    assert host_key_app.widget_key not in json.dumps(created)

    agent = assert_ok(join(local_api, call_id, query))
    assert without_signaling(agent) == {
        "callId": call_id,
        "role": "agent",
        "displayName": "Sarah",
        "recordOnStart": False,
        "previewEnabled": True,
        "title": "Support Session #1234",
        "status": "created",
    }
    guest = assert_ok(join(local_api, call_id, link_query(created["guestJoinUrl"])))
    assert (guest["role"], guest["displayName"]) == ("guest", "Guest")

    item = admin.get_call(call_id)
    assert item is not None
    assert item["agentJoinedAt"]["S"].endswith("Z")
    assert item["guestJoinedAt"]["S"].endswith("Z")

    ended = assert_ok(local_api.request("POST", f"/api/calls/{call_id}/end", headers=creds(host_key_app)))
    assert ended["status"] == "ended"
    assert_error(join(local_api, call_id, query), 410, "CALL_ENDED")
    assert_error(join(local_api, call_id), 410, "CALL_ENDED")


def test_widget_key_mode_end_to_end(local_api: LocalApi, widget_key_app: TestApp, admin: AdminStore) -> None:
    created = create(local_api, widget_key_app, {"guestName": "John"})
    call_id = created["callId"]
    query = link_query(created["hostJoinUrl"])
    assert query == {"role": "agent", "appId": widget_key_app.app_id, "widgetKey": widget_key_app.widget_key}

    assert assert_ok(join(local_api, call_id, query))["role"] == "agent"
    guest = assert_ok(join(local_api, call_id, body={"role": "guest"}))
    assert (guest["role"], guest["displayName"]) == ("guest", "John")
    assert "title" not in guest
    item = admin.get_call(call_id)
    assert item is not None
    assert "hostKeyDigest" not in item
    assert {"agentJoinedAt", "guestJoinedAt"} <= item.keys()

    assert_ok(local_api.request("POST", f"/api/calls/{call_id}/end", headers=creds(widget_key_app)))
    assert_error(join(local_api, call_id, query), 410, "CALL_ENDED")


def test_the_join_reads_the_link_from_the_body_too(local_api: LocalApi, host_key_app: TestApp) -> None:
    created = create(local_api, host_key_app)
    body = link_query(created["hostJoinUrl"])
    result = join(local_api, created["callId"], body=body, headers={"Content-Type": "text/plain"})
    assert assert_ok(result)["role"] == "agent"


# Refusals


def test_a_host_key_of_another_call_is_refused(local_api: LocalApi, host_key_app: TestApp) -> None:
    mine, other = create(local_api, host_key_app), create(local_api, host_key_app)
    error = assert_error(
        join(local_api, mine["callId"], link_query(other["hostJoinUrl"])), 401, "UNAUTHORIZED"
    )
    assert link_query(other["hostJoinUrl"])["hostKey"] not in json.dumps(error)


@pytest.mark.parametrize("tamper", ["flip last", "drop last", "append", "case", "empty"])
def test_a_tampered_host_key_is_refused(local_api: LocalApi, host_key_app: TestApp, tamper: str) -> None:
    created = create(local_api, host_key_app)
    key = link_query(created["hostJoinUrl"])["hostKey"]
    tampered = {
        "flip last": key[:-1] + ("A" if key[-1] != "A" else "B"),
        "drop last": key[:-1],
        "append": key + "A",
        "case": key.swapcase(),
        "empty": "",
    }[tamper]
    assert tampered != key
    assert_error(
        join(local_api, created["callId"], {"role": "agent", "hostKey": tampered}), 401, "UNAUTHORIZED"
    )


def test_in_host_key_mode_the_widget_key_does_not_make_an_agent(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    created = create(local_api, host_key_app)
    query = {"role": "agent", "appId": host_key_app.app_id, "widgetKey": host_key_app.widget_key}
    assert_error(join(local_api, created["callId"], query), 401, "UNAUTHORIZED")


def test_another_apps_widget_key_does_not_make_an_agent(
    local_api: LocalApi, widget_key_app: TestApp, make_app: Callable[..., TestApp]
) -> None:
    created = create(local_api, widget_key_app)
    other = make_app()
    query = {"role": "agent", "appId": other.app_id, "widgetKey": other.widget_key}
    assert_error(join(local_api, created["callId"], query), 401, "UNAUTHORIZED")


def test_a_disabled_apps_key_is_refused(
    local_api: LocalApi, widget_key_app: TestApp, host_key_app: TestApp, admin: AdminStore
) -> None:
    widget_call, host_call = create(local_api, widget_key_app), create(local_api, host_key_app)
    for app in (widget_key_app, host_key_app):
        admin.set_status(app.app_id, "disabled")
    assert_error(
        join(local_api, widget_call["callId"], link_query(widget_call["hostJoinUrl"])), 403, "APP_DISABLED"
    )
    assert_error(
        join(local_api, host_call["callId"], link_query(host_call["hostJoinUrl"])), 403, "APP_DISABLED"
    )
    # A wrong key of a disabled app stays a 401: nothing is learnt about the app without a key.
    assert_error(join(local_api, host_call["callId"], {"role": "agent", "hostKey": "x"}), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("role", ["boss", "Agent", "host"])
def test_another_role_is_422(local_api: LocalApi, widget_key_app: TestApp, role: str) -> None:
    created = create(local_api, widget_key_app)
    error = assert_error(join(local_api, created["callId"], {"role": role}), 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == ["role"]


def test_an_unknown_call_is_404(local_api: LocalApi) -> None:
    for call_id in (str(uuid.uuid4()), "not-a-uuid"):
        assert_error(join(local_api, call_id), 404, "CALL_NOT_FOUND")
        assert_error(join(local_api, call_id, {"role": "agent", "hostKey": "x"}), 404, "CALL_NOT_FOUND")


def test_an_expired_call_is_410(local_api: LocalApi, host_key_app: TestApp, admin: AdminStore) -> None:
    created = create(local_api, host_key_app)
    expire(admin, created["callId"])
    before = admin.get_call(created["callId"])
    assert_error(join(local_api, created["callId"], link_query(created["hostJoinUrl"])), 410, "CALL_EXPIRED")
    assert_error(join(local_api, created["callId"]), 410, "CALL_EXPIRED")
    assert admin.get_call(created["callId"]) == before


def test_a_body_that_is_not_json_is_400(local_api: LocalApi, widget_key_app: TestApp) -> None:
    created = create(local_api, widget_key_app)
    result = local_api.request("POST", f"/api/calls/{created['callId']}/join", body="{")
    assert_error(result, 400, "INVALID_JSON")


# Replays and what is stored


def test_a_replay_in_host_key_mode_withholds_the_host_link(
    local_api: LocalApi, host_key_app: TestApp, admin: AdminStore
) -> None:
    key = f"retry-{uuid.uuid4()}"
    first = local_api.request(
        headers={**creds(host_key_app), "Idempotency-Key": key}, json_body={"title": "T"}
    )
    again = local_api.request(
        headers={**creds(host_key_app), "Idempotency-Key": key}, json_body={"title": "T"}
    )
    assert first.status == again.status == 201
    assert again.header("Idempotent-Replayed") == "true"
    created, replayed = first.body["data"], again.body["data"]
    assert replayed["callId"] == created["callId"]
    assert replayed["hostLinkWithheld"] is True
    assert "hostJoinUrl" not in replayed
    assert link_query(created["hostJoinUrl"])["hostKey"] not in again.raw.decode()
    # The first answer's link still works: only its bearer holds it.
    assert (
        assert_ok(join(local_api, created["callId"], link_query(created["hostJoinUrl"])))["role"] == "agent"
    )


def test_no_table_holds_a_host_key_or_widget_key_in_clear(
    local_api: LocalApi, host_key_app: TestApp, widget_key_app: TestApp, admin: AdminStore
) -> None:
    host_keys = []
    for number in range(3):
        headers = {"Idempotency-Key": f"scan-{uuid.uuid4()}"} if number else {}
        created = create(local_api, host_key_app, {"title": f"#{number}"}, headers)
        host_keys.append(link_query(created["hostJoinUrl"])["hostKey"])
        assert_ok(join(local_api, created["callId"], link_query(created["hostJoinUrl"])))
    create(local_api, widget_key_app, headers={"Idempotency-Key": f"scan-{uuid.uuid4()}"})
    stored = scan_everything(admin)
    for secret in (*host_keys, host_key_app.widget_key, widget_key_app.widget_key):
        assert secret not in stored
    assert host_key_app.app_id in stored  # the scan does see these apps' items
    logs = local_api.logs()
    for secret in (*host_keys, host_key_app.widget_key):
        assert secret not in logs


# Stamps


@pytest.mark.parametrize("role", ["agent", "guest"])
def test_racing_first_joins_stamp_once(
    local_api: LocalApi, host_key_app: TestApp, admin: AdminStore, role: str
) -> None:
    created = create(local_api, host_key_app)
    query = link_query(created["hostJoinUrl"] if role == "agent" else created["guestJoinUrl"])
    barrier = threading.Barrier(8)

    def race(_: int) -> HttpResult:
        barrier.wait()
        return join(local_api, created["callId"], query)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(race, range(8)))
    assert {assert_ok(result)["role"] for result in results} == {role}
    item = admin.get_call(created["callId"])
    assert item is not None
    stamped = item[f"{role}JoinedAt"]["S"]
    other = "guest" if role == "agent" else "agent"
    assert f"{other}JoinedAt" not in item
    # Later joins change nothing.
    assert_ok(join(local_api, created["callId"], query))
    again = admin.get_call(created["callId"])
    assert again is not None
    assert again[f"{role}JoinedAt"]["S"] == stamped


@pytest.mark.parametrize("role", ["agent", "guest"])
def test_joins_that_all_read_an_unstamped_call_stamp_it_once(
    db_environment: str, host_key_app: TestApp, admin: AdminStore, role: str
) -> None:
    """The local server runs one invocation at a time, as a Lambda container does; here eight
    joins race for real, each in its own thread with its own clock, on DynamoDB Local: every
    one has read the call before any stamps it."""
    from calls.access import AppDirectory
    from calls.join import JoinCall, SignalingOffer
    from calls.repository import get_repository
    from calls.request import CallRequest
    from calls.view import utc_now

    created = invoke("POST", "/api/calls", creds(host_key_app))
    assert created["statusCode"] == 201
    data = json.loads(created["body"])["data"]
    query = link_query(data["hostJoinUrl"] if role == "agent" else data["guestJoinUrl"])
    repository = get_repository()
    all_read = threading.Barrier(8)
    seen: list[str | None] = []

    def read_then_wait(call_id: str) -> Any:
        call = repository.get_call(call_id)
        all_read.wait()
        return call

    def stamp(call_id: str, attribute: str, *, joined_at: str, now: int) -> Any:
        call = repository.stamp_join_once(call_id, attribute, joined_at=joined_at, now=now)
        seen.append(getattr(call, f"{role}_joined_at"))
        return call

    def race(number: int) -> dict[str, Any]:
        moment = utc_now() + timedelta(milliseconds=number)
        joiner = JoinCall(
            AppDirectory(repository.load_app, ttl_seconds=0),
            read_then_wait,
            stamp,
            lambda: moment,
            signaling=SignalingOffer(url="wss://video.example/ws", token_key=b"k" * 32),
        )
        request = CallRequest(request_id=f"race-{number}", query={k: [v] for k, v in query.items()})
        return joiner(request, data["callId"])

    with ThreadPoolExecutor(8) as pool:
        views = list(pool.map(race, range(8)))
    assert {view["role"] for view in views} == {role}
    assert len(seen) == 8  # every join tried to stamp...
    item = admin.get_call(data["callId"])
    assert item is not None
    assert set(seen) == {item[f"{role}JoinedAt"]["S"]}  # ...and all found the one stamp that won


def test_joins_appear_in_the_call_view_of_get_list_and_end(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    created = create(local_api, host_key_app)
    call_id = created["callId"]
    path = f"/api/calls/{call_id}"
    view = assert_ok(local_api.request("GET", path, headers=creds(host_key_app)))
    assert not {"agentJoinedAt", "guestJoinedAt", "hostJoinUrl", "agentJoinUrl"} & view.keys()

    assert_ok(join(local_api, call_id))
    view = assert_ok(local_api.request("GET", path, headers=creds(host_key_app)))
    assert view["guestJoinedAt"].endswith("Z")
    assert "agentJoinedAt" not in view

    assert_ok(join(local_api, call_id, link_query(created["hostJoinUrl"])))
    views = {
        "get": assert_ok(local_api.request("GET", path, headers=creds(host_key_app))),
        "list": next(
            call
            for call in assert_ok(local_api.request("GET", "/api/calls", headers=creds(host_key_app)))[
                "calls"
            ]
            if call["callId"] == call_id
        ),
        "end": assert_ok(local_api.request("POST", f"{path}/end", headers=creds(host_key_app))),
    }
    stamps = {(v["agentJoinedAt"], v["guestJoinedAt"]) for v in views.values()}
    assert len(stamps) == 1
    agent_at, guest_at = stamps.pop()
    assert guest_at <= agent_at
    for name, shown in views.items():
        # hostKey mode: the host link was shown once, on create.
        assert not {"hostJoinUrl", "agentJoinUrl"} & shown.keys(), name
        assert shown["guestJoinUrl"] == created["guestJoinUrl"], name


def test_the_widget_key_modes_view_keeps_its_host_links_and_shows_joins(
    local_api: LocalApi, widget_key_app: TestApp
) -> None:
    created = create(local_api, widget_key_app)
    assert_ok(join(local_api, created["callId"], link_query(created["hostJoinUrl"])))
    view = assert_ok(
        local_api.request("GET", f"/api/calls/{created['callId']}", headers=creds(widget_key_app))
    )
    assert view["hostJoinUrl"] == view["agentJoinUrl"] == created["hostJoinUrl"]
    assert view["agentJoinedAt"].endswith("Z")
    assert "guestJoinedAt" not in view


# Origins, methods, preflight


def test_any_origin_may_join_even_where_the_app_lists_its_origins(
    local_api: LocalApi, make_app: Callable[..., TestApp], admin: AdminStore
) -> None:
    app = make_app(allowed_origins=("https://shop.example",))
    admin.set_host_links(app.app_id, "hostKey")
    created = create(local_api, app)
    foreign = {"Origin": "https://video.example"}
    for query in (link_query(created["hostJoinUrl"]), {}):
        result = join(local_api, created["callId"], query, headers=foreign)
        assert assert_ok(result)["callId"] == created["callId"]
        assert result.header("Access-Control-Allow-Origin") == "https://video.example"
        assert result.header("Vary") == "Origin"
    # The app's own routes still refuse that origin.
    refused = local_api.request("GET", f"/api/calls/{created['callId']}", headers={**creds(app), **foreign})
    assert_error(refused, 403, "ORIGIN_NOT_ALLOWED")


def test_the_join_preflight_and_wrong_methods(local_api: LocalApi) -> None:
    path = f"/api/calls/{uuid.uuid4()}/join"
    preflight = local_api.request(
        "OPTIONS", path, headers={"Origin": "https://video.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status == 204
    assert preflight.header("Access-Control-Allow-Methods") == "POST, OPTIONS"
    assert "Content-Type" in (preflight.header("Access-Control-Allow-Headers") or "")
    assert preflight.header("Access-Control-Allow-Origin") == "https://video.example"
    for method in ("GET", "PUT", "DELETE"):
        result = local_api.request(method, path)
        assert_error(result, 405, "METHOD_NOT_ALLOWED")
        assert result.header("Allow") == "POST, OPTIONS"


# DynamoDB requests of a warm container


class RequestCounter:
    """DynamoDB requests as botocore sends them (one `before-send` per HTTP attempt)."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, event_name: str, **_: Any) -> None:
        self.seen[event_name.rsplit(".", 1)[-1]] += 1

    def take(self) -> Counter[str]:
        seen, self.seen = self.seen, Counter()
        return seen


@pytest.fixture
def counted(db_environment: str) -> Iterator[RequestCounter]:
    from calls import repository

    counter = RequestCounter()
    client = repository.get_repository().client
    client.meta.events.register("before-send.dynamodb", counter, unique_id="test-join-counter")
    yield counter
    client.meta.events.unregister("before-send.dynamodb", unique_id="test-join-counter")


def invoke(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> dict[str, Any]:
    from calls.handler import lambda_handler

    event = build_event(method, path, list((headers or {}).items()), body)
    result: dict[str, Any] = lambda_handler(event, LocalLambdaContext(aws_request_id=str(uuid.uuid4())))
    return result


def test_a_warm_join_is_at_most_two_requests_and_a_create_one(
    counted: RequestCounter, host_key_app: TestApp
) -> None:
    headers = creds(host_key_app)
    warm_up = invoke("POST", "/api/calls", headers)  # reads the app into the container's cache
    assert warm_up["statusCode"] == 201
    counted.take()

    created = invoke("POST", "/api/calls", headers)
    assert created["statusCode"] == 201
    assert counted.take() == Counter({"PutItem": 1})
    data = json.loads(created["body"])["data"]
    agent_path = f"/api/calls/{data['callId']}/join?{urlsplit(data['hostJoinUrl']).query}"
    guest_path = f"/api/calls/{data['callId']}/join"

    for path in (guest_path, agent_path):
        assert invoke("POST", path)["statusCode"] == 200
        assert counted.take() == Counter({"GetItem": 1, "UpdateItem": 1}), path
        assert invoke("POST", path)["statusCode"] == 200
        assert counted.take() == Counter({"GetItem": 1}), path


def test_a_body_field_of_the_wrong_type_is_422_even_beside_the_same_query_field(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    created = create(local_api, host_key_app)
    query = link_query(created["hostJoinUrl"])
    result = join(local_api, created["callId"], query, body={"role": {}, "hostKey": query["hostKey"]})
    error = assert_error(result, 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == ["role"]


def test_the_presets_language_and_branding_reach_the_join_answer(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    from tests.conftest import ROOT

    branded = json.loads((ROOT / "docs/examples/branded-preset.json").read_text())
    app = make_app(presets={"branded": branded}, active_preset_id="branded")
    created = create(local_api, app)
    for link in (created["hostJoinUrl"], created["guestJoinUrl"]):
        joined = assert_ok(join(local_api, created["callId"], link_query(link)))
        assert joined["language"] == "en-US"
        assert joined["branding"] == branded["branding"]
    view = assert_ok(local_api.request("GET", f"/api/calls/{created['callId']}", headers=creds(app)))
    assert "branding" not in view  # the page's settings are the join's business only


def test_the_join_answer_names_the_local_runs_signaling_socket_and_a_fresh_token(
    local_api: LocalApi, widget_key_app: TestApp
) -> None:
    created = create(local_api, widget_key_app)
    # The local run serves signaling itself, and says so (SIGNALING_URL), whatever the links' base.
    socket = f"ws://127.0.0.1:{local_api.port}/ws"
    tokens = set()
    for link in (created["hostJoinUrl"], created["guestJoinUrl"], created["guestJoinUrl"]):
        before = datetime.now(UTC)
        joined = assert_ok(join(local_api, created["callId"], link_query(link)))
        assert joined["signaling"]["url"] == socket
        expires = datetime.fromisoformat(joined["signaling"]["expiresAt"])
        assert (
            before.replace(microsecond=0) + timedelta(seconds=59)
            <= expires
            <= datetime.now(UTC) + timedelta(seconds=60)
        )
        tokens.add(joined["signaling"]["token"])
        assert joined["iceServers"] == []  # the local run's: loopback needs no TURN
    assert len(tokens) == 3


# Ending with the host link's credential (the call page of a host-key link ends its call)


def end(
    local_api: LocalApi,
    call_id: str,
    query: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> HttpResult:
    return local_api.request(
        "POST", f"/api/calls/{call_id}/end", query=query, json_body=body, headers=headers
    )


def test_a_host_key_link_ends_its_own_call(
    local_api: LocalApi, host_key_app: TestApp, admin: AdminStore
) -> None:
    created = create(local_api, host_key_app)
    call_id = created["callId"]
    host_key = link_query(created["hostJoinUrl"])["hostKey"]
    page = {"Origin": "https://video.example", "Content-Type": "text/plain"}
    ended = assert_ok(end(local_api, call_id, {"hostKey": host_key}, headers=page))
    assert (ended["callId"], ended["status"]) == (call_id, "ended")
    assert not {"hostJoinUrl", "agentJoinUrl"} & ended.keys()
    assert host_key not in json.dumps(ended)
    item = admin.get_call(call_id)
    assert item is not None
    assert item["endedAt"]["S"] == ended["endedAt"]
    # Again, from the body: the same endedAt; and the call is over for every join.
    again = assert_ok(end(local_api, call_id, body={"hostKey": host_key}))
    assert again["endedAt"] == ended["endedAt"]
    assert_error(join(local_api, call_id, link_query(created["hostJoinUrl"])), 410, "CALL_ENDED")


def test_another_calls_host_key_or_a_wrong_one_ends_nothing(
    local_api: LocalApi, host_key_app: TestApp, admin: AdminStore
) -> None:
    mine, other = create(local_api, host_key_app), create(local_api, host_key_app)
    other_key = link_query(other["hostJoinUrl"])["hostKey"]
    my_key = link_query(mine["hostJoinUrl"])["hostKey"]
    for key in (other_key, my_key[:-1], my_key + "A", "x"):
        error = assert_error(end(local_api, mine["callId"], {"hostKey": key}), 401, "UNAUTHORIZED")
        assert key not in json.dumps(error)
    item = admin.get_call(mine["callId"])
    assert item is not None
    assert "endedAt" not in item


def test_a_host_key_ends_no_widget_key_mode_call(
    local_api: LocalApi, widget_key_app: TestApp, host_key_app: TestApp
) -> None:
    widget_call = create(local_api, widget_key_app)
    some_key = link_query(create(local_api, host_key_app)["hostJoinUrl"])["hostKey"]
    assert_error(end(local_api, widget_call["callId"], {"hostKey": some_key}), 401, "UNAUTHORIZED")
    # The app's credentials end it as before.
    assert (
        assert_ok(end(local_api, widget_call["callId"], headers=creds(widget_key_app)))["status"] == "ended"
    )


def test_the_apps_credentials_still_answer_to_allowed_origins_where_the_host_key_does_not(
    local_api: LocalApi, make_app: Callable[..., TestApp], admin: AdminStore
) -> None:
    app = make_app(allowed_origins=("https://shop.example",))
    admin.set_host_links(app.app_id, "hostKey")
    created = create(local_api, app)
    foreign = {"Origin": "https://video.example"}
    assert_error(
        end(local_api, created["callId"], headers={**creds(app), **foreign}), 403, "ORIGIN_NOT_ALLOWED"
    )
    host_key = link_query(created["hostJoinUrl"])["hostKey"]
    result = end(local_api, created["callId"], {"hostKey": host_key}, headers=foreign)
    assert assert_ok(result)["status"] == "ended"
    assert result.header("Access-Control-Allow-Origin") == "https://video.example"


def test_a_disabled_apps_host_key_ends_nothing(
    local_api: LocalApi, host_key_app: TestApp, admin: AdminStore
) -> None:
    created = create(local_api, host_key_app)
    admin.set_status(host_key_app.app_id, "disabled")
    host_key = link_query(created["hostJoinUrl"])["hostKey"]
    assert_error(end(local_api, created["callId"], {"hostKey": host_key}), 403, "APP_DISABLED")
    # A key that opens no call is a 401, as any wrong credential: nothing is told about the call.
    assert_error(end(local_api, str(uuid.uuid4()), {"hostKey": host_key}), 401, "UNAUTHORIZED")
