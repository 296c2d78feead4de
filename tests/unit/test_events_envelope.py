"""The events' envelope (docs/behaviour.md section 7.1), derived from calls-table stream records
(no AWS at all)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from callevents import envelope
from callevents.envelope import change_from_stream_record, events_from_change
from calls.items import call_to_item
from calls.models import CallRecord, CallSettings

BASE_URL = "https://video.example.com"
CALL_ID = "5b0c6f5e-4a55-4b8e-9a4e-0d3f1a2b3c4d"
CREATED_AT = "2026-01-02T03:04:05.678Z"
EXPIRES_AT = 1767409445  # 2026-01-03T03:04:05Z


def call_item(**changes: Any) -> dict[str, Any]:
    call = CallRecord(
        call_id=CALL_ID,
        app_id="app_1",
        preset_id="support",
        settings=CallSettings("Agent", "Customer", True, True),
        created_at=CREATED_AT,
        expires_at=EXPIRES_AT,
        request_id="req-1",
        title="Support #1",
        metadata={"ticket": "T-1", "score": Decimal("1.0"), "big": 12345678901234567890},
        genesys={"conversationId": "conv-1"},
    )
    item = call_to_item(call)
    for name, value in changes.items():
        item[name] = value
    return item


def stream_record(
    name: str,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    event_id: str = "rec-1",
    when: int = 1767323046,
    identity: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A record as Lambda delivers it from a NEW_AND_OLD_IMAGES stream."""
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": when,
        "Keys": {"callId": {"S": CALL_ID}},
        "SequenceNumber": "100000000000000000001",
        "SizeBytes": 512,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        dynamodb["OldImage"] = old
    if new is not None:
        dynamodb["NewImage"] = new
    record: dict[str, Any] = {
        "eventID": event_id,
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:1:table/calls/stream/2026",
    }
    if identity is not None:
        record["userIdentity"] = identity
    return record


def events_of(record: dict[str, Any]) -> list[envelope.Event]:
    return events_from_change(change_from_stream_record(record), base_url=BASE_URL)


def test_insert_is_call_created_with_the_call_view_without_host_links() -> None:
    (event,) = events_of(stream_record("INSERT", new=call_item()))
    body = json.loads(event.body())
    assert set(body) == {"id", "type", "createdAt", "appId", "data"}
    assert body["type"] == "call.created"
    assert body["appId"] == "app_1"
    assert body["createdAt"] == CREATED_AT
    assert body["id"].startswith("evt_")
    data = body["data"]
    assert data["callId"] == CALL_ID
    assert data["status"] == "created"
    assert data["guestJoinUrl"] == data["joinUrl"] == f"{BASE_URL}/c/{CALL_ID}"
    assert "hostJoinUrl" not in data
    assert "agentJoinUrl" not in data
    assert (data["hostName"], data["guestName"], data["presetId"]) == ("Agent", "Customer", "support")
    assert data["genesys"] == {"conversationId": "conv-1"}
    assert "endedAt" not in data
    # Metadata reads back as sent: 1.0 stays 1.0, a 20-digit number keeps every digit.
    assert '"score":1.0' in event.body()
    assert '"big":12345678901234567890' in event.body()


def test_the_same_record_redelivered_is_the_same_event_byte_for_byte() -> None:
    record = stream_record("INSERT", new=call_item())
    (first,) = events_of(record)
    (again,) = events_of(copy.deepcopy(record))
    assert (first.id, first.body()) == (again.id, again.body())
    (other,) = events_of(stream_record("INSERT", new=call_item(), event_id="rec-2"))
    assert other.id != first.id


def test_update_adding_ended_at_is_call_ended() -> None:
    ended_at = "2026-01-02T04:00:00.000Z"
    new = call_item(status={"S": "ended"}, endedAt={"S": ended_at})
    (event,) = events_of(stream_record("MODIFY", old=call_item(), new=new))
    assert event.type == "call.ended"
    assert event.created_at == ended_at
    assert event.data["status"] == "ended"
    assert event.data["endedAt"] == ended_at


@pytest.mark.parametrize(
    ("attribute", "event_type"),
    [("agentJoinedAt", "call.agent_joined"), ("guestJoinedAt", "call.guest_joined")],
)
def test_update_adding_a_join_stamp_is_the_join_event(attribute: str, event_type: str) -> None:
    joined_at = "2026-01-02T03:10:00.000Z"
    new = call_item(**{attribute: {"S": joined_at}})
    (event,) = events_of(stream_record("MODIFY", old=call_item(), new=new))
    assert (event.type, event.created_at) == (event_type, joined_at)
    assert event.data[attribute] == joined_at
    assert event.data["status"] == "created"


def test_both_stamps_at_once_are_two_events_with_distinct_ids() -> None:
    new = call_item(
        agentJoinedAt={"S": "2026-01-02T03:10:00.000Z"}, guestJoinedAt={"S": "2026-01-02T03:11:00.000Z"}
    )
    found = events_of(stream_record("MODIFY", old=call_item(), new=new))
    assert sorted(event.type for event in found) == ["call.agent_joined", "call.guest_joined"]
    assert len({event.id for event in found}) == 2


def test_ttl_removal_is_call_expired() -> None:
    removed_at = EXPIRES_AT + 3600
    record = stream_record(
        "REMOVE",
        old=call_item(),
        when=removed_at,
        identity={"type": "Service", "principalId": "dynamodb.amazonaws.com"},
    )
    (event,) = events_of(record)
    assert event.type == "call.expired"
    assert event.created_at == "2026-01-03T04:04:05.000Z"
    assert event.data["status"] == "expired"
    assert event.data["callId"] == CALL_ID


def test_ttl_removal_of_an_ended_call_is_no_event() -> None:
    """Expired means not ended and past expiresAt (section 5); an ended call had its call.ended."""
    ended = call_item(status={"S": "ended"}, endedAt={"S": "2026-01-02T04:00:00.000Z"})
    record = stream_record(
        "REMOVE",
        old=ended,
        when=EXPIRES_AT + 3600,
        identity={"type": "Service", "principalId": "dynamodb.amazonaws.com"},
    )
    assert events_of(record) == []


def test_a_removal_by_a_request_is_no_event() -> None:
    assert events_of(stream_record("REMOVE", old=call_item())) == []
    other_identity = {"type": "Service", "principalId": "someone.amazonaws.com"}
    assert events_of(stream_record("REMOVE", old=call_item(), identity=other_identity)) == []


def test_an_update_that_changes_nothing_worth_an_event_is_none() -> None:
    assert events_of(stream_record("MODIFY", old=call_item(), new=call_item(title={"S": "Renamed"}))) == []
    # A stamp that was there before is not new: ending twice is one event.
    ended = call_item(status={"S": "ended"}, endedAt={"S": "2026-01-02T04:00:00.000Z"})
    assert events_of(stream_record("MODIFY", old=ended, new=ended)) == []


def test_envelope_types_are_section_7s() -> None:
    assert envelope.CALL_EVENT_TYPES == (
        "call.created",
        "call.ended",
        "call.expired",
        "call.agent_joined",
        "call.guest_joined",
    )
