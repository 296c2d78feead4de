"""Who is calling: credentials from the request, the app they open, and the browser origin.

Every app route admits its caller the same way, in the specified order (docs/behaviour.md
section 5.1): credentials (401/403), then origin (403).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from calls.errors import AppDisabled, OriginNotAllowed, Unauthorized
from calls.models import AppRecord, CallRecord
from calls.request import CallRequest, first_query_value

_NEGATIVE_CACHE_SECONDS = 5.0
_CACHE_MAX_ENTRIES = 1024
# The longest appId, widgetKey or hostKey worth a look, in characters. Issued ones are far shorter
# (app_ + 16 hex, wk_ + 43, 43); DynamoDB refuses a partition key over 2,048 bytes, and a value
# the caller controls must be refused as a 401 before it reaches the database, not become a 500.
MAX_CREDENTIAL_LENGTH = 256


@dataclass(frozen=True)
class Credentials:
    app_id: str
    widget_key: str


def _first_value(request: CallRequest, payload: Mapping[str, Any], header: str, name: str) -> str | None:
    """A credential from the first place that has it: header, query, body (strings only)."""
    from_body = payload.get(name)
    candidates = (
        request.headers.get(header),
        first_query_value(request.query, name),
        from_body if isinstance(from_body, str) else None,
    )
    return next((value for value in candidates if value), None)


def extract_credentials(request: CallRequest, payload: Mapping[str, Any]) -> Credentials:
    """Each of appId and widgetKey from the first place that has it: header, query, body."""
    app_id = _first_value(request, payload, "x-app-id", "appId")
    widget_key = _first_value(request, payload, "x-widget-key", "widgetKey")
    if not app_id or not widget_key or not within_bounds(app_id) or not within_bounds(widget_key):
        raise Unauthorized()
    return Credentials(app_id=app_id, widget_key=widget_key)


def presents_app_credentials(request: CallRequest, payload: Mapping[str, Any]) -> bool:
    """Whether the request carries an appId or a widgetKey anywhere, complete or not."""
    return any(
        _first_value(request, payload, header, name)
        for header, name in (("x-app-id", "appId"), ("x-widget-key", "widgetKey"))
    )


def within_bounds(credential: str) -> bool:
    return len(credential) <= MAX_CREDENTIAL_LENGTH


def widget_key_digest(widget_key: str) -> str:
    return hashlib.sha256(widget_key.encode("utf-8")).hexdigest()


# A host key is 256 random bits, URL-safe (secrets.token_urlsafe); the specification asks for 128 at least.
HOST_KEY_BYTES = 32


def new_host_key() -> str:
    """A call's own agent credential (hostKey mode): random, shown once, stored only as a digest."""
    import secrets

    return secrets.token_urlsafe(HOST_KEY_BYTES)


def host_key_digest(host_key: str) -> str:
    return hashlib.sha256(host_key.encode("utf-8")).hexdigest()


def host_key_matches(presented: str, digest: str | None) -> bool:
    """Digests compare in constant time; a call without a host key (widgetKey mode) matches none."""
    if digest is None:
        return False
    return hmac.compare_digest(host_key_digest(presented), digest)


def authenticate(credentials: Credentials, app: AppRecord | None) -> AppRecord:
    """Unknown app and wrong key look the same to the caller; digests compare in constant time."""
    presented = widget_key_digest(credentials.widget_key)
    matched = False
    for digest in app.key_digests if app else ():
        matched |= hmac.compare_digest(presented, digest)
    if app is None or not matched:
        raise Unauthorized()
    if not app.enabled:
        raise AppDisabled()
    return app


def check_origin(app: AppRecord, origin: str | None) -> None:
    """A browser's Origin must be one the app lists; no list, or no Origin (server to server), passes."""
    if origin is not None and app.allowed_origins and origin not in app.allowed_origins:
        raise OriginNotAllowed()


class AppDirectory:
    """Apps by id, through an in-memory cache whose entries live `ttl_seconds` at most.

    Unknown apps are remembered too, more briefly and apart, so that a flood of made-up ids
    neither becomes a flood of reads nor pushes a real app out: each kind has its own
    `_CACHE_MAX_ENTRIES`, evicted least recently used first. A ttl of 0 turns the cache off.
    """

    def __init__(
        self,
        load: Callable[[str], AppRecord | None],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._load = load
        self._ttl = ttl_seconds
        self._negative_ttl = min(ttl_seconds, _NEGATIVE_CACHE_SECONDS)
        self._clock = clock
        self._known: OrderedDict[str, tuple[float, AppRecord]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()

    def get(self, app_id: str) -> AppRecord | None:
        now = self._clock()
        known = self._known.get(app_id)
        if known is not None and known[0] > now:
            self._known.move_to_end(app_id)
            return known[1]
        unknown_until = self._unknown.get(app_id)
        if unknown_until is not None and unknown_until > now:
            self._unknown.move_to_end(app_id)
            return None
        app = self._load(app_id)
        self._known.pop(app_id, None)
        self._unknown.pop(app_id, None)
        if app is not None and self._ttl > 0:
            _remember(self._known, app_id, (now + self._ttl, app))
        elif app is None and self._negative_ttl > 0:
            _remember(self._unknown, app_id, now + self._negative_ttl)
        return app

    def clear(self) -> None:
        self._known.clear()
        self._unknown.clear()

    def __len__(self) -> int:
        """Entries held, known and unknown apps together."""
        return len(self._known) + len(self._unknown)


def _remember[V](entries: OrderedDict[str, V], app_id: str, value: V) -> None:
    entries[app_id] = value
    if len(entries) > _CACHE_MAX_ENTRIES:
        entries.popitem(last=False)


@dataclass(frozen=True)
class Caller:
    """An admitted caller: the credentials it presented and the app they opened."""

    credentials: Credentials
    app: AppRecord


def admit(request: CallRequest, payload: Mapping[str, Any], apps: AppDirectory) -> Caller:
    """Credentials (401/403), then the browser's origin (403), as every app route checks them."""
    credentials = extract_credentials(request, payload)
    app = authenticate(credentials, apps.get(credentials.app_id))
    check_origin(app, request.origin)
    return Caller(credentials=credentials, app=app)


def admit_host_key(host_key: str, call: CallRecord, apps: AppDirectory, *, refusal: str) -> AppRecord:
    """The agent of `call` by its host key (docs/behaviour.md section 6.2), whatever the app's mode now: a
    wrong key, a call without one (widgetKey mode) and a deleted app are 401 with `refusal`, a
    disabled app 403. The key is checked before the app is read."""
    if not within_bounds(host_key) or not host_key_matches(host_key, call.host_key_digest):
        raise Unauthorized(refusal)
    app = apps.get(call.app_id)
    if app is None:
        raise Unauthorized(refusal)
    if not app.enabled:
        raise AppDisabled()
    return app
