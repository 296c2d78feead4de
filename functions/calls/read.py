"""GET /api/calls/{callId}: one call of the caller's app, in one GetItem."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from calls.access import AppDirectory, admit
from calls.errors import CallNotFound
from calls.models import CallRecord
from calls.request import CallRequest
from calls.view import caller_view, utc_now

if TYPE_CHECKING:
    from calls.responses import CallView

# Call ids are issued as str(uuid4()): anything else names no call, and costs no read.
_CALL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def is_call_id(call_id: str) -> bool:
    return _CALL_ID.fullmatch(call_id) is not None


def own_call(call: CallRecord | None, app_id: str) -> CallRecord:
    """The call if it is the app's. Unknown and another app's look the same to the caller."""
    if call is None or call.app_id != app_id:
        raise CallNotFound()
    return call


def read_own_call(get_call: Callable[[str], CallRecord | None], app_id: str, call_id: str) -> CallRecord:
    """The app's call, in one read; CallNotFound for an id that names none of the app's calls.
    The route's decisions once the caller is admitted, shared with the operator's `callsctl`."""
    if not is_call_id(call_id):
        raise CallNotFound()
    return own_call(get_call(call_id), app_id)


@dataclass(frozen=True)
class ReadCall:
    apps: AppDirectory
    get_call: Callable[[str], CallRecord | None]
    join_base_url: str
    now: Callable[[], datetime] = utc_now

    def __call__(self, request: CallRequest, call_id: str) -> CallView:
        caller = admit(request, {}, self.apps)
        call = read_own_call(self.get_call, caller.app.app_id, call_id)
        return caller_view(call, caller, now=self.now(), base_url=self.join_base_url)
