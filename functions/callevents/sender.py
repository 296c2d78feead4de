"""One HTTP POST to a checked destination, with the standard library only.

The connection goes to the addresses the destination check resolved, never to a fresh DNS
answer, so a host cannot pass the check and then resolve elsewhere; TLS still verifies the
certificate for the host name. Redirects are not followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from callevents.destinations import Destination

EXCERPT_BYTES = 512


@dataclass(frozen=True)
class Answer:
    """What a receiver said: its status (None: no answer) and a short excerpt, never more."""

    status: int | None
    excerpt: str
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def excerpt(data: bytes, limit: int) -> str:
    return data[:limit].decode("utf-8", errors="replace")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, destination: Destination, timeout: float, deadline: float):
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._addresses = destination.addresses
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = _connect_any(self._addresses, self.port, self._deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, destination: Destination, timeout: float, deadline: float):
        super().__init__(
            destination.host, destination.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._addresses = destination.addresses
        self._server_name = destination.host
        self._deadline = deadline

    def connect(self) -> None:
        raw = _connect_any(self._addresses, self.port, self._deadline)
        self.sock = self._context.wrap_socket(raw, server_hostname=self._server_name)  # type: ignore[attr-defined]


def _connect_any(addresses: tuple[str, ...], port: int, deadline: float) -> socket.socket:
    """The first address that connects, every try within what is left of the attempt's time."""
    last: OSError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            return socket.create_connection((address, port), timeout=remaining)
        except OSError as error:
            last = error
    raise last or OSError("no address to connect to")


class _Deadline:
    """Ends an attempt at its deadline, whatever it is waiting for: socket timeouts count each
    operation afresh, so a receiver dripping its answer a byte at a time would outlast them."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float):
        self.passed = False
        self._connection = connection
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        self.passed = True
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing left to cut
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def post(
    destination: Destination,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    excerpt_limit: int = 200,
) -> Answer:
    """POST `body` and read the answer within `timeout` seconds in all; any failure to get a
    status (refused, timed out, TLS) is an Answer too."""
    deadline = time.monotonic() + timeout
    connection: http.client.HTTPConnection
    if destination.scheme == "https":
        connection = _PinnedHTTPSConnection(destination, timeout, deadline)
    else:
        connection = _PinnedHTTPConnection(destination, timeout, deadline)
    watchdog = _Deadline(connection, timeout)
    try:
        connection.request(
            "POST",
            destination.target,
            body=body,
            headers={**headers, "User-Agent": "video-calls-webhooks/1", "Content-Length": str(len(body))},
        )
        response = connection.getresponse()
        data = response.read(EXCERPT_BYTES)
        if watchdog.passed:
            raise TimeoutError
        return Answer(response.status, excerpt(data, excerpt_limit))
    except TimeoutError:
        return Answer(None, "", error=f"no answer within {timeout:g} s")
    except ssl.SSLError as error:
        return Answer(None, "", error=f"TLS failed: {error.__class__.__name__}")
    except (OSError, http.client.HTTPException) as error:
        if watchdog.passed:
            return Answer(None, "", error=f"no answer within {timeout:g} s")
        return Answer(None, "", error=f"{error.__class__.__name__}")
    finally:
        watchdog.cancel()
        connection.close()
