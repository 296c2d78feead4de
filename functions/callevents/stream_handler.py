"""Lambda entry point for the calls table's stream: each record becomes its events (on the bus)
and their deliveries (on the queue). Partial failures go back to the stream per record."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from calls.telemetry import SERVICE_NAME

from callevents.envelope import change_from_stream_record
from callevents.fanout import Outbox, publish_change

logger = Logger(service=SERVICE_NAME)


@functools.cache
def get_outbox() -> Outbox:
    from calls.settings import get_settings

    from callevents.adapters import get_delivery_queue, get_event_bus, get_webhook_directory

    return Outbox(
        bus=get_event_bus(),
        webhooks=get_webhook_directory(),
        queue=get_delivery_queue(),
        base_url=get_settings().join_base_url,
    )


def handle(
    event: dict[str, Any], context: LambdaContext | None, outbox: Outbox
) -> PartialItemFailureResponse:
    """The whole batch with `outbox`: the function's AWS one, or the local run's in-process one."""

    def record_handler(record: DynamoDBRecord) -> None:
        change = change_from_stream_record(record.raw_event)
        published = publish_change(change, outbox)
        for sent in published.events:
            # Each line correlates with its event (per thread: other work shares this process locally).
            logger.thread_safe_append_keys(correlation_id=sent.id)
            logger.info(
                "event published",
                extra={
                    "eventId": sent.id,
                    "eventType": sent.type,
                    "appId": sent.app_id,
                    "callId": sent.data.get("callId"),
                    "deliveries": sum(1 for d in published.deliveries if d.event_id == sent.id),
                },
            )

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle(event, context, get_outbox())
