"""Request, response and domain models. The request limits live here, once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
)

from calls.errors import FieldProblem
from calls.jsontext import dumps_exact, nesting_depth

PRESET_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
METADATA_MAX_BYTES = 8192
METADATA_MAX_DEPTH = 10
MAX_BODY_BYTES = 32 * 1024

IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,255}$"  # 1-255 printable ASCII characters

# A preset's settings for the call page, returned in the join answer: the page's language (a BCP 47
# tag; the browser's language otherwise) and its branding. callsctl holds presets to these on write;
# the join returns only what still matches them.
LANGUAGE_TAG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$"
ACCENT_COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
LOGO_URL_PATTERN = r"^https://[^\s\"'<>]+$"
LOGO_URL_MAX_LENGTH = 2048

# An app's host-link mode (docs/behaviour.md section 6.1): its host links carry the app's widget key
# (upstream's shape, the default) or a per-call host key.
HOST_LINKS_WIDGET_KEY = "widgetKey"
HOST_LINKS_HOST_KEY = "hostKey"
HOST_LINK_MODES = (HOST_LINKS_WIDGET_KEY, HOST_LINKS_HOST_KEY)

PresetId = Annotated[str, StringConstraints(strict=True, pattern=PRESET_ID_PATTERN)]
DisplayName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100)]
GenesysText = Annotated[str, StringConstraints(strict=True, max_length=256)]


# The create's models are built on first use too (defer_build): a read, list, end or join cold
# start never pays for them, and a create pays the same, at its first validation.
class GenesysContext(BaseModel):
    """Genesys Cloud context; read from the body's `genesys` object and from the query string."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    conversationId: GenesysText | None = None
    gcHostOrigin: GenesysText | None = None
    gcTargetEnv: GenesysText | None = None
    gcLangTag: GenesysText | None = Field(default=None, examples=["en-us"])
    gcUsePopupAuth: StrictBool | None = None


GENESYS_FIELDS = tuple(GenesysContext.model_fields)


class CreateCallRequest(BaseModel):
    """Every field is optional; `null` means the same as leaving the field out."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    presetId: PresetId | None = Field(default=None, description="Preset to use; else the app's active one")
    title: Annotated[str, StringConstraints(strict=True, max_length=200)] | None = None
    description: Annotated[str, StringConstraints(strict=True, max_length=2000)] | None = None
    metadata: dict[str, Any] | None = Field(
        default=None,
        description=f"Free-form JSON object, at most {METADATA_MAX_BYTES} bytes as compact UTF-8 "
        f"JSON and {METADATA_MAX_DEPTH} levels deep; stored and echoed exactly",
    )
    hostName: DisplayName | None = None
    guestName: DisplayName | None = None
    recordOnStart: StrictBool | None = None
    genesys: GenesysContext | None = None

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_within_limits(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # the type check reports it
        if nesting_depth(value, METADATA_MAX_DEPTH) > METADATA_MAX_DEPTH:
            raise ValueError(f"metadata is nested more than {METADATA_MAX_DEPTH} levels deep")
        if len(dumps_exact(value).encode("utf-8")) > METADATA_MAX_BYTES:
            raise ValueError(f"metadata is larger than {METADATA_MAX_BYTES} bytes as compact JSON")
        return value


class ListCallsQuery(BaseModel):
    """GET /api/calls query parameters. Built on first use: creating a call never pays for it."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    limit: int = Field(default=20, ge=1, le=100, description="Calls per page")
    cursor: str | None = Field(default=None, description="`nextCursor` of the previous page, as issued")
    status: Literal["created", "ended", "expired"] | None = Field(
        default=None, description="Only calls with this status"
    )
    conversationId: GenesysText | None = Field(
        default=None, description="Only the calls of this Genesys conversation"
    )


class JoinCallRequest(BaseModel):
    """POST /api/calls/{callId}/join: what a join link carries, from its query string or as JSON
    body fields of the same names (the query wins). `appId` and `widgetKey` are read as on every
    route. Built on first use: the other routes never pay for it."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    role: Literal["agent", "guest"] | None = Field(
        default=None, description="`agent` (needs a host credential) or `guest` (the default)"
    )
    hostKey: StrictStr | None = Field(
        default=None, description="The call's host key, from the host link of a hostKey-mode app"
    )


# Recording (docs/behaviour.md section 10). The page uploads parts of PART_SIZE_BYTES, S3's smallest
# part but the last, numbered 1..MAX_PART_NUMBER (S3's own limit).
RECORDING_MIME_TYPE = "video/webm;codecs=vp8,opus"
# WebM only: the object is stored as `{recordingId}.webm`; codecs as MediaRecorder names them.
RECORDING_MIME_TYPE_PATTERN = r'^video/webm(\s*;\s*codecs="?[A-Za-z0-9.]+(\s*,\s*[A-Za-z0-9.]+)*"?)?$'
PART_SIZE_BYTES = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
MAX_PART_URLS_PER_REQUEST = 10
# A recording lasts at most as long as a call can: a week is far beyond any configured lifetime.
MAX_RECORDING_SECONDS = 7 * 24 * 3600


def _json_number(value: Any) -> Any:
    """A body's number as Python's own type: the body parser keeps every number a Decimal
    (calls.jsontext), an integer when written without a fraction or exponent. The fields below
    are strict: a string or a boolean is refused, never coerced."""
    from decimal import Decimal

    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if value.as_tuple().exponent == 0 else float(value)
    return value


def _json_integer(value: Any) -> Any:
    """A body's part number as an int, however it was written (`3` or `3.0`, as JSON Schema's
    `integer` allows). A fraction, or a number past the parts' range, stays a Decimal for the
    strict check to refuse: `1e1000000` is whole too, and making an int of it takes minutes."""
    from decimal import Decimal

    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.copy_abs() <= MAX_PART_NUMBER
        and value == value.to_integral_value()
    ):
        return int(value)
    return value


JsonNumber = BeforeValidator(_json_number)
PartNumber = Annotated[int, Strict(), Ge(1), Le(MAX_PART_NUMBER), BeforeValidator(_json_integer)]


class StartRecordingRequest(BaseModel):
    """POST /api/calls/{callId}/recordings. Built on first use: no other route pays for it."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    mimeType: Annotated[
        str, StringConstraints(strict=True, max_length=100, pattern=RECORDING_MIME_TYPE_PATTERN)
    ] = Field(
        default=RECORDING_MIME_TYPE,
        description="What MediaRecorder records: WebM, with its codecs. Stored as the object's Content-Type",
    )


class RecordingPartsRequest(BaseModel):
    """POST /api/calls/{callId}/recordings/{recordingId}/parts."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    partNumbers: list[PartNumber] = Field(
        min_length=1,
        max_length=MAX_PART_URLS_PER_REQUEST,
        description=f"The parts to upload, each 1-{MAX_PART_NUMBER}; every part but the last at least "
        f"{PART_SIZE_BYTES} bytes (S3's rule)",
    )


class CompleteRecordingRequest(BaseModel):
    """POST /api/calls/{callId}/recordings/{recordingId}/complete."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    durationSeconds: Annotated[float, Strict(), Ge(0), Le(MAX_RECORDING_SECONDS), JsonNumber] | None = Field(
        default=None,
        description="How long the recording runs, as the page measured it; else endedAt - startedAt",
    )


def field_problems(error: ValidationError, prefix: str = "") -> dict[str, FieldProblem]:
    """One problem per offending field, by its dotted name."""
    problems: dict[str, FieldProblem] = {}
    for item in error.errors(include_url=False, include_input=False):
        name = prefix + (".".join(str(part) for part in item["loc"]) or "body")
        problems.setdefault(name, FieldProblem(field=name, message=item["msg"]))
    return problems


# Domain records: plain dataclasses, cheap to build on every request.


@dataclass(frozen=True)
class Preset:
    preset_id: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class AppRecord:
    app_id: str
    status: str
    key_digests: tuple[str, ...]
    active_preset_id: str | None = None
    allowed_origins: tuple[str, ...] = ()
    presets: dict[str, Preset] = field(default_factory=dict)
    host_links: str = HOST_LINKS_WIDGET_KEY

    @property
    def enabled(self) -> bool:
        return self.status == "active"

    @property
    def host_links_carry_widget_key(self) -> bool:
        return self.host_links != HOST_LINKS_HOST_KEY


@dataclass(frozen=True)
class CallSettings:
    host_name: str
    guest_name: str
    record_on_start: bool
    preview_enabled: bool
    extra: dict[str, Any] = field(default_factory=dict)


DEFAULT_SETTINGS = CallSettings(
    host_name="Host", guest_name="Guest", record_on_start=False, preview_enabled=True
)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str


@dataclass(frozen=True)
class PreviousAttempt:
    """What an earlier request with the same app and Idempotency-Key left: done, or in progress."""

    request_hash: str
    response: StoredResponse | None


@dataclass(frozen=True)
class CallRecord:
    call_id: str
    app_id: str
    preset_id: str | None
    settings: CallSettings
    created_at: str
    expires_at: int
    request_id: str
    title: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    genesys: dict[str, Any] | None = None
    # hostKey mode: the SHA-256 digest of the call's host key; the key itself is never stored.
    host_key_digest: str | None = None
    # What happened to the call after it was written; a new call has none of it.
    status: str = "created"
    ended_at: str | None = None
    agent_joined_at: str | None = None
    guest_joined_at: str | None = None


@dataclass(frozen=True)
class RecordingRecord:
    """One recording of a call, as the recordings table holds it (calls.items)."""

    call_id: str
    recording_id: str
    app_id: str
    status: str  # RECORDING, then READY
    started_at: str
    mime_type: str
    object_key: str  # recordings/{callId}/{recordingId}.webm: never a credential
    upload_id: str  # S3's multipart upload
    expires_at: int  # epoch seconds: the table's TTL, as long as the bucket keeps the object
    ended_at: str | None = None
    size_bytes: int | None = None
    duration_seconds: float | None = None


@dataclass(frozen=True)
class UploadedPart:
    """A part S3 holds of a multipart upload (ListParts)."""

    part_number: int
    etag: str
    size_bytes: int


@dataclass(frozen=True)
class PageKey:
    """Where a listing stopped, as far as it is the caller's to carry: the app and the
    conversation come from the request, never from the caller's cursor."""

    created_at: str
    call_id: str


@dataclass(frozen=True)
class RecordPage:
    """One page of a listing: the calls, and where the next page starts (None: the end)."""

    calls: list[CallRecord]
    next_key: PageKey | None
