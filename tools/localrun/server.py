"""A local HTTP server that runs the Lambda handler exactly as API Gateway would call it.

Each HTTP request becomes a REST API proxy event (payload v1); the handler's result
becomes the HTTP response. Requests are accepted concurrently; the handler runs one
event at a time, as one Lambda execution environment does.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# Content types API Gateway would pass base64-encoded if configured as binary media types.
BINARY_CONTENT_TYPES = ("application/octet-stream",)
STAGE = "local"


@dataclass
class LocalLambdaContext:
    """What Powertools reads from the Lambda context object."""

    aws_request_id: str
    function_name: str = "video-calls-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:video-calls-local"
    log_group_name: str = "/aws/lambda/video-calls-local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def build_event(
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """A REST API proxy event as API Gateway sends it for `{proxy+}`."""
    url = urlsplit(raw_path)
    # CONNECT's target is host:port and OPTIONS may ask about *: as paths, they match no route.
    path = url.path if url.path.startswith("/") else f"/{raw_path}"
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    multi_query = parse_qs(url.query, keep_blank_values=True) or None
    single_query = {name: values[-1] for name, values in multi_query.items()} if multi_query else None

    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    is_binary = content_type.split(";")[0].strip().lower() in BINARY_CONTENT_TYPES
    text_body: str | None = None
    if body:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            is_binary = True
    if is_binary and body:
        text_body = base64.b64encode(body).decode("ascii")

    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "resourcePath": "/{proxy+}",
            "stage": STAGE,
            "identity": {
                "sourceIp": source_ip,
                "userAgent": single_headers.get("User-Agent") or single_headers.get("user-agent"),
            },
        },
        "body": text_body,
        "isBase64Encoded": bool(is_binary and body),
    }


def response_headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, values in (result.get("multiValueHeaders") or {}).items():
        pairs.extend((name, str(value)) for value in values)
    seen = {name.lower() for name, _ in pairs}
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in seen:
            pairs.append((name, str(value)))
    return pairs


class LocalApiServer(ThreadingHTTPServer):
    daemon_threads = True
    # Many clients at once (the 200-concurrent test, benchmarks) must not be refused.
    request_queue_size = 512

    def __init__(
        self,
        address: tuple[str, int],
        handler: Handler,
        static_routes: dict[str, Callable[[], tuple[int, str, bytes]]] | None = None,
    ):
        super().__init__(address, _RequestHandler)
        self.lambda_handler = handler
        self.static_routes = static_routes or {}
        self.invocation_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LocalLambdaContext(aws_request_id=str(uuid.uuid4()))
        with self.invocation_lock:
            return self.lambda_handler(event, context)


class _RequestHandler(BaseHTTPRequestHandler):
    server: LocalApiServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        static = self.server.static_routes.get(path) if self.command in ("GET", "HEAD") else None
        if static is not None:
            status, content_type, payload = static()
            self._send(status, [("Content-Type", content_type)], payload)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        event = build_event(
            self.command,
            self.path,
            list(self.headers.items()),
            body,
            source_ip=self.client_address[0],
        )
        try:
            result = self.server.invoke(event)
        except Exception:  # the handler must answer every request; this is a local safety net
            self._send(502, [("Content-Type", "application/json")], b'{"message":"Internal server error"}')
            raise
        text: str = result.get("body") or ""
        data = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode("utf-8")
        self._send(int(result["statusCode"]), response_headers(result), data)

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and, without one, answers an HTML 501 of its own. Every
        # method (TRACE, CONNECT, made-up ones) goes to the handler instead, which answers what it
        # does not route with the envelope's 404 or 405. (Deployed, API Gateway forwards only the
        # standard methods to the function.)
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the handler's own JSON logs say what happened
