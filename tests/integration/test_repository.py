"""The repository and the in-process handler against DynamoDB Local."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from calls.aws_errors import CallIdTaken
from calls.errors import InternalError
from calls.models import DEFAULT_SETTINGS, CallRecord
from calls.repository import get_repository
from callsctl.store import AdminStore
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY
from localrun.gateway import LocalLambdaContext
from localrun.server import build_event

pytestmark = pytest.mark.integration


def record(call_id: str, title: str) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        app_id=DEMO_APP_ID,
        preset_id=None,
        settings=DEFAULT_SETTINGS,
        created_at="2026-11-23T12:00:00.000Z",
        expires_at=1_800_000_000,
        request_id="r-1",
        title=title,
    )


def test_put_call_once_never_overwrites(db_environment: str, admin: AdminStore) -> None:
    call_id = str(uuid.uuid4())
    repository = get_repository()
    repository.put_call_once(record(call_id, "first"))

    with pytest.raises(CallIdTaken) as caught:
        repository.put_call_once(record(call_id, "second"))

    assert isinstance(caught.value, InternalError)
    item = admin.get_call(call_id)
    assert item is not None
    assert item["title"] == {"S": "first"}


def test_load_app_returns_the_app_with_all_its_presets(db_environment: str) -> None:
    app = get_repository().load_app(DEMO_APP_ID)
    assert app is not None
    assert app.enabled
    assert app.active_preset_id == "default"
    assert set(app.presets) == {"default", "support"}
    assert app.presets["support"].settings["recordOnStart"] is True
    assert get_repository().load_app("no-such-app") is None


def invoke(body: dict[str, Any]) -> dict[str, Any]:
    from calls.handler import lambda_handler

    event = build_event(
        "POST",
        "/api/calls",
        [("X-App-Id", DEMO_APP_ID), ("X-Widget-Key", DEMO_WIDGET_KEY)],
        json.dumps(body).encode(),
    )
    return lambda_handler(event, LocalLambdaContext(aws_request_id="r"))


def test_a_colliding_call_id_is_a_500_and_leaves_the_first_call_alone(
    db_environment: str, admin: AdminStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = uuid.uuid4()
    monkeypatch.setattr("calls.create.uuid.uuid4", lambda: fixed)

    first = invoke({"title": "first"})
    second = invoke({"title": "second"})

    assert first["statusCode"] == 201
    assert second["statusCode"] == 500
    error = json.loads(second["body"])["error"]
    assert error["code"] == "INTERNAL_ERROR"
    assert "Conditional" not in second["body"]
    item = admin.get_call(str(fixed))
    assert item is not None
    assert item["title"] == {"S": "first"}


def test_join_base_url_is_configurable_without_trailing_slash(
    db_environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOIN_BASE_URL", "https://meet.example.com/video/")
    monkeypatch.setenv("CALL_TTL_SECONDS", "3600")

    data = json.loads(invoke({})["body"])["data"]

    assert data["guestJoinUrl"] == f"https://meet.example.com/video/c/{data['callId']}"
    assert data["hostJoinUrl"].startswith(f"https://meet.example.com/video/c/{data['callId']}?role=agent&")
    created = datetime.fromisoformat(data["createdAt"].replace("Z", "+00:00"))
    assert data["expiresAt"] == int(created.timestamp()) + 3600


def test_racing_ends_in_their_own_threads_record_one_ended_at(db_environment: str) -> None:
    """The local server serves one request at a time, so its racing-ends test is sequential; here
    eight ends hit DynamoDB Local at once, each with its own clock reading."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    call_id = str(uuid.uuid4())
    repository = get_repository()
    repository.put_call_once(record(call_id, "race"))
    start = threading.Barrier(8)

    def end(number: int) -> CallRecord | None:
        start.wait()
        stamp = f"2026-11-23T12:00:{number:02d}.000Z"
        return repository.end_call_once(DEMO_APP_ID, call_id, ended_at=stamp, now=1_700_000_000)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(end, range(8)))
    assert all(outcome is not None and outcome.status == "ended" for outcome in outcomes)
    assert len({outcome.ended_at for outcome in outcomes if outcome}) == 1


# The conditions of the conditional writes, at their boundaries (a mutation probe showed them untested)


def live_call(call_id: str, *, expires_at: int) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        app_id=DEMO_APP_ID,
        preset_id=None,
        settings=DEFAULT_SETTINGS,
        created_at="2026-11-23T12:00:00.000Z",
        expires_at=expires_at,
        request_id="r-1",
    )


@pytest.mark.parametrize("attribute", ["agentJoinedAt", "guestJoinedAt"])
def test_a_join_stamp_never_lands_on_an_ended_call(db_environment: str, attribute: str) -> None:
    """An end racing a join: the stamp's condition keeps the ended call unstamped, so no
    call.*_joined event can follow call.ended."""
    repository = get_repository()
    call_id = str(uuid.uuid4())
    now = 1_800_000_000 - 3600
    repository.put_call_once(live_call(call_id, expires_at=1_800_000_000))
    repository.end_call_once(DEMO_APP_ID, call_id, ended_at="2026-11-23T12:05:00.000Z", now=now)
    after = repository.stamp_join_once(call_id, attribute, joined_at="2026-11-23T12:06:00.000Z", now=now)
    assert after is not None
    assert after.status == "ended"
    assert (after.agent_joined_at, after.guest_joined_at) == (None, None)


def test_at_exactly_expires_at_a_call_is_expired_to_end_join_and_list(db_environment: str) -> None:
    """The view calls a call expired once now >= expiresAt; the conditions must agree to the second."""
    repository = get_repository()
    expires_at = 1_800_000_000
    call_id = str(uuid.uuid4())
    repository.put_call_once(live_call(call_id, expires_at=expires_at))

    ended = repository.end_call_once(DEMO_APP_ID, call_id, ended_at="x", now=expires_at)
    assert ended is not None
    assert ended.status == "created"  # refused: expired, not ended
    stamped = repository.stamp_join_once(call_id, "guestJoinedAt", joined_at="x", now=expires_at)
    assert stamped is not None
    assert stamped.guest_joined_at is None

    def listed(status: str, now: int) -> set[str]:
        page = repository.list_calls(DEMO_APP_ID, limit=100, now=now, status=status)
        found = {call.call_id for call in page.calls}
        while page.next_key is not None:
            page = repository.list_calls(DEMO_APP_ID, limit=100, now=now, status=status, start=page.next_key)
            found |= {call.call_id for call in page.calls}
        return found

    assert call_id not in listed("created", expires_at)
    assert call_id in listed("expired", expires_at)
    assert call_id in listed("created", expires_at - 1)
    assert call_id not in listed("expired", expires_at - 1)
    # One second earlier, the same writes go through.
    assert repository.stamp_join_once(call_id, "guestJoinedAt", joined_at="y", now=expires_at - 1) is not None
    again = repository.end_call_once(DEMO_APP_ID, call_id, ended_at="z", now=expires_at - 1)
    assert again is not None
    assert again.status == "ended"
