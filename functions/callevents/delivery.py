"""One delivery attempt: read the endpoint as it is now, check where it points, sign, POST, and
decide what a failure means (when to try again)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from callevents import retry, sender
from callevents.destinations import DestinationPolicy, RefusedDestination
from callevents.endpoints import Endpoint
from callevents.envelope import WEBHOOK_TEST, Event
from callevents.messages import Delivery
from callevents.ports import RetryQueue, WebhookDirectory
from callevents.signing import signed_headers

Post = Callable[..., sender.Answer]

DELIVERED, DROPPED, FAILED = "delivered", "dropped", "failed"


@dataclass(frozen=True)
class Courier:
    webhooks: WebhookDirectory
    retries: RetryQueue
    policy: DestinationPolicy
    timeout_seconds: float
    excerpt_characters: int = 200
    clock: Callable[[], float] = time.time
    post: Post = field(default=sender.post)


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to; its fields are safe to log (no secret, no URL path or query)."""

    result: str  # delivered, dropped (nothing to send any more) or failed
    event_id: str
    webhook_id: str
    attempt: int
    status: int | None = None
    excerpt: str = ""
    reason: str = ""
    retry_in_seconds: int | None = None
    host: str = ""

    def log_fields(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if value not in (None, "")}


class DeliveryFailed(Exception):
    """The attempt failed; the queue brings the message back (or, after the last, dead-letters it)."""

    def __init__(self, outcome: Outcome):
        super().__init__(f"delivery {outcome.event_id} to {outcome.webhook_id} failed: {outcome.reason}")
        self.outcome = outcome


def deliver(delivery: Delivery, *, attempt: int, receipt_handle: str, courier: Courier) -> Outcome:
    """Attempt `attempt` (1-based) of one delivery. Returns when there is nothing more to do;
    raises DeliveryFailed after asking the queue to bring the message back per the schedule."""
    outcome = functools.partial(
        Outcome, event_id=delivery.event_id, webhook_id=delivery.webhook_id, attempt=attempt
    )
    endpoint = courier.webhooks.endpoint(delivery.app_id, delivery.webhook_id)
    if endpoint is None:
        return outcome(DROPPED, reason="the endpoint was removed")
    if delivery.event_type != WEBHOOK_TEST and not endpoint.wants(delivery.event_type):
        return outcome(DROPPED, reason="the endpoint no longer subscribes to this type")
    answer = attempt_once(endpoint, delivery.event_id, delivery.body, courier)
    host = urlsplit(endpoint.url).hostname or ""
    if answer.delivered:
        return outcome(DELIVERED, status=answer.status, excerpt=answer.excerpt, host=host)
    delay = retry.delay_after_attempt(attempt)
    if delay is not None:
        courier.retries.retry_later(receipt_handle, delay)
    raise DeliveryFailed(
        outcome(
            FAILED,
            status=answer.status,
            excerpt=answer.excerpt,
            reason=answer.error or f"the receiver answered {answer.status}",
            retry_in_seconds=delay,
            host=host,
        )
    )


def attempt_once(endpoint: Endpoint, message_id: str, body: str, courier: Courier) -> sender.Answer:
    """Check the URL now (DNS may have changed since it was added), sign with the current secret, POST."""
    try:
        destination = courier.policy.check(endpoint.url)
    except RefusedDestination as refused:
        return sender.Answer(None, "", error=f"refused: {refused}")
    timestamp = int(courier.clock())
    headers = signed_headers(endpoint.secret, message_id, timestamp, body)
    return courier.post(
        destination,
        body.encode("utf-8"),
        headers,
        timeout=courier.timeout_seconds,
        excerpt_limit=courier.excerpt_characters,
    )


def probe_event(app_id: str, webhook_id: str, *, now: datetime | None = None) -> Event:
    """The `webhook.test` event `callsctl webhooks test` sends: a fresh id every time."""
    import secrets

    from calls.view import iso_timestamp

    moment = now or datetime.now(UTC)
    return Event(
        id=f"evt_test_{secrets.token_hex(12)}",
        type=WEBHOOK_TEST,
        created_at=iso_timestamp(moment),
        app_id=app_id,
        data={"webhookId": webhook_id},
    )
