"""The recording routes (docs/behaviour.md section 10): start a recording, get URLs to upload its parts
straight to S3, complete it, and list a call's recordings with download URLs.

Who may record: the call's agent, by the call's host key (hostKey mode; any origin, as for the
join and the end, since the page lives on the join links' origin), or the call's app, by its
credentials (as on every app route: credentials, then `allowedOrigins`). The guest, whose only
credential is the call id, may not: 401. The list is the app's alone (its credentials).

Order of checks, as on the end route: body (400/413); credentials (401/403) and origin; the
request's fields (422); the call (404), whether it is still on (410, start only); the recording
(404); its state (409). A host key is checked against its call, so it is read first: a key that
opens no call is 401, whatever the call id.

A start costs a GetItem of the call, a GetItem of the call's recording in progress, S3's
CreateMultipartUpload and one transaction; part URLs are signed here, without a request.
Importing this module loads no S3 code: the bucket's client is made on the first recording route.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import BaseModel, ValidationError

from calls.access import AppDirectory, admit, admit_host_key, presents_app_credentials
from calls.body import parse_body
from calls.end import presented_host_key
from calls.errors import (
    CallNotFound,
    RecordingEmpty,
    RecordingInProgress,
    RecordingNotFound,
    RecordingNotInProgress,
    Unauthorized,
    ValidationFailed,
)
from calls.finish_recording import RecordingFinisher
from calls.join import refuse_if_over
from calls.models import (
    MAX_PART_NUMBER,
    PART_SIZE_BYTES,
    CallRecord,
    CompleteRecordingRequest,
    RecordingPartsRequest,
    RecordingRecord,
    StartRecordingRequest,
    field_problems,
)
from calls.read import is_call_id, own_call
from calls.request import CallRequest
from calls.view import READY, RECORDING, iso_timestamp, recording_view, utc_now

if TYPE_CHECKING:
    from calls.responses import PartUploadUrls, RecordingList, RecordingView, StartedRecording

# Every URL handed out (a part's upload, a download) works this long, and no longer.
URL_EXPIRY_SECONDS = 15 * 60
_AGENT_REFUSED = "Recording needs the call's hostKey, or the appId and widgetKey of its app."


class Recordings(Protocol):
    """The recordings table as the routes use it (calls.recording_storage.DynamoDBRecordings)."""

    def start(self, recording: RecordingRecord) -> None: ...

    def active_recording_id(self, call_id: str) -> str | None: ...

    def get(self, call_id: str, recording_id: str) -> RecordingRecord | None: ...

    def of_call(self, call_id: str) -> list[RecordingRecord]: ...


class Bucket(Protocol):
    """The recordings bucket as the routes use it (calls.recording_storage.S3Recordings)."""

    def start_upload(self, object_key: str, content_type: str) -> str: ...

    def part_upload_url(self, object_key: str, upload_id: str, part_number: int, expires_in: int) -> str: ...

    def download_url(self, object_key: str, file_name: str, expires_in: int) -> str: ...

    def abort_upload(self, object_key: str, upload_id: str) -> None: ...


def new_recording_id() -> str:
    import uuid

    return str(uuid.uuid4())


def object_key(call_id: str, recording_id: str) -> str:
    """Where a recording is kept: ids only, never anything a caller presented."""
    return f"recordings/{call_id}/{recording_id}.webm"


def file_name(recording: RecordingRecord) -> str:
    return f"{recording.recording_id}.webm"


def validated[M: BaseModel](model: type[M], payload: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise ValidationFailed(details=list(field_problems(error).values())) from None


@dataclass(frozen=True)
class RecordingAccess:
    """Admits the call's agent or app (see the module), and finds what the route names."""

    apps: AppDirectory
    get_call: Callable[[str], CallRecord | None]
    recordings: Recordings

    def admit[M: BaseModel](self, request: CallRequest, call_id: str, model: type[M]) -> tuple[CallRecord, M]:
        """The call, once its agent or app is admitted, and the request's fields."""
        payload = parse_body(request.body)
        host_key = presented_host_key(request, payload)
        if host_key is not None and not presents_app_credentials(request, payload):
            call = self.get_call(call_id) if is_call_id(call_id) else None
            if call is None:
                raise Unauthorized(_AGENT_REFUSED)
            admit_host_key(host_key, call, self.apps, refusal=_AGENT_REFUSED)
            return call, validated(model, payload)
        caller = admit(request, payload, self.apps)
        asked = validated(model, payload)
        if not is_call_id(call_id):
            raise CallNotFound()
        return own_call(self.get_call(call_id), caller.app.app_id), asked

    def recording(self, call: CallRecord, recording_id: str) -> RecordingRecord:
        found = self.recordings.get(call.call_id, recording_id) if is_call_id(recording_id) else None
        if found is None:
            raise RecordingNotFound()
        return found


@dataclass(frozen=True)
class StartRecording:
    """POST /api/calls/{callId}/recordings: a multipart upload, and the recording that names it."""

    access: RecordingAccess
    bucket: Bucket
    retention_days: int
    now: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = new_recording_id

    def __call__(self, request: CallRequest, call_id: str) -> StartedRecording:
        call, asked = self.access.admit(request, call_id, StartRecordingRequest)
        now = self.now()
        refuse_if_over(call, now)
        recordings = self.access.recordings
        # Cheap, and spares S3 an upload that the transaction below would refuse anyway.
        if recordings.active_recording_id(call.call_id) is not None:
            raise RecordingInProgress()
        recording_id = self.new_id()
        key = object_key(call.call_id, recording_id)
        upload_id = self.bucket.start_upload(key, asked.mimeType)
        recording = RecordingRecord(
            call_id=call.call_id,
            recording_id=recording_id,
            app_id=call.app_id,
            status=RECORDING,
            started_at=iso_timestamp(now),
            mime_type=asked.mimeType,
            object_key=key,
            upload_id=upload_id,
            expires_at=int((now + timedelta(days=self.retention_days)).timestamp()),
        )
        try:
            recordings.start(recording)
        except RecordingInProgress:  # a racing start won
            self.bucket.abort_upload(key, upload_id)
            raise
        started: dict[str, Any] = {
            **recording_view(recording),
            "partSizeBytes": PART_SIZE_BYTES,
            "maxPartNumber": MAX_PART_NUMBER,
        }
        return cast("StartedRecording", started)


@dataclass(frozen=True)
class RecordingPartUrls:
    """POST /api/calls/{callId}/recordings/{recordingId}/parts: presigned UploadPart URLs."""

    access: RecordingAccess
    bucket: Bucket
    now: Callable[[], datetime] = utc_now

    def __call__(self, request: CallRequest, call_id: str, recording_id: str) -> PartUploadUrls:
        call, asked = self.access.admit(request, call_id, RecordingPartsRequest)
        recording = self.access.recording(call, recording_id)
        if recording.status != RECORDING:
            raise RecordingNotInProgress()
        expires_at = iso_timestamp(self.now() + timedelta(seconds=URL_EXPIRY_SECONDS))
        return {
            "parts": [
                {
                    "partNumber": number,
                    "url": self.bucket.part_upload_url(
                        recording.object_key, recording.upload_id, number, URL_EXPIRY_SECONDS
                    ),
                    "expiresAt": expires_at,
                }
                for number in asked.partNumbers
            ]
        }


@dataclass(frozen=True)
class CompleteRecording:
    """POST /api/calls/{callId}/recordings/{recordingId}/complete: calls.finish_recording's."""

    access: RecordingAccess
    finisher: RecordingFinisher
    now: Callable[[], datetime] = utc_now

    def __call__(self, request: CallRequest, call_id: str, recording_id: str) -> RecordingView:
        call, asked = self.access.admit(request, call_id, CompleteRecordingRequest)
        recording = self.access.recording(call, recording_id)
        finished = self.finisher.finish(recording, now=self.now(), duration_seconds=asked.durationSeconds)
        if finished is None:
            raise RecordingEmpty()
        return recording_view(finished)


@dataclass(frozen=True)
class ListRecordings:
    """GET /api/calls/{callId}/recordings: the app's credentials only; newest first, each ready one
    with a download URL. Recordings outlive their call (kept for the retention period, the call
    for its TTL): once the call is gone, the recordings' own app decides."""

    apps: AppDirectory
    get_call: Callable[[str], CallRecord | None]
    recordings: Recordings
    bucket: Bucket
    now: Callable[[], datetime] = utc_now

    def __call__(self, request: CallRequest, call_id: str) -> RecordingList:
        caller = admit(request, {}, self.apps)
        app_id = caller.app.app_id
        if not is_call_id(call_id):
            raise CallNotFound()
        call = self.get_call(call_id)
        if call is not None:
            own_call(call, app_id)
        found = self.recordings.of_call(call_id)
        if call is None and (not found or found[0].app_id != app_id):
            raise CallNotFound()
        expires_at = iso_timestamp(self.now() + timedelta(seconds=URL_EXPIRY_SECONDS))
        views = []
        for recording in sorted(found, key=lambda r: (r.started_at, r.recording_id), reverse=True):
            view: dict[str, Any] = dict(recording_view(recording))
            if recording.status == READY:
                view["downloadUrl"] = self.bucket.download_url(
                    recording.object_key, file_name(recording), URL_EXPIRY_SECONDS
                )
                view["downloadUrlExpiresAt"] = expires_at
            views.append(view)
        return cast("RecordingList", {"recordings": views})
