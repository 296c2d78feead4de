"""How the domain records are stored: DynamoDB items (attribute-value JSON) to records and back.

One place for each item's shape, shared by everything that reads or writes it: the API's
repository, the events function (whose stream images are call items) and the operator's
`callsctl` (which writes apps, keys and presets). Nothing here makes a DynamoDB call.
Attribute values are written by hand: the shapes are few and fixed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from calls import tables
from calls.jsontext import dumps_exact, loads_exact
from calls.models import (
    HOST_LINKS_HOST_KEY,
    HOST_LINKS_WIDGET_KEY,
    AppRecord,
    CallRecord,
    CallSettings,
    Preset,
    PreviousAttempt,
    RecordingRecord,
    StoredResponse,
)

Item = dict[str, Any]

# The app item's attributes beside its keys.
NAME, STATUS, CREATED_AT = "name", "status", "createdAt"
WIDGET_KEYS = "widgetKeys"  # a map of key id -> {digest, createdAt}
ALLOWED_ORIGINS = "allowedOrigins"
ACTIVE_PRESET_ID = "activePresetId"
HOST_LINKS = "hostLinks"
# A preset item's attributes beside its keys.
PRESET_ID, PRESET_SETTINGS, UPDATED_AT = "presetId", "settings", "updatedAt"


# Apps and presets: one partition per app, the app item and its presets.


@dataclass(frozen=True)
class WidgetKey:
    key_id: str
    digest: str  # SHA-256 of the key; the key itself is never stored
    created_at: str | None


@dataclass(frozen=True)
class StoredApp:
    """The app item as stored, every attribute of it."""

    app_id: str
    name: str
    status: str
    created_at: str | None
    active_preset_id: str | None
    allowed_origins: tuple[str, ...]
    host_links: str
    widget_keys: tuple[WidgetKey, ...]


@dataclass(frozen=True)
class StoredPreset:
    app_id: str
    preset_id: str
    settings: dict[str, Any]
    updated_at: str | None


def app_key(app_id: str) -> Item:
    return {tables.APPS.partition_key.name: {"S": app_id}, "sk": {"S": tables.APP_ITEM_SK}}


def preset_key(app_id: str, preset_id: str) -> Item:
    return {tables.APPS.partition_key.name: {"S": app_id}, "sk": {"S": tables.preset_sort_key(preset_id)}}


def is_app_item(item: Item) -> bool:
    return bool(item["sk"]["S"] == tables.APP_ITEM_SK)


def is_preset_item(item: Item) -> bool:
    return bool(item["sk"]["S"].startswith(tables.PRESET_SK_PREFIX))


def new_app_item(
    app_id: str, *, name: str, status: str, allowed_origins: tuple[str, ...], created_at: str
) -> Item:
    """A new app item, without keys (add them with `widget_key_value`) or an active preset."""
    return {
        **app_key(app_id),
        NAME: {"S": name},
        STATUS: {"S": status},
        WIDGET_KEYS: {"M": {}},
        ALLOWED_ORIGINS: {"L": [{"S": origin} for origin in allowed_origins]},
        CREATED_AT: {"S": created_at},
    }


def widget_key_value(digest: str, created_at: str) -> Item:
    """One entry of the app item's widget key map."""
    return {"M": {"digest": {"S": digest}, "createdAt": {"S": created_at}}}


def stored_app(item: Item) -> StoredApp:
    keys = (
        WidgetKey(
            key_id=key_id,
            digest=value["M"].get("digest", {}).get("S", ""),
            created_at=value["M"].get("createdAt", {}).get("S"),
        )
        for key_id, value in item.get(WIDGET_KEYS, {}).get("M", {}).items()
    )
    return StoredApp(
        app_id=item[tables.APPS.partition_key.name]["S"],
        name=item.get(NAME, {}).get("S", ""),
        # An app item without a status is not an active app.
        status=item.get(STATUS, {}).get("S", "disabled"),
        created_at=item.get(CREATED_AT, {}).get("S"),
        active_preset_id=item.get(ACTIVE_PRESET_ID, {}).get("S"),
        allowed_origins=tuple(value["S"] for value in item.get(ALLOWED_ORIGINS, {}).get("L", [])),
        # Anything but hostKey is the default, upstream's widgetKey.
        host_links=(
            HOST_LINKS_HOST_KEY
            if item.get(HOST_LINKS, {}).get("S") == HOST_LINKS_HOST_KEY
            else HOST_LINKS_WIDGET_KEY
        ),
        widget_keys=tuple(sorted(keys, key=lambda key: (key.created_at or "", key.key_id))),
    )


def preset_item(app_id: str, preset_id: str, settings: dict[str, Any], updated_at: str) -> Item:
    return {
        **preset_key(app_id, preset_id),
        PRESET_ID: {"S": preset_id},
        # Compact JSON text, so that numbers read back as they were written (see calls.jsontext).
        PRESET_SETTINGS: {"S": dumps_exact(settings)},
        UPDATED_AT: {"S": updated_at},
    }


def stored_preset(item: Item) -> StoredPreset:
    return StoredPreset(
        app_id=item[tables.APPS.partition_key.name]["S"],
        preset_id=item["sk"]["S"][len(tables.PRESET_SK_PREFIX) :],
        settings=loads_exact(item[PRESET_SETTINGS]["S"]) if PRESET_SETTINGS in item else {},
        updated_at=item.get(UPDATED_AT, {}).get("S"),
    )


def app_from_items(items: Iterable[Item]) -> AppRecord | None:
    """The app as the API uses it, from its partition: the app item and its presets."""
    app: StoredApp | None = None
    presets: dict[str, Preset] = {}
    for item in items:
        if is_app_item(item):
            app = stored_app(item)
        elif is_preset_item(item):
            preset = stored_preset(item)
            presets[preset.preset_id] = Preset(preset_id=preset.preset_id, settings=preset.settings)
    if app is None:
        return None
    return AppRecord(
        app_id=app.app_id,
        status=app.status,
        key_digests=tuple(key.digest for key in app.widget_keys),
        active_preset_id=app.active_preset_id,
        allowed_origins=app.allowed_origins,
        presets=presets,
        host_links=app.host_links,
    )


# Calls


def call_to_item(call: CallRecord) -> Item:
    settings = call.settings
    item: Item = {
        "callId": {"S": call.call_id},
        "appId": {"S": call.app_id},
        "status": {"S": "created"},
        "createdAt": {"S": call.created_at},
        "expiresAt": {"N": str(call.expires_at)},
        "requestId": {"S": call.request_id},
        "hostName": {"S": settings.host_name},
        "guestName": {"S": settings.guest_name},
        "recordOnStart": {"BOOL": settings.record_on_start},
        "previewEnabled": {"BOOL": settings.preview_enabled},
    }
    if settings.extra:
        item["presetSettings"] = {"S": dumps_exact(settings.extra)}
    if call.preset_id is not None:
        item["presetId"] = {"S": call.preset_id}
    if call.host_key_digest is not None:
        item["hostKeyDigest"] = {"S": call.host_key_digest}
    if call.title is not None:
        item["title"] = {"S": call.title}
    if call.description is not None:
        item["description"] = {"S": call.description}
    if call.metadata is not None:
        item["metadata"] = {"S": dumps_exact(call.metadata)}
    conversation_id = (call.genesys or {}).get("conversationId")
    if conversation_id:
        item[tables.CONVERSATION_KEY_ATTRIBUTE] = {"S": tables.conversation_key(call.app_id, conversation_id)}
    if call.genesys:
        item["genesys"] = {
            "M": {
                name: {"BOOL": value} if isinstance(value, bool) else {"S": value}
                for name, value in call.genesys.items()
            }
        }
    return item


def call_from_item(item: Item) -> CallRecord:
    """A stored call item back as the record it was written from, with what happened since."""

    def text(name: str) -> str | None:
        value = item.get(name)
        return value["S"] if value else None

    extra = loads_exact(item["presetSettings"]["S"]) if "presetSettings" in item else {}
    metadata = loads_exact(item["metadata"]["S"]) if "metadata" in item else None
    genesys = (
        {name: value.get("S", value.get("BOOL")) for name, value in item["genesys"]["M"].items()}
        if "genesys" in item
        else None
    )
    return CallRecord(
        call_id=item["callId"]["S"],
        app_id=item["appId"]["S"],
        preset_id=text("presetId"),
        settings=CallSettings(
            host_name=item["hostName"]["S"],
            guest_name=item["guestName"]["S"],
            record_on_start=item["recordOnStart"]["BOOL"],
            preview_enabled=item["previewEnabled"]["BOOL"],
            extra=extra,
        ),
        created_at=item["createdAt"]["S"],
        expires_at=int(item["expiresAt"]["N"]),
        request_id=text("requestId") or "",
        title=text("title"),
        description=text("description"),
        metadata=metadata,
        genesys=genesys,
        host_key_digest=text("hostKeyDigest"),
        status=text("status") or "created",
        ended_at=text("endedAt"),
        agent_joined_at=text("agentJoinedAt"),
        guest_joined_at=text("guestJoinedAt"),
    )


# Recordings


def recording_key(call_id: str, recording_id: str) -> Item:
    return {
        tables.RECORDINGS.partition_key.name: {"S": call_id},
        "recordingId": {"S": recording_id},
    }


def active_recording_key(call_id: str) -> Item:
    """The call's marker of its recording in progress (tables.RECORDING_ACTIVE_SK)."""
    return recording_key(call_id, tables.RECORDING_ACTIVE_SK)


def is_recording_item(item: Item) -> bool:
    """A recording, not the marker of the one in progress."""
    return item.get("recordingId", {}).get("S") not in (None, tables.RECORDING_ACTIVE_SK)


def recording_to_item(recording: RecordingRecord) -> Item:
    item: Item = {
        **recording_key(recording.call_id, recording.recording_id),
        "appId": {"S": recording.app_id},
        "status": {"S": recording.status},
        "startedAt": {"S": recording.started_at},
        "mimeType": {"S": recording.mime_type},
        "objectKey": {"S": recording.object_key},
        "uploadId": {"S": recording.upload_id},
        "expiresAt": {"N": str(recording.expires_at)},
    }
    if recording.ended_at is not None:
        item["endedAt"] = {"S": recording.ended_at}
    if recording.size_bytes is not None:
        item["sizeBytes"] = {"N": str(recording.size_bytes)}
    if recording.duration_seconds is not None:
        item["durationSeconds"] = {"N": _number_text(recording.duration_seconds)}
    return item


def active_recording_item(recording: RecordingRecord) -> Item:
    """The marker that the call records now: which recording, gone with it (same TTL)."""
    return {
        **active_recording_key(recording.call_id),
        "activeRecordingId": {"S": recording.recording_id},
        "expiresAt": {"N": str(recording.expires_at)},
    }


def recording_from_item(item: Item) -> RecordingRecord:
    def text(name: str) -> str | None:
        value = item.get(name)
        return str(value["S"]) if value else None

    size = item.get("sizeBytes")
    duration = item.get("durationSeconds")
    return RecordingRecord(
        call_id=item[tables.RECORDINGS.partition_key.name]["S"],
        recording_id=item["recordingId"]["S"],
        app_id=item["appId"]["S"],
        status=item["status"]["S"],
        started_at=item["startedAt"]["S"],
        mime_type=item["mimeType"]["S"],
        object_key=item["objectKey"]["S"],
        upload_id=item["uploadId"]["S"],
        expires_at=int(item["expiresAt"]["N"]),
        ended_at=text("endedAt"),
        size_bytes=int(size["N"]) if size else None,
        duration_seconds=float(duration["N"]) if duration else None,
    )


def _number_text(value: float) -> str:
    """A duration as DynamoDB stores it: to the millisecond, without a float's noise."""
    return f"{round(value, 3):.3f}".rstrip("0").rstrip(".")


# Idempotency-Key records


def previous_attempt(item: Item) -> PreviousAttempt:
    """What an earlier request with the same key left: its response once COMPLETED."""
    response = None
    if item.get("status", {}).get("S") == "COMPLETED":
        response = StoredResponse(status=int(item["responseStatus"]["N"]), body=item["responseBody"]["S"])
    return PreviousAttempt(request_hash=item.get("requestHash", {}).get("S", ""), response=response)
