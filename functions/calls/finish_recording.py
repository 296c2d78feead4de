"""Completing a recording from the parts S3 holds (docs/behaviour.md section 10): what the complete
route does when the agent's page asks, and what the signaling function does when the agent's
connection ends or the call ends, whichever comes first.

The parts are S3's own (ListParts): the page need not send ETags, and a page that closed mid-upload
leaves what arrived. The recording is the parts numbered 1, 2, 3... up to the first missing one
and up to the first one shorter than a full part (S3 refuses a short part anywhere but last): a
WebM stream played from its start, never one with a hole in the middle. None at all (part 1 never
arrived): the upload is aborted and the recording removed.

Any number of finishers may run at once (the page's complete, a $disconnect, a call's end, a
retry of any of them): S3 completes the upload once, the table's conditional writes make the
recording ready once, and each finisher answers the recording as the first one left it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from calls.models import PART_SIZE_BYTES, RecordingRecord, UploadedPart
from calls.view import READY, RECORDING, iso_timestamp


class RecordingsTable(Protocol):
    def get(self, call_id: str, recording_id: str) -> RecordingRecord | None:
        """One recording, read consistently."""
        ...

    def of_call(self, call_id: str) -> list[RecordingRecord]:
        """Every recording of the call, read consistently, in no set order."""
        ...

    def mark_ready(
        self, recording: RecordingRecord, *, ended_at: str, size_bytes: int, duration_seconds: float
    ) -> RecordingRecord | None:
        """Make a recording ready, once (only while it is `recording`), and end the call's recording
        in progress with it; the recording as it stands afterwards, None when it is gone."""
        ...

    def discard(self, recording: RecordingRecord) -> None:
        """Remove a recording that is still `recording`, and end the call's recording in progress."""
        ...


class UploadStore(Protocol):
    def list_parts(self, object_key: str, upload_id: str) -> list[UploadedPart] | None:
        """Every part of the upload, by number; None when there is no such upload (any more)."""
        ...

    def complete_upload(self, object_key: str, upload_id: str, parts: Sequence[UploadedPart]) -> bool:
        """Join the parts into the object; False when there is no such upload (any more)."""
        ...

    def abort_upload(self, object_key: str, upload_id: str) -> None:
        """Discard the upload and its parts; one that is gone already is no error."""
        ...

    def object_size(self, object_key: str) -> int | None:
        """The object's size, None when there is none."""
        ...


@dataclass(frozen=True)
class RecordingFinisher:
    recordings: RecordingsTable
    uploads: UploadStore

    def finish(
        self, recording: RecordingRecord, *, now: datetime, duration_seconds: float | None = None
    ) -> RecordingRecord | None:
        """The recording completed from the parts that arrived, as it stands afterwards (ready);
        None when nothing had arrived and it was discarded."""
        if recording.status == READY:
            return recording
        parts = self.uploads.list_parts(recording.object_key, recording.upload_id)
        if parts is None:
            return self._after_upload_gone(recording, now, duration_seconds)
        playable = playable_parts(parts)
        if not playable:
            self.uploads.abort_upload(recording.object_key, recording.upload_id)
            self.recordings.discard(recording)
            return None
        if not self.uploads.complete_upload(recording.object_key, recording.upload_id, playable):
            return self._after_upload_gone(recording, now, duration_seconds)
        size = sum(part.size_bytes for part in playable)
        return self._mark_ready(recording, now, size, duration_seconds)

    def finish_call(self, call_id: str, *, now: datetime) -> list[RecordingRecord | None]:
        """Every recording of the call still `recording`, finished (server-side: no duration from a
        page). What became of each, in no set order."""
        return [
            self.finish(recording, now=now)
            for recording in self.recordings.of_call(call_id)
            if recording.status == RECORDING
        ]

    def _after_upload_gone(
        self, recording: RecordingRecord, now: datetime, duration_seconds: float | None
    ) -> RecordingRecord | None:
        """Completed or aborted by another finisher meanwhile (or by the bucket's lifecycle rule):
        the recording as that finisher left it, or, should it have stopped half way, finished from
        the object S3 holds."""
        current = self.recordings.get(recording.call_id, recording.recording_id)
        if current is None or current.status == READY:
            return current
        size = self.uploads.object_size(current.object_key)
        if size is None:
            self.recordings.discard(current)
            return None
        return self._mark_ready(current, now, size, duration_seconds)

    def _mark_ready(
        self, recording: RecordingRecord, now: datetime, size: int, duration_seconds: float | None
    ) -> RecordingRecord | None:
        if duration_seconds is None:
            started = datetime.fromisoformat(recording.started_at)
            duration_seconds = max(0.0, (now - started).total_seconds())
        return self.recordings.mark_ready(
            recording,
            ended_at=iso_timestamp(now),
            size_bytes=size,
            duration_seconds=round(duration_seconds, 3),
        )


def playable_parts(parts: Sequence[UploadedPart]) -> list[UploadedPart]:
    """Parts 1, 2, 3... up to the first missing number, ending at the first short part (S3 takes a
    part under its minimum only last): the longest stretch that plays from the start."""
    by_number = {part.part_number: part for part in parts}
    kept: list[UploadedPart] = []
    number = 1
    while number in by_number:
        part = by_number[number]
        kept.append(part)
        if part.size_bytes < PART_SIZE_BYTES:
            break
        number += 1
    return kept
