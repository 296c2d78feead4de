"""Safe retries (docs/behaviour.md section 3): what an Idempotency-Key record holds and how a replay is
rebuilt from it. The decisions of when to claim, replay or refuse stay in create.py."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol
from urllib.parse import quote

from aws_lambda_powertools import Logger

from calls.access import Credentials
from calls.jsontext import dumps_exact, loads_exact
from calls.models import CreateCallRequest, PreviousAttempt, StoredResponse
from calls.telemetry import SERVICE_NAME

logger = Logger(service=SERVICE_NAME, child=True)

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
# How long a claimed key counts as "in progress" before a crashed attempt may be taken over;
# well above the Lambda timeout, so a live attempt is never taken over.
IDEMPOTENCY_IN_PROGRESS_SECONDS = 60
# Stands for the widget key in stored responses; a control character never appears raw in our JSON.
_STORED_KEY_MARKER = "\x1f"


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


# What a replay answers in hostKey mode. The call item keeps only the host key's digest, and the
# widget key that authenticates a replay lives in customers' browsers: it is public. Whoever holds
# it can rebuild another integration's Idempotency-Key and body (the Genesys panel's are derived
# from what `GET /api/calls` shows), so a replay that returned the host link would hand out the
# agent's credential of an existing call. A replay therefore answers without the host link and
# says so (`hostLinkWithheld`); the idempotency record never holds the host key at all. The
# caller that lost the first answer still has its call, and can end it and create another.
HOST_LINK_FIELDS = ("hostJoinUrl", "agentJoinUrl")
HOST_LINK_WITHHELD = "hostLinkWithheld"


def withhold_host_links(body: str) -> str:
    """The response without its host links, marked `hostLinkWithheld`; any other body unchanged."""
    envelope = loads_exact(body)
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(data, dict) or not any(name in data for name in HOST_LINK_FIELDS):
        return body
    for name in HOST_LINK_FIELDS:
        data.pop(name, None)
    data[HOST_LINK_WITHHELD] = True
    return dumps_exact(envelope)


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
    status: int, body: str, *, credentials: Credentials, host_links_withheld: bool
) -> StoredResponse:
    """The response as the idempotency record keeps it: never the widget key (put back on replay
    from the caller's credentials), and in hostKey mode no host link at all."""
    if host_links_withheld:
        body = withhold_host_links(body)
    return StoredResponse(
        status,
        body.replace(
            f"widgetKey={quote(credentials.widget_key, safe='')}", f"widgetKey={_STORED_KEY_MARKER}"
        ),
    )


def replayed_body(stored: StoredResponse, credentials: Credentials, *, host_links_withheld: bool) -> str:
    """The first response again, with the caller's own widget key; in hostKey mode (as the app is
    now, whatever it was then) without the host link."""
    body = stored.body.replace(_STORED_KEY_MARKER, quote(credentials.widget_key, safe=""))
    return withhold_host_links(body) if host_links_withheld else body


def release_quietly(records: IdempotencyRecords, record_id: str) -> None:
    try:
        records.release(record_id)
    except Exception:
        # The claim then expires by itself after IDEMPOTENCY_IN_PROGRESS_SECONDS.
        logger.exception("Could not release an Idempotency-Key after a failure")
