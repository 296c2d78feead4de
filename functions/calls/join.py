"""POST /api/calls/{callId}/join: the page behind a join link asks who may join, as what.

The guest's credential is the call id. The agent's is the call's host key (hostKey mode), or
the appId and widgetKey of the call's app while that app's host links carry its widget key. No
allowedOrigins here: the page lives on the join links' origin, not on the app's site.

A join costs a GetItem of the call, and only on a role's first join one conditional update
that stamps it; the app is read (through the cache) for the agent only. The answer hands the page
what it needs to start the call: a signaling token (signed here, no request) and the ICE servers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import ValidationError

from calls.access import AppDirectory, admit_host_key, authenticate, extract_credentials
from calls.body import parse_body
from calls.errors import (
    CallEnded,
    CallExpiredGone,
    CallNotFound,
    FieldProblem,
    Unauthorized,
    ValidationFailed,
)
from calls.models import (
    ACCENT_COLOR_PATTERN,
    LANGUAGE_TAG_PATTERN,
    LOGO_URL_MAX_LENGTH,
    LOGO_URL_PATTERN,
    CallRecord,
    JoinCallRequest,
    field_problems,
)
from calls.read import is_call_id
from calls.request import CallRequest, first_query_value
from calls.signaling_tokens import issue_token
from calls.view import ENDED, EXPIRED, call_status, iso_timestamp, utc_now

if TYPE_CHECKING:
    from calls.ice import IceServers
    from calls.responses import JoinView

AGENT, GUEST = "agent", "guest"
# The call attribute that records each role's first join.
JOINED_AT_ATTRIBUTES = {AGENT: "agentJoinedAt", GUEST: "guestJoinedAt"}

# One message for every refused agent, whichever credential was missing or wrong.
_AGENT_REFUSED = "Joining as the agent needs the call's hostKey, or the appId and widgetKey of its app."
# To a caller whose appId and widgetKey are right: its app's calls take the host key only.
_HOST_KEY_ONLY = (
    "This app's calls take their host key only (hostKey mode): open the agent link (hostJoinUrl) that "
    "creating the call answered; the appId and widgetKey do not make an agent."
)


def no_ice_servers(call_id: str, role: str) -> list[dict[str, Any]]:
    return []


@dataclass(frozen=True)
class SignalingOffer:
    """What every successful join hands the page for the call itself (docs/behaviour.md, 9.3):
    the signaling socket with a token for it, and the ICE servers."""

    url: str  # the signaling socket, SIGNALING_URL
    token_key: bytes = field(repr=False)  # SIGNALING_TOKEN_KEY, shared with the signaling function
    ice_servers: IceServers = no_ice_servers  # calls.ice: by ICE_PROVIDER


class StampJoinOnce(Protocol):
    def __call__(self, call_id: str, attribute: str, *, joined_at: str, now: int) -> CallRecord | None:
        """Stamp a role's first join on a live call; return the call as it stands afterwards."""


def validate_join_request(payload: Mapping[str, Any], query: Mapping[str, Sequence[str]]) -> JoinCallRequest:
    """Each field from the query string (what the link carries), else the body; `role` must be
    agent or guest (422), and an empty value counts as absent. Every body field is held to the
    schema too, even where the query's value wins."""
    from_body = {
        name: payload[name] for name in JoinCallRequest.model_fields if payload.get(name) not in (None, "")
    }
    from_query = {
        name: value
        for name in JoinCallRequest.model_fields
        if (value := first_query_value(query, name)) is not None
    }
    problems: dict[str, FieldProblem] = {}
    asked = None
    try:
        JoinCallRequest.model_validate(from_body)
    except ValidationError as error:
        problems.update(field_problems(error))
    try:
        asked = JoinCallRequest.model_validate({**from_body, **from_query})
    except ValidationError as error:
        problems.update(field_problems(error))
    if problems or asked is None:
        raise ValidationFailed(details=list(problems.values()))
    return asked


def joined_at(call: CallRecord, role: str) -> str | None:
    return call.agent_joined_at if role == AGENT else call.guest_joined_at


def refuse_if_over(call: CallRecord, now: datetime) -> None:
    status = call_status(call, now)
    if status == ENDED:
        raise CallEnded()
    if status == EXPIRED:
        raise CallExpiredGone()


_LANGUAGE_TAG = re.compile(LANGUAGE_TAG_PATTERN)
_ACCENT_COLOR = re.compile(ACCENT_COLOR_PATTERN)
_LOGO_URL = re.compile(LOGO_URL_PATTERN)


def page_settings(preset_settings: Mapping[str, Any]) -> dict[str, Any]:
    """The preset's `language` and `branding` for the call page, as far as they are well formed
    (the page treats them as untrusted all the same)."""
    found: dict[str, Any] = {}
    language = preset_settings.get("language")
    if isinstance(language, str) and _LANGUAGE_TAG.fullmatch(language):
        found["language"] = language
    branding = preset_settings.get("branding")
    if isinstance(branding, dict):
        logo, color = branding.get("logoUrl"), branding.get("accentColor")
        kept = {}
        if isinstance(logo, str) and len(logo) <= LOGO_URL_MAX_LENGTH and _LOGO_URL.fullmatch(logo):
            kept["logoUrl"] = logo
        if isinstance(color, str) and _ACCENT_COLOR.fullmatch(color):
            kept["accentColor"] = color
        if kept:
            found["branding"] = kept
    return found


def join_view(call: CallRecord, role: str, now: datetime, signaling: SignalingOffer) -> JoinView:
    settings = call.settings
    view: dict[str, Any] = {
        "callId": call.call_id,
        "role": role,
        "displayName": settings.host_name if role == AGENT else settings.guest_name,
        "recordOnStart": settings.record_on_start,
        "previewEnabled": settings.preview_enabled,
    }
    if call.title is not None:
        view["title"] = call.title
    view["status"] = call_status(call, now)
    view.update(page_settings(settings.extra))
    issued = issue_token(signaling.token_key, call.call_id, role, now.timestamp())
    view["signaling"] = {
        "url": signaling.url,
        "token": issued.token,
        "expiresAt": iso_timestamp(datetime.fromtimestamp(issued.expires_at, UTC)),
    }
    view["iceServers"] = signaling.ice_servers(call.call_id, role)
    return cast("JoinView", view)


@dataclass(frozen=True)
class JoinCall:
    apps: AppDirectory
    get_call: Callable[[str], CallRecord | None]
    stamp_join_once: StampJoinOnce
    now: Callable[[], datetime] = utc_now
    signaling: SignalingOffer = field(kw_only=True)

    def __call__(self, request: CallRequest, call_id: str) -> JoinView:
        """Checks in this order: body (400/413), fields (422), the call (404), the agent's
        credential (401/403), then whether the call is still on (410)."""
        payload = parse_body(request.body)
        asked = validate_join_request(payload, request.query)
        if not is_call_id(call_id):
            raise CallNotFound()
        call = self.get_call(call_id)
        if call is None:
            raise CallNotFound()
        role = AGENT if asked.role == AGENT else GUEST
        if role == AGENT:
            self._admit_agent(call, asked.hostKey, request, payload)
        now = self.now()
        refuse_if_over(call, now)
        if joined_at(call, role) is None:
            stamped = self.stamp_join_once(
                call_id, JOINED_AT_ATTRIBUTES[role], joined_at=iso_timestamp(now), now=int(now.timestamp())
            )
            if stamped is None:  # removed by its TTL meanwhile
                raise CallNotFound()
            # Stamped now or by a racing join; or ended meanwhile, which refuses this join too.
            call = stamped
            refuse_if_over(call, now)
        return join_view(call, role, now, self.signaling)

    def _admit_agent(
        self, call: CallRecord, host_key: str | None, request: CallRequest, payload: Mapping[str, Any]
    ) -> None:
        """The host key when one is presented (then nothing else); else the app's credentials,
        good only for the call's own app and only while its host links carry the widget key."""
        if host_key is not None:
            admit_host_key(host_key, call, self.apps, refusal=_AGENT_REFUSED)
            return
        try:
            credentials = extract_credentials(request, payload)
            if credentials.app_id != call.app_id:
                raise Unauthorized()
            app = authenticate(credentials, self.apps.get(call.app_id))
        except Unauthorized:
            raise Unauthorized(_AGENT_REFUSED) from None
        if not app.host_links_carry_widget_key:
            raise Unauthorized(_HOST_KEY_ONLY)
