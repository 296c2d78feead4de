"""POST /api/calls/{callId}/end: one conditional update, so racing ends record one endedAt.

The app's credentials end any of its calls, as on every app route (credentials, then origin).
The agent credential of a host-key link ends its own call too (docs/behaviour.md section 9.3), so
that the call page of such a link can end the call for everyone: `hostKey` in the query or the
body, considered only when the request carries no appId or widgetKey (a request with the app's
credentials is judged by them, exactly as before). Like the join it comes from the page on the
join links' origin, so `allowedOrigins` does not apply; it costs a GetItem of the call before the
update, the call being what the key is checked against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from calls.access import AppDirectory, admit, admit_host_key, presents_app_credentials
from calls.body import parse_body
from calls.errors import CallExpired, CallNotFound, Unauthorized
from calls.models import CallRecord
from calls.read import is_call_id, own_call
from calls.request import CallRequest, first_query_value
from calls.view import ENDED, call_view, caller_view, iso_timestamp, utc_now

if TYPE_CHECKING:
    from calls.responses import CallView

# One message for every refused host key, whatever was wrong with it.
_HOST_KEY_REFUSED = "Ending this call needs its hostKey, or the appId and widgetKey of its app."


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


def presented_host_key(request: CallRequest, payload: Mapping[str, Any]) -> str | None:
    """`hostKey` from the query string, else the body; an empty value, or one that is not a
    string, is no host key (the body is read for credentials only, as for appId and widgetKey)."""
    from_body = payload.get("hostKey")
    return first_query_value(request.query, "hostKey") or (
        from_body if isinstance(from_body, str) and from_body else None
    )


@dataclass(frozen=True)
class EndCall:
    apps: AppDirectory
    end_call_once: EndCallOnce
    join_base_url: str
    now: Callable[[], datetime] = utc_now
    get_call: Callable[[str], CallRecord | None] = field(kw_only=True)

    def __call__(self, request: CallRequest, call_id: str) -> CallView:
        payload = parse_body(request.body)
        host_key = presented_host_key(request, payload)
        if host_key is not None and not presents_app_credentials(request, payload):
            return self._end_by_host_key(host_key, call_id)
        caller = admit(request, payload, self.apps)
        now = self.now()
        # Ended by this request or an earlier one: the same view, the first endedAt.
        call = end_own_call(self.end_call_once, caller.app.app_id, call_id, now)
        return caller_view(call, caller, now=now, base_url=self.join_base_url)

    def _end_by_host_key(self, host_key: str, call_id: str) -> CallView:
        """The key first, as every app route checks credentials first: a key that opens no call
        (a wrong one, another call's, one for an id that names no call) is 401, then its app
        (401 gone, 403 disabled); then the end itself, as the app's credentials would end it. The
        view has no host link: it is shown once, on create."""
        call = self.get_call(call_id) if is_call_id(call_id) else None
        if call is None:
            raise Unauthorized(_HOST_KEY_REFUSED)
        admit_host_key(host_key, call, self.apps, refusal=_HOST_KEY_REFUSED)
        now = self.now()
        ended = end_own_call(self.end_call_once, call.app_id, call_id, now)
        return call_view(ended, now=now, base_url=self.join_base_url)
