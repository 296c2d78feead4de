"""The response envelopes, as pydantic models used only to describe them in the OpenAPI document.

The handler builds its responses itself (create.response_data, view.call_view,
handler._error_response); the fuzz tests and the generated-client test check every response it
gives against these shapes, and a unit test holds CallView to view.call_view's fields, so a drift
on either side fails.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from calls.models import GenesysContext
from pydantic import AnyUrl, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

# view.STATUSES and join's roles, spelled out because a Literal must be; unit tests keep them equal.
CallStatus = Literal["created", "ended", "expired"]
JoinRole = Literal["agent", "guest"]


class EndCallRequest(BaseModel):
    """Optional. Read only for the credentials, as string fields `appId` and `widgetKey`, when the
    headers and the query string carry none; any other field is ignored."""

    model_config = ConfigDict(extra="allow")


class CallData(BaseModel):
    """The new call. Clients must ignore fields they do not know: more may be added."""

    model_config = ConfigDict(extra="allow")

    callId: UUID = Field(description="The call's id (UUID v4)")
    hostJoinUrl: AnyUrl | SkipJsonSchema[None] = Field(
        default=None,
        description="A credential, for the host (agent) only: `{JOIN_BASE_URL}/c/{callId}?role=agent"
        "&appId=...&widgetKey=...`, or for apps in hostKey mode `{JOIN_BASE_URL}/c/{callId}?role=agent"
        "&hostKey=...`. "
        "Absent only when `hostLinkWithheld` is true",
    )
    guestJoinUrl: AnyUrl = Field(description="`{JOIN_BASE_URL}/c/{callId}`, for the guest")
    joinUrl: AnyUrl = Field(description="Alias of `guestJoinUrl`, for older clients")
    agentJoinUrl: AnyUrl | SkipJsonSchema[None] = Field(
        default=None, description="Alias of `hostJoinUrl`, for older clients; present when it is"
    )
    hostLinkWithheld: Literal[True] | SkipJsonSchema[None] = Field(
        default=None,
        description="Present (true) only on an `Idempotency-Key` replay for an app in hostKey mode: the "
        "host link is shown once, on the create that made the call, and a replay, which the widget key "
        "alone can make, never shows it again",
    )
    previewEnabled: bool = Field(description="From the preset, else true")
    # Echoes are absent, never null, when the request did not send them: no null in the schema.
    title: str | SkipJsonSchema[None] = Field(default=None, description="Present only when sent")
    description: str | SkipJsonSchema[None] = Field(default=None, description="Present only when sent")
    metadata: dict[str, Any] | SkipJsonSchema[None] = Field(
        default=None, description="Present only when sent; the same JSON that was sent"
    )
    presetId: str | SkipJsonSchema[None] = Field(
        default=None, description="The preset the call uses; absent when it uses the built-in defaults"
    )
    createdAt: datetime = Field(description="ISO 8601, UTC, milliseconds")
    expiresAt: int = Field(description="Epoch seconds after which the call record is deleted")


class CallCreated(BaseModel):
    ok: Literal[True]
    data: CallData


class CallView(BaseModel):
    """A call as it stands: the `data` of GET and end, and each element of a list. Optional facts are
    absent, never null, until the call has them. Clients must ignore fields they do not know."""

    model_config = ConfigDict(extra="allow")

    callId: UUID = Field(description="The call's id (UUID v4)")
    status: CallStatus = Field(
        description="`ended` once ended; else `expired` once `expiresAt` has passed; else `created`"
    )
    createdAt: datetime = Field(description="ISO 8601, UTC, milliseconds")
    expiresAt: int = Field(description="Epoch seconds after which the call record is deleted")
    endedAt: datetime | SkipJsonSchema[None] = Field(
        default=None, description="When the call was ended; present only once it was"
    )
    presetId: str | SkipJsonSchema[None] = Field(
        default=None, description="The preset the call uses; absent when it uses the built-in defaults"
    )
    hostName: str = Field(description="The host's display name")
    guestName: str = Field(description="The guest's display name")
    recordOnStart: bool
    previewEnabled: bool
    title: str | SkipJsonSchema[None] = Field(default=None, description="Present only when the call has one")
    description: str | SkipJsonSchema[None] = Field(
        default=None, description="Present only when the call has one"
    )
    metadata: dict[str, Any] | SkipJsonSchema[None] = Field(
        default=None, description="Present only when the call has it; exactly the JSON that was sent"
    )
    genesys: GenesysContext | SkipJsonSchema[None] = Field(
        default=None, description="The Genesys context the call was created with, when it had one"
    )
    agentJoinedAt: datetime | SkipJsonSchema[None] = Field(
        default=None, description="When the host first joined; present only once that happened"
    )
    guestJoinedAt: datetime | SkipJsonSchema[None] = Field(
        default=None, description="When the guest first joined; present only once that happened"
    )
    guestJoinUrl: AnyUrl = Field(description="`{JOIN_BASE_URL}/c/{callId}`, for the guest")
    joinUrl: AnyUrl = Field(description="Alias of `guestJoinUrl`, for older clients")
    hostJoinUrl: AnyUrl | SkipJsonSchema[None] = Field(
        default=None,
        description="The host link, built from the credentials of this request as on create: a credential, "
        "for the host only. Absent for apps whose host links do not carry the widget key",
    )
    agentJoinUrl: AnyUrl | SkipJsonSchema[None] = Field(
        default=None, description="Alias of `hostJoinUrl`, for older clients; present when it is"
    )


class CallViewResponse(BaseModel):
    ok: Literal[True]
    data: CallView


class CallPage(BaseModel):
    calls: list[CallView] = Field(
        description="Newest first; may hold fewer than `limit` calls when filters apply"
    )
    nextCursor: str | SkipJsonSchema[None] = Field(
        default=None,
        description="Send it as `cursor`, with the same filters, for the next page; absent on the last page "
        "(only its absence means the end)",
    )


class CallPageResponse(BaseModel):
    ok: Literal[True]
    data: CallPage


class JoinView(BaseModel):
    """Who joins, as what, and what the join page needs. Clients must ignore fields they do not know."""

    model_config = ConfigDict(extra="allow")

    callId: UUID = Field(description="The call's id")
    role: JoinRole = Field(description="`agent` with a host credential, else `guest`")
    displayName: str = Field(description="The call's `hostName` for the agent, its `guestName` for the guest")
    recordOnStart: bool
    previewEnabled: bool
    title: str | SkipJsonSchema[None] = Field(default=None, description="Present only when the call has one")
    status: CallStatus = Field(description="The call's status; a call that is over answers 410 instead")


class JoinResponse(BaseModel):
    ok: Literal[True]
    data: JoinView


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `genesys.gcLangTag`")
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code; branch on this, never on `message`")
    message: str = Field(description="Human-readable; may change")
    requestId: str = Field(description="Equal to the `X-Request-Id` header and to the id in the logs")
    details: list[FieldProblem] | SkipJsonSchema[None] = Field(
        default=None, description="One entry per offending field (422 VALIDATION_ERROR only)"
    )


class ErrorEnvelope(BaseModel):
    """Every error the function answers, whatever the status."""

    ok: Literal[False]
    error: ErrorBody
