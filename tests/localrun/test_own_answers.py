"""What goes wrong inside the local server is still the API's envelope, never a traceback."""

from __future__ import annotations

import http.client
import json
from typing import Any

from localrun.server import LocalServer, serving_in_background
from localrun.static import Site


def crashing_api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("the function failed")


def broken_page() -> tuple[int, str, bytes]:
    raise OSError("the file went away")


def get(port: int, path: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Origin": "https://shop.example"})
        response = connection.getresponse()
        return response.status, dict(response.headers.items()), json.loads(response.read())
    finally:
        connection.close()


def assert_envelope(status: int, headers: dict[str, str], body: dict[str, Any], code: str) -> None:
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    assert body["ok"] is False
    assert body["error"]["code"] == code
    assert body["error"]["requestId"] == headers["X-Request-Id"]
    assert "Traceback" not in json.dumps(body)


def test_a_crashed_function_is_api_gateways_502_in_the_envelope() -> None:
    with serving_in_background(LocalServer(crashing_api)) as server:
        status, headers, body = get(server.port, "/api/calls")

    assert status == 502
    assert_envelope(status, headers, body, "INTERNAL_ERROR")
    assert headers["Access-Control-Allow-Origin"] == "https://shop.example"


def test_a_failure_of_the_server_itself_is_a_500_in_the_envelope() -> None:
    with serving_in_background(LocalServer(crashing_api, site=Site({"/broken": broken_page}))) as server:
        status, headers, body = get(server.port, "/broken")

    assert status == 500
    assert_envelope(status, headers, body, "INTERNAL_ERROR")
