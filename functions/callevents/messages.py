"""A delivery: one event for one endpoint, as it travels on the delivery queue.

It carries the body, so every attempt sends the same bytes under the same webhook-id; it
carries no secret and no URL: the delivery reads the endpoint when it runs, so a rotated
secret applies at once and a removed endpoint gets nothing more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from callevents.endpoints import Endpoint
from callevents.envelope import Event


@dataclass(frozen=True)
class Delivery:
    event_id: str
    event_type: str
    app_id: str
    webhook_id: str
    body: str

    @classmethod
    def of(cls, event: Event, endpoint: Endpoint) -> Delivery:
        return cls(event.id, event.type, event.app_id, endpoint.webhook_id, event.body())

    def to_message(self) -> str:
        return json.dumps(
            {
                "eventId": self.event_id,
                "eventType": self.event_type,
                "appId": self.app_id,
                "webhookId": self.webhook_id,
                "body": self.body,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_message(cls, text: str) -> Delivery:
        data = json.loads(text)
        return cls(data["eventId"], data["eventType"], data["appId"], data["webhookId"], data["body"])
