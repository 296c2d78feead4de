"""What the local run's HTTP server and its WebSocket API share: API Gateway's side of an event.

A Lambda handler as one execution environment (LocalFunction, with the context object Powertools
reads), the event's header and query maps as API Gateway builds them, the stage's name, the
headers of the answers the gateway writes itself, and a body read no further than its limit.
localrun.server (REST) and localrun.websocket (the WebSocket API) both build on it; it imports
neither.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

Handler = Callable[[dict[str, Any], Any], Any]

STAGE = "local"
# A header value the server may echo: one line of visible characters and spaces.
_SINGLE_LINE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


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


class LocalFunction:
    """A Lambda handler as one execution environment: one event at a time, in a worker thread."""

    def __init__(self, handler: Handler, name: str):
        self.handler = handler
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def invoke(self, event: dict[str, Any]) -> Any:
        """From the event loop, which goes on serving while the handler runs."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, event)

    def invoke_from_thread(self, event: dict[str, Any]) -> Any:
        """From another thread (the stream follower): waits for its turn and the result."""
        return self._executor.submit(self._call, event).result()

    def _call(self, event: dict[str, Any]) -> Any:
        return self.handler(event, LocalLambdaContext(aws_request_id=str(uuid.uuid4())))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def header_maps(headers: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """`headers` and `multiValueHeaders` as API Gateway builds them: the last value wins."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def query_maps(query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    multi = parse_qs(query, keep_blank_values=True) or None
    single = {name: values[-1] for name, values in multi.items()} if multi else None
    return single, multi


def single_line(value: str | None) -> str | None:
    """The value if it is one line of visible text, else None: never echo a line break."""
    if value and _SINGLE_LINE.fullmatch(value):
        return value
    return None


def own_headers(origin: str | None = None) -> dict[str, str]:
    """The headers of every answer the server writes itself: the API's, and the gateway's CORS."""
    headers = {"Cache-Control": "no-store", "X-Request-Id": str(uuid.uuid4())}
    origin = single_line(origin)
    if origin:
        headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
    return headers


class BodyTooLarge(Exception):
    pass


async def read_bounded(request: web.BaseRequest, limit: int) -> bytes:
    """The body, chunked or not, refused from its Content-Length or as soon as it passes `limit`."""
    if request.method == "CONNECT":
        return b""  # what follows a CONNECT is a tunnel, not a body
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    body = bytearray()
    while len(body) <= limit:
        chunk = await request.content.read(limit + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > limit:
        raise BodyTooLarge
    return bytes(body)
