"""Read, list and end without AWS: cursors, statuses, the list query, and end's decisions."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from calls.access import AppDirectory
from calls.cursor import CursorScope, issue_cursor, open_cursor
from calls.end import EndCall
from calls.errors import (
    AppDisabled,
    CallExpired,
    CallNotFound,
    InvalidCursor,
    OriginNotAllowed,
    Unauthorized,
    ValidationFailed,
)
from calls.listing import validate_list_query
from calls.models import DEFAULT_SETTINGS, AppRecord, CallRecord, PageKey
from calls.read import ReadCall, is_call_id
from calls.request import CallRequest
from calls.view import call_status

KEY = b"k" * 32
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SCOPE = CursorScope(app_id="app-1", status=None, conversation_id=None)
POSITION = PageKey(created_at="2026-11-30T11:59:00.000Z", call_id=str(uuid.uuid4()))


def call(**overrides: Any) -> CallRecord:
    values: dict[str, Any] = {
        "call_id": str(uuid.uuid4()),
        "app_id": "app-1",
        "preset_id": None,
        "settings": DEFAULT_SETTINGS,
        "created_at": "2026-11-30T11:00:00.000Z",
        "expires_at": int((NOW + timedelta(hours=1)).timestamp()),
        "request_id": "req",
    }
    values.update(overrides)
    return CallRecord(**values)


def apps() -> AppDirectory:
    app = AppRecord(app_id="app-1", status="active", key_digests=(hashlib.sha256(b"key").hexdigest(),))
    return AppDirectory(lambda app_id: app if app_id == "app-1" else None, ttl_seconds=0)


def request() -> CallRequest:
    return CallRequest(request_id="r", headers={"x-app-id": "app-1", "x-widget-key": "key"})


# Cursors


def test_a_cursor_opens_for_its_scope() -> None:
    cursor = issue_cursor(KEY, POSITION, SCOPE)
    assert open_cursor(KEY, cursor, SCOPE) == POSITION


@pytest.mark.parametrize(
    "scope",
    [
        CursorScope(app_id="app-2", status=None, conversation_id=None),
        CursorScope(app_id="app-1", status="ended", conversation_id=None),
        CursorScope(app_id="app-1", status=None, conversation_id="c"),
    ],
)
def test_a_cursor_refuses_another_scope(scope: CursorScope) -> None:
    with pytest.raises(InvalidCursor):
        open_cursor(KEY, issue_cursor(KEY, POSITION, SCOPE), scope)


def test_a_cursor_refuses_another_key() -> None:
    with pytest.raises(InvalidCursor):
        open_cursor(b"x" * 32, issue_cursor(KEY, POSITION, SCOPE), SCOPE)


def test_every_single_character_edit_is_refused() -> None:
    cursor = issue_cursor(KEY, POSITION, SCOPE)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    for index, original in enumerate(cursor):
        replacement = next(char for char in alphabet if char != original)
        edited = cursor[:index] + replacement + cursor[index + 1 :]
        with pytest.raises(InvalidCursor):
            open_cursor(KEY, edited, SCOPE)


@pytest.mark.parametrize("bad", ["", ".", "a.b.c", "é.é", "x" * 2000, "!!!.???"])
def test_malformed_cursors_are_refused(bad: str) -> None:
    with pytest.raises(InvalidCursor):
        open_cursor(KEY, bad, SCOPE)


def test_a_stray_character_anywhere_is_refused() -> None:
    """base64's decoder skips what it does not know and stops at padding: only the exact
    spelling issued may open, so every insertion of '=', '.', a space or a letter is refused."""
    cursor = issue_cursor(KEY, POSITION, SCOPE)
    for index in range(len(cursor) + 1):
        for stray in ("=", "==", ".", " ", "+", "/", "A"):
            inserted = cursor[:index] + stray + cursor[index:]
            with pytest.raises(InvalidCursor):
                open_cursor(KEY, inserted, SCOPE)


def test_truncations_are_refused() -> None:
    cursor = issue_cursor(KEY, POSITION, SCOPE)
    for length in range(len(cursor)):
        with pytest.raises(InvalidCursor):
            open_cursor(KEY, cursor[:length], SCOPE)


# Status


def test_status_is_derived_from_the_record_and_the_clock() -> None:
    live = call()
    assert call_status(live, NOW) == "created"
    assert call_status(live, datetime.fromtimestamp(live.expires_at, UTC)) == "expired"
    assert call_status(call(status="ended", ended_at="x"), NOW + timedelta(days=3)) == "ended"


# The list query


def test_list_query_defaults_and_bounds() -> None:
    assert validate_list_query({}).limit == 20
    assert validate_list_query({"limit": ["", "7"]}).limit == 7
    for bad in ({"limit": ["0"]}, {"limit": ["101"]}, {"limit": ["x"]}, {"status": ["live"]}):
        with pytest.raises(ValidationFailed) as raised:
            validate_list_query(bad)
        assert [problem.field for problem in raised.value.details] == list(bad)


def test_call_ids_are_matched_as_issued() -> None:
    issued = str(uuid.uuid4())
    assert is_call_id(issued)
    assert not is_call_id(issued.upper())
    assert not is_call_id(issued + "\n")
    assert not is_call_id("../" + issued)


# Read and end decisions


def test_read_of_another_apps_call_is_not_found() -> None:
    foreign = call(app_id="app-2")
    read = ReadCall(apps(), lambda _call_id: foreign, "https://join.example", now=lambda: NOW)
    with pytest.raises(CallNotFound):
        read(request(), foreign.call_id)


def test_read_of_a_malformed_id_reads_nothing() -> None:
    def never(_call_id: str) -> CallRecord | None:
        raise AssertionError("read for a malformed id")

    with pytest.raises(CallNotFound):
        ReadCall(apps(), never, "https://join.example", now=lambda: NOW)(request(), "nope")


def end_with(outcome: CallRecord | None) -> EndCall:
    def end_call_once(app_id: str, call_id: str, *, ended_at: str, now: int) -> CallRecord | None:
        assert (app_id, now) == ("app-1", int(NOW.timestamp()))
        assert ended_at == "2026-11-30T12:00:00.000Z"
        return outcome

    def never(_call_id: str) -> CallRecord | None:
        raise AssertionError("the app's credentials end a call without reading it first")

    return EndCall(apps(), end_call_once, "https://join.example", now=lambda: NOW, get_call=never)


def test_end_answers_the_ended_call() -> None:
    ended = call(status="ended", ended_at="2026-11-30T11:30:00.000Z")
    view = end_with(ended)(request(), ended.call_id)
    assert (view["status"], view["endedAt"]) == ("ended", "2026-11-30T11:30:00.000Z")


def test_end_refused_by_expiry_is_409() -> None:
    expired = call(expires_at=int(NOW.timestamp()) - 1)
    with pytest.raises(CallExpired):
        end_with(expired)(request(), expired.call_id)


@pytest.mark.parametrize("outcome", [None, call(app_id="app-2")])
def test_end_of_unknown_or_foreign_call_is_404(outcome: CallRecord | None) -> None:
    with pytest.raises(CallNotFound):
        end_with(outcome)(request(), str(uuid.uuid4()))


# Ending with the agent's credential of a host-key link


HOST_KEY = "the-calls-own-host-key-0123456789abcdefghij"


def host_key_call(**overrides: Any) -> CallRecord:
    return call(host_key_digest=hashlib.sha256(HOST_KEY.encode()).hexdigest(), **overrides)


class EndLog:
    """The calls table as the end sees it: reads and conditional ends, recorded."""

    def __init__(self, *calls: CallRecord) -> None:
        self.calls = {each.call_id: each for each in calls}
        self.reads: list[str] = []
        self.ends: list[tuple[str, str]] = []

    def get_call(self, call_id: str) -> CallRecord | None:
        self.reads.append(call_id)
        return self.calls.get(call_id)

    def end_call_once(self, app_id: str, call_id: str, *, ended_at: str, now: int) -> CallRecord | None:
        self.ends.append((app_id, call_id))
        found = self.calls.get(call_id)
        if found is None:
            return None
        if found.app_id == app_id and found.status == "created" and found.expires_at > now:
            found = dataclasses.replace(found, status="ended", ended_at=ended_at)
            self.calls[call_id] = found
        return found


def host_apps(status: str = "active", allowed_origins: tuple[str, ...] = ()) -> AppDirectory:
    app = AppRecord(
        app_id="app-1",
        status=status,
        key_digests=(hashlib.sha256(b"key").hexdigest(),),
        allowed_origins=allowed_origins,
        host_links="hostKey",
    )
    return AppDirectory(lambda app_id: app if app_id == "app-1" else None, ttl_seconds=0)


def ender(log: EndLog, directory: AppDirectory | None = None) -> EndCall:
    return EndCall(
        host_apps() if directory is None else directory,
        log.end_call_once,
        "https://join.example",
        now=lambda: NOW,
        get_call=log.get_call,
    )


def host_request(query: dict[str, str] | None = None, body: bytes = b"", **headers: str) -> CallRequest:
    return CallRequest(
        request_id="r",
        headers=headers,
        query={name: [value] for name, value in (query or {}).items()},
        body=body,
    )


def test_the_host_key_ends_its_own_call() -> None:
    mine = host_key_call()
    log = EndLog(mine)
    view = ender(log)(host_request({"hostKey": HOST_KEY}), mine.call_id)
    assert (view["status"], view["endedAt"]) == ("ended", "2026-11-30T12:00:00.000Z")
    assert not {"hostJoinUrl", "agentJoinUrl"} & view.keys()
    assert view["guestJoinUrl"] == f"https://join.example/c/{mine.call_id}"
    assert log.reads == [mine.call_id]
    assert log.ends == [("app-1", mine.call_id)]
    # Again: the same endedAt, as with the app's credentials.
    again = ender(log)(host_request(body=b'{"hostKey": "' + HOST_KEY.encode() + b'"}'), mine.call_id)
    assert again["endedAt"] == view["endedAt"]


@pytest.mark.parametrize(
    "presented",
    [
        HOST_KEY[:-1],
        HOST_KEY + "x",
        HOST_KEY.upper(),
        hashlib.sha256(HOST_KEY.encode()).hexdigest(),
        "k" * 300,
    ],
)
def test_a_wrong_host_key_is_401_and_ends_nothing(presented: str) -> None:
    mine = host_key_call()
    log = EndLog(mine)
    with pytest.raises(Unauthorized) as refused:
        ender(log)(host_request({"hostKey": presented}), mine.call_id)
    assert "hostKey" in refused.value.message
    assert log.ends == []


def test_another_calls_host_key_is_401() -> None:
    mine, other = host_key_call(), call(host_key_digest=hashlib.sha256(b"other-key").hexdigest())
    log = EndLog(mine, other)
    with pytest.raises(Unauthorized):
        ender(log)(host_request({"hostKey": HOST_KEY}), other.call_id)
    assert log.ends == []


def test_a_host_key_ends_no_widget_key_mode_call() -> None:
    widget_mode = call()
    log = EndLog(widget_mode)
    with pytest.raises(Unauthorized):
        ender(log, apps())(host_request({"hostKey": HOST_KEY}), widget_mode.call_id)
    assert log.ends == []


def test_the_apps_credentials_decide_when_the_request_carries_them_beside_a_host_key() -> None:
    """A request with the app's credentials is judged by them, as before the host key: a wrong
    host key beside good credentials ends the call, a good host key beside a wrong widget key does
    not, and an appId alone is an incomplete credential, not a host-key request."""
    mine = host_key_call()
    log = EndLog(mine)
    good = {"x-app-id": "app-1", "x-widget-key": "key"}
    view = ender(log, apps())(host_request({"hostKey": "wrong"}, **good), mine.call_id)
    assert view["status"] == "ended"
    assert log.reads == []
    # Each of these would end the call by its (good) host key alone.
    for headers, body in (
        ({"x-app-id": "app-1", "x-widget-key": "nope"}, b""),
        ({"x-app-id": "app-1"}, b""),
        ({}, b'{"widgetKey": "nope"}'),
    ):
        other = host_key_call()
        other_log = EndLog(other)
        with pytest.raises(Unauthorized):
            ender(other_log)(host_request({"hostKey": HOST_KEY}, body, **headers), other.call_id)
        assert other_log.ends == []
        assert ender(other_log)(host_request({"hostKey": HOST_KEY}), other.call_id)["status"] == "ended"


def test_a_disabled_apps_host_key_is_403_and_a_deleted_apps_401() -> None:
    mine = host_key_call()
    log = EndLog(mine)
    with pytest.raises(AppDisabled):
        ender(log, host_apps(status="disabled"))(host_request({"hostKey": HOST_KEY}), mine.call_id)
    orphan = host_key_call(app_id="app-gone")
    with pytest.raises(Unauthorized):
        ender(EndLog(orphan))(host_request({"hostKey": HOST_KEY}), orphan.call_id)
    assert log.ends == []


def test_a_host_key_for_an_unknown_or_malformed_call_is_401_and_a_malformed_id_costs_no_read() -> None:
    """Credentials come first on the end, as on every app route: a key that opens no call is a 401,
    whether or not the call exists, so the answer tells nothing about the call."""
    log = EndLog()
    with pytest.raises(Unauthorized):
        ender(log)(host_request({"hostKey": HOST_KEY}), str(uuid.uuid4()))
    with pytest.raises(Unauthorized):
        ender(log)(host_request({"hostKey": HOST_KEY}), "not-a-call")
    assert len(log.reads) == 1
    assert log.ends == []


def test_an_expired_call_is_409_by_host_key_too() -> None:
    expired = host_key_call(expires_at=int(NOW.timestamp()) - 1)
    with pytest.raises(CallExpired):
        ender(EndLog(expired))(host_request({"hostKey": HOST_KEY}), expired.call_id)


def test_allowed_origins_do_not_apply_to_the_host_key_but_still_to_the_apps_credentials() -> None:
    mine = host_key_call()
    log = EndLog(mine)
    listed = host_apps(allowed_origins=("https://shop.example",))
    page = {"origin": "https://video.example"}
    assert ender(log, listed)(host_request({"hostKey": HOST_KEY}, **page), mine.call_id)["status"] == "ended"
    with pytest.raises(OriginNotAllowed):
        ender(log, listed)(host_request(**{"x-app-id": "app-1", "x-widget-key": "key", **page}), mine.call_id)


@pytest.mark.parametrize(
    "body", [b'{"hostKey": 42}', b'{"hostKey": ["k"]}', b'{"hostKey": ""}', b'{"hostKey": null}']
)
def test_a_body_host_key_that_is_no_string_is_ignored_like_any_other_field(body: bytes) -> None:
    mine = host_key_call()
    log = EndLog(mine)
    with pytest.raises(Unauthorized):  # no credential at all, then
        ender(log)(host_request(body=body), mine.call_id)
    view = ender(log, apps())(
        host_request(body=body, **{"x-app-id": "app-1", "x-widget-key": "key"}), mine.call_id
    )
    assert view["status"] == "ended"
    assert log.reads == []
