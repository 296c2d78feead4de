"""HTTP shaping for the API function: the use cases' request from API Gateway's event, and every
answer as API Gateway takes it back, with the headers each one carries (request id, no caching,
CORS), the CORS preflight, and the 404 and 405 of what no route serves. No use case decides
anything here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response

from calls import routes
from calls.errors import ApiError, InvalidBody, MethodNotAllowed, RouteNotFound
from calls.jsontext import dumps_exact
from calls.request import CallRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from calls.responses import ErrorBody

CORS_ALLOW_HEADERS = "Content-Type, X-App-Id, X-Widget-Key, Idempotency-Key"
CORS_EXPOSE_HEADERS = "X-Request-Id, Idempotent-Replayed, Retry-After"
CORS_MAX_AGE_SECONDS = "600"

_PATH_PATTERNS = {
    path: re.compile(re.sub(r"\{\w+\}", "[^/]+", path).rstrip("/") + "/?") for path in routes.ROUTES
}


def request_id_of(event: dict[str, Any], context: LambdaContext) -> str:
    """API Gateway's request id, or the invocation's when the event has none."""
    request_id: str | None = (event.get("requestContext") or {}).get("requestId")
    return request_id or context.aws_request_id


def known_path(path: str) -> str | None:
    """The route (`routes.ROUTES`' spelling) a request path falls under, if any."""
    return next((known for known, pattern in _PATH_PATTERNS.items() if pattern.fullmatch(path)), None)


def allowed_methods(path: str) -> str:
    """A route's methods as `Allow` and the preflight list them."""
    return ", ".join((*routes.ROUTES[path], "OPTIONS"))


@dataclass(frozen=True)
class Exchange:
    """One invocation: its request, and the responses to it."""

    event: dict[str, Any]
    request_id: str

    def request(self) -> CallRequest:
        event = self.event
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
            request_id=self.request_id,
            headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
            query=query,
            body=body,
        )

    def ok(self, data: Any) -> Response[str]:
        return self.respond(200, dumps_exact({"ok": True, "data": data}))

    def respond(self, status: int, body: str, headers: dict[str, str] | None = None) -> Response[str]:
        return Response(
            status_code=status,
            content_type="application/json",
            body=body,
            headers={**self._common_headers(), **(headers or {})},
        )

    def error(self, error: ApiError) -> Response[str]:
        """The one error envelope, whatever the error."""
        problem: ErrorBody = {"code": error.code, "message": error.message, "requestId": self.request_id}
        if error.details:
            problem["details"] = [{"field": d.field, "message": d.message} for d in error.details]
        return self.respond(error.status, dumps_exact({"ok": False, "error": problem}), error.headers())

    def preflight(self) -> Response[str]:
        """CORS preflight. It carries no credentials, so it cannot know the app: the request is checked."""
        return Response(
            status_code=204,
            headers={
                **self._common_headers(),
                "Access-Control-Allow-Methods": allowed_methods(self._path() or routes.CALLS),
                "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                "Access-Control-Max-Age": CORS_MAX_AGE_SECONDS,
            },
        )

    def unrouted(self) -> ApiError:
        """A known path with another method is 405 naming the path's methods; anything else 404."""
        known = self._path()
        return MethodNotAllowed(allowed_methods(known)) if known is not None else RouteNotFound()

    def _path(self) -> str | None:
        return known_path(self.event.get("path") or "")

    def _common_headers(self) -> dict[str, str]:
        """Headers of every response. A browser's Origin is echoed on every answer, errors included,
        so that a widget can read why it was refused; the routes enforce allowedOrigins."""
        headers = {"Cache-Control": "no-store", "X-Request-Id": self.request_id}
        origin = _header(self.event, "origin")
        if origin:
            headers.update(
                {
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
                    "Vary": "Origin",
                }
            )
        return headers


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None
