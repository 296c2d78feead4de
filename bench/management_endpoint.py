"""A stand-in for API Gateway's management API (`POST|DELETE /@connections/{id}`) on loopback, for
the signaling figures: it answers every post 200 and every close 204 at once, on keep-alive
connections, so that what is measured is the function's side of a post, as the floor's."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Endpoint(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        ok = self.path.startswith("/@connections/")
        self.send_response(status if ok else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self._answer(200)

    def do_DELETE(self) -> None:
        self._answer(204)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_management_endpoint() -> Iterator[str]:
    """The endpoint's URL (SIGNALING_CALLBACK_URL) while it serves, on a thread of this process."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="management-endpoint", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
