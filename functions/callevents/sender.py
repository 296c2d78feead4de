"""One HTTP POST to a checked destination, with the standard library only.

The connection goes to the addresses the destination check resolved, never to a fresh DNS
answer, so a host cannot pass the check and then resolve elsewhere; TLS still verifies the
certificate for the host name. Redirects are not followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import http.client
import socket
import ssl
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
    def __init__(self, destination: Destination, timeout: float):
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._addresses = destination.addresses

    def connect(self) -> None:
        self.sock = _connect_any(self._addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, destination: Destination, timeout: float):
        super().__init__(
            destination.host, destination.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._addresses = destination.addresses
        self._server_name = destination.host

    def connect(self) -> None:
        raw = _connect_any(self._addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self._server_name)  # type: ignore[attr-defined]


def _connect_any(addresses: tuple[str, ...], port: int, timeout: float | None) -> socket.socket:
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as error:
            last = error
    raise last or OSError("no address to connect to")


def post(
    destination: Destination,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    excerpt_limit: int = 200,
) -> Answer:
    """POST `body`; any failure to get a status (refused, timed out, TLS) is an Answer too."""
    connection: http.client.HTTPConnection
    if destination.scheme == "https":
        connection = _PinnedHTTPSConnection(destination, timeout)
    else:
        connection = _PinnedHTTPConnection(destination, timeout)
    try:
        connection.request(
            "POST",
            destination.target,
            body=body,
            headers={**headers, "User-Agent": "video-calls-webhooks/1", "Content-Length": str(len(body))},
        )
        response = connection.getresponse()
        data = response.read(EXCERPT_BYTES)
        return Answer(response.status, excerpt(data, excerpt_limit))
    except TimeoutError:
        return Answer(None, "", error=f"no answer within {timeout:g} s")
    except ssl.SSLError as error:
        return Answer(None, "", error=f"TLS failed: {error.__class__.__name__}")
    except (OSError, http.client.HTTPException) as error:
        return Answer(None, "", error=f"{error.__class__.__name__}")
    finally:
        connection.close()
