"""POST /api/calls/{callId}/end: one conditional update, so racing ends record one endedAt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from calls.access import AppDirectory, admit
from calls.body import parse_body
from calls.errors import CallExpired, CallNotFound
from calls.models import CallRecord
from calls.read import is_call_id, own_call
from calls.request import CallRequest
from calls.view import ENDED, caller_view, iso_timestamp, utc_now


class EndCallOnce(Protocol):
    def __call__(self, app_id: str, call_id: str, *, ended_at: str, now: int) -> CallRecord | None:
        """End a live call of the app; return it as it stands afterwards, None when unknown."""


@dataclass(frozen=True)
class EndCall:
    apps: AppDirectory
    end_call_once: EndCallOnce
    join_base_url: str
    now: Callable[[], datetime] = utc_now

    def __call__(self, request: CallRequest, call_id: str) -> dict[str, Any]:
        caller = admit(request, parse_body(request.body), self.apps)
        if not is_call_id(call_id):
            raise CallNotFound()
        now = self.now()
        call = self.end_call_once(
            caller.app.app_id, call_id, ended_at=iso_timestamp(now), now=int(now.timestamp())
        )
        call = own_call(call, caller.app.app_id)
        # Ended by this request or an earlier one: the same view, the first endedAt.
        if call.status != ENDED:
            raise CallExpired()
        return caller_view(call, caller, now=now, base_url=self.join_base_url)
