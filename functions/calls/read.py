"""GET /api/calls/{callId}: one call of the caller's app, in one GetItem."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from calls.access import AppDirectory, admit
from calls.errors import CallNotFound
from calls.models import CallRecord
from calls.request import CallRequest
from calls.view import caller_view, utc_now

# Call ids are issued as str(uuid4()): anything else names no call, and costs no read.
_CALL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def is_call_id(call_id: str) -> bool:
    return _CALL_ID.fullmatch(call_id) is not None


def own_call(call: CallRecord | None, app_id: str) -> CallRecord:
    """The call if it is the app's. Unknown and another app's look the same to the caller."""
    if call is None or call.app_id != app_id:
        raise CallNotFound()
    return call


@dataclass(frozen=True)
class ReadCall:
    apps: AppDirectory
    get_call: Callable[[str], CallRecord | None]
    join_base_url: str
    now: Callable[[], datetime] = utc_now

    def __call__(self, request: CallRequest, call_id: str) -> dict[str, Any]:
        caller = admit(request, {}, self.apps)
        if not is_call_id(call_id):
            raise CallNotFound()
        call = own_call(self.get_call(call_id), caller.app.app_id)
        return caller_view(call, caller, now=self.now(), base_url=self.join_base_url)
