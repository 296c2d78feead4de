"""Configuration from the environment, validated once and cached (never read at import time)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from calls import tables

DEFAULT_JOIN_BASE_URL = "https://video.apifycloud.io"
DEFAULT_RECORDINGS_BUCKET_NAME = "video-calls-recordings"
DEFAULT_RECORDING_RETENTION_DAYS = 30

# The longest chain of DynamoDB calls one request makes, one after the other: read the app,
# claim the Idempotency-Key, write the call, store the response for replays.
MAX_SEQUENTIAL_DYNAMODB_CALLS = 4


def worst_case_request_seconds(connect_timeout: float, read_timeout: float, max_attempts: int) -> float:
    """A request's DynamoDB time at its worst: every attempt of every call runs into both
    timeouts and every retry waits botocore's longest backoff (min(2 ** (retry - 1), 20) s).
    The Lambda timeout must exceed it, so a dead database answers 503, not a gateway timeout."""
    backoff = sum(min(int(2 ** (retry - 1)), 20) for retry in range(1, max_attempts))
    return MAX_SEQUENTIAL_DYNAMODB_CALLS * (max_attempts * (connect_timeout + read_timeout) + backoff)


class ConfigurationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    apps_table_name: str
    calls_table_name: str
    idempotency_table_name: str
    join_base_url: str
    call_ttl_seconds: int
    cache_ttl_seconds: float
    dynamodb_endpoint_url: str | None
    dynamodb_connect_timeout_seconds: float
    dynamodb_read_timeout_seconds: float
    dynamodb_max_attempts: int
    # Signs list cursors. Unset (the local run, tests): a random key for this process only.
    cursor_signing_key: bytes
    # The call page's signaling socket (docs/behaviour.md section 9.3), as the join answer names it.
    signaling_url: str
    # Signs the signaling tokens the join issues and the signaling function verifies; both must
    # read the same one. Unset: a random key for this process (the local run serves both in one).
    signaling_token_key: bytes
    # Recording (docs/behaviour.md section 10): the table, the bucket (RECORDINGS_BUCKET_NAME), an
    # S3-compatible endpoint instead of AWS's (S3_ENDPOINT_URL: the local run's), and how long a
    # recording is kept (the bucket's lifecycle rule says the same; the table's TTL follows it).
    recordings_table_name: str = tables.RECORDINGS.default_name
    recordings_bucket_name: str = DEFAULT_RECORDINGS_BUCKET_NAME
    s3_endpoint_url: str | None = None
    recording_retention_days: int = DEFAULT_RECORDING_RETENTION_DAYS


def _number(name: str, default: float, *, minimum: float, integer: bool = False) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


@functools.cache
def get_settings() -> Settings:
    join_base_url = os.environ.get("JOIN_BASE_URL", "").strip() or DEFAULT_JOIN_BASE_URL
    if not join_base_url.startswith(("https://", "http://")):
        raise ConfigurationError(f"JOIN_BASE_URL must be an http(s) URL, got {join_base_url!r}")
    return Settings(
        apps_table_name=tables.table_name(tables.APPS),
        calls_table_name=tables.table_name(tables.CALLS),
        idempotency_table_name=tables.table_name(tables.IDEMPOTENCY),
        join_base_url=join_base_url.rstrip("/"),
        call_ttl_seconds=int(_number("CALL_TTL_SECONDS", 86_400, minimum=60, integer=True)),
        cache_ttl_seconds=_number("CACHE_TTL_SECONDS", 30, minimum=0),
        dynamodb_endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL", "").strip() or None,
        dynamodb_connect_timeout_seconds=_number("DYNAMODB_CONNECT_TIMEOUT_SECONDS", 0.5, minimum=0.05),
        dynamodb_read_timeout_seconds=_number("DYNAMODB_READ_TIMEOUT_SECONDS", 1, minimum=0.05),
        dynamodb_max_attempts=int(_number("DYNAMODB_MAX_ATTEMPTS", 2, minimum=1, integer=True)),
        cursor_signing_key=_signing_key("CURSOR_SIGNING_KEY"),
        signaling_url=_signaling_url(join_base_url.rstrip("/")),
        signaling_token_key=_signing_key("SIGNALING_TOKEN_KEY"),
        recordings_table_name=tables.table_name(tables.RECORDINGS),
        recordings_bucket_name=os.environ.get("RECORDINGS_BUCKET_NAME", "").strip()
        or DEFAULT_RECORDINGS_BUCKET_NAME,
        s3_endpoint_url=_endpoint_url("S3_ENDPOINT_URL"),
        recording_retention_days=int(
            _number("RECORDING_RETENTION_DAYS", DEFAULT_RECORDING_RETENTION_DAYS, minimum=1, integer=True)
        ),
    )


def _endpoint_url(name: str) -> str | None:
    configured = os.environ.get(name, "").strip()
    if configured and not configured.startswith(("https://", "http://")):
        raise ConfigurationError(f"{name} must be an http(s) URL, got {configured!r}")
    return configured.rstrip("/") or None


def _signing_key(name: str) -> bytes:
    """A key of at least 32 characters from `name`; unset, a random one for this process only."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        import secrets

        return secrets.token_bytes(32)
    if len(raw) < 32:
        raise ConfigurationError(f"{name} must be at least 32 characters")
    return raw.encode("utf-8")


def _signaling_url(join_base_url: str) -> str:
    """SIGNALING_URL, else the join links' origin as a WebSocket URL: `{JOIN_BASE_URL}/ws` with
    http -> ws and https -> wss, where the page, the API and signaling share one origin."""
    configured = os.environ.get("SIGNALING_URL", "").strip()
    if configured:
        scheme, separator, rest = configured.partition("://")
        if scheme not in ("ws", "wss") or not separator or not rest.strip("/"):
            raise ConfigurationError(f"SIGNALING_URL must be a ws(s) URL, got {configured!r}")
        return configured.rstrip("/")
    scheme, rest = join_base_url.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws"
