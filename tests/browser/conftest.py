"""Headless Chromium (Debian's package, driven by Playwright) and a site of its own origin.

The widget runs in pages served by `site`, on another port than the local API, so every call
is a real cross-origin request with its CORS preflight. The local API and DynamoDB Local are
the shared fixtures of tests/services.py.

The call page (widget/call/) is served by `call_site` as the deployed stack serves it: /c/{callId}
is its index.html, /call/{file} its modules. `media_chromium` has a fake camera and microphone.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.browser.fake_call_service import FakeCallService
from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium dials out at start-up, which a closed
# network refuses; QUIC and the GPU are of no use headless.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A fake camera (a moving test pattern) and microphone (a beep). No fake permission prompt: a
# context granted camera and microphone gets them, one without is refused, as a person who
# clicks "Block" is.
MEDIA_ARGS = ["--use-fake-device-for-media-stream"]
# The end-to-end tests' people allow camera and microphone: no prompt at all, and their contexts are
# granted both too.
ALLOWING_MEDIA_ARGS = [*MEDIA_ARGS, "--use-fake-ui-for-media-stream"]
CALL_PAGE_DIR = ROOT / "widget" / "call"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
WAIT_MS = 15_000
DESKTOP = {"width": 1024, "height": 768}

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test, so that the page fixture knows whether the test failed."""
    report: pytest.TestReport = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run `make browser-deps` (scripts/ensure-chromium.sh) to install it"
        if os.environ.get("REQUIRE_CHROMIUM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    """One browser for the package; Playwright gives each launch a fresh temporary profile directory."""
    expect.set_options(timeout=WAIT_MS)
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def media_chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    """A second browser, with the fake camera and microphone, for the call page."""
    expect.set_options(timeout=WAIT_MS)
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + MEDIA_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def allowing_media_chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    """A browser with the fake camera and microphone that never prompts for them, for the end-to-end
    tests of the call page on the local run."""
    expect.set_options(timeout=WAIT_MS)
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + ALLOWING_MEDIA_ARGS
    )
    yield browser
    browser.close()


@dataclass
class BrowserTab:
    """A page in a context of its own (own CORS preflight cache), and what it printed to its console."""

    page: Page
    context: BrowserContext
    console: list[str] = field(default_factory=list)


@pytest.fixture
def tab(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserTab]:
    """A fresh page; if the test fails, a screenshot and the page's HTML go to test-artifacts/browser/."""
    context = chromium.new_context()
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    opened = BrowserTab(page, context)
    page.on("console", lambda message: opened.console.append(_console_text(message)))
    yield opened
    report = request.node.stash.get(_REPORTS, {}).get("call")
    if report is not None and report.failed:
        _save_artifacts(page, request.node.nodeid)
    context.close()


def _console_text(message: ConsoleMessage) -> str:
    return f"{message.type}: {message.text}"


def _save_artifacts(page: Page, nodeid: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)
    try:
        page.screenshot(path=f"{stem}.png", full_page=True)
        Path(f"{stem}.html").write_text(page.content(), encoding="utf-8")
    except Exception as error:  # the test's own failure is the one to report
        print(f"could not save the page of {nodeid}: {error}")
    else:
        print(f"screenshot of the failed page: {stem}.png")


@dataclass
class StaticSite:
    """A web site on its own origin, serving the pages a test publishes."""

    origin: str
    pages: dict[str, bytes]

    def publish(self, html: str) -> str:
        path = f"/{uuid.uuid4().hex}.html"
        self.pages[path] = html.encode("utf-8")
        return self.origin + path

    def publish_file(self, path: str, content: bytes) -> str:
        """A file at a path of the test's choosing (a page and its script side by side, say)."""
        self.pages[path] = content
        return self.origin + path


def _site_handler(pages: dict[str, bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            body = pages.get(path)
            self.send_response(200 if body is not None else 404)
            is_script = path.endswith(".js")
            self.send_header("Content-Type", f"text/{'javascript' if is_script else 'html'}; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture(scope="package")
def site() -> Iterator[StaticSite]:
    pages: dict[str, bytes] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _site_handler(pages))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield StaticSite(f"http://127.0.0.1:{server.server_address[1]}", pages)
    server.shutdown()
    server.server_close()


_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def _call_page_handler(directory: Path) -> type[BaseHTTPRequestHandler]:
    """/c/{callId} -> index.html, /call/{file} -> that file of the directory (no subfolders)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            file: Path | None = None
            if re.fullmatch(r"/c/[^/]+/?", path):
                file = directory / "index.html"
            elif match := re.fullmatch(r"/call/([A-Za-z0-9_-]+\.(?:js|css))", path):
                file = directory / match.group(1)
            body = file.read_bytes() if file is not None and file.is_file() else None
            self.send_response(200 if body is not None else 404)
            content_type = _CONTENT_TYPES.get(file.suffix if file else "", "text/plain; charset=utf-8")
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@dataclass
class CallSite:
    """The call page's origin: the page at /c/{callId}, its files at /call/."""

    origin: str

    def page_url(self, call_id: str, query: str = "") -> str:
        return f"{self.origin}/c/{call_id}" + (f"?{query}" if query else "")


@pytest.fixture(scope="package")
def call_site() -> Iterator[CallSite]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _call_page_handler(CALL_PAGE_DIR))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield CallSite(f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


def wait_until(page: Page, condition: Callable[[], bool], what: str) -> None:
    """Let Playwright deliver its events until `condition` holds; fail after a generous wait."""
    for _ in range(WAIT_MS // 100):
        if condition():
            return
        page.wait_for_timeout(100)
    pytest.fail(f"timed out waiting for {what}")


# The call page's tabs, each in a browser of its own, served by the test's FakeCallService


@pytest.fixture
def service() -> FakeCallService:
    return FakeCallService()


OpenTab = Callable[..., BrowserTab]


@pytest.fixture
def open_tab(
    media_chromium: Browser, call_site: CallSite, service: FakeCallService, request: pytest.FixtureRequest
) -> Iterator[OpenTab]:
    """Open a browser (a context of its own: its own storage, locale and permissions; of
    `media_chromium` unless another is given) served by `service`. If the test fails, each
    page's screenshot and HTML go to test-artifacts/browser/."""
    tabs: list[BrowserTab] = []

    def open_(
        *,
        locale: str = "en-US",
        media: bool = True,
        viewport: dict[str, int] = DESKTOP,
        browser: Browser | None = None,
    ) -> BrowserTab:
        context = (browser or media_chromium).new_context(locale=locale, viewport=viewport)
        context.set_default_timeout(WAIT_MS)
        if media:
            context.grant_permissions(["camera", "microphone"], origin=call_site.origin)
        service.attach(context)
        page = context.new_page()
        tab = BrowserTab(page, context)
        page.on("console", lambda message: tab.console.append(_console_text(message)))
        page.on("pageerror", lambda error: tab.console.append(f"pageerror: {error}"))
        tabs.append(tab)
        return tab

    yield open_
    report = request.node.stash.get(_REPORTS, {}).get("call")
    for index, tab in enumerate(tabs):
        if report is not None and report.failed:
            _save_artifacts(tab.page, f"{request.node.nodeid}-{index}")
            print(f"console of page {index}:", *tab.console, sep="\n  ")
        tab.context.close()
