"""Webhook endpoints as stored: one item per app in the webhooks table, `endpoints` a map of
webhookId -> {url, secret, events, createdAt}. Shared by the functions (reading) and the
operator's store (writing), so both read the same shape."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from calls import tables

MAX_ENDPOINTS_PER_APP = 10
ENDPOINTS = tables.WEBHOOK_ENDPOINTS_ATTRIBUTE


@dataclass(frozen=True)
class Endpoint:
    webhook_id: str
    url: str
    # Empty: every event type.
    event_types: tuple[str, ...]
    created_at: str
    secret: str = field(repr=False)  # never printed, logged or listed

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


def new_webhook_id() -> str:
    return f"wh_{secrets.token_hex(8)}"


def endpoint_to_value(endpoint: Endpoint) -> dict[str, Any]:
    """One entry of the `endpoints` map, as a DynamoDB attribute value."""
    return {
        "M": {
            "url": {"S": endpoint.url},
            "secret": {"S": endpoint.secret},
            "events": {"L": [{"S": event_type} for event_type in endpoint.event_types]},
            "createdAt": {"S": endpoint.created_at},
        }
    }


def endpoint_from_value(webhook_id: str, value: dict[str, Any]) -> Endpoint:
    fields = value["M"]
    return Endpoint(
        webhook_id=webhook_id,
        url=fields["url"]["S"],
        event_types=tuple(item["S"] for item in fields.get("events", {}).get("L", [])),
        created_at=fields.get("createdAt", {}).get("S", ""),
        secret=fields["secret"]["S"],
    )


def endpoints_from_item(item: dict[str, Any] | None) -> list[Endpoint]:
    """An app's endpoints from its item (None: the app has none), in the order they were made."""
    if not item:
        return []
    found = [
        endpoint_from_value(webhook_id, value)
        for webhook_id, value in item.get(ENDPOINTS, {}).get("M", {}).items()
    ]
    return sorted(found, key=lambda endpoint: (endpoint.created_at, endpoint.webhook_id))
