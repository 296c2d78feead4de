"""Recording's decisions with in-memory fakes: completing from the parts that arrived (and racing
finishers), the routes' admission and answers, signaling's $disconnect, and `recording.ready`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from callevents.envelope import RECORDING_READY, change_from_stream_record, events_from_change
from calls.access import AppDirectory, host_key_digest, widget_key_digest
from calls.errors import (
    CallEnded,
    RecordingEmpty,
    RecordingInProgress,
    RecordingNotInProgress,
    Unauthorized,
    ValidationFailed,
)
from calls.finish_recording import RecordingFinisher, playable_parts
from calls.items import recording_to_item
from calls.models import PART_SIZE_BYTES, AppRecord, CallRecord, CallSettings, RecordingRecord, UploadedPart
from calls.recordings import (
    CompleteRecording,
    ListRecordings,
    RecordingAccess,
    RecordingPartUrls,
    StartRecording,
)
from calls.request import CallRequest
from signaling.connect import connect
from signaling.disconnect import disconnect
from signaling.models import CallState, Connection, Identity

from tests.signaling.fakes import Fakes

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CALL_ID = "5c8f3a2e-9b1d-4e6f-a7c0-2d4b6e8f1a3c"
RECORDING_ID = "0a6f2a7e-1b2c-4d3e-8f90-a1b2c3d4e5f6"
APP = AppRecord(app_id="app-1", status="active", key_digests=(widget_key_digest("wk"),))
HOST_KEY = "the-host-key"


def recording(**changes: Any) -> RecordingRecord:
    base = RecordingRecord(
        call_id=CALL_ID,
        recording_id=RECORDING_ID,
        app_id=APP.app_id,
        status="recording",
        started_at="2026-05-01T11:59:00.000Z",
        mime_type="video/webm",
        object_key=f"recordings/{CALL_ID}/{RECORDING_ID}.webm",
        upload_id="upload-1",
        expires_at=2_000_000_000,
    )
    return dataclasses.replace(base, **changes)


def part(number: int, size: int = PART_SIZE_BYTES) -> UploadedPart:
    return UploadedPart(part_number=number, etag=f'"{number}"', size_bytes=size)


@dataclass
class FakeTable:
    items: dict[str, RecordingRecord] = field(default_factory=dict)
    active: str | None = None

    def start(self, rec: RecordingRecord) -> None:
        if self.active is not None:
            raise RecordingInProgress()
        self.items[rec.recording_id] = rec
        self.active = rec.recording_id

    def active_recording_id(self, call_id: str) -> str | None:
        return self.active

    def get(self, call_id: str, recording_id: str) -> RecordingRecord | None:
        return self.items.get(recording_id)

    def of_call(self, call_id: str) -> list[RecordingRecord]:
        return [r for r in self.items.values() if r.call_id == call_id]

    def mark_ready(
        self, rec: RecordingRecord, *, ended_at: str, size_bytes: int, duration_seconds: float
    ) -> RecordingRecord | None:
        current = self.items.get(rec.recording_id)
        if current is not None and current.status == "recording":
            current = dataclasses.replace(
                current,
                status="ready",
                ended_at=ended_at,
                size_bytes=size_bytes,
                duration_seconds=duration_seconds,
            )
            self.items[rec.recording_id] = current
            self.active = None
        return current

    def discard(self, rec: RecordingRecord) -> None:
        current = self.items.get(rec.recording_id)
        if current is not None and current.status == "recording":
            del self.items[rec.recording_id]
            self.active = None


@dataclass
class FakeBucket:
    uploads: dict[str, list[UploadedPart]] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)
    completed: list[list[int]] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    # Called inside complete_upload: a racing finisher's moment.
    meanwhile: Any = None

    def start_upload(self, object_key: str, content_type: str) -> str:
        self.uploads["upload-1"] = []
        return "upload-1"

    def part_upload_url(self, object_key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        return f"https://s3.example/{object_key}?partNumber={part_number}&X-Amz-Expires={expires_in}"

    def download_url(self, object_key: str, file_name: str, expires_in: int) -> str:
        return f"https://s3.example/{object_key}?X-Amz-Expires={expires_in}"

    def list_parts(self, object_key: str, upload_id: str) -> list[UploadedPart] | None:
        found = self.uploads.get(upload_id)
        return list(found) if found is not None else None

    def complete_upload(self, object_key: str, upload_id: str, parts: Sequence[UploadedPart]) -> bool:
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        if upload_id not in self.uploads:
            return False
        del self.uploads[upload_id]
        self.objects[object_key] = sum(p.size_bytes for p in parts)
        self.completed.append([p.part_number for p in parts])
        return True

    def abort_upload(self, object_key: str, upload_id: str) -> None:
        self.uploads.pop(upload_id, None)
        self.aborted.append(upload_id)

    def object_size(self, object_key: str) -> int | None:
        return self.objects.get(object_key)


def test_playable_parts_stop_at_a_gap_and_after_a_short_part() -> None:
    assert [p.part_number for p in playable_parts([part(2), part(1), part(3, 10)])] == [1, 2, 3]
    assert [p.part_number for p in playable_parts([part(1), part(3)])] == [1]
    assert [p.part_number for p in playable_parts([part(1, 10), part(2)])] == [1]
    assert playable_parts([part(2), part(3)]) == []


def test_finishing_completes_from_the_parts_and_takes_the_time_it_ran() -> None:
    table, bucket = (
        FakeTable({RECORDING_ID: recording()}, RECORDING_ID),
        FakeBucket({"upload-1": [part(1), part(2, 7)]}),
    )
    finished = RecordingFinisher(table, bucket).finish(recording(), now=NOW)
    assert finished is not None
    assert (finished.status, finished.size_bytes, finished.duration_seconds) == (
        "ready",
        PART_SIZE_BYTES + 7,
        60.0,
    )
    assert finished.ended_at == "2026-05-01T12:00:00.000Z"
    assert bucket.completed == [[1, 2]]
    assert table.active is None


def test_finishing_without_parts_aborts_and_removes() -> None:
    table, bucket = FakeTable({RECORDING_ID: recording()}, RECORDING_ID), FakeBucket({"upload-1": []})
    assert RecordingFinisher(table, bucket).finish(recording(), now=NOW) is None
    assert bucket.aborted == ["upload-1"]
    assert table.items == {}
    assert table.active is None


def test_a_racing_finisher_that_completed_first_decides_the_answer() -> None:
    table, bucket = (
        FakeTable({RECORDING_ID: recording()}, RECORDING_ID),
        FakeBucket({"upload-1": [part(1, 9)]}),
    )
    finisher = RecordingFinisher(table, bucket)

    def the_other_one() -> None:
        bucket.meanwhile = None
        assert finisher.finish(recording(), now=NOW + timedelta(seconds=5), duration_seconds=3) is not None

    bucket.meanwhile = the_other_one
    mine = finisher.finish(recording(), now=NOW)
    assert mine is not None
    assert (mine.status, mine.duration_seconds, mine.size_bytes) == ("ready", 3, 9)
    assert bucket.completed == [[1]]


def test_an_upload_gone_with_its_object_made_is_finished_from_the_object() -> None:
    """A finisher that completed the upload and stopped before writing the table."""
    table = FakeTable({RECORDING_ID: recording()}, RECORDING_ID)
    bucket = FakeBucket(objects={recording().object_key: 42})
    finished = RecordingFinisher(table, bucket).finish(recording(), now=NOW)
    assert finished is not None
    assert (finished.status, finished.size_bytes) == ("ready", 42)


def call(**changes: Any) -> CallRecord:
    base = CallRecord(
        call_id=CALL_ID,
        app_id=APP.app_id,
        preset_id=None,
        settings=CallSettings("Host", "Guest", False, True),
        created_at="2026-05-01T11:00:00.000Z",
        expires_at=int((NOW + timedelta(hours=1)).timestamp()),
        request_id="r",
        host_key_digest=host_key_digest(HOST_KEY),
    )
    return dataclasses.replace(base, **changes)


def routes(
    the_call: CallRecord | None = None, table: FakeTable | None = None
) -> tuple[RecordingAccess, FakeTable, FakeBucket]:
    table = table or FakeTable()
    stored = the_call or call()
    access = RecordingAccess(
        AppDirectory(lambda app_id: APP if app_id == APP.app_id else None, ttl_seconds=0),
        lambda call_id: stored if call_id == stored.call_id else None,
        table,
    )
    return access, table, FakeBucket()


def request(body: bytes = b"", **query: str) -> CallRequest:
    return CallRequest(request_id="r", query={k: [v] for k, v in query.items()}, body=body)


APP_HEADERS = {"x-app-id": APP.app_id, "x-widget-key": "wk"}


def test_start_by_host_key_answers_the_upload_plan_and_refuses_a_second() -> None:
    access, table, bucket = routes()
    start = StartRecording(access, bucket, retention_days=30, now=lambda: NOW, new_id=lambda: RECORDING_ID)
    started = start(request(hostKey=HOST_KEY), CALL_ID)
    assert started["recordingId"] == RECORDING_ID
    assert (started["partSizeBytes"], started["maxPartNumber"]) == (PART_SIZE_BYTES, 10_000)
    assert table.items[RECORDING_ID].expires_at == int((NOW + timedelta(days=30)).timestamp())
    assert table.items[RECORDING_ID].object_key == f"recordings/{CALL_ID}/{RECORDING_ID}.webm"
    with pytest.raises(RecordingInProgress):
        start(request(hostKey=HOST_KEY), CALL_ID)


@pytest.mark.parametrize("presented", [{}, {"hostKey": "wrong"}])
def test_the_guest_and_a_wrong_key_may_not_record(presented: dict[str, str]) -> None:
    access, _, bucket = routes()
    with pytest.raises(Unauthorized):
        StartRecording(access, bucket, retention_days=30)(request(**presented), CALL_ID)


def test_an_ended_call_cannot_be_recorded_and_bad_fields_are_422() -> None:
    access, _, bucket = routes(call(status="ended", ended_at="2026-05-01T11:30:00.000Z"))
    start = StartRecording(access, bucket, retention_days=30, now=lambda: NOW)
    with pytest.raises(CallEnded):
        start(CallRequest(request_id="r", headers=APP_HEADERS), CALL_ID)
    with pytest.raises(ValidationFailed):
        start(CallRequest(request_id="r", headers=APP_HEADERS, body=b'{"mimeType": "video/mp4"}'), CALL_ID)


def test_part_urls_only_while_recording_and_complete_without_parts_is_empty() -> None:
    table = FakeTable({RECORDING_ID: recording()}, RECORDING_ID)
    access, _, bucket = routes(table=table)
    bucket.uploads["upload-1"] = []
    urls = RecordingPartUrls(access, bucket, now=lambda: NOW)(
        request(b'{"partNumbers": [1, 2]}', hostKey=HOST_KEY), CALL_ID, RECORDING_ID
    )
    assert [p["partNumber"] for p in urls["parts"]] == [1, 2]
    assert all(p["expiresAt"] == "2026-05-01T12:15:00.000Z" for p in urls["parts"])
    complete = CompleteRecording(access, RecordingFinisher(table, bucket), now=lambda: NOW)
    with pytest.raises(RecordingEmpty):
        complete(request(hostKey=HOST_KEY), CALL_ID, RECORDING_ID)
    table.items[RECORDING_ID] = recording(status="ready", ended_at="x", size_bytes=1, duration_seconds=1.0)
    with pytest.raises(RecordingNotInProgress):
        RecordingPartUrls(access, bucket)(
            request(b'{"partNumbers": [3]}', hostKey=HOST_KEY), CALL_ID, RECORDING_ID
        )


def test_the_list_is_the_apps_alone_and_outlives_the_call() -> None:
    table = FakeTable(
        {RECORDING_ID: recording(status="ready", ended_at="x", size_bytes=1, duration_seconds=1.0)}
    )
    access, _, bucket = routes(table=table)
    gone = ListRecordings(access.apps, lambda call_id: None, table, bucket, now=lambda: NOW)
    (listed,) = gone(CallRequest(request_id="r", headers=APP_HEADERS), CALL_ID)["recordings"]
    assert listed["downloadUrl"].endswith("X-Amz-Expires=900")
    assert listed["downloadUrlExpiresAt"] == "2026-05-01T12:15:00.000Z"
    with pytest.raises(Unauthorized):
        gone(request(hostKey=HOST_KEY), CALL_ID)


@dataclass
class FakeRecordings:
    finished: list[str] = field(default_factory=list)

    def finish(self, call_id: str) -> int:
        self.finished.append(call_id)
        return 1


@pytest.mark.parametrize(
    ("role", "current", "finishes"), [("agent", True, True), ("agent", False, False), ("guest", True, False)]
)
def test_only_the_agents_live_connection_closing_finishes_recordings(
    role: str, current: bool, finishes: bool
) -> None:
    world = Fakes()
    recordings = FakeRecordings()
    ports = dataclasses.replace(world.ports, recordings=recordings)
    world.connections.items[CALL_ID, role] = Connection(
        call_id=CALL_ID, role=role, connection_id="c-1" if current else "c-2", connected_at="x", expires_at=0
    )
    disconnect(Identity(CALL_ID, role, "c-1"), ports=ports)
    assert recordings.finished == ([CALL_ID] if finishes else [])


@pytest.mark.parametrize(
    ("role", "older_gone", "finishes"),
    [("agent", True, True), ("agent", False, False), ("guest", True, False)],
)
def test_a_newer_agent_connection_reports_only_what_a_gone_page_left(
    role: str, older_gone: bool, finishes: bool
) -> None:
    """An older agent page still there is told `replaced` and completes its own recording (its
    last part included); one already gone never will, so the newer connection completes it."""
    world = Fakes()
    now = NOW.timestamp()
    world.calls.states[CALL_ID] = CallState(ended=False, expires_at=int(now) + 3600)
    recordings = FakeRecordings()
    ports = dataclasses.replace(world.ports, recordings=recordings)
    world.connections.items[CALL_ID, role] = Connection(
        call_id=CALL_ID, role=role, connection_id="older", connected_at="x", expires_at=0
    )
    if older_gone:
        world.sockets.gone.add("older")

    opened = connect(Identity(CALL_ID, role, "newer"), ports=ports, now=now)

    assert opened.live
    assert opened.recordings_left == finishes
    assert recordings.finished == []  # the handler completes them, guarded


def stream_record(
    old: RecordingRecord | None, new: RecordingRecord | None, kind: str = "MODIFY"
) -> dict[str, Any]:
    image = {}
    if old is not None:
        image["OldImage"] = recording_to_item(old)
    if new is not None:
        image["NewImage"] = recording_to_item(new)
    return {"eventID": "e-1", "eventName": kind, "dynamodb": {"ApproximateCreationDateTime": 1.8e9, **image}}


def test_recording_ready_comes_from_the_change_that_made_it_ready_only() -> None:
    ready = recording(status="ready", ended_at="2026-05-01T12:00:00.000Z", size_bytes=5, duration_seconds=1.5)
    (event,) = events_from_change(change_from_stream_record(stream_record(recording(), ready)), base_url="x")
    assert (event.type, event.app_id, event.created_at) == (RECORDING_READY, APP.app_id, ready.ended_at)
    assert event.data["sizeBytes"] == 5
    assert "objectKey" not in event.body()
    assert "upload" not in event.body()
    again = events_from_change(change_from_stream_record(stream_record(recording(), ready)), base_url="x")
    assert again[0].id == event.id
    for old, new, kind in (
        (None, recording(), "INSERT"),
        (recording(), None, "REMOVE"),
        (ready, ready, "MODIFY"),
    ):
        assert (
            events_from_change(change_from_stream_record(stream_record(old, new, kind)), base_url="x") == []
        )


def test_part_numbers_are_json_integers_however_written() -> None:
    """JSON Schema's `integer` takes 3.0 as well as 3 (the fuzzer sends both); 3.5, "3" and true never."""
    from decimal import Decimal

    from calls.models import RecordingPartsRequest
    from pydantic import ValidationError

    asked = RecordingPartsRequest.model_validate(
        {"partNumbers": [Decimal("3"), Decimal("3.0"), Decimal("1E+1")]}
    )
    assert asked.partNumbers == [3, 3, 10]
    for bad in (Decimal("3.5"), "3", True):
        with pytest.raises(ValidationError):
            RecordingPartsRequest.model_validate({"partNumbers": [bad]})


def test_a_part_number_past_the_range_is_refused_without_being_made_an_int() -> None:
    """`1e1000000` is a whole number in 26 bytes of body: making an int of it would hold the
    function for minutes. Past the range it is refused as written, never converted."""
    from decimal import Decimal

    from calls.models import MAX_PART_NUMBER, RecordingPartsRequest
    from pydantic import ValidationError

    for far in (Decimal("1E+5"), Decimal("1e1000000"), Decimal(-MAX_PART_NUMBER - 1)):
        with pytest.raises(ValidationError) as refused:
            RecordingPartsRequest.model_validate({"partNumbers": [far]})
        (error,) = refused.value.errors()
        assert isinstance(error["input"], Decimal)
        assert error["input"] == far
