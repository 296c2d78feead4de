"""What one committed change sends: its events to the bus, and one delivery per (event,
subscribed endpoint of the event's app) to the delivery queue."""

from __future__ import annotations

from dataclasses import dataclass

from callevents.envelope import Change, Event, events_from_change
from callevents.messages import Delivery
from callevents.ports import DeliveryQueue, EventBus, WebhookDirectory


@dataclass(frozen=True)
class Outbox:
    bus: EventBus
    webhooks: WebhookDirectory
    queue: DeliveryQueue
    base_url: str  # the join links' base, for the call view's guestJoinUrl


@dataclass(frozen=True)
class Published:
    events: list[Event]
    deliveries: list[Delivery]


def publish_change(change: Change, outbox: Outbox) -> Published:
    """Send what `change` stands for. Raises if the bus or the queue refused: the stream record is
    then retried, and since ids and bodies derive from it, receivers see duplicates at worst."""
    events = events_from_change(change, base_url=outbox.base_url)
    if not events:
        return Published([], [])
    outbox.bus.publish(events)
    # One change is one call, so one app: its endpoints are read once.
    endpoints = outbox.webhooks.endpoints(events[0].app_id)
    deliveries = [
        Delivery.of(event, endpoint)
        for event in events
        for endpoint in endpoints
        if endpoint.wants(event.type)
    ]
    if deliveries:
        outbox.queue.send(deliveries)
    return Published(events, deliveries)
