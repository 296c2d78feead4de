"""Lambda entry point of the calls API: its routes, each one call of the use case named after it.

A route's use case is built, and its module imported, on the route's first request
(calls.wiring), so a cold start pays only for the route it serves. The event in and the
response out, CORS and the answers to what no route serves are calls.rest's.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from calls import rest, routes, wiring
from calls.errors import ApiError, InternalError
from calls.jsontext import dumps_exact
from calls.routes import resolver_path
from calls.snapstart import register_hooks as register_snapstart_hooks
from calls.telemetry import METRICS_NAMESPACE, SERVICE_NAME

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE)
app = APIGatewayRestResolver()

# With SnapStart on, the snapshot holds every use case (and the modules behind them) built;
# without it the hooks are registered and never run.
register_snapstart_hooks(wiring.build_every_service)


def http() -> rest.Exchange:
    """This invocation's request, and the responses to it."""
    event = app.current_event.raw_event
    return rest.Exchange(event, rest.request_id_of(event, app.lambda_context))


@app.post(resolver_path(routes.CALLS))
def create_call() -> Response[str]:
    exchange = http()
    result = wiring.get_create_call()(exchange.request())
    if result.created is None:  # an Idempotency-Key replay
        logger.info("Idempotent replay", extra={"status": result.status})
        metrics.add_metric(name="CallReplayed", unit=MetricUnit.Count, value=1)
        return exchange.respond(result.status, result.body, {"Idempotent-Replayed": "true"})
    record = result.created.record
    logger.info(
        "Call created", extra={"callId": record.call_id, "appId": record.app_id, "presetId": record.preset_id}
    )
    metrics.add_metric(name="CallCreated", unit=MetricUnit.Count, value=1)
    return exchange.respond(result.status, result.body)


@app.get(resolver_path(routes.CALLS))
def list_calls() -> Response[str]:
    exchange = http()
    page = wiring.get_list_calls()(exchange.request())
    metrics.add_metric(name="CallsListed", unit=MetricUnit.Count, value=1)
    return exchange.ok(page)


@app.get(resolver_path(routes.CALL))
def read_call(call_id: str) -> Response[str]:
    exchange = http()
    view = wiring.get_read_call()(exchange.request(), call_id)
    metrics.add_metric(name="CallRead", unit=MetricUnit.Count, value=1)
    return exchange.ok(view)


@app.post(resolver_path(routes.END))
def end_call(call_id: str) -> Response[str]:
    exchange = http()
    view = wiring.get_end_call()(exchange.request(), call_id)
    logger.info("Call ended", extra={"callId": view["callId"], "endedAt": view.get("endedAt")})
    metrics.add_metric(name="CallEnded", unit=MetricUnit.Count, value=1)
    return exchange.ok(view)


@app.post(resolver_path(routes.JOIN))
def join_call(call_id: str) -> Response[str]:
    """Open to any origin: the join page is not on the app's site."""
    exchange = http()
    joined = wiring.get_join_call()(exchange.request(), call_id)
    logger.info("Call joined", extra={"callId": joined["callId"], "role": joined["role"]})
    metrics.add_metric(name="CallJoined", unit=MetricUnit.Count, value=1)
    return exchange.ok(joined)


@app.post(resolver_path(routes.RECORDINGS))
def start_recording(call_id: str) -> Response[str]:
    exchange = http()
    started = wiring.get_start_recording()(exchange.request(), call_id)
    logger.info("Recording started", extra={"callId": call_id, "recordingId": started["recordingId"]})
    metrics.add_metric(name="RecordingStarted", unit=MetricUnit.Count, value=1)
    return exchange.respond(201, dumps_exact({"ok": True, "data": started}))


@app.post(resolver_path(routes.RECORDING_PARTS))
def recording_part_urls(call_id: str, recording_id: str) -> Response[str]:
    exchange = http()
    urls = wiring.get_recording_part_urls()(exchange.request(), call_id, recording_id)
    metrics.add_metric(name="RecordingPartUrls", unit=MetricUnit.Count, value=len(urls["parts"]))
    return exchange.ok(urls)


@app.post(resolver_path(routes.RECORDING_COMPLETE))
def complete_recording(call_id: str, recording_id: str) -> Response[str]:
    exchange = http()
    view = wiring.get_complete_recording()(exchange.request(), call_id, recording_id)
    logger.info("Recording completed", extra={"callId": call_id, "recordingId": recording_id})
    metrics.add_metric(name="RecordingCompleted", unit=MetricUnit.Count, value=1)
    return exchange.ok(view)


@app.get(resolver_path(routes.RECORDINGS))
def list_recordings(call_id: str) -> Response[str]:
    exchange = http()
    listed = wiring.get_list_recordings()(exchange.request(), call_id)
    metrics.add_metric(name="RecordingsListed", unit=MetricUnit.Count, value=1)
    return exchange.ok(listed)


def preflight(**_path: str) -> Response[str]:
    return http().preflight()


for _path in routes.ROUTES:
    app.route(resolver_path(_path), method="OPTIONS")(preflight)


@app.not_found
def unknown_route(_error: NotFoundError) -> Response[str]:
    return refuse(http().unrouted())


@app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
def expected_error(error: ApiError) -> Response[str]:
    level = logger.error if error.status >= 500 else logger.info
    level("Request refused", extra={"errorCode": error.code, "status": error.status})
    return refuse(error)


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected_error(_error: Exception) -> Response[str]:
    logger.exception("Unexpected error")
    return refuse(InternalError())


def refuse(error: ApiError) -> Response[str]:
    metrics.add_dimension(name="ErrorCode", value=error.code)
    metrics.add_metric(name="CallFailed", unit=MetricUnit.Count, value=1)
    return http().error(error)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The API Gateway request id correlates the logs; read directly, not by a JMESPath query per call.
    # Kept per thread: the local run drives the events code in other threads of this process.
    logger.thread_safe_append_keys(correlation_id=rest.request_id_of(event, context))
    return app.resolve(event, context)
