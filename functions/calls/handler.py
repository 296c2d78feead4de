"""Lambda entry point for POST /api/calls: routing, responses, error mapping. Decisions live in logic."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from calls import logic
from calls.errors import ApiError, InternalError, InvalidBody, MethodNotAllowed, RouteNotFound
from calls.jsontext import dumps_exact
from calls.service import METRICS_NAMESPACE, SERVICE_NAME

CALLS_PATH = "/api/calls"
CORS_ALLOW_HEADERS = "Content-Type, X-App-Id, X-Widget-Key, Idempotency-Key"
CORS_EXPOSE_HEADERS = "X-Request-Id, Idempotent-Replayed, Retry-After"
CORS_MAX_AGE_SECONDS = "600"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE)
app = APIGatewayRestResolver()


@functools.cache
def get_call_service() -> logic.CallService:
    """Built on the first request, then reused by every request the container serves."""
    from calls.repository import get_idempotency_table, get_repository
    from calls.settings import get_settings

    settings = get_settings()
    repository = get_repository()
    return logic.CallService(
        apps=logic.AppDirectory(repository.load_app, ttl_seconds=settings.cache_ttl_seconds),
        put_call_once=repository.put_call_once,
        join_base_url=settings.join_base_url,
        call_ttl_seconds=settings.call_ttl_seconds,
        idempotency=get_idempotency_table,
    )


@app.post(CALLS_PATH)
def create_call() -> Response[str]:
    result = get_call_service().create_call(_call_request())
    if result.created is None:  # an Idempotency-Key replay
        logger.info("Idempotent replay", extra={"status": result.status})
        metrics.add_metric(name="CallReplayed", unit=MetricUnit.Count, value=1)
        return _response(result.status, result.body, {"Idempotent-Replayed": "true"})
    record = result.created.record
    logger.info(
        "Call created", extra={"callId": record.call_id, "appId": record.app_id, "presetId": record.preset_id}
    )
    metrics.add_metric(name="CallCreated", unit=MetricUnit.Count, value=1)
    return _response(result.status, result.body)


@app.route(CALLS_PATH, method="OPTIONS")
def preflight() -> Response[str]:
    """CORS preflight. It carries no credentials, so it cannot know the app: the POST is checked."""
    return Response(
        status_code=204,
        headers={
            **_common_headers(),
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
            "Access-Control-Max-Age": CORS_MAX_AGE_SECONDS,
        },
    )


@app.route(CALLS_PATH, method=["GET", "PUT", "PATCH", "DELETE", "HEAD"])
def wrong_method() -> Response[str]:
    raise MethodNotAllowed()


@app.not_found
def unknown_path(_error: NotFoundError) -> Response[str]:
    return _error_response(RouteNotFound())


@app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
def expected_error(error: ApiError) -> Response[str]:
    level = logger.error if error.status >= 500 else logger.info
    level("Request refused", extra={"errorCode": error.code, "status": error.status})
    return _error_response(error)


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected_error(_error: Exception) -> Response[str]:
    logger.exception("Unexpected error")
    return _error_response(InternalError())


def _request_id() -> str:
    return request_id_of(app.current_event.raw_event, app.lambda_context)


def request_id_of(event: dict[str, Any], context: LambdaContext) -> str:
    """API Gateway's request id, or the invocation's when the event has none."""
    request_id: str | None = (event.get("requestContext") or {}).get("requestId")
    return request_id or context.aws_request_id


def _call_request() -> logic.CallRequest:
    event = app.current_event
    raw_body = event.get("body") or ""
    if not isinstance(raw_body, str):
        raise InvalidBody()
    body = logic.decode_base64_body(raw_body) if event.get("isBase64Encoded") else raw_body.encode("utf-8")
    # Proxies and test consoles may send only the single-value query; API Gateway sends both.
    query = event.get("multiValueQueryStringParameters") or {
        name: [value] for name, value in (event.get("queryStringParameters") or {}).items()
    }
    return logic.CallRequest(
        request_id=_request_id(),
        headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
        query=query,
        body=body,
    )


def _common_headers() -> dict[str, str]:
    """Headers of every response. A browser's Origin is echoed on every answer, errors included,
    so that a widget can read why it was refused; the POST itself enforces allowedOrigins."""
    headers = {"Cache-Control": "no-store", "X-Request-Id": _request_id()}
    origin = app.current_event.headers.get("origin")
    if origin:
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
                "Vary": "Origin",
            }
        )
    return headers


def _response(status: int, body: str, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=body,
        headers={**_common_headers(), **(headers or {})},
    )


def _error_response(error: ApiError) -> Response[str]:
    metrics.add_dimension(name="ErrorCode", value=error.code)
    metrics.add_metric(name="CallFailed", unit=MetricUnit.Count, value=1)
    problem: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "requestId": _request_id(),
    }
    if error.details:
        problem["details"] = [{"field": d.field, "message": d.message} for d in error.details]
    return _response(error.status, dumps_exact({"ok": False, "error": problem}), error.headers())


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The API Gateway request id correlates the logs; read directly, not by a JMESPath query per call.
    logger.set_correlation_id(request_id_of(event, context))
    return app.resolve(event, context)
