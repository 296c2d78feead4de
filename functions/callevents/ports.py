"""What the events and delivery code needs from the outside world. The functions get the AWS
implementations (callevents.adapters); the local run passes its in-process ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from callevents.endpoints import Endpoint
from callevents.envelope import Event
from callevents.messages import Delivery


class WebhookDirectory(Protocol):
    def endpoints(self, app_id: str) -> list[Endpoint]: ...

    def endpoint(self, app_id: str, webhook_id: str) -> Endpoint | None: ...


class EventBus(Protocol):
    def publish(self, events: Sequence[Event]) -> None: ...


class DeliveryQueue(Protocol):
    def send(self, deliveries: Sequence[Delivery]) -> None: ...


class RetryQueue(Protocol):
    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        """Make the received message visible again in `delay_seconds` (SQS: its visibility timeout)."""
        ...
