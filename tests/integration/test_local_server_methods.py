"""The local server hands every method to the handler: none gets http.server's HTML 501.

The fuzzer's undeclared-method probe found TRACE answered by http.server itself. Whatever the
method, the answer is the contract's error envelope: 405 on the create-call path (or 404 where
the handler routes no such method there), 404 anywhere else.
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


@pytest.mark.parametrize("method", METHODS_HTTP_SERVER_DOES_NOT_KNOW)
def test_any_method_on_the_calls_path_gets_the_envelope(local_api: LocalApi, method: str) -> None:
    assert_envelope(local_api.request(method, "/api/calls"), {404, 405})


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
