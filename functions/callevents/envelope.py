"""The events of docs/behaviour.md section 7, decided from the streams of the calls table and of the
recordings table (section 10): which committed change is which event, and the envelope each one
is sent in.

Everything here is a pure function of the stream record, so a redelivered record yields the
same events, ids and bodies byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calls.items import call_from_item, is_recording_item, recording_from_item
from calls.jsontext import dumps_exact
from calls.view import ENDED, READY, RECORDING, call_view, iso_timestamp, recording_view

# The events' source on the EventBridge bus (what a rule matches on); the stack's rules read it here.
EVENT_SOURCE = "video-calls"

CALL_CREATED = "call.created"
CALL_ENDED = "call.ended"
CALL_EXPIRED = "call.expired"
CALL_AGENT_JOINED = "call.agent_joined"
CALL_GUEST_JOINED = "call.guest_joined"
CALL_EVENT_TYPES = (CALL_CREATED, CALL_ENDED, CALL_EXPIRED, CALL_AGENT_JOINED, CALL_GUEST_JOINED)
# From the recordings table: a recording completed (by its page, or by the server for it).
RECORDING_READY = "recording.ready"
# Every type an endpoint may subscribe to.
EVENT_TYPES = (*CALL_EVENT_TYPES, RECORDING_READY)
# Sent by `callsctl webhooks test` only; never derived from a change.
WEBHOOK_TEST = "webhook.test"

# A MODIFY that adds one of these stamps is the event beside it; any other change is no event.
STAMP_EVENTS = (
    ("endedAt", CALL_ENDED),
    ("agentJoinedAt", CALL_AGENT_JOINED),
    ("guestJoinedAt", CALL_GUEST_JOINED),
)

# How a stream record marks a removal made by DynamoDB's TTL rather than by a request.
TTL_PRINCIPAL = "dynamodb.amazonaws.com"
TTL_IDENTITY_TYPE = "Service"


@dataclass(frozen=True)
class Change:
    """One record of the calls table's stream, as far as events care."""

    record_id: str  # the stream's eventID: the same on every redelivery of the record
    kind: str  # INSERT, MODIFY or REMOVE
    old_image: dict[str, Any] | None  # attribute-value JSON, as stream images are
    new_image: dict[str, Any] | None
    approximate_time: datetime  # when DynamoDB wrote the change (whole seconds)
    removed_by_ttl: bool = False


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    created_at: str
    app_id: str
    data: Mapping[str, Any]

    def envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "createdAt": self.created_at,
            "appId": self.app_id,
            "data": self.data,
        }

    def body(self) -> str:
        """The envelope as sent: compact JSON whose numbers (metadata) keep their exact value."""
        return dumps_exact(self.envelope())


def change_from_stream_record(record: dict[str, Any]) -> Change:
    """A stream record as Lambda delivers it (and as the local run rebuilds it) -> a Change."""
    stream = record.get("dynamodb") or {}
    identity = record.get("userIdentity") or {}
    approximate = stream.get("ApproximateCreationDateTime")
    moment = datetime.fromtimestamp(float(approximate), UTC) if approximate is not None else _epoch()
    return Change(
        record_id=str(record["eventID"]),
        kind=str(record["eventName"]),
        old_image=stream.get("OldImage"),
        new_image=stream.get("NewImage"),
        approximate_time=moment,
        removed_by_ttl=(
            identity.get("type") == TTL_IDENTITY_TYPE and identity.get("principalId") == TTL_PRINCIPAL
        ),
    )


def events_from_change(change: Change, *, base_url: str) -> list[Event]:
    """The events one committed change stands for: none, one, or (several stamps at once) more."""
    if _is_recordings_change(change):
        return recording_events_from_change(change)
    if change.kind == "INSERT" and change.new_image:
        call = call_from_item(change.new_image)
        return [_event(change, CALL_CREATED, call.created_at, change.new_image, base_url)]
    if change.kind == "MODIFY" and change.old_image and change.new_image:
        found = []
        for attribute, event_type in STAMP_EVENTS:
            stamp = change.new_image.get(attribute, {}).get("S")
            if stamp and attribute not in change.old_image:
                found.append(_event(change, event_type, stamp, change.new_image, base_url))
        return found
    if change.kind == "REMOVE" and change.removed_by_ttl and change.old_image:
        if change.old_image.get("status", {}).get("S") == ENDED:
            return []  # it ended, and call.ended said so: the TTL only tidies up
        # Late by up to days: the moment is the removal's, and the view says "expired".
        expires_at = int(change.old_image["expiresAt"]["N"])
        moment = max(change.approximate_time, datetime.fromtimestamp(expires_at, UTC))
        return [_event(change, CALL_EXPIRED, iso_timestamp(moment), change.old_image, base_url)]
    return []


def _is_recordings_change(change: Change) -> bool:
    """A record of the recordings table's stream: its items, the recordings and the marker of the
    one in progress, are the only ones keyed by a recordingId."""
    image = change.new_image or change.old_image or {}
    return "recordingId" in image


def recording_events_from_change(change: Change) -> list[Event]:
    """`recording.ready` for the MODIFY that made a recording ready; nothing for anything else
    (a start, a discarded recording, the marker, the TTL's removal)."""
    old, new = change.old_image, change.new_image
    if change.kind != "MODIFY" or not old or not new or not is_recording_item(new):
        return []
    if old.get("status", {}).get("S") != RECORDING or new.get("status", {}).get("S") != READY:
        return []
    recording = recording_from_item(new)
    return [
        Event(
            id=event_id(change.record_id, RECORDING_READY),
            type=RECORDING_READY,
            created_at=recording.ended_at or iso_timestamp(change.approximate_time),
            app_id=recording.app_id,
            data=recording_view(recording),
        )
    ]


def event_id(record_id: str, event_type: str) -> str:
    """Unique per event, the same for every redelivery of the record it comes from."""
    digest = hashlib.sha256(f"{record_id}\n{event_type}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def _event(change: Change, event_type: str, created_at: str, image: dict[str, Any], base_url: str) -> Event:
    call = call_from_item(image)
    # The view at the event's own moment, so that its status is the one the event reports and
    # a redelivered record gives the same body.
    now = datetime.fromisoformat(created_at)
    return Event(
        id=event_id(change.record_id, event_type),
        type=event_type,
        created_at=created_at,
        app_id=call.app_id,
        data=call_view(call, now=now, base_url=base_url),
    )


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)
