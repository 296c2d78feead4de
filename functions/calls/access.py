"""Who is calling: credentials from the request, the app they open, and the browser origin.

Every app route admits its caller the same way, in the contract's order: credentials
(401/403), then origin (403).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from calls.errors import AppDisabled, OriginNotAllowed, Unauthorized
from calls.models import AppRecord
from calls.request import CallRequest, first_query_value

_NEGATIVE_CACHE_SECONDS = 5.0
_CACHE_MAX_ENTRIES = 1024


@dataclass(frozen=True)
class Credentials:
    app_id: str
    widget_key: str


def extract_credentials(request: CallRequest, payload: Mapping[str, Any]) -> Credentials:
    """Each of appId and widgetKey from the first place that has it: header, query, body."""

    def first(header: str, name: str) -> str | None:
        from_body = payload.get(name)
        candidates = (
            request.headers.get(header),
            first_query_value(request.query, name),
            from_body if isinstance(from_body, str) else None,
        )
        return next((value for value in candidates if value), None)

    app_id = first("x-app-id", "appId")
    widget_key = first("x-widget-key", "widgetKey")
    if not app_id or not widget_key:
        raise Unauthorized()
    return Credentials(app_id=app_id, widget_key=widget_key)


def widget_key_digest(widget_key: str) -> str:
    return hashlib.sha256(widget_key.encode("utf-8")).hexdigest()


# A host key is 256 random bits, URL-safe (secrets.token_urlsafe); the contract asks for 128 at least.
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

    Unknown apps are remembered too, more briefly, so that a flood of made-up ids
    does not become a flood of reads. A ttl of 0 turns the cache off.
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
        self._entries: dict[str, tuple[float, AppRecord | None]] = {}

    def get(self, app_id: str) -> AppRecord | None:
        now = self._clock()
        cached = self._entries.get(app_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        app = self._load(app_id)
        ttl = self._ttl if app is not None else self._negative_ttl
        if ttl > 0:
            self._entries.pop(app_id, None)
            if len(self._entries) >= _CACHE_MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
            self._entries[app_id] = (now + ttl, app)
        return app

    def clear(self) -> None:
        self._entries.clear()


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
