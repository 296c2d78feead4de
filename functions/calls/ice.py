"""The ICE servers a join answer hands the call page: STUN, and TURN with credentials that expire.

Roughly one call in five connects no media without a relay (callers behind symmetric NATs and
strict firewalls), so a deployed stack hands out TURN. One of three sources, by configuration:

- `kinesis` (the stack's default): Amazon Kinesis Video Streams' managed TURN. Its credentials
  come from `GetIceServerConfig` on a signaling channel the stack creates, valid 300 s, and that
  call has a per-channel rate quota: each container keeps what it fetched until it has less than
  a minute left, and spreads its fetches over the channels it is given.
- `turn-rest`: any TURN server that takes the TURN REST API's shared secret (coturn's
  `use-auth-secret`): username `{expiry}:{callId}-{role}`, credential the base64 HMAC-SHA1 of the
  username, made here with no request at all.
- `static`: the servers configured as they are (the local run's `[]`: loopback needs no TURN).

A source that fails (throttled, timed out) never fails the join: the page gets STUN alone, and
the log says why.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from calls.telemetry import SERVICE_NAME

logger = Logger(service=SERVICE_NAME, child=True)

IceServer = dict[str, Any]  # RTCIceServer: {"urls": [...], "username"?, "credential"?}

KINESIS, TURN_REST, STATIC = "kinesis", "turn-rest", "static"
PROVIDERS = (KINESIS, TURN_REST, STATIC)
# Kinesis Video's TURN credentials live 300 s; hand them out while at least this much is left.
KINESIS_MIN_REMAINING_SECONDS = 60
# The TURN REST API's credentials: at most a day (a call lasts no longer than its record).
TURN_REST_MAX_TTL_SECONDS = 24 * 3600


class IceConfigurationError(ValueError):
    pass


class IceServers(Protocol):
    def __call__(self, call_id: str, role: str) -> list[IceServer]:
        """The servers for one participant of one call."""


def kinesis_stun(region: str) -> IceServer:
    """Kinesis Video's STUN server of the region (it needs no credential and no request)."""
    return {"urls": [f"stun:stun.kinesisvideo.{region}.amazonaws.com:443"]}


# The TURN REST API's shared secret (coturn use-auth-secret)


@dataclass(frozen=True)
class TurnRestServers:
    urls: tuple[str, ...]
    shared_secret: bytes = field(repr=False)
    ttl_seconds: int
    stun: tuple[IceServer, ...] = ()
    clock: Callable[[], float] = time.time

    def __call__(self, call_id: str, role: str) -> list[IceServer]:
        expiry = int(self.clock()) + self.ttl_seconds
        username = f"{expiry}:{call_id}-{role}"
        digest = hmac.new(self.shared_secret, username.encode("utf-8"), hashlib.sha1).digest()
        credential = base64.b64encode(digest).decode("ascii")
        return [*self.stun, {"urls": list(self.urls), "username": username, "credential": credential}]


# Kinesis Video Streams' managed TURN


class KinesisSignaling(Protocol):
    """The two Kinesis Video calls a refresh makes (calls.kinesis_video.KinesisVideoSignaling)."""

    def https_endpoint(self, channel_arn: str) -> str: ...

    def ice_server_config(self, channel_arn: str, endpoint: str) -> list[dict[str, Any]]:
        """GetIceServerConfig's IceServerList: [{Uris, Username, Password, Ttl}]."""


@dataclass
class KinesisTurnServers:
    channel_arns: tuple[str, ...]
    signaling: KinesisSignaling
    region: str
    clock: Callable[[], float] = time.monotonic
    choose: Callable[[Sequence[str]], str] = random.choice
    _endpoints: dict[str, str] = field(default_factory=dict)
    _cached: tuple[float, list[IceServer]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, call_id: str, role: str) -> list[IceServer]:
        stun = kinesis_stun(self.region)
        with self._lock:
            now = self.clock()
            if self._cached is None or self._cached[0] - now < KINESIS_MIN_REMAINING_SECONDS:
                try:
                    self._cached = self._fetch(now)
                except Exception as error:
                    logger.warning(
                        "No TURN credentials from Kinesis Video: STUN only",
                        extra={"reason": f"{error.__class__.__name__}: {error}"[:300]},
                    )
                    return [stun]
            turn = self._cached[1]
        return [stun, *turn]

    def _fetch(self, now: float) -> tuple[float, list[IceServer]]:
        channel = self.choose(self.channel_arns)
        endpoint = self._endpoints.get(channel)
        if endpoint is None:
            endpoint = self._endpoints[channel] = self.signaling.https_endpoint(channel)
        found = self.signaling.ice_server_config(channel, endpoint)
        servers = [
            {"urls": list(server["Uris"]), "username": server["Username"], "credential": server["Password"]}
            for server in found
            if server.get("Uris") and server.get("Username") and server.get("Password")
        ]
        if not servers:
            raise LookupError("GetIceServerConfig answered no usable TURN server")
        lifetime = min(int(server.get("Ttl", 300)) for server in found)
        return now + lifetime, servers


@dataclass(frozen=True)
class StaticServers:
    servers: tuple[IceServer, ...]

    def __call__(self, call_id: str, role: str) -> list[IceServer]:
        return [dict(server) for server in self.servers]


# Configuration


@dataclass(frozen=True)
class IceSettings:
    provider: str
    static_servers: tuple[IceServer, ...]
    kinesis_channel_arns: tuple[str, ...]
    turn_urls: tuple[str, ...]
    turn_shared_secret: bytes = field(repr=False)
    turn_ttl_seconds: int
    region: str


def ice_settings(environ: os._Environ[str] | dict[str, str] = os.environ) -> IceSettings:
    """ICE_PROVIDER (static, kinesis, turn-rest) and what each needs, checked at once."""
    provider = environ.get("ICE_PROVIDER", "").strip() or STATIC
    if provider not in PROVIDERS:
        raise IceConfigurationError(f"ICE_PROVIDER must be one of {', '.join(PROVIDERS)}, got {provider!r}")
    settings = IceSettings(
        provider=provider,
        static_servers=_static_servers(environ.get("ICE_SERVERS", "").strip() or "[]"),
        kinesis_channel_arns=_words(environ.get("KINESIS_SIGNALING_CHANNEL_ARNS", "")),
        turn_urls=_words(environ.get("TURN_URLS", "")),
        turn_shared_secret=environ.get("TURN_SHARED_SECRET", "").strip().encode("utf-8"),
        turn_ttl_seconds=_ttl(environ.get("TURN_TTL_SECONDS", "").strip()),
        region=environ.get("AWS_REGION", "").strip() or environ.get("AWS_DEFAULT_REGION", "").strip(),
    )
    if provider == KINESIS and not (settings.kinesis_channel_arns and settings.region):
        raise IceConfigurationError(
            "ICE_PROVIDER=kinesis needs KINESIS_SIGNALING_CHANNEL_ARNS and AWS_REGION"
        )
    if provider == TURN_REST:
        if not settings.turn_urls or any(
            not url.startswith(("turn:", "turns:")) for url in settings.turn_urls
        ):
            raise IceConfigurationError("ICE_PROVIDER=turn-rest needs TURN_URLS of turn: or turns: URLs")
        if len(settings.turn_shared_secret) < 16:
            raise IceConfigurationError(
                "ICE_PROVIDER=turn-rest needs TURN_SHARED_SECRET (16 characters or more)"
            )
    return settings


def _words(text: str) -> tuple[str, ...]:
    return tuple(word for word in (part.strip() for part in text.split(",")) if word)


def _ttl(raw: str) -> int:
    if not raw:
        return 12 * 3600
    try:
        value = int(raw)
    except ValueError:
        raise IceConfigurationError(f"TURN_TTL_SECONDS must be a whole number, got {raw!r}") from None
    if not 60 <= value <= TURN_REST_MAX_TTL_SECONDS:
        raise IceConfigurationError(f"TURN_TTL_SECONDS must be between 60 and {TURN_REST_MAX_TTL_SECONDS}")
    return value


def _static_servers(text: str) -> tuple[IceServer, ...]:
    """ICE_SERVERS: a JSON array in RTCConfiguration.iceServers' shape."""
    try:
        servers = json.loads(text)
    except ValueError:
        raise IceConfigurationError("ICE_SERVERS must be a JSON array of ICE servers") from None
    if not isinstance(servers, list) or not all(_is_ice_server(server) for server in servers):
        raise IceConfigurationError('ICE_SERVERS must be a JSON array of {"urls": [...]} objects')
    return tuple(servers)


def _is_ice_server(server: Any) -> bool:
    if not isinstance(server, dict):
        return False
    urls = server.get("urls")
    urls = [urls] if isinstance(urls, str) else urls
    return (
        isinstance(urls, list)
        and bool(urls)
        and all(isinstance(url, str) and url.startswith(("stun:", "turn:", "turns:")) for url in urls)
        and all(isinstance(server.get(name, ""), str) for name in ("username", "credential"))
    )


def ice_servers_from(settings: IceSettings, kinesis: Callable[[], KinesisSignaling]) -> IceServers:
    """The source the settings name; `kinesis` builds the Kinesis Video adapter when needed."""
    if settings.provider == KINESIS:
        return KinesisTurnServers(settings.kinesis_channel_arns, kinesis(), settings.region)
    if settings.provider == TURN_REST:
        return TurnRestServers(
            settings.turn_urls,
            settings.turn_shared_secret,
            settings.turn_ttl_seconds,
            stun=settings.static_servers,
        )
    return StaticServers(settings.static_servers)
