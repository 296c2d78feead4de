"""The Genesys Cloud agent panel (widget/genesys/) in headless Chromium.

The page is a hosted copy on the test site's origin whose script tag names the local API
(data-api-base, as its host sets it when deploying it), opened with the query string Genesys Cloud
builds from an Interaction Widget's URL template, so every call to the local API is cross-origin.
Every page is 320 px wide, the width of the Genesys side panel, so a failing test's screenshot
in test-artifacts/browser/ shows what an agent would see. Each test has an app of its own, so
"the app's calls" in the table are exactly what the page made.

Only the tests of two pages at once and of host-key mode route requests: while a route is set,
Playwright answers CORS preflights itself.
"""

from __future__ import annotations

import html
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from callsctl.store import AdminStore
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY, DISABLED_APP_ID, DISABLED_WIDGET_KEY
from localrun.dynamodb_local import free_port
from localrun.static import GENESYS_DIR, GENESYS_PAGE_PATH, GENESYS_SCRIPT_PATH
from playwright.sync_api import (
    APIResponse,
    Browser,
    BrowserContext,
    Locator,
    Page,
    Request,
    Response,
    Route,
    expect,
)

from tests.browser.conftest import WAIT_MS, BrowserTab, StaticSite, wait_until
from tests.integration.conftest import LocalApi, TestApp

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PANEL = {"width": 320, "height": 720}
START = "Start video call"
START_NEW = "Start a new video call"
JOIN = "Join as agent"
GUEST_LINK = "Link for the customer"
GENESYS_CONTEXT = {
    "gcHostOrigin": "https://apps.mypurecloud.de",
    "gcTargetEnv": "prod-euc1",
    "gcLangTag": "en-us",
    "gcUsePopupAuth": "true",
}
HOSTED_PATH = "/hosted/genesys/"


# Fixtures and helpers


def hosted_copy(site: StaticSite, path: str, **attributes: str) -> str:
    """index.html and genesys.js side by side at `path` on the site's origin, as a customer would
    host them, the script tag carrying `attributes` as data attributes (api_base: data-api-base)."""
    index = (GENESYS_DIR / "index.html").read_text(encoding="utf-8")
    tag = '<script src="genesys.js" defer>'
    assert tag in index
    data = "".join(
        f' data-{name.replace("_", "-")}="{html.escape(value)}"' for name, value in attributes.items()
    )
    site.publish_file(path + "genesys.js", (GENESYS_DIR / "genesys.js").read_bytes())
    return site.publish_file(path, index.replace(tag, f'<script src="genesys.js" defer{data}>').encode())


@pytest.fixture
def hosted_page(site: StaticSite, local_api: LocalApi) -> str:
    """A hosted copy on another origin than the API: the API's address is set where it is
    deployed (data-api-base), never in the link."""
    return hosted_copy(site, HOSTED_PATH, api_base=local_api.base_url)


@pytest.fixture
def app(make_app: Callable[..., TestApp]) -> TestApp:
    return make_app()


@pytest.fixture
def conversation_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def panel(tab: BrowserTab) -> Page:
    tab.page.set_viewport_size(PANEL)
    return tab.page


@pytest.fixture
def other_browser(chromium: Browser) -> Iterator[BrowserContext]:
    """Another agent's browser, or the same agent's after a restart: no session storage shared."""
    context = chromium.new_context(viewport=PANEL)
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


def panel_url(page_url: str, app: TestApp, conversation_id: str, **changes: Any) -> str:
    """The page's address as Genesys Cloud fills the template in; a change of None leaves a parameter out."""
    parameters: dict[str, Any] = {
        "conversationId": conversation_id,
        **GENESYS_CONTEXT,
        "appId": app.app_id,
        "widgetKey": app.widget_key,
        **changes,
    }
    return (
        page_url + "?" + urlencode({name: value for name, value in parameters.items() if value is not None})
    )


def calls_url(local_api: LocalApi) -> str:
    return local_api.base_url + "/api/calls"


def list_and_create_requests(local_api: LocalApi) -> re.Pattern[str]:
    """GET /api/calls?... and POST /api/calls, not the routes of one call."""
    return re.compile("^" + re.escape(calls_url(local_api)) + r"(\?.*)?$")


def state(page: Page) -> Locator:
    return page.locator("#video-calls-genesys")


def message(page: Page) -> Locator:
    return page.get_by_role("status")


def start(page: Page, local_api: LocalApi, name: str = START) -> Response:
    """Click a start button and return the create answer, once the page shows the call."""
    with page.expect_response(
        lambda response: response.url == calls_url(local_api) and response.request.method == "POST"
    ) as answer:
        page.get_by_role("button", name=name, exact=True).click()
    expect(state(page)).to_have_attribute("data-state", "call")
    return answer.value


def open_panel(page: Page, url: str) -> None:
    page.goto(url)
    expect(state(page)).not_to_have_attribute("data-state", "loading")


def app_calls(admin: AdminStore, app: TestApp) -> list[dict[str, Any]]:
    """Every call the app has in the table, newest first, whether or not it carries a conversation,
    as the operator's `callsctl calls list` shows them (the API's call view)."""
    from calls.view import call_view, utc_now

    now = utc_now()
    listing = admin.list_calls(app.app_id, now=now, limit=100)
    return [call_view(call, now=now, base_url=admin.join_base_url) for call in listing.calls]


def assert_key_kept_out_of_the_text(page: Page, widget_key: str) -> None:
    assert widget_key not in page.inner_text("body")


def is_create(request: Request) -> bool:
    return request.method == "POST"


# Start, reload, two pages, end (issue 14, point 2 and 3)


def test_start_creates_the_call_with_the_conversations_context(
    panel: Page, hosted_page: str, local_api: LocalApi, admin: AdminStore, app: TestApp, conversation_id: str
) -> None:
    page = panel
    with page.expect_request(lambda request: request.url.startswith(calls_url(local_api) + "?")) as lookup:
        open_panel(page, panel_url(hosted_page, app, conversation_id))
    assert lookup.value.method == "GET"
    assert f"conversationId={conversation_id}" in lookup.value.url
    assert "status=created" in lookup.value.url
    assert "limit=1" in lookup.value.url
    expect(state(page)).to_have_attribute("data-state", "none")
    expect(page.get_by_text("No video call is running for this conversation.")).to_be_visible()
    assert app_calls(admin, app) == [], "opening the page must not create a call"

    created = start(page, local_api)

    assert created.status == 201
    data = created.json()["data"]
    sent = created.request
    assert sent.headers["idempotency-key"] == f"genesys-{conversation_id}:after:none"
    assert sent.headers["x-app-id"] == app.app_id
    assert sent.headers["x-widget-key"] == app.widget_key
    assert "widgetKey" not in sent.url
    [call] = app_calls(admin, app)
    assert call["callId"] == data["callId"]
    assert call["status"] == "created"
    assert call["genesys"] == {
        "conversationId": conversation_id,
        "gcHostOrigin": "https://apps.mypurecloud.de",
        "gcTargetEnv": "prod-euc1",
        "gcLangTag": "en-us",
        "gcUsePopupAuth": True,
    }

    expect(message(page)).to_have_text("The video call is ready.")
    expect(page.locator(".vcg-status")).to_have_text("Status: Ready to join")
    join = page.get_by_role("link", name=JOIN)
    expect(join).to_have_attribute("href", data["hostJoinUrl"])
    expect(join).to_have_attribute("target", "_blank")
    expect(join).to_have_attribute("rel", "noopener noreferrer")
    expect(page.get_by_label(GUEST_LINK)).to_have_value(data["guestJoinUrl"])
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()
    expect(page.get_by_role("button", name="End call")).to_be_visible()
    assert_key_kept_out_of_the_text(page, app.widget_key)


def test_join_as_agent_opens_the_host_link(
    tab: BrowserTab, panel: Page, hosted_page: str, local_api: LocalApi, app: TestApp, conversation_id: str
) -> None:
    open_panel(panel, panel_url(hosted_page, app, conversation_id))
    host_link = start(panel, local_api).json()["data"]["hostJoinUrl"]

    def opens_the_host_link(request: Request) -> bool:
        return request.is_navigation_request() and urlsplit(request.url).path.startswith("/c/")

    with tab.context.expect_event("request", predicate=opens_the_host_link) as opened:
        panel.get_by_role("link", name=JOIN).click()
    assert opened.value.url == host_link


def test_a_reload_shows_the_same_call_and_creates_none(
    panel: Page,
    hosted_page: str,
    local_api: LocalApi,
    admin: AdminStore,
    app: TestApp,
    conversation_id: str,
    other_browser: BrowserContext,
) -> None:
    url = panel_url(hosted_page, app, conversation_id)
    open_panel(panel, url)
    data = start(panel, local_api).json()["data"]
    creates: list[Request] = []
    panel.on("request", lambda request: creates.append(request) if is_create(request) else None)

    panel.reload()

    expect(state(panel)).to_have_attribute("data-state", "call")
    expect(panel.get_by_label(GUEST_LINK)).to_have_value(data["guestJoinUrl"])
    expect(panel.get_by_role("link", name=JOIN)).to_have_attribute("href", data["hostJoinUrl"])
    expect(panel.get_by_role("button", name=START)).to_have_count(0)
    expect(message(panel)).to_be_empty()

    # Another browser has no session storage: it finds the call through the API alone, and an app
    # whose views carry host links (widget-key mode) offers the agent link there too.
    elsewhere = other_browser.new_page()
    elsewhere.on("request", lambda request: creates.append(request) if is_create(request) else None)
    open_panel(elsewhere, url)
    expect(state(elsewhere)).to_have_attribute("data-state", "call")
    expect(elsewhere.get_by_label(GUEST_LINK)).to_have_value(data["guestJoinUrl"])
    expect(elsewhere.get_by_role("link", name=JOIN)).to_have_attribute("href", data["hostJoinUrl"])

    assert creates == []
    assert [call["callId"] for call in app_calls(admin, app)] == [data["callId"]]


def test_two_pages_starting_at_once_make_one_call(
    tab: BrowserTab,
    panel: Page,
    hosted_page: str,
    local_api: LocalApi,
    admin: AdminStore,
    app: TestApp,
    conversation_id: str,
) -> None:
    # Both creates are held until both were sent: each page looked and found no call, so only the
    # Idempotency-Key can keep them to one call.
    held: list[Route] = []

    def hold_creates(route: Route) -> None:
        if is_create(route.request):
            held.append(route)
        else:
            route.continue_()

    tab.context.route(list_and_create_requests(local_api), hold_creates)
    url = panel_url(hosted_page, app, conversation_id)
    first, second = panel, tab.context.new_page()
    second.set_viewport_size(PANEL)
    for page in (first, second):
        open_panel(page, url)
        expect(state(page)).to_have_attribute("data-state", "none")

    first.get_by_role("button", name=START).click()
    second.get_by_role("button", name=START).click()
    wait_until(first, lambda: len(held) == 2, "both pages' create requests")
    assert [route.request.headers["idempotency-key"] for route in held] == [
        f"genesys-{conversation_id}:after:none"
    ] * 2
    for route in held:
        route.continue_()

    for page in (first, second):
        expect(state(page)).to_have_attribute("data-state", "call")
    [call] = app_calls(admin, app)
    for page in (first, second):
        expect(page.get_by_label(GUEST_LINK)).to_have_value(re.compile(re.escape(call["callId"]) + "$"))
        expect(page.get_by_role("link", name=JOIN)).to_be_visible()


def test_a_page_that_looked_just_before_another_started_shows_that_call(
    tab: BrowserTab,
    panel: Page,
    hosted_page: str,
    local_api: LocalApi,
    app: TestApp,
    conversation_id: str,
) -> None:
    # Two panels of one conversation click within a second: B's look for a live call is answered
    # before A's create lands, B's look at the newest call after it. B must show A's call, not
    # take it for "the previous call" and start another after it.
    url = panel_url(hosted_page, app, conversation_id)
    first, second = panel, tab.context.new_page()
    second.set_viewport_size(PANEL)
    for page in (first, second):
        open_panel(page, url)
        expect(state(page)).to_have_attribute("data-state", "none")
    held: list[tuple[Route, APIResponse]] = []
    creates: list[Request] = []

    def answer_the_live_call_lookup_now_deliver_it_later(route: Route) -> None:
        if route.request.method == "GET" and "status=created" in route.request.url and not held:
            held.append((route, route.fetch()))
        else:
            route.continue_()

    second.route(list_and_create_requests(local_api), answer_the_live_call_lookup_now_deliver_it_later)
    second.on("request", lambda request: creates.append(request) if is_create(request) else None)

    second.get_by_role("button", name=START).click()
    wait_until(second, lambda: len(held) == 1, "panel B's look for a live call")
    [(lookup, answer)] = held
    assert answer.json()["data"]["calls"] == [], "B looked before any call existed"
    data = start(first, local_api).json()["data"]
    lookup.fulfill(response=answer)

    expect(state(second)).to_have_attribute("data-state", "call")
    expect(message(second)).to_have_text("This conversation already has a video call.")
    live = local_api.request(
        "GET",
        "/api/calls",
        headers={"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key},
        query={"conversationId": conversation_id, "status": "created"},
    )
    assert live.status == 200
    assert [call["callId"] for call in live.body["data"]["calls"]] == [data["callId"]]
    for page in (first, second):
        expect(page.get_by_label(GUEST_LINK)).to_have_value(data["guestJoinUrl"])
    assert creates == []


def test_a_page_that_loaded_before_another_started_shows_that_call(
    tab: BrowserTab,
    panel: Page,
    hosted_page: str,
    local_api: LocalApi,
    admin: AdminStore,
    app: TestApp,
    conversation_id: str,
) -> None:
    url = panel_url(hosted_page, app, conversation_id)
    stale = tab.context.new_page()
    stale.set_viewport_size(PANEL)
    open_panel(stale, url)
    open_panel(panel, url)
    data = start(panel, local_api).json()["data"]
    creates: list[Request] = []
    stale.on("request", lambda request: creates.append(request) if is_create(request) else None)

    stale.get_by_role("button", name=START).click()

    expect(message(stale)).to_have_text("This conversation already has a video call.")
    expect(stale.get_by_label(GUEST_LINK)).to_have_value(data["guestJoinUrl"])
    assert creates == []
    assert len(app_calls(admin, app)) == 1


def test_end_then_start_makes_a_second_call(
    panel: Page, hosted_page: str, local_api: LocalApi, admin: AdminStore, app: TestApp, conversation_id: str
) -> None:
    page = panel
    open_panel(page, panel_url(hosted_page, app, conversation_id))
    first = start(page, local_api).json()["data"]

    page.get_by_role("button", name="End call").click()
    expect(page.get_by_text("End the video call for everyone?")).to_be_visible()
    with page.expect_response(f"{calls_url(local_api)}/{first['callId']}/end") as ended:
        page.get_by_role("button", name="Yes, end the call").click()

    assert ended.value.status == 200
    expect(state(page)).to_have_attribute("data-state", "ended")
    expect(message(page)).to_have_text("The video call has ended.")
    expect(page.locator(".vcg-status")).to_have_text("Status: Ended")
    expect(page.get_by_role("link", name=JOIN)).to_have_count(0)
    expect(page.get_by_label(GUEST_LINK)).to_have_count(0)
    stored = admin.show_call(app.app_id, first["callId"])
    assert stored.status == "ended"
    assert stored.ended_at == ended.value.json()["data"]["endedAt"]

    second_answer = start(page, local_api, name=START_NEW)

    assert second_answer.status == 201
    assert second_answer.request.headers["idempotency-key"] == (
        f"genesys-{conversation_id}:after:{first['callId']}"
    )
    second = second_answer.json()["data"]
    assert second["callId"] != first["callId"]
    expect(page.get_by_label(GUEST_LINK)).to_have_value(second["guestJoinUrl"])
    statuses = {call["callId"]: call["status"] for call in app_calls(admin, app)}
    assert statuses == {first["callId"]: "ended", second["callId"]: "created"}

    page.reload()
    expect(page.get_by_label(GUEST_LINK)).to_have_value(second["guestJoinUrl"])


def test_a_conversation_id_too_long_for_the_key_is_hashed_into_it(
    panel: Page, hosted_page: str, local_api: LocalApi, admin: AdminStore, app: TestApp
) -> None:
    conversation_id = "conversation-" + "x" * 240  # genesys strings may have 256 characters
    url = panel_url(hosted_page, app, conversation_id)
    open_panel(panel, url)

    created = start(panel, local_api)

    key = created.request.headers["idempotency-key"]
    assert re.fullmatch(r"genesys-sha256-[0-9a-f]{64}:after:none", key), key
    guest_link = created.json()["data"]["guestJoinUrl"]
    panel.reload()
    expect(panel.get_by_label(GUEST_LINK)).to_have_value(guest_link)
    [call] = app_calls(admin, app)
    assert call["genesys"]["conversationId"] == conversation_id


def test_a_hosted_copy_takes_its_settings_from_its_script_tag(
    tab: BrowserTab,
    panel: Page,
    site: StaticSite,
    local_api: LocalApi,
    admin: AdminStore,
    app: TestApp,
    conversation_id: str,
) -> None:
    page_url = hosted_copy(
        site, "/configured/", app_id=app.app_id, widget_key=app.widget_key, api_base=local_api.base_url
    )
    elsewhere = f"http://127.0.0.1:{free_port()}"
    requests: list[str] = []
    tab.context.on("request", lambda request: requests.append(request.url))

    # Only the Genesys placeholders in the address, and an apiBase a crafted link might add.
    query = urlencode({"conversationId": conversation_id, **GENESYS_CONTEXT, "apiBase": elsewhere})
    open_panel(panel, f"{page_url}?{query}")
    created = start(panel, local_api)

    assert created.request.headers["x-widget-key"] == app.widget_key
    [call] = app_calls(admin, app)
    assert call["genesys"]["conversationId"] == conversation_id
    assert [url for url in requests if url.startswith(elsewhere)] == []


# The API's address is the page's own origin or its script tag's data-api-base, never the link's


@dataclass
class RecordingServer:
    """Another server, as a crafted link's apiBase would name it, and every request it got."""

    origin: str
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)


def _recording_handler(requests: list[tuple[str, str, str | None]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Records (method, path, X-Widget-Key) and answers like an API with no call yet, so that a
        page that did talk to it would carry on, send it the key and show its answers."""

        def record(self) -> None:
            requests.append((self.command, self.path, self.headers.get("X-Widget-Key")))

        def answer(self, status: int, body: dict[str, Any] | None) -> None:
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "GET, POST")
            self.send_header("Access-Control-Allow-Headers", "*")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_OPTIONS(self) -> None:
            self.record()
            self.answer(204, None)

        def do_GET(self) -> None:
            self.record()
            self.answer(200, {"ok": True, "data": {"calls": [], "nextCursor": None}})

        def do_POST(self) -> None:
            self.record()
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            call = {"callId": "evil", "status": "created", "guestJoinUrl": "https://evil.example/c/evil"}
            self.answer(201, {"ok": True, "data": call})

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    requests: list[tuple[str, str, str | None]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _recording_handler(requests))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield RecordingServer(f"http://127.0.0.1:{server.server_address[1]}", requests)
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("served", ["own-origin", "hosted-with-data-api-base"])
def test_an_api_base_in_the_link_is_never_used(
    tab: BrowserTab,
    panel: Page,
    hosted_page: str,
    local_api: LocalApi,
    admin: AdminStore,
    app: TestApp,
    conversation_id: str,
    recorder: RecordingServer,
    served: str,
) -> None:
    # The real page (the local run's, whose API is its own origin, or a hosted copy whose script
    # tag names the API), opened from a crafted link: the credentials and an apiBase in the query.
    page_url = local_api.base_url + GENESYS_PAGE_PATH if served == "own-origin" else hosted_page
    requests: list[str] = []
    tab.context.on("request", lambda request: requests.append(request.url))

    def assert_only_the_configured_api_was_asked() -> None:
        assert recorder.requests == [], "the link's server got requests (and the widget key)"
        assert [url for url in requests if not url.startswith((page_url, calls_url(local_api)))] == []

    open_panel(panel, panel_url(page_url, app, conversation_id, apiBase=recorder.origin))
    expect(state(panel)).to_have_attribute("data-state", "none")
    assert_only_the_configured_api_was_asked()
    created = start(panel, local_api)

    assert_only_the_configured_api_was_asked()
    assert created.status == 201
    [call] = app_calls(admin, app)
    assert call["genesys"]["conversationId"] == conversation_id
    expect(panel.get_by_label(GUEST_LINK)).to_have_value(created.json()["data"]["guestJoinUrl"])


# Host-key mode (docs/behaviour.md section 6): the host link appears in the create answer only


def views_without_host_links(route: Route) -> None:
    """The API as it answers an app in host-key mode: no host link in any call view."""
    if route.request.method != "GET":
        route.continue_()
        return
    response = route.fetch()
    body = response.json()
    data = body.get("data") or {}
    for view in data.get("calls", [data]):
        view.pop("hostJoinUrl", None)
        view.pop("agentJoinUrl", None)
    route.fulfill(response=response, json=body)


def test_host_key_mode_keeps_the_host_link_for_the_tab_and_says_when_it_is_gone(
    tab: BrowserTab,
    panel: Page,
    hosted_page: str,
    local_api: LocalApi,
    app: TestApp,
    conversation_id: str,
    other_browser: BrowserContext,
) -> None:
    one_call = re.compile("^" + re.escape(calls_url(local_api)) + r"(/[^/?]+)?(\?.*)?$")
    tab.context.route(one_call, views_without_host_links)
    other_browser.route(one_call, views_without_host_links)
    url = panel_url(hosted_page, app, conversation_id)
    open_panel(panel, url)
    data = start(panel, local_api).json()["data"]
    join = panel.get_by_role("link", name=JOIN)
    expect(join).to_have_attribute("href", data["hostJoinUrl"])

    with panel.expect_response(f"{calls_url(local_api)}/{data['callId']}") as refreshed:
        panel.get_by_role("button", name="Refresh").click()
    assert "hostJoinUrl" not in refreshed.value.json()["data"]
    expect(message(panel)).to_have_text("Status updated.")
    expect(join).to_have_attribute("href", data["hostJoinUrl"])

    panel.reload()
    expect(state(panel)).to_have_attribute("data-state", "call")
    expect(join).to_have_attribute("href", data["hostJoinUrl"])
    expect(panel.locator(".vcg-host-link-gone")).to_have_count(0)

    elsewhere = other_browser.new_page()
    open_panel(elsewhere, url)
    expect(state(elsewhere)).to_have_attribute("data-state", "call")
    expect(elsewhere.get_by_label(GUEST_LINK)).to_have_value(data["guestJoinUrl"])
    expect(elsewhere.get_by_role("link", name=JOIN)).to_have_count(0)
    expect(elsewhere.locator(".vcg-host-link-gone")).to_have_text(
        "The agent link is given only once, when the call is started, and only the browser tab that "
        "started it keeps it. This page can no longer offer it: join from that tab, or end this call "
        "and start a new one."
    )

    # The new call's link is the new create answer's, not the ended call's.
    elsewhere.get_by_role("button", name="End call").click()
    elsewhere.get_by_role("button", name="Yes, end the call").click()
    expect(state(elsewhere)).to_have_attribute("data-state", "ended")
    second = start(elsewhere, local_api, name=START_NEW).json()["data"]
    expect(elsewhere.get_by_role("link", name=JOIN)).to_have_attribute("href", second["hostJoinUrl"])
    panel.reload()
    expect(panel.get_by_label(GUEST_LINK)).to_have_value(second["guestJoinUrl"])
    expect(panel.get_by_role("link", name=JOIN)).to_have_count(0)


# Languages (point 5)


@pytest.mark.parametrize(
    ("lang_tag", "html_lang", "start_text", "note"),
    [
        pytest.param("en-us", "en", START, "No video call is running for this conversation.", id="en-us"),
        pytest.param("xx-yy", "en", START, "No video call is running for this conversation.", id="unknown"),
        pytest.param(None, "en", START, "No video call is running for this conversation.", id="none"),
        pytest.param(
            "de-de", "de", "Videoanruf starten", "Für diese Konversation läuft kein Videoanruf.", id="de-de"
        ),
        pytest.param(
            "DE_at", "de", "Videoanruf starten", "Für diese Konversation läuft kein Videoanruf.", id="de-at"
        ),
    ],
)
def test_texts_follow_the_genesys_language_with_english_as_the_fallback(
    panel: Page,
    hosted_page: str,
    local_api: LocalApi,
    app: TestApp,
    conversation_id: str,
    lang_tag: str | None,
    html_lang: str,
    start_text: str,
    note: str,
) -> None:
    open_panel(panel, panel_url(hosted_page, app, conversation_id, gcLangTag=lang_tag))

    expect(panel.locator("html")).to_have_attribute("lang", html_lang)
    expect(panel.get_by_role("button", name=start_text, exact=True)).to_be_visible()
    expect(panel.get_by_text(note)).to_be_visible()
    expect(panel.get_by_role("heading", level=1)).to_have_text(
        "Videoanruf" if html_lang == "de" else "Video call"
    )


def test_german_covers_the_call_panel(
    panel: Page, hosted_page: str, local_api: LocalApi, app: TestApp, conversation_id: str
) -> None:
    open_panel(panel, panel_url(hosted_page, app, conversation_id, gcLangTag="de-de"))
    start(panel, local_api, name="Videoanruf starten")

    expect(message(panel)).to_have_text("Der Videoanruf ist bereit.")
    expect(panel.get_by_role("link", name="Als Agent beitreten")).to_be_visible()
    expect(panel.get_by_label("Link für den Kunden")).to_be_visible()
    for name in ("Link kopieren", "Anruf beenden", "Aktualisieren"):
        expect(panel.get_by_role("button", name=name)).to_be_visible()
    expect(panel.locator(".vcg-status")).to_have_text("Status: Bereit zum Beitreten")


# Refusals and a page opened outside Genesys Cloud (points 4 and 5)


@pytest.mark.parametrize(
    ("credentials", "allowed_origins", "lang_tag", "http_status", "code", "expected"),
    [
        pytest.param(
            "wrong-key",
            (),
            "en-us",
            401,
            "UNAUTHORIZED",
            "The video call service did not accept this integration's app ID or widget key. Ask your "
            "Genesys Cloud administrator to check the integration's Application URL.",
            id="401-wrong-key",
        ),
        pytest.param(
            "wrong-key",
            (),
            "de-de",
            401,
            "UNAUTHORIZED",
            "Der Videoanruf-Dienst hat die App-ID oder den Widget-Schlüssel dieser Integration nicht "
            "akzeptiert.",
            id="401-wrong-key-de",
        ),
        pytest.param(
            "disabled",
            (),
            "en-us",
            403,
            "APP_DISABLED",
            "Video calls are switched off for this app.",
            id="403-app-disabled",
        ),
        pytest.param(
            "own",
            ("https://desk.example",),
            "en-us",
            403,
            "ORIGIN_NOT_ALLOWED",
            "Video calls can't be used from this page's address (http://127.0.0.1:",
            id="403-origin-not-allowed",
        ),
    ],
)
def test_a_refused_lookup_says_why_in_plain_words(
    panel: Page,
    hosted_page: str,
    local_api: LocalApi,
    make_app: Callable[..., TestApp],
    conversation_id: str,
    credentials: str,
    allowed_origins: tuple[str, ...],
    lang_tag: str,
    http_status: int,
    code: str,
    expected: str,
) -> None:
    app = make_app(allowed_origins=allowed_origins)
    if credentials == "wrong-key":
        app = TestApp(app.app_id, "wrong-key")
    elif credentials == "disabled":
        app = TestApp(DISABLED_APP_ID, DISABLED_WIDGET_KEY)
    with panel.expect_response(
        lambda response: response.url.startswith(calls_url(local_api) + "?")
    ) as lookup:
        open_panel(panel, panel_url(hosted_page, app, conversation_id, gcLangTag=lang_tag))

    assert lookup.value.status == http_status
    request_id = lookup.value.json()["error"]["requestId"]
    expect(state(panel)).to_have_attribute("data-state", "error")
    expect(state(panel)).to_have_attribute("data-error-code", code)
    expect(message(panel)).to_contain_text(expected)
    expect(message(panel)).to_contain_text(request_id)
    expect(panel.get_by_role("button")).to_have_count(1)  # "Try again", nothing that would create a call
    assert_key_kept_out_of_the_text(panel, app.widget_key)


@pytest.mark.parametrize(
    ("changes", "api_base", "missing"),
    [
        pytest.param(
            {"conversationId": None},
            None,
            "Missing from this page's address: the conversation (conversationId).",
            id="no-conversation",
        ),
        pytest.param(
            {"conversationId": "{{gcConversationId}}"},
            None,
            "Missing from this page's address: the conversation (conversationId).",
            id="placeholder-not-filled-in",
        ),
        pytest.param(
            {"appId": None, "widgetKey": None},
            None,
            "Missing from this page's address: the app ID (appId), the widget key (widgetKey).",
            id="no-credentials",
        ),
        pytest.param(
            {"widgetKey": ""},
            None,
            "Missing from this page's address: the widget key (widgetKey).",
            id="empty-key",
        ),
        pytest.param(
            {},
            "javascript:alert(1)",
            "The data-api-base attribute of this page's script tag is not an http or https address.",
            id="bad-api-base",
        ),
    ],
)
def test_a_page_opened_outside_genesys_explains_itself_and_calls_nothing(
    tab: BrowserTab,
    panel: Page,
    site: StaticSite,
    hosted_page: str,
    app: TestApp,
    conversation_id: str,
    changes: dict[str, str | None],
    api_base: str | None,
    missing: str,
) -> None:
    requests: list[str] = []
    tab.context.on("request", lambda request: requests.append(request.url))
    # A copy hosted with a broken API address, or the usual one.
    page_url = hosted_copy(site, "/bad-api-base/genesys/", api_base=api_base) if api_base else hosted_page

    panel.goto(panel_url(page_url, app, conversation_id, **changes))
    panel.wait_for_load_state("networkidle")

    expect(state(panel)).to_have_attribute("data-state", "setup")
    expect(panel.get_by_role("heading", level=1)).to_have_text("Open this page from Genesys Cloud")
    expect(panel.locator(".vcg-missing")).to_have_text(missing)
    expect(panel.get_by_text("adds an Interaction Widget integration")).to_be_visible()
    expect(panel.locator(".vcg-template")).to_contain_text("conversationId={{gcConversationId}}")
    expect(panel.locator(".vcg-template")).not_to_contain_text("apiBase")
    expect(panel.get_by_role("button")).to_have_count(0)
    assert [url for url in requests if not url.startswith(page_url)] == []


# The agent's hands: keyboard, clipboard, the side panel's width (point 5)


def test_the_keyboard_alone_starts_copies_and_ends(
    panel: Page, hosted_page: str, local_api: LocalApi, app: TestApp, conversation_id: str
) -> None:
    page = panel
    open_panel(page, panel_url(hosted_page, app, conversation_id))
    expect(state(page)).to_have_attribute("data-state", "none")
    expect(page.get_by_role("button", name=START)).not_to_be_focused()  # no focus taken on load

    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=START)).to_be_focused()
    page.keyboard.press("Enter")
    expect(state(page)).to_have_attribute("data-state", "call")
    expect(page.get_by_role("link", name=JOIN)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label(GUEST_LINK)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Copy link")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="End call")).to_be_focused()

    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Yes, end the call")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Keep the call"
    expect(page.get_by_role("button", name="End call")).to_be_focused()
    expect(state(page)).to_have_attribute("data-state", "call")

    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # "Yes, end the call"
    expect(state(page)).to_have_attribute("data-state", "ended")
    expect(page.get_by_role("button", name=START_NEW)).to_be_focused()
    outline = page.get_by_role("button", name=START_NEW).evaluate("b => getComputedStyle(b).outlineStyle")
    assert outline == "solid", "the focused button shows a focus ring"


def test_copy_link_puts_the_guest_link_on_the_clipboard(
    tab: BrowserTab,
    panel: Page,
    site: StaticSite,
    hosted_page: str,
    local_api: LocalApi,
    app: TestApp,
    conversation_id: str,
) -> None:
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.origin)
    open_panel(panel, panel_url(hosted_page, app, conversation_id))
    guest_link = start(panel, local_api).json()["data"]["guestJoinUrl"]

    panel.get_by_role("button", name="Copy link").click()

    expect(message(panel)).to_have_text("Link copied. Paste it into the chat.")
    assert panel.evaluate("navigator.clipboard.readText()") == guest_link


def test_every_state_fits_the_320_px_side_panel(
    panel: Page, hosted_page: str, local_api: LocalApi, app: TestApp, conversation_id: str
) -> None:
    def assert_fits(what: str) -> None:
        width = panel.evaluate("document.documentElement.scrollWidth")
        assert width <= PANEL["width"], f"{what}: the page scrolls sideways ({width} px)"
        for control in panel.locator("button, a, input").all():
            box = control.bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= PANEL["width"], f"{what}: {control} sticks out"
            assert box["height"] >= 44, f"{what}: {control} is a small target"

    open_panel(panel, panel_url(hosted_page, app, conversation_id, gcLangTag="de-de"))
    assert_fits("no call")
    start(panel, local_api, name="Videoanruf starten")
    assert_fits("the call")
    panel.get_by_role("button", name="Anruf beenden").click()
    assert_fits("ending")
    panel.goto(panel_url(hosted_page, app, conversation_id, conversationId=None))
    assert_fits("setup")


# The local run (point 1)


def test_the_local_run_serves_the_page_and_its_script(tab: BrowserTab, local_api: LocalApi) -> None:
    script = local_api.request("GET", GENESYS_SCRIPT_PATH)
    assert script.status == 200
    assert (script.header("Content-Type") or "").startswith("text/javascript")
    page_answer = local_api.request("GET", GENESYS_PAGE_PATH)
    assert page_answer.status == 200
    assert (page_answer.header("Content-Type") or "").startswith("text/html")

    # The issue's own URL: credentials and conversation only; the API is the page's own origin.
    page = tab.page
    page.set_viewport_size(PANEL)
    query = urlencode(
        {
            "appId": DEMO_APP_ID,
            "widgetKey": DEMO_WIDGET_KEY,
            "conversationId": str(uuid.uuid4()),
            "gcLangTag": "en-us",
        }
    )
    open_panel(page, f"{local_api.base_url}{GENESYS_PAGE_PATH}?{query}")
    created = start(page, local_api)
    assert created.status == 201
    expect(page.get_by_label(GUEST_LINK)).to_have_value(created.json()["data"]["guestJoinUrl"])
