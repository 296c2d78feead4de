"""The response bodies, as the types the code builds them with: typed dicts, so a response costs
nothing more than the dict it is, and the OpenAPI document is generated from these same types
(tools/openapi_spec), never from a copy.

Optional facts are `NotRequired`: absent, never null, until the call has them. Clients must
ignore fields they do not know: more may be added.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import ConfigDict, Field, with_config

from calls.models import (
    ACCENT_COLOR_PATTERN,
    LANGUAGE_TAG_PATTERN,
    LOGO_URL_MAX_LENGTH,
    LOGO_URL_PATTERN,
    GenesysContext,
)

CallStatus = Literal["created", "ended", "expired"]
JoinRole = Literal["agent", "guest"]

# Strings with a documented format: what a generated client may parse them as.
Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
Url = Annotated[str, Field(json_schema_extra={"format": "uri", "minLength": 1})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]

CALL_ID = "The call's id (UUID v4)"
CREATED_AT = "ISO 8601, UTC, milliseconds"
EXPIRES_AT = "Epoch seconds after which the call record is deleted"
PRESET_ID = "The preset the call uses; absent when it uses the built-in defaults"
GUEST_JOIN_URL = "`{JOIN_BASE_URL}/c/{callId}`, for the guest"
JOIN_URL = "Alias of `guestJoinUrl`, for older clients"
AGENT_JOIN_URL = "Alias of `hostJoinUrl`, for older clients; present when it is"


@with_config(ConfigDict(extra="allow"))
class CallData(TypedDict):
    """The new call. Clients must ignore fields they do not know: more may be added."""

    callId: Annotated[Uuid, Field(description=CALL_ID)]
    hostJoinUrl: NotRequired[
        Annotated[
            Url,
            Field(
                description="A credential, for the host (agent) only: `{JOIN_BASE_URL}/c/{callId}"
                "?role=agent&appId=...&widgetKey=...`, or for apps in hostKey mode `{JOIN_BASE_URL}/c/"
                "{callId}?role=agent&hostKey=...`. Absent only when `hostLinkWithheld` is true"
            ),
        ]
    ]
    guestJoinUrl: Annotated[Url, Field(description=GUEST_JOIN_URL)]
    joinUrl: Annotated[Url, Field(description=JOIN_URL)]
    agentJoinUrl: NotRequired[Annotated[Url, Field(description=AGENT_JOIN_URL)]]
    hostLinkWithheld: NotRequired[
        Annotated[
            Literal[True],
            Field(
                description="Present (true) only on an `Idempotency-Key` replay for an app in hostKey mode: "
                "the host link is shown once, on the create that made the call, and a replay, which the "
                "widget key alone can make, never shows it again"
            ),
        ]
    ]
    previewEnabled: Annotated[bool, Field(description="From the preset, else true")]
    title: NotRequired[Annotated[str, Field(description="Present only when sent")]]
    description: NotRequired[Annotated[str, Field(description="Present only when sent")]]
    metadata: NotRequired[
        Annotated[dict[str, Any], Field(description="Present only when sent; the same JSON that was sent")]
    ]
    presetId: NotRequired[Annotated[str, Field(description=PRESET_ID)]]
    createdAt: Annotated[Timestamp, Field(description=CREATED_AT)]
    expiresAt: Annotated[int, Field(description=EXPIRES_AT)]


class CallCreated(TypedDict):
    ok: Literal[True]
    data: CallData


@with_config(ConfigDict(extra="allow"))
class CallView(TypedDict):
    """A call as it stands: the `data` of GET and end, and each element of a list. Optional facts are
    absent, never null, until the call has them. Clients must ignore fields they do not know."""

    callId: Annotated[Uuid, Field(description=CALL_ID)]
    status: Annotated[
        CallStatus,
        Field(description="`ended` once ended; else `expired` once `expiresAt` has passed; else `created`"),
    ]
    createdAt: Annotated[Timestamp, Field(description=CREATED_AT)]
    expiresAt: Annotated[int, Field(description=EXPIRES_AT)]
    endedAt: NotRequired[
        Annotated[Timestamp, Field(description="When the call was ended; present only once it was")]
    ]
    presetId: NotRequired[Annotated[str, Field(description=PRESET_ID)]]
    hostName: Annotated[str, Field(description="The host's display name")]
    guestName: Annotated[str, Field(description="The guest's display name")]
    recordOnStart: bool
    previewEnabled: bool
    title: NotRequired[Annotated[str, Field(description="Present only when the call has one")]]
    description: NotRequired[Annotated[str, Field(description="Present only when the call has one")]]
    metadata: NotRequired[
        Annotated[
            dict[str, Any],
            Field(description="Present only when the call has it; exactly the JSON that was sent"),
        ]
    ]
    genesys: NotRequired[
        Annotated[
            GenesysContext,
            Field(
                title="Genesys", description="The Genesys context the call was created with, when it had one"
            ),
        ]
    ]
    agentJoinedAt: NotRequired[
        Annotated[Timestamp, Field(description="When the host first joined; present only once that happened")]
    ]
    guestJoinedAt: NotRequired[
        Annotated[
            Timestamp, Field(description="When the guest first joined; present only once that happened")
        ]
    ]
    guestJoinUrl: Annotated[Url, Field(description=GUEST_JOIN_URL)]
    joinUrl: Annotated[Url, Field(description=JOIN_URL)]
    hostJoinUrl: NotRequired[
        Annotated[
            Url,
            Field(
                description="The host link, built from the credentials of this request as on create: a "
                "credential, for the host only. Absent for apps whose host links do not carry the widget key"
            ),
        ]
    ]
    agentJoinUrl: NotRequired[Annotated[Url, Field(description=AGENT_JOIN_URL)]]


class CallViewResponse(TypedDict):
    ok: Literal[True]
    data: CallView


class CallPage(TypedDict):
    calls: Annotated[
        list[CallView],
        Field(description="Newest first; may hold fewer than `limit` calls when filters apply"),
    ]
    nextCursor: NotRequired[
        Annotated[
            str,
            Field(
                description="Send it as `cursor`, with the same filters, for the next page; absent on the "
                "last page (only its absence means the end)"
            ),
        ]
    ]


class CallPageResponse(TypedDict):
    ok: Literal[True]
    data: CallPage


class Branding(TypedDict):
    """The preset's branding for the call page; each field only when the preset has a valid one."""

    logoUrl: NotRequired[
        Annotated[
            str,
            Field(
                description="An https URL of the logo the page shows",
                pattern=LOGO_URL_PATTERN,
                max_length=LOGO_URL_MAX_LENGTH,
            ),
        ]
    ]
    accentColor: NotRequired[
        Annotated[str, Field(description="The page's accent colour, `#rrggbb`", pattern=ACCENT_COLOR_PATTERN)]
    ]


class SignalingAccess(TypedDict):
    """Where and how the page opens the call's signaling socket (docs/asyncapi.yaml)."""

    url: Annotated[
        str,
        Field(
            description="The WebSocket URL (`wss://{host}/ws`); open `{url}?token={token}`",
            json_schema_extra={"format": "uri", "pattern": "^wss?://"},
        ),
    ]
    token: Annotated[
        str,
        Field(
            description="Opaque and URL-safe: for one connection to this call as this role, within "
            "60 s. A used, expired or altered token is refused at the handshake; join again for another",
            min_length=1,
        ),
    ]
    expiresAt: Annotated[Timestamp, Field(description="When the token stops opening a connection")]


class IceServer(TypedDict):
    """One entry of `RTCConfiguration.iceServers`, as the browser takes it."""

    urls: Annotated[str | list[str], Field(description="`stun:`, `stuns:`, `turn:` or `turns:` URL(s)")]
    username: NotRequired[Annotated[str, Field(description="For TURN")]]
    credential: NotRequired[Annotated[str, Field(description="For TURN")]]


@with_config(ConfigDict(extra="allow"))
class JoinView(TypedDict):
    """Who joins, as what, and what the join page needs. Clients must ignore fields they do not know."""

    callId: Annotated[Uuid, Field(description="The call's id")]
    role: Annotated[JoinRole, Field(description="`agent` with a host credential, else `guest`")]
    displayName: Annotated[
        str, Field(description="The call's `hostName` for the agent, its `guestName` for the guest")
    ]
    recordOnStart: bool
    previewEnabled: bool
    title: NotRequired[Annotated[str, Field(description="Present only when the call has one")]]
    status: Annotated[
        CallStatus, Field(description="The call's status; a call that is over answers 410 instead")
    ]
    language: NotRequired[
        Annotated[
            str,
            Field(
                description="The preset's language for the page (a BCP 47 tag); absent: the browser's",
                pattern=LANGUAGE_TAG_PATTERN,
            ),
        ]
    ]
    branding: NotRequired[Annotated[Branding, Field(description="The preset's branding for the page")]]
    signaling: Annotated[
        SignalingAccess, Field(description="The call's signaling socket and a token to open it with")
    ]
    iceServers: Annotated[
        list[IceServer],
        Field(description="`RTCConfiguration.iceServers` for the peer connection; may be empty"),
    ]


class JoinResponse(TypedDict):
    ok: Literal[True]
    data: JoinView


RecordingStatus = Literal["recording", "ready"]
RECORDING_ID = "The recording's id (UUID v4)"


@with_config(ConfigDict(extra="allow"))
class RecordingView(TypedDict):
    """A recording of a call as it stands; optional facts are absent until it has them. Clients must
    ignore fields they do not know."""

    recordingId: Annotated[Uuid, Field(description=RECORDING_ID)]
    callId: Annotated[Uuid, Field(description=CALL_ID)]
    status: Annotated[
        RecordingStatus,
        Field(description="`recording` while parts are uploaded; `ready` once completed (and kept)"),
    ]
    startedAt: Annotated[Timestamp, Field(description=CREATED_AT)]
    endedAt: NotRequired[Annotated[Timestamp, Field(description="When it was completed; once ready")]]
    sizeBytes: NotRequired[
        Annotated[int, Field(description="The recording's size in bytes; once ready", ge=0)]
    ]
    durationSeconds: NotRequired[
        Annotated[
            float,
            Field(
                description="How long it runs, in seconds (to the millisecond): as the page measured it, "
                "else from startedAt to endedAt; once ready",
                ge=0,
            ),
        ]
    ]
    mimeType: Annotated[str, Field(description="What was recorded: WebM and its codecs")]
    downloadUrl: NotRequired[
        Annotated[
            Url,
            Field(
                description="A presigned GET of the WebM file, in the list only, for ready recordings; a "
                "credential that expires at `downloadUrlExpiresAt` (15 minutes at most)"
            ),
        ]
    ]
    downloadUrlExpiresAt: NotRequired[
        Annotated[Timestamp, Field(description="When `downloadUrl` stops working")]
    ]


@with_config(ConfigDict(extra="allow"))
class StartedRecording(RecordingView):
    """The recording just started, and how to upload it."""

    partSizeBytes: Annotated[
        int,
        Field(
            description="Upload parts of at least this many bytes (S3's minimum), each but the last",
            ge=1,
        ),
    ]
    maxPartNumber: Annotated[int, Field(description="Parts are numbered from 1 to this", ge=1)]


class StartedRecordingResponse(TypedDict):
    ok: Literal[True]
    data: StartedRecording


class RecordingViewResponse(TypedDict):
    ok: Literal[True]
    data: RecordingView


class PartUploadUrl(TypedDict):
    partNumber: Annotated[int, Field(description="The part this URL uploads", ge=1)]
    url: Annotated[
        Url,
        Field(
            description="PUT the part's bytes here, with no further headers; the answer's `ETag` header "
            "says S3 has it. A credential for this part only"
        ),
    ]
    expiresAt: Annotated[Timestamp, Field(description="When the URL stops working (15 minutes)")]


class PartUploadUrls(TypedDict):
    parts: Annotated[list[PartUploadUrl], Field(description="One URL per part asked for, in that order")]


class PartUploadUrlsResponse(TypedDict):
    ok: Literal[True]
    data: PartUploadUrls


class RecordingList(TypedDict):
    recordings: Annotated[list[RecordingView], Field(description="The call's recordings, newest first")]


class RecordingListResponse(TypedDict):
    ok: Literal[True]
    data: RecordingList


class FieldProblem(TypedDict):
    field: Annotated[str, Field(description="Dotted path of the offending field, e.g. `genesys.gcLangTag`")]
    message: str


class ErrorBody(TypedDict):
    code: Annotated[
        str, Field(description="Stable machine-readable code; branch on this, never on `message`")
    ]
    message: Annotated[str, Field(description="Human-readable; may change")]
    requestId: Annotated[
        str, Field(description="Equal to the `X-Request-Id` header and to the id in the logs")
    ]
    details: NotRequired[
        Annotated[
            list[FieldProblem],
            Field(description="One entry per offending field (422 VALIDATION_ERROR only)"),
        ]
    ]


class ErrorEnvelope(TypedDict):
    """Every error the function answers, whatever the status."""

    ok: Literal[False]
    error: ErrorBody
