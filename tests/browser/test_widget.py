"""The embeddable widget in headless Chromium, on a page of another origin than the API.

Only the tests of API Gateway's own answers, of forged answers and of network faults use
Playwright's request routing: while a route is set, Playwright answers CORS preflights itself,
so the tests of the real API's CORS behaviour must not set any.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest
from callsctl.store import AdminStore
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY, DISABLED_APP_ID, DISABLED_WIDGET_KEY
from localrun.dynamodb_local import free_port
from localrun.static import WIDGET_SCRIPT_PATH, demo_page
from playwright.sync_api import Locator, Page, Request, Route, expect

from tests.browser.conftest import BrowserTab, StaticSite, wait_until
from tests.integration.conftest import LocalApi, TestApp

pytestmark = [pytest.mark.browser, pytest.mark.integration]

BUTTON = "Start a video call"
GUEST_PATH = re.compile(r"^/c/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CORS_REQUEST_HEADERS = {"content-type", "x-app-id", "x-widget-key", "idempotency-key"}


def widget_page(
    site: StaticSite,
    local_api: LocalApi,
    *,
    app_id: str = DEMO_APP_ID,
    widget_key: str = DEMO_WIDGET_KEY,
    options: Mapping[str, str] | None = None,
) -> str:
    """The demo page on the site's origin, loading the widget from the API's origin as a real site would."""
    html = demo_page(
        local_api.base_url + WIDGET_SCRIPT_PATH, app_id=app_id, widget_key=widget_key, options=options
    )
    return site.publish(html)


def calls_url(local_api: LocalApi) -> str:
    return local_api.base_url + "/api/calls"


def click_start(page: Page) -> Locator:
    page.get_by_role("button", name=BUTTON).click()
    return page.get_by_role("status")


def opens_a_guest_page(request: Request) -> bool:
    return request.is_navigation_request() and urlsplit(request.url).path.startswith("/c/")


def assert_key_kept_secret(tab: BrowserTab, widget_key: str) -> None:
    assert widget_key not in tab.page.inner_text("body")
    assert [line for line in tab.console if widget_key in line] == []


# The demo page and the local run


def test_demo_page_creates_a_call_and_opens_the_guest_link(
    tab: BrowserTab, site: StaticSite, local_api: LocalApi, admin: AdminStore
) -> None:
    page = tab.page
    page.goto(widget_page(site, local_api))
    with (
        tab.context.expect_event("request", predicate=opens_a_guest_page) as popup,
        page.expect_response(calls_url(local_api)) as answer,
    ):
        status = click_start(page)

    expect(status).to_contain_text("Your video call is ready")
    link = status.get_by_role("link", name="Join the video call")
    expect(link).to_have_attribute("target", "_blank")
    guest_url = link.get_attribute("href") or ""
    response = answer.value
    assert response.status == 201
    data = response.json()["data"]
    assert guest_url == data["guestJoinUrl"]
    assert GUEST_PATH.match(urlsplit(guest_url).path), guest_url
    assert urlsplit(guest_url).query == ""
    assert popup.value.url == guest_url

    item = admin.get_call(data["callId"])
    assert item is not None
    assert item["appId"] == {"S": DEMO_APP_ID}

    sent = response.request
    assert sent.method == "POST"
    assert sent.headers["x-app-id"] == DEMO_APP_ID
    assert sent.headers["x-widget-key"] == DEMO_WIDGET_KEY
    assert sent.headers["content-type"] == "application/json"
    assert "widgetKey" not in sent.url
    assert_key_kept_secret(tab, DEMO_WIDGET_KEY)


def test_local_run_serves_the_demo_page_at_root_and_the_script(tab: BrowserTab, local_api: LocalApi) -> None:
    script = local_api.request("GET", WIDGET_SCRIPT_PATH)
    assert script.status == 200
    assert (script.header("Content-Type") or "").startswith("text/javascript")
    assert b"VideoCallsWidget" in script.raw

    page = tab.page
    response = page.goto(local_api.base_url + "/")
    assert response is not None
    assert response.status == 200
    expect(page).to_have_title("Video Calls widget demo")
    expect(click_start(page)).to_contain_text("Your video call is ready")
    assert_key_kept_secret(tab, DEMO_WIDGET_KEY)


# Allowed origins and the preflight (docs/behaviour.md section 4)


def test_a_listed_origin_creates_a_call(
    tab: BrowserTab, site: StaticSite, local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app = make_app(allowed_origins=("https://shop.example", site.origin))
    tab.page.goto(widget_page(site, local_api, app_id=app.app_id, widget_key=app.widget_key))

    expect(click_start(tab.page)).to_contain_text("Your video call is ready")


def test_an_origin_not_listed_shows_the_403_message(
    tab: BrowserTab, site: StaticSite, local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app = make_app(allowed_origins=("https://shop.example",))
    page = tab.page
    page.goto(widget_page(site, local_api, app_id=app.app_id, widget_key=app.widget_key))
    with page.expect_response(calls_url(local_api)) as answer:
        status = click_start(page)

    assert answer.value.status == 403
    expect(status).to_contain_text(f"Video calls can't be started from this website ({site.origin})")
    expect(status).to_contain_text("allowed origins")
    expect(page.locator(".vcw")).to_have_attribute("data-error-code", "ORIGIN_NOT_ALLOWED")
    expect(status.get_by_role("link")).to_have_count(0)
    assert len(tab.context.pages) == 1, "no guest page may open"
    assert_key_kept_secret(tab, app.widget_key)


def test_credentials_in_headers_pass_the_cors_preflight(
    tab: BrowserTab, site: StaticSite, local_api: LocalApi
) -> None:
    # Playwright's request events leave preflights out; the DevTools protocol reports them.
    page = tab.page
    devtools = tab.context.new_cdp_session(page)
    devtools.send("Network.enable")
    preflights: dict[str, dict[str, Any]] = {}

    def sent(event: dict[str, Any]) -> None:
        if event["request"]["method"] == "OPTIONS":
            preflights.setdefault(event["requestId"], {})["request"] = event["request"]

    def answered(event: dict[str, Any]) -> None:
        if event["type"] == "Preflight":
            preflights.setdefault(event["requestId"], {})["response"] = event["response"]

    devtools.on("Network.requestWillBeSent", sent)
    devtools.on("Network.responseReceived", answered)
    page.goto(widget_page(site, local_api))
    with page.expect_response(calls_url(local_api)) as answer:
        status = click_start(page)
    expect(status).to_contain_text("Your video call is ready")
    assert answer.value.status == 201

    wait_until(page, lambda: any("response" in p for p in preflights.values()), "the preflight's answer")
    [preflight] = preflights.values()
    request = {name.lower(): value for name, value in preflight["request"]["headers"].items()}
    assert preflight["request"]["url"] == calls_url(local_api)
    assert request["origin"] == site.origin
    assert request["access-control-request-method"] == "POST"
    assert set(request["access-control-request-headers"].split(",")) == CORS_REQUEST_HEADERS

    response = preflight["response"]
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert response["status"] == 204
    assert headers["access-control-allow-origin"] == site.origin
    assert "POST" in headers["access-control-allow-methods"]
    allowed = {name.strip().lower() for name in headers["access-control-allow-headers"].split(",")}
    assert allowed >= CORS_REQUEST_HEADERS
    assert int(headers["access-control-max-age"]) > 0
    assert headers["x-request-id"], "the API itself answered the preflight"


# Messages for the API's refusals


@pytest.mark.parametrize(
    ("app_id", "widget_key", "options", "http_status", "code", "message"),
    [
        pytest.param(
            DEMO_APP_ID,
            "not-the-demo-key",
            {},
            401,
            "UNAUTHORIZED",
            "this site's app ID or widget key was not accepted",
            id="401-unauthorized",
        ),
        pytest.param(
            DISABLED_APP_ID,
            DISABLED_WIDGET_KEY,
            {},
            403,
            "APP_DISABLED",
            "Video calls are switched off for this site",
            id="403-app-disabled",
        ),
        pytest.param(
            DEMO_APP_ID,
            DEMO_WIDGET_KEY,
            {"description": "x" * 33_000},
            413,
            "PAYLOAD_TOO_LARGE",
            "The call details are too large to send",
            id="413-payload-too-large",
        ),
        pytest.param(
            DEMO_APP_ID,
            DEMO_WIDGET_KEY,
            {"title": "x" * 201},
            422,
            "VALIDATION_ERROR",
            "Some call details were not accepted (title:",
            id="422-validation-error",
        ),
        pytest.param(
            DEMO_APP_ID,
            DEMO_WIDGET_KEY,
            {"preset-id": "no-such-preset"},
            422,
            "PRESET_NOT_FOUND",
            "The call settings (preset) this button asks for don't exist",
            id="422-preset-not-found",
        ),
    ],
)
def test_api_refusals_show_a_clear_message(
    tab: BrowserTab,
    site: StaticSite,
    local_api: LocalApi,
    app_id: str,
    widget_key: str,
    options: dict[str, str],
    http_status: int,
    code: str,
    message: str,
) -> None:
    page = tab.page
    page.goto(widget_page(site, local_api, app_id=app_id, widget_key=widget_key, options=options))
    with page.expect_response(calls_url(local_api)) as answer:
        status = click_start(page)

    assert answer.value.status == http_status
    request_id = answer.value.json()["error"]["requestId"]
    expect(status).to_contain_text(message)
    expect(status).to_contain_text(f"(Reference: {request_id})")
    expect(page.locator(".vcw")).to_have_attribute("data-error-code", code)
    expect(page.get_by_role("button", name=BUTTON)).to_be_enabled()
    assert len(tab.context.pages) == 1
    assert_key_kept_secret(tab, widget_key)


def test_an_unreachable_api_shows_a_network_message(
    tab: BrowserTab, site: StaticSite, local_api: LocalApi
) -> None:
    closed_port = free_port()
    tab.page.goto(widget_page(site, local_api, options={"api-base": f"http://127.0.0.1:{closed_port}"}))

    expect(click_start(tab.page)).to_contain_text("Couldn't reach the video call service")
    assert_key_kept_secret(tab, DEMO_WIDGET_KEY)


# Messages for API Gateway's own answers and for faults (routed: see the module's docstring)


def gateway_error(code: str, message: str, request_id: str) -> str:
    return json.dumps({"ok": False, "error": {"code": code, "message": message, "requestId": request_id}})


@pytest.mark.parametrize(
    ("http_status", "headers", "body", "expected"),
    [
        pytest.param(
            429,
            {"Retry-After": "1"},
            gateway_error("TOO_MANY_REQUESTS", "Too many requests. Retry shortly.", "gw-429"),
            "Too many calls are being started right now. Please try again in a moment.",
            id="429-gateway-throttled",
        ),
        pytest.param(
            429,
            {},
            '{"message":"Too Many Requests"}',
            "Too many calls are being started right now.",
            id="429-gateway-default-body",
        ),
        pytest.param(
            503,
            {"Retry-After": "3", "Access-Control-Expose-Headers": "X-Request-Id, Retry-After"},
            gateway_error("SERVICE_UNAVAILABLE", "Service unavailable", "req-503"),
            "The video call service is busy right now. Please try again in 3 seconds.",
            id="503-retry-after-exposed",
        ),
        pytest.param(
            503,
            {"Retry-After": "1", "Access-Control-Expose-Headers": "X-Request-Id"},
            gateway_error("SERVICE_UNAVAILABLE", "Service unavailable", "req-503"),
            "The video call service is busy right now. Please try again in a few seconds.",
            id="503-retry-after-hidden",
        ),
        pytest.param(
            500,
            {},
            gateway_error("INTERNAL_ERROR", "Internal error", "req-500"),
            "Something went wrong on our side while creating your call. Please try again; "
            "if it keeps happening, contact the site owner. (Reference: req-500)",
            id="500-internal-error",
        ),
        pytest.param(
            504,
            {"Content-Type": "text/html"},
            "<html>Gateway Timeout</html>",
            "The video call service didn't answer in time.",
            id="504-not-json",
        ),
    ],
)
def test_gateway_answers_show_a_clear_message(
    tab: BrowserTab,
    site: StaticSite,
    local_api: LocalApi,
    http_status: int,
    headers: dict[str, str],
    body: str,
    expected: str,
) -> None:
    page = tab.page

    def answer(route: Route) -> None:
        route.fulfill(
            status=http_status,
            headers={
                "Content-Type": "application/json",
                "Access-Control-Allow-Origin": site.origin,
                "Vary": "Origin",
                **headers,
            },
            body=body,
        )

    page.route(calls_url(local_api), answer)
    page.goto(widget_page(site, local_api))

    expect(click_start(page)).to_contain_text(expected)
    assert len(tab.context.pages) == 1


# Links the widget must refuse (routed: a forged answer)


# Records every window.open and every videocalls:created event, before the widget runs.
RECORD_OPENS_AND_EVENTS = """
window.__opened = [];
window.open = (...args) => { window.__opened.push(String(args[0])); return null; };
window.__created = [];
document.addEventListener("videocalls:created", (event) => window.__created.push(event.detail));
"""


@pytest.mark.parametrize(
    ("data", "link"),
    [
        pytest.param(
            {"guestJoinUrl": "javascript:alert(document.cookie)"},
            "javascript:alert(document.cookie)",
            id="javascript",
        ),
        pytest.param(
            {"guestJoinUrl": "data:text/html,<script>alert(document.cookie)</script>"},
            "data:text/html,<script>alert(document.cookie)</script>",
            id="data",
        ),
        pytest.param(
            {"joinUrl": " JavaScript:alert(document.cookie)"},
            " JavaScript:alert(document.cookie)",
            id="joinUrl-mixed-case",
        ),
    ],
)
def test_a_link_that_is_not_http_is_refused_and_never_opened(
    tab: BrowserTab, site: StaticSite, local_api: LocalApi, data: dict[str, str], link: str
) -> None:
    page = tab.page

    def forged(route: Route) -> None:
        route.fulfill(
            status=201,
            headers={
                "Content-Type": "application/json",
                "Access-Control-Allow-Origin": site.origin,
                "Access-Control-Expose-Headers": "X-Request-Id",
                "X-Request-Id": "req-forged",
                "Vary": "Origin",
            },
            body=json.dumps({"ok": True, "data": {"callId": "c-forged", "status": "created", **data}}),
        )

    page.add_init_script(RECORD_OPENS_AND_EVENTS)
    page.route(calls_url(local_api), forged)
    page.goto(widget_page(site, local_api))

    status = click_start(page)

    expect(page.locator(".vcw")).to_have_attribute("data-state", "error")
    expect(page.locator(".vcw")).to_have_attribute("data-error-code", "UNEXPECTED_ANSWER")
    expect(status).to_have_text(
        "The video call service answered in a way this button doesn't understand. Please try again "
        "later; if it keeps happening, contact the site owner. (Reference: req-forged)"
    )
    hrefs = page.eval_on_selector_all("a", "links => links.map(link => link.getAttribute('href'))")
    assert link not in hrefs
    expect(page.get_by_role("link", name="Join the video call")).to_have_count(0)
    assert page.evaluate("window.__opened") == []
    assert page.evaluate("window.__created") == []
    assert len(tab.context.pages) == 1
    expect(page.get_by_role("button", name=BUTTON)).to_be_enabled()


def test_a_retry_after_a_network_failure_reuses_the_idempotency_key(
    tab: BrowserTab, site: StaticSite, local_api: LocalApi
) -> None:
    page = tab.page
    keys: list[str] = []
    shown_while_sent: list[str] = []  # the status as each request left

    def first_attempt_lost(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        shown_while_sent.append(page.get_by_role("status").inner_text())
        if len(keys) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(calls_url(local_api), first_attempt_lost)
    page.goto(widget_page(site, local_api, options={"open-in-new-tab": "false"}))
    status = page.get_by_role("status")

    click_start(page)
    expect(status).to_contain_text("Couldn't reach the video call service")
    click_start(page)
    expect(status).to_contain_text("Your video call is ready")
    first_link = status.get_by_role("link").get_attribute("href")
    click_start(page)
    # The new call's link replaces the first ("Creating" between them, seen as each request left).
    expect(status.get_by_role("link")).not_to_have_attribute("href", first_link or "")
    expect(status).to_contain_text("Your video call is ready")

    assert len(keys) == 3
    assert shown_while_sent == ["Creating your video call…"] * 3
    assert keys[0] == keys[1], "a retry must replay, not create a second call"
    assert keys[2] != keys[1], "a new click after a success is a new call"


# The script's own API, and a page that set it up wrong


def test_mount_from_a_script_with_a_timeout(tab: BrowserTab, site: StaticSite, local_api: LocalApi) -> None:
    page = tab.page
    page.route(calls_url(local_api), lambda route: None)  # never answered
    options = json.dumps(
        {
            "target": "#here",
            "appId": DEMO_APP_ID,
            "widgetKey": DEMO_WIDGET_KEY,
            "apiBase": local_api.base_url,
            "buttonText": "Talk to us",
            "timeoutMs": 300,
        }
    )
    page.goto(
        site.publish(
            f'<!doctype html><html lang="en"><title>Shop</title><div id="here"></div>'
            f'<script src="{local_api.base_url}{WIDGET_SCRIPT_PATH}"></script>'
            f"<script>VideoCallsWidget.mount({options});</script></html>"
        )
    )

    page.get_by_role("button", name="Talk to us").click()
    expect(page.get_by_role("status")).to_contain_text("The video call service took too long to answer")
    expect(page.locator("#here .vcw")).to_have_attribute("data-error-code", "TIMEOUT")


def test_a_missing_app_id_disables_the_button_without_logging_the_key(
    tab: BrowserTab, site: StaticSite, local_api: LocalApi
) -> None:
    page = tab.page
    page.goto(widget_page(site, local_api, app_id=""))

    expect(page.get_by_role("status")).to_contain_text(
        "This video call button isn't set up correctly: the app ID (data-app-id) is missing."
    )
    expect(page.get_by_role("button", name=BUTTON)).to_be_disabled()
    wait_until(page, lambda: bool(tab.console), "the console error")
    assert any("the app ID (data-app-id) is missing" in line for line in tab.console)
    assert_key_kept_secret(tab, DEMO_WIDGET_KEY)
