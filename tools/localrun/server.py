"""The local run's HTTP server: on one port, what the deployed stack serves on one origin.

- `/ws`: the WebSocket API, and `/__connections__/@connections/{id}` its management API
  (localrun.websocket), when a signaling function is plugged in.
- GET and HEAD of the local server's own files (localrun.static): the demo page, the widget, the
  Genesys panel, the call page, /docs, /openapi.json, /__ready__.
- Everything else: a REST API proxy event (payload v1) into the API function, whose answer
  becomes the HTTP response; what it does not route it answers with the envelope's 404 or 405.

The handlers are plain Lambda handlers, given as parameters; each runs in a worker thread of its
own, one event at a time, as one Lambda execution environment does. What the server answers
itself (a body over the API's limit, a request it cannot read) is the API's error envelope, as
API Gateway's gateway responses are in the deployed stack.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.http_parser import HttpRequestParserPy
from aiohttp.web_protocol import RequestHandler
from calls.errors import InternalError, PayloadTooLarge
from calls.models import MAX_BODY_BYTES
from multidict import CIMultiDict

from localrun.gateway import (
    STAGE,
    BodyTooLarge,
    Handler,
    LocalFunction,
    header_maps,
    own_headers,
    query_maps,
    read_bounded,
    single_line,
)

if TYPE_CHECKING:
    from localrun.static import Site
    from localrun.websocket import WebSocketApi


# Content types API Gateway would pass base64-encoded if configured as binary media types.
BINARY_CONTENT_TYPES = ("application/octet-stream",)
# API Gateway's code for its own 4xx answers (the stack's Default4xx gateway response).
BAD_REQUEST_CODE = "BAD_REQUEST"
# A request line that starts like one: the parser's "line too long" is then the URL's, a 414.
_REQUEST_LINE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ ")


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
    single_headers, multi_headers = header_maps(headers)
    single_query, multi_query = query_maps(url.query)

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


# What the server answers itself


def error_response(status: int, code: str, message: str, origin: str | None = None) -> web.Response:
    """The API's error envelope, as API Gateway's gateway responses write it."""
    headers = own_headers(origin)
    body = {"ok": False, "error": {"code": code, "message": message, "requestId": headers["X-Request-Id"]}}
    headers["Content-Type"] = "application/json"
    return web.Response(status=status, body=json.dumps(body).encode("utf-8"), headers=headers)


class _LocalRequestHandler(RequestHandler):
    """aiohttp's connection handler, reading HTTP with its pure-Python parser and answering what
    it cannot parse with the API's envelope.

    The C parser (llhttp) refuses methods it does not know (BREW) and lower-case ones before any
    handler sees them; the Python parser hands every method on, and the API function answers it
    with its 404 or 405 as the existing tests require. Folded headers, a Content-Length that is not
    a number, a bad chunked encoding and over-long lines are refused by the parser itself: here
    they become 400, 414 (the URL) or 431 (a header), each in the envelope.
    """

    def __init__(self, manager: web.Server, *, loop: asyncio.AbstractEventLoop, **kwargs: Any) -> None:
        super().__init__(manager, loop=loop, **kwargs)
        self._parser = HttpRequestParserPy(
            self,
            loop,
            self._read_bufsize,
            max_line_size=self.max_line_size,
            max_field_size=self.max_field_size,
            max_headers=self.max_headers,
            payload_exception=web.RequestPayloadError,
            max_msg_queue_size=self._max_msg_queue_size,
        )

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            self.log_exception("Error handling a request", exc_info=exc)
            if request.writer.output_size > 0:  # an answer had begun: the connection is broken
                raise ConnectionError("an answer was already being sent")
            response = error_response(500, InternalError.code, InternalError.default_message)
            response.force_close()
            return response
        if isinstance(exc, LineTooLong):
            line = exc.args[0] if isinstance(exc.args[0], bytes) else str(exc.args[0]).encode()
            if _REQUEST_LINE.match(line):
                status, message = 414, "The request's URL is too long."
            else:
                status, message = 431, "A request header is too long."
        else:
            message = "The request could not be read as HTTP/1.1."
        response = error_response(status, BAD_REQUEST_CODE, message)
        response.force_close()
        return response


class _LocalHttpServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _LocalRequestHandler(self, loop=self._loop, **self._kwargs)


class LocalServer:
    """The HTTP side of the local run; the handlers and the files it serves are its parameters."""

    def __init__(
        self,
        api: Handler,
        *,
        site: Site | None = None,
        signaling: Handler | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.api = LocalFunction(api, "api")
        self.signaling = LocalFunction(signaling, "signaling") if signaling is not None else None
        self.site = site
        self.host = host
        self.port = port
        self.websockets: WebSocketApi | None = None
        self._runner: web.ServerRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and listen (OSError if the port is taken); `port` 0 picks a free one."""
        if self.signaling is not None:
            from localrun.websocket import WebSocketApi

            self.websockets = WebSocketApi(self.signaling, domain_name=f"{self.host}:{self.port}")
        server = _LocalHttpServer(self._dispatch)
        self._runner = web.ServerRunner(server, access_log=None, shutdown_timeout=5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=512, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self.websockets is not None:
            self.websockets.domain_name = f"{self.host}:{self.port}"

    async def stop(self) -> None:
        if self.websockets is not None:
            await self.websockets.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
        self.api.close()
        if self.signaling is not None:
            self.signaling.close()

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if self.websockets is not None:
            if path == "/ws":
                return await self.websockets.handle_upgrade(request)
            connection_id = self.websockets.management_connection_id(path)
            if connection_id is not None:
                return await self.websockets.handle_management(request, connection_id)
        if self.site is not None and request.method in ("GET", "HEAD"):
            answer = self.site.answer(path, request.query_string)
            if answer is not None:
                headers = {**own_headers(), "Content-Type": answer.content_type, **answer.headers}
                return web.Response(status=answer.status, body=answer.body, headers=headers)
        return await self._invoke_api(request)

    async def _invoke_api(self, request: web.BaseRequest) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.raw_headers]
        if any(single_line(value) is None and value for _, value in headers):
            return error_response(400, BAD_REQUEST_CODE, "A request header holds a control character.")
        try:
            body = await read_bounded(request, MAX_BODY_BYTES)
        except BodyTooLarge:
            response = error_response(413, PayloadTooLarge.code, PayloadTooLarge.default_message, origin)
            response.force_close()  # the rest of the body is never read
            return response
        event = build_event(request.method, request.raw_path, headers, body, source_ip=request.remote or "")
        try:
            result = await self.api.invoke(event)
            status = int(result["statusCode"])
        except Exception:  # Lambda's answer to a crashed function: API Gateway's 502
            traceback.print_exc()
            return error_response(502, InternalError.code, InternalError.default_message, origin)
        text: str = result.get("body") or ""
        data = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode("utf-8")
        answer_headers = CIMultiDict(
            (name, value)
            for name, value in response_headers(result)
            if name.lower() not in ("content-length", "connection", "transfer-encoding")
        )
        response = web.Response(status=status, body=data or None, headers=answer_headers)
        if request.method == "CONNECT":
            response.force_close()
        return response


@contextlib.contextmanager
def serving_in_background(server: LocalServer) -> Iterator[LocalServer]:
    """The server on an event loop of its own thread, for tests and tools that stay synchronous."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as error:
            failure.append(error)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="local-server", daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise failure[0]
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
