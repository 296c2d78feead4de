"""The signaling function's configuration, read once from the environment (never at import).

Beside these, it reads the calls function's own settings (calls.settings): the DynamoDB
endpoint and timeouts, and SIGNALING_TOKEN_KEY, the key the join signs its tokens with.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from calls import tables
from calls.settings import ConfigurationError

# The management API answers in milliseconds or not at all: a post that hangs must not hold a
# relay, and a second attempt is all a frame is worth.
MANAGEMENT_CONNECT_TIMEOUT_SECONDS = 0.5
MANAGEMENT_READ_TIMEOUT_SECONDS = 1.0
MANAGEMENT_MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class SignalingSettings:
    connections_table_name: str
    calls_table_name: str
    # API Gateway's management endpoint for this API's connections (deployed:
    # https://{apiId}.execute-api.{region}.amazonaws.com/{stage}; the local run: its own).
    callback_url: str | None


@functools.cache
def get_signaling_settings() -> SignalingSettings:
    callback_url = os.environ.get("SIGNALING_CALLBACK_URL", "").strip().rstrip("/") or None
    if callback_url is not None and not callback_url.startswith(("https://", "http://")):
        raise ConfigurationError(f"SIGNALING_CALLBACK_URL must be an http(s) URL, got {callback_url!r}")
    return SignalingSettings(
        connections_table_name=tables.table_name(tables.CONNECTIONS),
        calls_table_name=tables.table_name(tables.CALLS),
        callback_url=callback_url,
    )
