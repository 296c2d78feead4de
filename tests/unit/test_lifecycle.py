"""Read, list and end without AWS: cursors, statuses, the list query, and end's decisions."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from calls.access import AppDirectory
from calls.cursor import CursorScope, issue_cursor, open_cursor
from calls.end import EndCall
from calls.errors import CallExpired, CallNotFound, InvalidCursor, ValidationFailed
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

    return EndCall(apps(), end_call_once, "https://join.example", now=lambda: NOW)


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
