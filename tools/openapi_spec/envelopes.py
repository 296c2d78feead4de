"""The response envelopes, as pydantic models used only to describe them in the OpenAPI document.

The handler builds its responses itself (logic.response_data, handler._error_response); the
fuzz tests check every response it gives against these shapes, so a drift on either side fails.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AnyUrl, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class CallData(BaseModel):
    """The new call. Clients must ignore fields they do not know: more may be added."""

    model_config = ConfigDict(extra="allow")

    callId: UUID = Field(description="The call's id (UUID v4)")
    hostJoinUrl: AnyUrl = Field(
        description="`{JOIN_BASE_URL}/c/{callId}?role=agent&appId=...&widgetKey=...`: a credential, "
        "for the host (agent) only"
    )
    guestJoinUrl: AnyUrl = Field(description="`{JOIN_BASE_URL}/c/{callId}`, for the guest")
    joinUrl: AnyUrl = Field(description="Alias of `guestJoinUrl`, for older clients")
    agentJoinUrl: AnyUrl = Field(description="Alias of `hostJoinUrl`, for older clients")
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
