"""Lambda entry point of signaling (docs/behaviour.md section 9.4): one function for three kinds of event,
told apart by their shape, and each WebSocket route by API Gateway's `routeKey`:

- the $connect REQUEST authorizer (`type` REQUEST with a `methodArn`): an IAM policy, Allow with
  the call and role as its context, or Deny (API Gateway answers the handshake 403);
- a WebSocket route event (`requestContext.routeKey`): $connect, $disconnect, and the message
  routes `hello`, `signal`, `ping` and `$default` (what API Gateway's route selection on
  `$request.body.action` sends anywhere else);
- a batch of the calls table's stream (`Records[*].eventSource` aws:dynamodb): ended calls, whose
  connections close and whose recordings are completed.

Each route imports its own module when it first runs, so a `ping`'s cold start loads neither
the token code nor DynamoDB's model. Replies and pushes go through the management API
(signaling.adapters); a route event's own answer is only its status code.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from calls.telemetry import METRICS_NAMESPACE, SERVICE_NAME

from signaling import messages
from signaling.models import Identity
from signaling.ports import Ports

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE)

OK = {"statusCode": 200}
MESSAGE_ROUTES = frozenset({messages.HELLO, messages.SIGNAL, messages.PING, "$default"})


def is_authorizer_event(event: dict[str, Any]) -> bool:
    return event.get("type") == "REQUEST" and "methodArn" in event


def is_stream_batch(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        return False
    return all(isinstance(record, dict) and record.get("eventSource") == "aws:dynamodb" for record in records)


def ports() -> Ports:
    from signaling.adapters import get_ports

    return get_ports()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_authorizer_event(event):
        return authorize(event)
    if is_stream_batch(event):
        return end_calls(event, context)
    return on_route(event)


def on_route(event: dict[str, Any]) -> dict[str, Any]:
    request_context = event.get("requestContext") or {}
    logger.set_correlation_id(request_context.get("requestId"))
    route = request_context.get("routeKey")
    identity = identity_of(request_context)
    if identity is None:
        # Only the authorizer's connections reach the routes: this event did not come through it.
        logger.error("Route event without the authorizer's call and role", extra={"routeKey": route})
        return {"statusCode": 403}
    # The connection names this event's log lines and no later event's: a warm container's next
    # event (another connection's handshake, a stream batch) is not logged as this call. Kept
    # per thread, as the local run serves the calls function beside this one in one process.
    keys = {"callId": identity.call_id, "role": identity.role, "routeKey": route}
    logger.thread_safe_append_keys(**keys)
    try:
        return on_connection_route(identity, str(route), event)
    finally:
        logger.thread_safe_remove_keys(keys)


def on_connection_route(identity: Identity, route: str, event: dict[str, Any]) -> dict[str, Any]:
    if route == "$connect":
        return connect(identity)
    if route == "$disconnect":
        from signaling.disconnect import disconnect

        completed_for_a_gone_agent(disconnect(identity, ports=ports()))
        return OK
    if route in MESSAGE_ROUTES:
        return on_message(identity, route, event)
    logger.error("Unknown route")
    return {"statusCode": 404}


def identity_of(request_context: dict[str, Any]) -> Identity | None:
    """The connection's call and role, from the authorizer's context API Gateway adds to every event."""
    authorizer = request_context.get("authorizer") or {}
    call_id, role, connection_id = (
        authorizer.get("callId"),
        authorizer.get("role"),
        request_context.get("connectionId"),
    )
    if not (isinstance(call_id, str) and isinstance(role, str) and isinstance(connection_id, str)):
        return None
    if not (call_id and role and connection_id):
        return None
    return Identity(call_id=call_id, role=role, connection_id=connection_id)


# The authorizer


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    from calls.settings import get_settings

    from signaling.connect import Refused
    from signaling.connect import authorize as admit

    request_context = event.get("requestContext") or {}
    logger.set_correlation_id(request_context.get("requestId"))
    token = (event.get("queryStringParameters") or {}).get("token")
    signaling = ports()
    try:
        admitted = admit(
            token,
            key=get_settings().signaling_token_key,
            calls=signaling.calls,
            connections=signaling.connections,
            now=time.time(),
        )
    except Refused as refused:
        logger.info("Signaling connection refused", extra={"reason": refused.reason})
        metrics.add_metric(name="SignalingRefused", unit=MetricUnit.Count, value=1)
        return policy("Deny", event["methodArn"], principal="refused")
    logger.info("Signaling connection admitted", extra={"callId": admitted.call_id, "role": admitted.role})
    metrics.add_metric(name="SignalingAdmitted", unit=MetricUnit.Count, value=1)
    return policy(
        "Allow",
        event["methodArn"],
        principal=f"{admitted.call_id}:{admitted.role}",
        context={"callId": admitted.call_id, "role": admitted.role},
    )


def policy(
    effect: str, method_arn: str, *, principal: str, context: dict[str, str] | None = None
) -> dict[str, Any]:
    """A Lambda authorizer's answer: an IAM policy on the $connect route, and its context."""
    answer: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
        },
    }
    if context is not None:
        answer["context"] = context
    return answer


# Routes


def connect(identity: Identity) -> dict[str, Any]:
    from signaling.connect import connect as open_connection

    signaling = ports()
    opened = open_connection(identity, ports=signaling, now=time.time())
    if not opened.live:
        logger.info("Signaling connection refused: the call is over")
        metrics.add_metric(name="SignalingRefused", unit=MetricUnit.Count, value=1)
        return {"statusCode": 403}
    metrics.add_metric(name="SignalingConnected", unit=MetricUnit.Count, value=1)
    if opened.recordings_left:
        try:
            completed_for_a_gone_agent(signaling.recordings.finish(identity.call_id))
        except Exception:
            # The connection stands: the call's end completes what is left.
            logger.exception("Completing the recordings of a gone agent page failed")
            metrics.add_metric(name="RecordingsFinishFailed", unit=MetricUnit.Count, value=1)
    return OK


def completed_for_a_gone_agent(finished: int) -> None:
    """Recordings the server completed because the agent's page that made them is gone."""
    if finished:
        logger.info("Agent gone: recordings completed", extra={"recordings": finished})
        metrics.add_metric(name="RecordingsFinishedForGoneAgent", unit=MetricUnit.Count, value=finished)


def on_message(identity: Identity, route: str, event: dict[str, Any]) -> dict[str, Any]:
    """A client frame: checked (size first, whatever the route), then handed to its use case.
    A refused frame is answered with an error message; the socket stays open."""
    try:
        if route == "$default":
            messages.check_size(event.get("body"))
            raise messages.InvalidMessage()
        message = messages.parse_frame(event.get("body"), binary=bool(event.get("isBase64Encoded")))
        if route != _route_of(message):
            raise messages.InvalidMessage()
    except messages.FrameRefused as refused:
        from signaling.delivery import send

        logger.info("Message refused", extra={"errorCode": refused.code})
        metrics.add_metric(name="SignalingMessageRefused", unit=MetricUnit.Count, value=1)
        send(ports(), identity, messages.refusal(refused))
        return OK
    if isinstance(message, messages.Signal):
        from signaling.relay import relay

        relay(identity, message.data, ports=ports())
    elif isinstance(message, messages.Hello):
        from signaling.hello import hello

        hello(identity, message.display_name, ports=ports(), hello_at=_now_iso())
    else:
        from signaling.ping import ping

        ping(identity, ports=ports())
    return OK


def _route_of(message: messages.ClientMessage) -> str:
    if isinstance(message, messages.Signal):
        return messages.SIGNAL
    if isinstance(message, messages.Hello):
        return messages.HELLO
    return messages.PING


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The calls stream


def end_calls(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Each record that ends a call closes its connections; a failure retries that record alone."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from signaling.call_ended import end_call, ended_call_id

    def record_handler(record: DynamoDBRecord) -> None:
        call_id = ended_call_id(record.raw_event)
        if call_id is None:
            return
        closed, finished = end_call(call_id, ports=ports())
        logger.info(
            "Call ended: its connections closed, its recordings completed",
            extra={"callId": call_id, "connections": closed, "recordings": finished},
        )
        metrics.add_metric(name="SignalingCallEnded", unit=MetricUnit.Count, value=1)

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    answer = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(answer)
