"""Domain errors. Each carries the HTTP status and the stable code of the error table
(docs/behaviour.md section 2.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class ApiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "An internal error occurred."
    # Seconds a client should wait before retrying; sent as Retry-After when set.
    retry_after: ClassVar[int | None] = None

    def __init__(self, message: str | None = None, details: list[FieldProblem] | None = None):
        self.message = message or self.default_message
        self.details = details or []
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        """Response headers this error calls for."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class InvalidJson(ApiError):
    status, code = 400, "INVALID_JSON"
    default_message = "The request body is not valid JSON."


class InvalidBody(ApiError):
    status, code = 400, "INVALID_BODY"
    default_message = "The request body must be a JSON object."


class Unauthorized(ApiError):
    status, code = 401, "UNAUTHORIZED"
    default_message = "Missing or invalid appId / widgetKey."


class AppDisabled(ApiError):
    status, code = 403, "APP_DISABLED"
    default_message = "This app is disabled."


class OriginNotAllowed(ApiError):
    status, code = 403, "ORIGIN_NOT_ALLOWED"
    default_message = "This origin is not allowed to use this app."


class RouteNotFound(ApiError):
    status, code = 404, "NOT_FOUND"
    default_message = "No such resource."


class MethodNotAllowed(ApiError):
    status, code = 405, "METHOD_NOT_ALLOWED"
    default_message = "This method is not allowed on this resource."

    def __init__(self, allowed_methods: str = "POST, OPTIONS"):
        super().__init__()
        self.allowed_methods = allowed_methods

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Allow": self.allowed_methods}


class InvalidCursor(ApiError):
    status, code = 400, "INVALID_CURSOR"
    default_message = "The cursor was not issued by this API for this app and these filters."


class CallNotFound(ApiError):
    """Unknown, malformed and other apps' call ids all answer this, with the same message."""

    status, code = 404, "CALL_NOT_FOUND"
    default_message = "No call with this callId exists for this app."


class CallExpired(ApiError):
    status, code = 409, "CALL_EXPIRED"
    default_message = "The call has expired and can no longer be ended."


class CallEnded(ApiError):
    """A join of an ended call."""

    status, code = 410, "CALL_ENDED"
    default_message = "The call has ended."


class CallExpiredGone(ApiError):
    """A join of an expired call. Same code as CallExpired, whose 409 answers an attempt to end it."""

    status, code = 410, "CALL_EXPIRED"
    default_message = "The call has expired."


class RecordingNotFound(ApiError):
    """An unknown recording id, or one of another call, answer this."""

    status, code = 404, "RECORDING_NOT_FOUND"
    default_message = "No recording with this recordingId exists for this call."


class RecordingInProgress(ApiError):
    status, code = 409, "RECORDING_IN_PROGRESS"
    default_message = "The call is being recorded already: complete that recording before starting another."


class RecordingNotInProgress(ApiError):
    status, code = 409, "RECORDING_NOT_IN_PROGRESS"
    default_message = "The recording is not in progress any more: it takes no more parts."


class RecordingEmpty(ApiError):
    """Completing a recording of which no part arrived: it was discarded."""

    status, code = 409, "RECORDING_EMPTY"
    default_message = "No part of the recording was uploaded: it was discarded."


class IdempotencyKeyInUse(ApiError):
    status, code = 409, "IDEMPOTENCY_KEY_IN_USE"
    default_message = "A request with this Idempotency-Key is still in progress. Retry shortly."
    retry_after = 1


class IdempotencyKeyReused(ApiError):
    status, code = 422, "IDEMPOTENCY_KEY_REUSED"
    default_message = "This Idempotency-Key was already used for a different request."


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"
    default_message = "The request body is larger than 32 KiB."


class ValidationFailed(ApiError):
    status, code = 422, "VALIDATION_ERROR"
    default_message = "The request has invalid fields."


class PresetNotFound(ApiError):
    status, code = 422, "PRESET_NOT_FOUND"
    default_message = "No preset with this presetId exists for this app."


class ServiceUnavailable(ApiError):
    status, code = 503, "SERVICE_UNAVAILABLE"
    default_message = "The service is temporarily unavailable. Retry shortly."
    retry_after = 1


class InternalError(ApiError):
    """Something that is nobody's fault but ours; the message never carries internals."""
