"""The AWS adapters of the events and delivery functions, behind callevents.ports: the webhooks
table, the event bus and the delivery queue. Every AWS call of these functions is here.

Clients come from botocore directly, with short timeouts and bounded retries, as the API's do.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from calls.settings import get_settings

from callevents.endpoints import ENDPOINTS, Endpoint, endpoint_from_value, endpoints_from_item
from callevents.envelope import EVENT_SOURCE, Event
from callevents.messages import Delivery
from callevents.settings import get_event_settings

PUT_EVENTS_BATCH = 10
SEND_MESSAGE_BATCH = 10


class PublishFailed(RuntimeError):
    """Some entries were refused; the stream record is retried (its event ids stay the same)."""


def client(service: str) -> Any:
    from botocore.config import Config
    from botocore.session import get_session

    settings = get_settings()
    config = Config(
        connect_timeout=settings.dynamodb_connect_timeout_seconds,
        read_timeout=max(settings.dynamodb_read_timeout_seconds, 2),
        retries={"total_max_attempts": 3, "mode": "standard"},
        tcp_keepalive=True,
    )
    endpoint = settings.dynamodb_endpoint_url if service == "dynamodb" else None
    return get_session().create_client(service, endpoint_url=endpoint, config=config)


class DynamoDBWebhookDirectory:
    def __init__(self, dynamodb: Any, table_name: str):
        self._client = dynamodb
        self._table_name = table_name

    def endpoints(self, app_id: str) -> list[Endpoint]:
        found = self._client.get_item(
            TableName=self._table_name, Key={"appId": {"S": app_id}}, ConsistentRead=True
        )
        return endpoints_from_item(found.get("Item"))

    def endpoint(self, app_id: str, webhook_id: str) -> Endpoint | None:
        found = self._client.get_item(
            TableName=self._table_name,
            Key={"appId": {"S": app_id}},
            ProjectionExpression="#endpoints.#id",
            ExpressionAttributeNames={"#endpoints": ENDPOINTS, "#id": webhook_id},
            ConsistentRead=True,
        )
        value = found.get("Item", {}).get(ENDPOINTS, {}).get("M", {}).get(webhook_id)
        return endpoint_from_value(webhook_id, value) if value else None


class EventBridgeBus:
    def __init__(self, events: Any, bus_name: str):
        self._client = events
        self._bus_name = bus_name

    def publish(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), PUT_EVENTS_BATCH):
            entries = [
                {
                    "EventBusName": self._bus_name,
                    "Source": EVENT_SOURCE,
                    "DetailType": event.type,
                    "Detail": event.body(),
                    "Resources": [],
                }
                for event in events[start : start + PUT_EVENTS_BATCH]
            ]
            answer = self._client.put_events(Entries=entries)
            if answer.get("FailedEntryCount"):
                raise PublishFailed(f"EventBridge refused {answer['FailedEntryCount']} event(s)")


class SqsDeliveryQueue:
    def __init__(self, sqs: Any, queue_url: str):
        self._client = sqs
        self._queue_url = queue_url

    def send(self, deliveries: Sequence[Delivery]) -> None:
        for start in range(0, len(deliveries), SEND_MESSAGE_BATCH):
            batch = deliveries[start : start + SEND_MESSAGE_BATCH]
            answer = self._client.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": delivery.to_message()}
                    for index, delivery in enumerate(batch)
                ],
            )
            if answer.get("Failed"):
                raise PublishFailed(f"SQS refused {len(answer['Failed'])} deliveries")

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        self._client.change_message_visibility(
            QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay_seconds
        )


@functools.cache
def get_webhook_directory() -> DynamoDBWebhookDirectory:
    return DynamoDBWebhookDirectory(client("dynamodb"), get_event_settings().webhooks_table_name)


@functools.cache
def get_event_bus() -> EventBridgeBus:
    return EventBridgeBus(client("events"), get_event_settings().event_bus_name)


@functools.cache
def get_delivery_queue() -> SqsDeliveryQueue:
    return SqsDeliveryQueue(client("sqs"), get_event_settings().delivery_queue_url)
