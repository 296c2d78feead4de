"""Lambda entry point for the calls API: the routes, responses and error mapping. Each route's
decisions live in the module named after it, imported when the route first runs, so a cold
start pays only for the route it serves."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from calls.errors import ApiError, InternalError, InvalidBody, MethodNotAllowed, RouteNotFound
from calls.jsontext import dumps_exact
from calls.request import CallRequest
from calls.service import METRICS_NAMESPACE, SERVICE_NAME
from calls.snapstart import register_hooks as register_snapstart_hooks

if TYPE_CHECKING:
    from calls.access import AppDirectory
    from calls.create import CallService
    from calls.end import EndCall
    from calls.join import JoinCall
    from calls.listing import ListCalls
    from calls.read import ReadCall

CALLS_PATH = "/api/calls"
CALL_PATH = "/api/calls/<call_id>"
END_PATH = "/api/calls/<call_id>/end"
JOIN_PATH = "/api/calls/<call_id>/join"
# Each path's methods, for its preflight and for the 405 of any other method on it.
PATH_METHODS: dict[str, tuple[str, ...]] = {
    CALLS_PATH: ("GET", "POST"),
    CALL_PATH: ("GET",),
    END_PATH: ("POST",),
    JOIN_PATH: ("POST",),
}
CORS_ALLOW_HEADERS = "Content-Type, X-App-Id, X-Widget-Key, Idempotency-Key"
CORS_EXPOSE_HEADERS = "X-Request-Id, Idempotent-Replayed, Retry-After"
CORS_MAX_AGE_SECONDS = "600"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE)
app = APIGatewayRestResolver()


# Services: built on the first request that needs them, then reused by the container.


@functools.cache
def get_app_directory() -> AppDirectory:
    """One app cache for every route."""
    from calls.access import AppDirectory
    from calls.repository import get_repository
    from calls.settings import get_settings

    return AppDirectory(get_repository().load_app, ttl_seconds=get_settings().cache_ttl_seconds)


@functools.cache
def get_call_service() -> CallService:
    from calls.create import CallService
    from calls.repository import get_idempotency_table, get_repository
    from calls.settings import get_settings

    settings = get_settings()
    return CallService(
        apps=get_app_directory(),
        put_call_once=get_repository().put_call_once,
        join_base_url=settings.join_base_url,
        call_ttl_seconds=settings.call_ttl_seconds,
        idempotency=get_idempotency_table,
    )


@functools.cache
def get_read_call() -> ReadCall:
    from calls.read import ReadCall
    from calls.repository import get_repository
    from calls.settings import get_settings

    return ReadCall(get_app_directory(), get_repository().get_call, get_settings().join_base_url)


@functools.cache
def get_list_calls() -> ListCalls:
    from calls.listing import ListCalls
    from calls.repository import get_repository
    from calls.settings import get_settings

    settings = get_settings()
    return ListCalls(
        get_app_directory(), get_repository().list_calls, settings.join_base_url, settings.cursor_signing_key
    )


@functools.cache
def get_end_call() -> EndCall:
    from calls.end import EndCall
    from calls.repository import get_repository
    from calls.settings import get_settings

    return EndCall(get_app_directory(), get_repository().end_call_once, get_settings().join_base_url)


@functools.cache
def get_join_call() -> JoinCall:
    from calls.join import JoinCall
    from calls.repository import get_repository

    repository = get_repository()
    return JoinCall(get_app_directory(), repository.get_call, repository.stamp_join_once)


def build_every_service() -> None:
    """Everything the routes build on first use, built at once: what SnapStart's snapshot holds."""
    from calls.models import CreateCallRequest, JoinCallRequest, ListCallsQuery

    for factory in SERVICE_FACTORIES:
        factory()
    # The request models defer their validators to first use (defer_build); build them now.
    for model in (CreateCallRequest, ListCallsQuery, JoinCallRequest):
        model.model_rebuild(force=True)


def clear_services() -> None:
    """Forget every built service (tests start each case as a cold container)."""
    for factory in SERVICE_FACTORIES:
        factory.cache_clear()


SERVICE_FACTORIES = (
    get_app_directory,
    get_call_service,
    get_read_call,
    get_list_calls,
    get_end_call,
    get_join_call,
)
# With SnapStart on, the snapshot holds every service (and the modules behind them) built;
# without it the hooks are registered and never run, and each route builds its own on first use.
register_snapstart_hooks(build_every_service)


# Routes


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


@app.get(CALLS_PATH)
def list_calls() -> Response[str]:
    data = get_list_calls()(_call_request())
    metrics.add_metric(name="CallsListed", unit=MetricUnit.Count, value=1)
    return _ok(data)


@app.get(CALL_PATH)
def read_call(call_id: str) -> Response[str]:
    view = get_read_call()(_call_request(), call_id)
    metrics.add_metric(name="CallRead", unit=MetricUnit.Count, value=1)
    return _ok(view)


@app.post(END_PATH)
def end_call(call_id: str) -> Response[str]:
    view = get_end_call()(_call_request(), call_id)
    logger.info("Call ended", extra={"callId": view["callId"], "endedAt": view["endedAt"]})
    metrics.add_metric(name="CallEnded", unit=MetricUnit.Count, value=1)
    return _ok(view)


@app.post(JOIN_PATH)
def join_call(call_id: str) -> Response[str]:
    """Open to any origin: the join page is not on the app's site (contract section 6)."""
    joined = get_join_call()(_call_request(), call_id)
    logger.info("Call joined", extra={"callId": joined["callId"], "role": joined["role"]})
    metrics.add_metric(name="CallJoined", unit=MetricUnit.Count, value=1)
    return _ok(joined)


def preflight(**_path: str) -> Response[str]:
    """CORS preflight. It carries no credentials, so it cannot know the app: the request is checked."""
    return Response(
        status_code=204,
        headers={
            **_common_headers(),
            "Access-Control-Allow-Methods": _allowed_methods(
                _known_path(app.current_event.path) or CALLS_PATH
            ),
            "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
            "Access-Control-Max-Age": CORS_MAX_AGE_SECONDS,
        },
    )


for _path in PATH_METHODS:
    app.route(_path, method="OPTIONS")(preflight)


def _allowed_methods(path: str) -> str:
    return ", ".join((*PATH_METHODS[path], "OPTIONS"))


_PATH_PATTERNS = {
    path: re.compile(re.sub(r"<\w+>", "[^/]+", path).rstrip("/") + "/?") for path in PATH_METHODS
}


def _known_path(path: str) -> str | None:
    return next((known for known, pattern in _PATH_PATTERNS.items() if pattern.fullmatch(path)), None)


@app.not_found
def unknown_route(_error: NotFoundError) -> Response[str]:
    """A known path with another method is 405 naming the path's methods; anything else 404."""
    known = _known_path(app.current_event.path)
    if known is not None:
        return _error_response(MethodNotAllowed(_allowed_methods(known)))
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


def _call_request() -> CallRequest:
    event = app.current_event
    raw_body = event.get("body") or ""
    if not isinstance(raw_body, str):
        raise InvalidBody()
    if event.get("isBase64Encoded"):
        from calls.body import decode_base64_body

        body = decode_base64_body(raw_body)
    else:
        body = raw_body.encode("utf-8")
    # Proxies and test consoles may send only the single-value query; API Gateway sends both.
    query = event.get("multiValueQueryStringParameters") or {
        name: [value] for name, value in (event.get("queryStringParameters") or {}).items()
    }
    return CallRequest(
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


def _ok(data: Any) -> Response[str]:
    return _response(200, dumps_exact({"ok": True, "data": data}))


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
