"""POST /api/calls/{callId}/end: one conditional update, so racing ends record one endedAt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from calls.access import AppDirectory, admit
from calls.body import parse_body
from calls.errors import CallExpired, CallNotFound
from calls.models import CallRecord
from calls.read import is_call_id, own_call
from calls.request import CallRequest
from calls.view import ENDED, caller_view, iso_timestamp, utc_now

if TYPE_CHECKING:
    from calls.responses import CallView


class EndCallOnce(Protocol):
    def __call__(self, app_id: str, call_id: str, *, ended_at: str, now: int) -> CallRecord | None:
        """End a live call of the app; return it as it stands afterwards, None when unknown."""


def end_own_call(end_call_once: EndCallOnce, app_id: str, call_id: str, now: datetime) -> CallRecord:
    """End the app's call at `now`, in one conditional update, and return it ended: by this
    request, or with the first endedAt if it was ended before. CallNotFound for an id that names
    none of the app's calls, CallExpired for a call that expired unended. The route's decisions
    once the caller is admitted, shared with the operator's `callsctl`."""
    if not is_call_id(call_id):
        raise CallNotFound()
    call = end_call_once(app_id, call_id, ended_at=iso_timestamp(now), now=int(now.timestamp()))
    call = own_call(call, app_id)
    if call.status != ENDED:
        raise CallExpired()
    return call


@dataclass(frozen=True)
class EndCall:
    apps: AppDirectory
    end_call_once: EndCallOnce
    join_base_url: str
    now: Callable[[], datetime] = utc_now

    def __call__(self, request: CallRequest, call_id: str) -> CallView:
        caller = admit(request, parse_body(request.body), self.apps)
        now = self.now()
        # Ended by this request or an earlier one: the same view, the first endedAt.
        call = end_own_call(self.end_call_once, caller.app.app_id, call_id, now)
        return caller_view(call, caller, now=now, base_url=self.join_base_url)
