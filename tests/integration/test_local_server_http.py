"""The local server reads HTTP the way a careful gateway does, found wanting by an adversarial probe.

Each test sends what a client library would not: a huge or malformed Content-Length, a chunked
body, a folded header, a very long URL, straight over a socket. Whatever the server answers
itself is the error envelope with `X-Request-Id` and `Cache-Control: no-store`, as API Gateway's
own answers are in the deployed stack.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY

from tests.services import LocalApi

pytestmark = pytest.mark.integration

MAX_BODY_BYTES = 32 * 1024  # the documented limit (docs/behaviour.md), written out
CREDENTIALS = f"X-App-Id: {DEMO_APP_ID}\r\nX-Widget-Key: {DEMO_WIDGET_KEY}\r\n"


@dataclass
class RawResponse:
    status: int
    head: str
    headers: dict[str, str]
    body: bytes
    rest: bytes = field(default=b"")

    def json(self) -> Any:
        return json.loads(self.body)


class RawConnection:
    """One TCP connection to the local server, written and read byte for byte."""

    def __init__(self, port: int, timeout: float = 10):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.socket.close()

    def send(self, data: bytes) -> None:
        self.socket.sendall(data)

    def _fill(self) -> bool:
        chunk = self.socket.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> RawResponse:
        """The next response: its head, and a body of Content-Length bytes."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before a full response head: {self.buffer[:200]!r}")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        text = head.decode("latin-1")
        status = int(text.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in text.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not self._fill():
                break
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(status, text, headers, body)


def request_head(method: str, target: str, extra: str = "") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}".encode("latin-1")


def assert_own_envelope(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response.head
    assert response.headers.get("content-type") == "application/json", response.head
    assert response.headers.get("cache-control") == "no-store", response.head
    error: dict[str, Any] = response.json()["error"]
    assert response.json()["ok"] is False
    assert error["code"] == code
    assert error["message"]
    assert error["requestId"] == response.headers.get("x-request-id")
    assert "Traceback" not in response.body.decode("utf-8", "replace")
    return error


# Body size: refused from Content-Length, before a byte of the body is read


def test_a_content_length_of_2_gb_is_a_413_answered_without_reading_the_body(local_api: LocalApi) -> None:
    """The old server read the whole body before its size check: 2 GB grew the process by 2 GB.
    Here nothing after the head is ever sent; a server that waits for the body never answers."""
    with RawConnection(local_api.port, timeout=5) as connection:
        connection.send(
            request_head("POST", "/api/calls", CREDENTIALS + "Content-Length: 2000000000\r\n\r\n")
        )
        started = time.monotonic()
        response = connection.response()

    assert_own_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert time.monotonic() - started < 5


def test_a_content_length_one_over_32_kib_is_a_413_before_the_body(local_api: LocalApi) -> None:
    with RawConnection(local_api.port, timeout=5) as connection:
        length = MAX_BODY_BYTES + 1
        connection.send(request_head("POST", "/api/calls", f"Content-Length: {length}\r\n\r\n"))
        response = connection.response()

    assert_own_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_the_413_lets_a_browser_read_it(local_api: LocalApi) -> None:
    """As API Gateway's gateway responses do: the Origin is echoed, so a widget can say why."""
    origin = "https://shop.example"
    with RawConnection(local_api.port, timeout=5) as connection:
        connection.send(
            request_head("POST", "/api/calls", f"Origin: {origin}\r\nContent-Length: 40000\r\n\r\n")
        )
        response = connection.response()

    assert_own_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["vary"] == "Origin"


# Chunked bodies


def chunked(body: bytes, size: int = 7) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in parts) + b"0\r\n\r\n"


def test_a_chunked_body_is_read_and_the_connection_stays_in_step(local_api: LocalApi) -> None:
    """The old server ignored Transfer-Encoding: the body was dropped and its bytes were read as
    the next request on the kept-alive connection."""
    body = json.dumps({"title": "Sent in chunks"}).encode()
    with RawConnection(local_api.port) as connection:
        connection.send(
            request_head("POST", "/api/calls", CREDENTIALS + "Transfer-Encoding: chunked\r\n\r\n")
            + chunked(body)
        )
        created = connection.response()
        connection.send(request_head("GET", "/__ready__", "\r\n"))
        ready = connection.response()

    assert created.status == 201, created.body
    assert created.json()["data"]["title"] == "Sent in chunks"
    assert (ready.status, ready.json()) == (200, {"ready": True})


def test_a_chunked_body_over_32_kib_is_a_413(local_api: LocalApi) -> None:
    body = b'{"title":"' + b"x" * MAX_BODY_BYTES + b'"}'
    with RawConnection(local_api.port) as connection:
        connection.send(
            request_head("POST", "/api/calls", CREDENTIALS + "Transfer-Encoding: chunked\r\n\r\n")
            + chunked(body, size=4096)
        )
        response = connection.response()

    assert_own_envelope(response, 413, "PAYLOAD_TOO_LARGE")


# Malformed requests


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "0x10"])
def test_a_content_length_that_is_not_a_number_is_a_clean_400(local_api: LocalApi, length: str) -> None:
    with RawConnection(local_api.port) as connection:
        connection.send(request_head("POST", "/api/calls", f"Content-Length: {length}\r\n\r\n"))
        response = connection.response()

    assert_own_envelope(response, 400, "BAD_REQUEST")


def test_a_folded_origin_header_is_never_echoed(local_api: LocalApi) -> None:
    """An obs-fold continuation line: the old server echoed the Origin with its CRLF, which let a
    request write a header of its choosing into the response."""
    folded = "Origin: https://shop.example\r\n Injected-Header: yes\r\n"
    with RawConnection(local_api.port) as connection:
        connection.send(
            request_head("POST", "/api/calls", CREDENTIALS + folded + "Content-Length: 0\r\n\r\n")
        )
        response = connection.response()

    assert "injected-header" not in response.headers
    assert "Injected-Header" not in response.head
    assert_own_envelope(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize("length", [9_000, 70_000])
def test_a_very_long_url_is_a_414_in_the_envelope(local_api: LocalApi, length: int) -> None:
    target = "/api/calls?title=" + "x" * length
    with RawConnection(local_api.port) as connection:
        connection.send(request_head("GET", target, "\r\n"))
        response = connection.response()

    assert_own_envelope(response, 414, "BAD_REQUEST")


def test_a_header_over_the_limit_is_a_431_in_the_envelope(local_api: LocalApi) -> None:
    with RawConnection(local_api.port) as connection:
        connection.send(request_head("GET", "/api/calls", f"X-Padding: {'x' * 9000}\r\n\r\n"))
        response = connection.response()

    assert_own_envelope(response, 431, "BAD_REQUEST")


# The server's own answers carry the API's headers


@pytest.mark.parametrize(
    "path", ["/__ready__", "/", "/docs", "/openapi.json", "/widget/v1/video-calls-widget.js", "/genesys/"]
)
def test_the_servers_own_answers_carry_a_request_id_and_no_store(local_api: LocalApi, path: str) -> None:
    response = local_api.request("GET", path)

    assert response.status == 200
    assert response.header("Cache-Control") == "no-store"
    assert response.header("X-Request-Id")
