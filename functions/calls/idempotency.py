"""Safe retries (contract section 3): what an Idempotency-Key record holds and how a replay is
rebuilt from it. The decisions of when to claim, replay or refuse stay in create.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Protocol
from urllib.parse import quote

from aws_lambda_powertools import Logger

from calls.access import Credentials
from calls.jsontext import dumps_exact
from calls.models import CreateCallRequest, PreviousAttempt, StoredResponse
from calls.service import SERVICE_NAME

logger = Logger(service=SERVICE_NAME, child=True)

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
# How long a claimed key counts as "in progress" before a crashed attempt may be taken over;
# well above the Lambda timeout, so a live attempt is never taken over.
IDEMPOTENCY_IN_PROGRESS_SECONDS = 60
# Stand for the widget key and the host key in stored responses; a control character never
# appears raw in our JSON.
_STORED_KEY_MARKER = "\x1f"
_STORED_HOST_KEY_MARKER = "\x1e"


class IdempotencyRecords(Protocol):
    def claim(
        self,
        record_id: str,
        app_id: str,
        request_hash: str,
        now: int,
        expires_at: int,
        in_progress_until: int,
    ) -> PreviousAttempt | None:
        """Take the key for this request, or return the attempt that holds it."""

    def complete(self, record_id: str, response: StoredResponse) -> None: ...

    def release(self, record_id: str) -> None: ...


def idempotency_record_id(app_id: str, idempotency_key: str) -> str:
    """Scoped to the app: two apps with the same key never meet."""
    return hashlib.sha256(f"{app_id}\n{idempotency_key}".encode()).hexdigest()


# Where the host key lives for a replay. A replay must return the same host link, but the call
# item keeps only the key's digest, so the key has to come back from the idempotency record, and
# that record must not be a usable host link by itself (a backup, an export, a reader of that one
# table). It is kept sealed: XORed with an HMAC-SHA256 keystream keyed by the caller's
# Idempotency-Key and app, and a random nonce stored beside it (no two seals share a keystream).
# The Idempotency-Key is never stored: the record's id is a plain SHA-256 of app and key, a
# different function from the sealing key's, so the table holds no way back to it. A replay
# presents that key anyway, so it can always unseal. Not sealed against a writer of the table,
# who could rewrite the stored body outright.
# Not chosen: deriving each host key by HMAC from a server secret would store nothing, but that
# one secret would then mint the host key of any call from its id, which every guest link shows,
# and be one more secret to deploy and rotate.
# The limit: the seal is as strong as the Idempotency-Key is hard to guess (the record id lets a
# reader of the table test guesses offline), so integrations should send random keys (UUIDs).
_SEAL_NONCE_BYTES = 16


def _seal_keystream(app_id: str, idempotency_key: str, nonce: bytes) -> bytes:
    sealing_key = hmac.new(
        idempotency_key.encode("utf-8"), b"video-calls host-key seal v1\n" + app_id.encode("utf-8"), "sha256"
    ).digest()
    return hmac.new(sealing_key, nonce, "sha256").digest()


def seal_host_key(host_key: str, app_id: str, idempotency_key: str) -> str:
    import secrets

    raw = base64.urlsafe_b64decode(host_key + "=" * (-len(host_key) % 4))
    nonce = secrets.token_bytes(_SEAL_NONCE_BYTES)
    stream = _seal_keystream(app_id, idempotency_key, nonce)
    sealed = bytes(a ^ b for a, b in zip(raw, stream, strict=True))
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_sealed_host_key(sealed: str, app_id: str, idempotency_key: str) -> str:
    data = base64.urlsafe_b64decode(sealed)
    nonce, body = data[:_SEAL_NONCE_BYTES], data[_SEAL_NONCE_BYTES:]
    stream = _seal_keystream(app_id, idempotency_key, nonce)
    raw = bytes(a ^ b for a, b in zip(body, stream, strict=True))
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def request_fingerprint(requested: CreateCallRequest) -> str:
    """The request as validated (body fields and the query's genesys fields), not its spelling."""
    canonical = _sorted_keys(requested.model_dump(exclude_none=True))
    return hashlib.sha256(dumps_exact(canonical).encode("utf-8")).hexdigest()


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def response_to_store(
    status: int,
    body: str,
    *,
    credentials: Credentials,
    host_key: str | None,
    app_id: str,
    idempotency_key: str,
) -> StoredResponse:
    """The response as the idempotency record keeps it: never the widget key (put back on replay
    from the caller's credentials), and the host key only sealed (see seal_host_key)."""
    if host_key is not None:
        return StoredResponse(
            status,
            body.replace(f"hostKey={quote(host_key, safe='')}", f"hostKey={_STORED_HOST_KEY_MARKER}"),
            sealed_host_key=seal_host_key(host_key, app_id, idempotency_key),
        )
    return StoredResponse(
        status,
        body.replace(
            f"widgetKey={quote(credentials.widget_key, safe='')}", f"widgetKey={_STORED_KEY_MARKER}"
        ),
    )


def replayed_body(stored: StoredResponse, credentials: Credentials, app_id: str, idempotency_key: str) -> str:
    if stored.sealed_host_key is not None:
        host_key = open_sealed_host_key(stored.sealed_host_key, app_id, idempotency_key)
        return stored.body.replace(_STORED_HOST_KEY_MARKER, quote(host_key, safe=""))
    return stored.body.replace(_STORED_KEY_MARKER, quote(credentials.widget_key, safe=""))


def release_quietly(records: IdempotencyRecords, record_id: str) -> None:
    try:
        records.release(record_id)
    except Exception:
        # The claim then expires by itself after IDEMPOTENCY_IN_PROGRESS_SECONDS.
        logger.exception("Could not release an Idempotency-Key after a failure")
