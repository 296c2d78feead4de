"""The call as callers see it: its status at a moment, its join links, the view of section 5."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from calls.access import Caller, Credentials
from calls.models import CallRecord, RecordingRecord

if TYPE_CHECKING:
    from calls.responses import CallView, RecordingView

CREATED, ENDED, EXPIRED = "created", "ended", "expired"
STATUSES = (CREATED, ENDED, EXPIRED)


@dataclass(frozen=True)
class JoinUrls:
    host: str
    guest: str


def guest_join_url(base_url: str, call_id: str) -> str:
    return f"{base_url}/c/{quote(call_id, safe='')}"


def build_join_urls(base_url: str, call_id: str, credentials: Credentials) -> JoinUrls:
    """widgetKey mode (upstream's shape): the host link carries the app's credentials."""
    guest = guest_join_url(base_url, call_id)
    host = (
        f"{guest}?role=agent&appId={quote(credentials.app_id, safe='')}"
        f"&widgetKey={quote(credentials.widget_key, safe='')}"
    )
    return JoinUrls(host=host, guest=guest)


def build_host_key_join_urls(base_url: str, call_id: str, host_key: str) -> JoinUrls:
    """hostKey mode: the host link carries the call's own host key, nothing of the app's."""
    guest = guest_join_url(base_url, call_id)
    return JoinUrls(host=f"{guest}?role=agent&hostKey={quote(host_key, safe='')}", guest=guest)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as every timestamp of the API reads."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def call_status(call: CallRecord, now: datetime) -> str:
    """Ended once ended; else expired once expiresAt has passed (the TTL removes items late)."""
    if call.status == ENDED:
        return ENDED
    if now.timestamp() >= call.expires_at:
        return EXPIRED
    return CREATED


def call_view(
    call: CallRecord, *, now: datetime, base_url: str, host_links: JoinUrls | None = None
) -> CallView:
    """Section 5's call view. Optional facts appear only when the call has them; host links
    only when given (they are built from the caller's credentials, never stored)."""
    settings = call.settings
    view: dict[str, Any] = {
        "callId": call.call_id,
        "status": call_status(call, now),
        "createdAt": call.created_at,
        "expiresAt": call.expires_at,
    }
    if call.ended_at is not None:
        view["endedAt"] = call.ended_at
    if call.preset_id is not None:
        view["presetId"] = call.preset_id
    view.update(
        {
            "hostName": settings.host_name,
            "guestName": settings.guest_name,
            "recordOnStart": settings.record_on_start,
            "previewEnabled": settings.preview_enabled,
        }
    )
    optional = {
        "title": call.title,
        "description": call.description,
        "metadata": call.metadata,
        "genesys": call.genesys,
        "agentJoinedAt": call.agent_joined_at,
        "guestJoinedAt": call.guest_joined_at,
    }
    view.update({name: value for name, value in optional.items() if value is not None})
    guest = guest_join_url(base_url, call.call_id)
    view["guestJoinUrl"] = guest
    view["joinUrl"] = guest
    if host_links is not None:
        view["hostJoinUrl"] = host_links.host
        view["agentJoinUrl"] = host_links.host
    return cast("CallView", view)


def caller_view(call: CallRecord, caller: Caller, *, now: datetime, base_url: str) -> CallView:
    """The view a caller of the app reads: host links rebuilt from the credentials it presented
    when the app's host links carry its widget key. In hostKey mode there are none: the host
    key is not stored, so the link is shown once, on create."""
    host_links = None
    if caller.app.host_links_carry_widget_key:
        host_links = build_join_urls(base_url, call.call_id, caller.credentials)
    return call_view(call, now=now, base_url=base_url, host_links=host_links)


# Recordings (docs/behaviour.md section 10)

RECORDING, READY = "recording", "ready"


def recording_view(recording: RecordingRecord) -> RecordingView:
    """A recording as the routes, the event `recording.ready` and `callsctl` show it: what it is
    and how it stands. Never its object key or upload id, and no download URL (the list adds one)."""
    view: dict[str, Any] = {
        "recordingId": recording.recording_id,
        "callId": recording.call_id,
        "status": recording.status,
        "startedAt": recording.started_at,
    }
    optional = {
        "endedAt": recording.ended_at,
        "sizeBytes": recording.size_bytes,
        "durationSeconds": recording.duration_seconds,
    }
    view.update({name: value for name, value in optional.items() if value is not None})
    view["mimeType"] = recording.mime_type
    return cast("RecordingView", view)
