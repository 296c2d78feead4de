"""The local server hands every method to the handler: none gets http.server's HTML 501.

The fuzzer's undeclared-method probe found TRACE answered by http.server itself. Whatever the
method, the answer is the API's error envelope: 405 with `Allow` on a known path, 404
anywhere else.
"""

from __future__ import annotations

import pytest

from tests.services import HttpResult, LocalApi

pytestmark = pytest.mark.integration

METHODS_HTTP_SERVER_DOES_NOT_KNOW = ["TRACE", "CONNECT", "PROPFIND", "QUERY", "BREW", "get"]
CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def assert_envelope(result: HttpResult, statuses: set[int]) -> None:
    assert result.status in statuses, (result.status, result.raw[:200])
    assert result.header("Content-Type") == "application/json", result.raw[:200]
    assert result.body["ok"] is False
    error = result.body["error"]
    assert error["code"] == CODES[result.status]
    assert error["requestId"] == result.header("X-Request-Id")
    assert result.header("Cache-Control") == "no-store"


@pytest.mark.parametrize("method", [m for m in METHODS_HTTP_SERVER_DOES_NOT_KNOW if m.isupper()])
def test_any_method_on_the_calls_path_gets_the_envelope(local_api: LocalApi, method: str) -> None:
    # A known path: 405 naming its methods, whatever the method.
    result = local_api.request(method, "/api/calls")
    assert_envelope(result, {405})
    assert result.header("Allow") == "GET, POST, OPTIONS"


def test_a_lower_case_method_is_routed_like_its_upper_case(local_api: LocalApi) -> None:
    """Powertools matches methods in any case: `get` lists calls, so without credentials it is 401."""
    result = local_api.request("get", "/api/calls")
    assert result.status == 401
    assert result.body["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("method", METHODS_HTTP_SERVER_DOES_NOT_KNOW)
def test_any_method_on_an_unknown_path_is_404(local_api: LocalApi, method: str) -> None:
    assert_envelope(local_api.request(method, "/no-such-page"), {404})


@pytest.mark.parametrize(("method", "target"), [("CONNECT", "example.com:443"), ("OPTIONS", "*")])
def test_targets_that_are_not_paths_are_404(local_api: LocalApi, method: str, target: str) -> None:
    assert_envelope(local_api.request(method, target), {404})


def test_the_connection_stays_usable_after_an_unknown_method(local_api: LocalApi) -> None:
    """The handler's answer carries a Content-Length, so keep-alive clients read the next one."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", local_api.port, timeout=30)
    try:
        for method in ("TRACE", "GET"):
            connection.request(method, "/no-such-page")
            response = connection.getresponse()
            response.read()
            assert response.status == 404
    finally:
        connection.close()
