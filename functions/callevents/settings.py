"""The events and delivery functions' configuration, read once from the environment."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from calls import tables
from calls.settings import ConfigurationError

DELIVERY_TIMEOUT_SECONDS = 10.0
# How much of a receiver's answer a log line may carry.
RESPONSE_EXCERPT_CHARACTERS = 200


@dataclass(frozen=True)
class EventSettings:
    webhooks_table_name: str
    event_bus_name: str
    delivery_queue_url: str
    delivery_timeout_seconds: float


@functools.cache
def get_event_settings() -> EventSettings:
    raw_timeout = os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "").strip()
    try:
        timeout = float(raw_timeout) if raw_timeout else DELIVERY_TIMEOUT_SECONDS
    except ValueError:
        raise ConfigurationError(f"WEBHOOK_TIMEOUT_SECONDS must be a number, got {raw_timeout!r}") from None
    if not 0 < timeout <= DELIVERY_TIMEOUT_SECONDS:
        raise ConfigurationError(
            f"WEBHOOK_TIMEOUT_SECONDS must be above 0 and at most {DELIVERY_TIMEOUT_SECONDS:g}"
        )
    return EventSettings(
        webhooks_table_name=tables.table_name(tables.WEBHOOKS),
        event_bus_name=os.environ.get("EVENT_BUS_NAME", "").strip(),
        delivery_queue_url=os.environ.get("DELIVERY_QUEUE_URL", "").strip(),
        delivery_timeout_seconds=timeout,
    )
