"""Lambda entry point for the delivery queue: each message is one signed POST to one endpoint.

The messages of a batch are delivered concurrently (Powertools' async batch processor, each
POST in a thread), and each failure is reported on its own, so one slow or failing receiver
never holds the others back. A failed message comes back when the retry schedule says.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from calls.telemetry import SERVICE_NAME

from callevents.delivery import DELIVERED, Courier, DeliveryFailed, deliver
from callevents.messages import Delivery

logger = Logger(service=SERVICE_NAME)


@functools.cache
def get_courier() -> Courier:
    from callevents.adapters import get_delivery_queue, get_webhook_directory
    from callevents.destinations import DestinationPolicy
    from callevents.settings import RESPONSE_EXCERPT_CHARACTERS, get_event_settings

    return Courier(
        webhooks=get_webhook_directory(),
        retries=get_delivery_queue(),
        policy=DestinationPolicy(private_networks_allowed=False),
        timeout_seconds=get_event_settings().delivery_timeout_seconds,
        excerpt_characters=RESPONSE_EXCERPT_CHARACTERS,
    )


def deliver_record(record: SQSRecord, courier: Courier) -> None:
    delivery = Delivery.from_message(record.body)
    # Each delivery's lines correlate with its event; per thread, as deliveries run side by side.
    logger.thread_safe_append_keys(correlation_id=delivery.event_id)
    attempt = int(record.attributes.approximate_receive_count or "1")
    try:
        outcome = deliver(delivery, attempt=attempt, receipt_handle=record.receipt_handle, courier=courier)
    except DeliveryFailed as failed:
        logger.warning("webhook delivery failed", extra=failed.outcome.log_fields())
        raise
    if outcome.result == DELIVERED:
        logger.info("webhook delivered", extra=outcome.log_fields())
    else:
        logger.info("webhook delivery dropped", extra=outcome.log_fields())


def handle(
    event: dict[str, Any], context: LambdaContext | None, courier: Courier
) -> PartialItemFailureResponse:
    """The whole batch with `courier`: the function's AWS one, or the local run's in-process one."""

    async def record_handler(record: SQSRecord) -> None:
        await asyncio.to_thread(deliver_record, record, courier)

    # A batch whose every delivery failed is still a normal outcome (receivers down), not a
    # function error: the failures are reported per message either way.
    processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle(event, context, get_courier())
