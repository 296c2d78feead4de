"""What the local server serves itself: the call page behind the join links and its assets, both
spellings of /docs and /genesys, and the API's headers on every answer."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from localrun.server import LocalServer, serving_in_background
from localrun.static import CALL_PAGE_DIR, Site

from tests.localrun.conftest import not_found_api

PAGE = b"<!doctype html><title>Call</title><script type=module src=/call/app.js></script>"


@pytest.fixture
def call_page(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_bytes(PAGE)
    (tmp_path / "app.js").write_bytes(b"export const ready = true;\n")
    (tmp_path / "styles").mkdir()
    (tmp_path / "styles" / "call.css").write_bytes(b"body { margin: 0 }\n")
    (tmp_path / ".env").write_bytes(b"SECRET=1\n")
    return tmp_path


@pytest.fixture
def port(call_page: Path) -> Iterator[int]:
    with serving_in_background(LocalServer(not_found_api, site=Site(call_page_dir=call_page))) as server:
        yield server.port


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.headers.items()), response.read()
    finally:
        connection.close()


def test_the_call_page_is_served_for_every_call_id(port: int) -> None:
    for path in ("/c/7337b8a3-0147-4292-a2eb-4d9d29945bcc", "/c/anything?role=agent&hostKey=k"):
        status, headers, body = get(port, path)

        assert status == 200
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Cache-Control"] == "no-store"  # the link's query holds a credential
        assert headers["X-Request-Id"]
        assert body == PAGE


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/call/app.js", "text/javascript; charset=utf-8", b"export const ready = true;\n"),
        ("/call/styles/call.css", "text/css; charset=utf-8", b"body { margin: 0 }\n"),
    ],
)
def test_the_call_pages_assets_are_served_with_their_types(
    port: int, path: str, content_type: str, body: bytes
) -> None:
    assert get(port, path)[::2] == (200, body)
    assert get(port, path)[1]["Content-Type"] == content_type


@pytest.mark.parametrize(
    "path", ["/call/missing.js", "/call/.env", "/call/%2e%2e/%2e%2e/README.md", "/call/", "/c/", "/c/a/b"]
)
def test_what_the_call_folder_does_not_hold_is_the_apis_404(port: int, path: str) -> None:
    status, _, body = get(port, path)

    assert status == 404
    assert body == b'{"ok":false}'  # the API function's answer, not a file


def test_without_a_call_page_the_link_says_so(tmp_path: Path) -> None:
    site = Site(call_page_dir=tmp_path / "call")

    answer = site.answer("/c/some-call")

    assert answer is not None
    assert answer.status == 404
    assert b"is not in this checkout" in answer.body


def test_the_call_pages_folder_is_the_widgets_call_folder() -> None:
    assert CALL_PAGE_DIR.parts[-2:] == ("widget", "call")


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/docs/", "/docs"),
        ("/genesys", "/genesys/"),
        ("/genesys?appId=demo-app&conversationId=c-1", "/genesys/?appId=demo-app&conversationId=c-1"),
    ],
)
def test_the_other_spelling_redirects(port: int, path: str, location: str) -> None:
    status, headers, _ = get(port, path)

    assert status == 301
    assert headers["Location"] == location
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/docs", "/genesys/"])
def test_the_redirect_targets_are_served(port: int, path: str) -> None:
    status, headers, _ = get(port, path)

    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
