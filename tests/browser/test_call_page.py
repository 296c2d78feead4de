"""The call page (widget/call/) in headless Chromium with a fake camera and microphone.

The page is served as the stack serves it (/c/{callId}, its files at /call/); its backend is played
by the test (tests/browser/fake_call_service.py): the join and end routes through Playwright's
`route`, the signaling socket through `route_web_socket`, relaying between the test's pages as the
real server does. So every state and text of the page is reached on demand, and the last tests
prove its WebRTC between two real pages, independently of the backend.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, WAIT_MS, CallSite, OpenTab, wait_until
from tests.browser.fake_call_service import (
    APP_ID,
    CALL_ID,
    HOST_KEY,
    WIDGET_KEY,
    FakeCallService,
    Reply,
    join_answer,
    refusal,
)

pytestmark = [pytest.mark.browser]

NARROW = {"width": 320, "height": 640}
AGENT_QUERY = f"role=agent&hostKey={HOST_KEY}"
WIDGET_KEY_QUERY = f"role=agent&appId={APP_ID}&widgetKey={WIDGET_KEY}"

# Fixtures and helpers


@pytest.fixture
def guest(open_tab: OpenTab) -> Page:
    return open_tab().page


def open_call(page: Page, call_site: CallSite, query: str = "") -> Page:
    page.goto(call_site.page_url(CALL_ID, query))
    return page


def expect_state(page: Page, state: str, reason: str | None = None) -> None:
    root = page.locator("#call")
    expect(root).to_have_attribute("data-state", state)
    if reason is not None:
        expect(root).to_have_attribute("data-reason", reason)


def status(page: Page) -> Any:
    return page.locator("#status")


def track_states(page: Page) -> list[str]:
    """The readyState of every track getUserMedia gave the page."""
    states: list[str] = page.evaluate(
        "() => window.__recorded.streams.flatMap((stream) => stream.getTracks()).map((t) => t.readyState)"
    )
    return states


def expect_tracks_stopped(page: Page) -> None:
    wait_until(page, lambda: all(state == "ended" for state in track_states(page)), "every track stopped")
    assert track_states(page), "the page had camera and microphone to stop"


def join(page: Page, name: str = "Join") -> None:
    page.get_by_role("button", name=name, exact=True).click()


def joined_as(page: Page, call_site: CallSite, query: str = "") -> Page:
    """Open the call, join with camera and microphone, wait for the server's ready."""
    open_call(page, call_site, query)
    expect_state(page, "prejoin")
    expect(page.get_by_role("button", name="Join", exact=True)).to_be_enabled()
    join(page)
    expect(page.locator("#call")).to_have_attribute("data-state", re.compile("^(waiting|in-call)$"))
    expect(page.locator("#call")).not_to_have_attribute("data-reason", "joining")
    return page


def scroll_width(page: Page) -> int:
    width: int = page.evaluate("() => document.documentElement.scrollWidth")
    return width


# Opening the link: what the page sends, and one state per answer


@pytest.mark.parametrize(
    ("query", "forwarded", "kept"),
    [
        pytest.param(
            AGENT_QUERY, {"role": ["agent"], "hostKey": [HOST_KEY]}, {"hostKey": HOST_KEY}, id="host-key"
        ),
        pytest.param(
            WIDGET_KEY_QUERY,
            {"role": ["agent"], "appId": [APP_ID], "widgetKey": [WIDGET_KEY]},
            {"appId": APP_ID, "widgetKey": WIDGET_KEY},
            id="widget-key",
        ),
        pytest.param("", {}, None, id="guest"),
    ],
)
def test_the_link_is_forwarded_to_the_join_api_and_its_credential_leaves_the_address_bar(
    open_tab: OpenTab,
    call_site: CallSite,
    service: FakeCallService,
    query: str,
    forwarded: dict[str, list[str]],
    kept: dict[str, str] | None,
) -> None:
    page = open_tab().page
    service.answer_join("agent", join_answer("agent"))
    open_call(page, call_site, query)
    expect_state(page, "prejoin")

    (sent,) = service.joins()
    assert sent.method == "POST"
    assert sent.path == f"/api/calls/{CALL_ID}/join"
    assert sent.query == forwarded
    assert sent.content_type.startswith("text/plain")  # no preflight
    assert page.url == call_site.page_url(CALL_ID, "role=agent" if kept else "")
    assert page.locator('meta[name="referrer"]').get_attribute("content") == "no-referrer"
    stored = page.evaluate(f"() => sessionStorage.getItem('videoCalls.call.{CALL_ID}')")
    assert (json.loads(stored).get("credential") if stored else None) == kept


@pytest.mark.parametrize(
    ("query", "answer", "state", "reason", "text"),
    [
        pytest.param(
            AGENT_QUERY,
            refusal(401, "UNAUTHORIZED", "req-401"),
            "error",
            "unauthorized",
            "This agent link is not valid (any more). Open the call again from where it was started, "
            "or start a new call. (Reference: req-401)",
            id="401-agent-link",
        ),
        pytest.param(
            WIDGET_KEY_QUERY,
            refusal(403, "APP_DISABLED", "req-403"),
            "error",
            "disabled",
            "Video calls are switched off for this app. Please ask your administrator. (Reference: req-403)",
            id="403-disabled",
        ),
        pytest.param(
            "",
            refusal(404, "CALL_NOT_FOUND", "req-404"),
            "error",
            "notFound",
            "There is no such call. Check that the link is complete, or ask for a new one. "
            "(Reference: req-404)",
            id="404",
        ),
        pytest.param("", refusal(410, "CALL_ENDED"), "ended", "ended", "The call has ended.", id="410-ended"),
        pytest.param(
            "", refusal(410, "CALL_EXPIRED"), "ended", "expired", "This call has expired.", id="410-expired"
        ),
        pytest.param(
            "role=host",
            refusal(422, "VALIDATION_ERROR", "req-422"),
            "error",
            "invalidLink",
            "This call link is not valid. Please ask for a new one. (Reference: req-422)",
            id="422-role",
        ),
    ],
)
def test_each_refusal_of_the_join_has_one_clear_state(
    guest: Page,
    call_site: CallSite,
    service: FakeCallService,
    query: str,
    answer: Reply,
    state: str,
    reason: str,
    text: str,
) -> None:
    service.answer_join("agent", answer)
    service.answer_join("guest", answer)
    open_call(guest, call_site, query)

    expect_state(guest, state, reason)
    expect(status(guest)).to_have_text(text)
    expect(guest.get_by_role("button", name="Try again")).to_be_hidden()
    expect(guest.get_by_role("button", name="Join", exact=True)).to_be_hidden()
    assert track_states(guest) == []  # never asked for camera or microphone
    guest.wait_for_timeout(500)
    assert len(service.joins()) == 1  # and asks no more


def test_a_network_failure_offers_to_try_again(
    guest: Page, call_site: CallSite, service: FakeCallService
) -> None:
    service.answer_join("guest", "abort", Reply(502, {"message": "Bad gateway"}), join_answer("guest"))
    open_call(guest, call_site)

    expect_state(guest, "error", "network")
    expect(status(guest)).to_have_text(
        "Couldn't reach the video call service. Check your internet connection and try again."
    )
    guest.get_by_role("button", name="Try again").click()
    expect_state(guest, "error", "network")  # a gateway's 502 is no better
    guest.get_by_role("button", name="Try again").click()
    expect_state(guest, "prejoin")
    assert len(service.joins()) == 3


def test_an_answer_without_signaling_is_an_error_that_may_pass(
    guest: Page, call_site: CallSite, service: FakeCallService
) -> None:
    service.answer_join("guest", join_answer("guest", signaling={"url": "https://not-a-socket"}))
    open_call(guest, call_site)

    expect_state(guest, "error", "unexpected")
    expect(status(guest)).to_have_text("Something went wrong while opening the call. Please try again.")
    expect(guest.get_by_role("button", name="Try again")).to_be_visible()


# Before joining


def test_the_preview_shows_the_camera_the_microphone_level_and_the_devices(
    guest: Page, call_site: CallSite
) -> None:
    open_call(guest, call_site)
    expect_state(guest, "prejoin")
    expect(status(guest)).to_have_text("Check your camera and microphone, then join.")

    preview = guest.locator("#preview-video")
    wait_until(
        guest, lambda: preview.evaluate("(v) => v.videoWidth > 0 && !v.paused"), "the camera's preview"
    )
    level = guest.get_by_label("Microphone level")
    # The fake microphone beeps: some sample in two seconds is loud.
    loudest = level.evaluate(
        """async (meter) => {
             let max = 0;
             for (let i = 0; i < 20; i++) {
               max = Math.max(max, meter.value);
               await new Promise((r) => setTimeout(r, 100));
             }
             return max;
           }"""
    )
    assert loudest > 0.1

    cameras = guest.get_by_label("Camera", exact=True).locator("option")
    microphones = guest.get_by_label("Microphone", exact=True).locator("option")
    expect(cameras).to_have_text(["fake_device_0"])
    expect(microphones).to_have_count(3)
    expect(guest.get_by_label("Microphone", exact=True)).to_have_value(
        guest.evaluate("() => window.__recorded.streams.at(-1).getAudioTracks()[0].getSettings().deviceId")
    )
    guest.get_by_label("Microphone", exact=True).select_option(label="Fake Audio Input 1")
    wait_until(
        guest,
        lambda: guest.evaluate(
            "() => window.__recorded.streams.flatMap((s) => s.getAudioTracks())"
            ".some((t) => t.label === 'Fake Audio Input 1' && t.readyState === 'live')"
        ),
        "the chosen microphone",
    )
    expect(guest.get_by_label("Your name")).to_have_value("John")
    expect(guest.get_by_role("button", name="Join", exact=True)).to_be_enabled()
    assert scroll_width(guest) <= DESKTOP["width"]


def test_the_mute_toggles_carry_into_the_call(guest: Page, call_site: CallSite) -> None:
    open_call(guest, call_site)
    guest.get_by_role("button", name="Mute microphone").click()
    guest.get_by_role("button", name="Turn camera off").click()
    expect(guest.get_by_role("button", name="Unmute microphone")).to_be_visible()
    expect(guest.locator("#preview-off")).to_have_text("Camera off")
    join(guest)
    expect_state(guest, "waiting", "peer")

    enabled = (
        "() => window.__recorded.streams.flatMap((s) => s.getTracks())"
        ".filter((t) => t.readyState === 'live').map((t) => t.kind + ':' + t.enabled).sort()"
    )
    assert guest.evaluate(enabled) == ["audio:false", "video:false"]
    guest.get_by_role("button", name="Unmute microphone").click()
    guest.get_by_role("button", name="Turn camera on").click()
    assert guest.evaluate(enabled) == ["audio:true", "video:true"]
    expect(guest.get_by_role("button", name="Mute microphone")).to_be_visible()


def test_the_name_typed_before_joining_is_the_name_in_hello(
    guest: Page, call_site: CallSite, service: FakeCallService
) -> None:
    open_call(guest, call_site)
    guest.get_by_label("Your name").fill("  Jane Doe  ")
    join(guest)
    expect_state(guest, "waiting", "peer")

    assert service.hellos("guest") == [{"action": "hello", "displayName": "Jane Doe"}]


def test_without_preview_one_click_joins(guest: Page, call_site: CallSite, service: FakeCallService) -> None:
    service.answer_join("guest", join_answer("guest", previewEnabled=False))
    open_call(guest, call_site)
    expect_state(guest, "prejoin")
    expect(status(guest)).to_have_text("Select Join to enter the call with your camera and microphone.")
    expect(guest.locator("#preview")).to_be_hidden()
    expect(guest.get_by_label("Your name")).to_be_hidden()
    assert track_states(guest) == []  # nothing asked before the click

    join(guest)
    expect_state(guest, "waiting", "peer")
    assert sorted(track_states(guest)) == ["live", "live"]
    assert service.hellos("guest") == [{"action": "hello", "displayName": "John"}]
    assert len(service.joins()) == 1  # the join answer's own token, still fresh


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "no-preview"])
def test_refused_camera_and_microphone_say_so_and_the_call_can_be_joined_without(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, preview: bool
) -> None:
    page = open_tab(media=False).page
    service.answer_join("guest", join_answer("guest", previewEnabled=preview))
    open_call(page, call_site)
    if not preview:
        join(page)

    expect_state(page, "prejoin")
    expect(status(page)).to_have_text(
        "Your browser did not allow the camera and microphone. Allow them (usually with the camera "
        "icon in the address bar) and try again, or join without them."
    )
    expect(status(page)).to_have_attribute("data-kind", "error")
    expect(page.get_by_role("button", name="Join", exact=True)).to_be_hidden()
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    page.get_by_role("button", name="Join without camera and microphone").click()

    expect_state(page, "waiting", "peer")
    expect(page.get_by_role("button", name="Mute microphone")).to_be_disabled()
    expect(page.get_by_role("button", name="Turn camera off")).to_be_disabled()
    expect(page.locator("#self-off")).to_have_text("No camera")
    assert service.hellos("guest") == [{"action": "hello", "displayName": "John"}]


def test_the_guest_is_told_before_joining_that_the_call_will_be_recorded(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService
) -> None:
    service.answer_join("guest", join_answer("guest", recordOnStart=True))
    service.answer_join("agent", join_answer("agent", recordOnStart=True))
    guest_page = open_call(open_tab().page, call_site)
    agent_page = open_call(open_tab().page, call_site, AGENT_QUERY)

    notice = "This call will be recorded when both of you are in it."
    expect(guest_page.get_by_text(notice)).to_be_visible()
    expect_state(agent_page, "prejoin")
    expect(agent_page.get_by_text(notice)).to_be_hidden()


# In the call


def test_waiting_then_in_the_call_then_waiting_again(
    guest: Page, call_site: CallSite, service: FakeCallService
) -> None:
    service.answer_join("guest", join_answer("guest", title="Support Session #1234"))
    joined_as(guest, call_site)
    expect(guest.locator("#call-title")).to_have_text("Support Session #1234")
    expect_state(guest, "waiting", "peer")
    expect(status(guest)).to_have_text("Waiting for the agent to join…")
    expect(guest.locator("#stage-note")).to_have_text("Waiting for the agent to join…")
    expect(guest.get_by_role("button", name="End call for everyone")).to_be_hidden()

    service.peer_joins("agent", "Sarah (Support)")
    expect_state(guest, "in-call")
    expect(status(guest)).to_have_text("You are in the call with Sarah (Support).")
    expect(guest.locator("#remote-name")).to_have_text("Sarah (Support)")
    assert not [data for data in service.signals_from("guest") if data["type"] == "offer"]  # the agent offers

    service.peer_leaves("agent")
    expect_state(guest, "waiting", "peer")
    expect(status(guest)).to_have_text("Waiting for Sarah (Support)…")


@pytest.mark.parametrize("guest_first", [True, False], ids=["guest-there-first", "guest-joins-later"])
def test_the_agent_offers_as_soon_as_both_are_there(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, guest_first: bool
) -> None:
    page = open_tab().page
    if guest_first:
        service.peer_joins("guest", "<b>John</b>")
    joined_as(page, call_site, AGENT_QUERY)
    if not guest_first:
        expect(status(page)).to_have_text("Waiting for your guest to join…")
        page.wait_for_timeout(300)
        assert service.signals_from("agent") == []  # no offer into the void
        service.peer_joins("guest", "<b>John</b>")

    expect_state(page, "in-call")
    expect(page.locator("#remote-name")).to_have_text("<b>John</b>")  # a name is text, never markup
    wait_until(page, lambda: bool(service.signals_from("agent")), "the agent's offer")
    first = service.signals_from("agent")[0]
    assert first["type"] == "offer"
    assert first["sdp"].startswith("v=0")
    assert "m=audio" in first["sdp"]
    assert "m=video" in first["sdp"]
    wait_until(
        page,
        lambda: any(data["type"] == "candidate" for data in service.signals_from("agent")),
        "trickled candidates",
    )
    assert page.get_by_role("button", name="End call for everyone").is_visible()


def test_the_call_ended_from_anywhere_stops_camera_and_microphone(
    guest: Page, call_site: CallSite, service: FakeCallService
) -> None:
    joined_as(guest, call_site)
    service.peer_joins("agent", "Sarah")
    expect_state(guest, "in-call")
    assert sorted(track_states(guest)) == ["live", "live"]

    service.end_call()
    expect_state(guest, "ended", "ended")
    expect(status(guest)).to_have_text("The call has ended.")
    expect(guest.get_by_text("You can close this page.")).to_be_visible()
    expect_tracks_stopped(guest)
    expect(guest.get_by_role("button", name="Join again")).to_be_hidden()
    guest.wait_for_timeout(1500)
    assert len(service.joins()) == 1  # no reconnect


def test_another_tab_taking_over_stops_this_one(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService
) -> None:
    tab = open_tab()
    first = joined_as(tab.page, call_site)
    second = joined_as(tab.context.new_page(), call_site)  # the same person, another tab

    expect_state(first, "ended", "replaced")
    expect(status(first)).to_have_text(
        "This call was opened in another tab or on another device, and continues there. "
        "Camera and microphone are off here."
    )
    expect_tracks_stopped(first)
    expect_state(second, "waiting", "peer")
    first.wait_for_timeout(1000)
    assert len(service.joins()) == 2  # the first tab did not come back

    first.get_by_role("button", name="Continue here").click()
    expect_state(first, "waiting", "peer")
    expect_state(second, "ended", "replaced")


def test_a_dropped_socket_reconnects_with_a_fresh_token_and_media_goes_on(
    guest: Page, call_site: CallSite, service: FakeCallService
) -> None:
    joined_as(guest, call_site)
    service.peer_joins("agent", "Sarah")
    expect_state(guest, "in-call")
    # The next join fails once, so that the page is seen reconnecting.
    service.answer_join("guest", "abort", join_answer("guest"))

    service.drop("guest")
    expect_state(guest, "reconnecting")
    expect(status(guest)).to_have_text("The connection was lost. Reconnecting…")
    assert sorted(track_states(guest)) == ["live", "live"]  # camera and microphone stay on
    expect_state(guest, "in-call")

    tokens = [socket.token for socket in service.sockets]
    assert len(tokens) == 2
    assert len(set(tokens)) == 2  # a fresh token each time
    assert len(service.joins()) == 3  # the page's join, the failed one, the one that worked
    assert [hello["displayName"] for hello in service.hellos("guest")] == ["John", "John"]


def test_a_join_answering_410_on_reconnect_ends_the_call(
    guest: Page, call_site: CallSite, service: FakeCallService
) -> None:
    joined_as(guest, call_site)
    service.answer_join("guest", refusal(410, "CALL_ENDED"))
    service.drop("guest")

    expect_state(guest, "ended", "ended")
    expect_tracks_stopped(guest)


def test_a_reload_resumes_the_call_as_the_agent(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService
) -> None:
    page = open_tab().page
    service.peer_joins("guest", "John")
    joined_as(page, call_site, AGENT_QUERY)
    expect_state(page, "in-call")
    assert page.url.endswith("?role=agent")

    page.reload()
    expect_state(page, "in-call")  # straight back in: no preview, no click
    last = service.joins()[-1]
    assert last.query == {"role": ["agent"], "hostKey": [HOST_KEY]}  # the credential this tab kept
    assert len(service.hellos("agent")) == 2


# The strictest autoplay rule, which headless Chromium does not apply (nor, after a reload, does
# Playwright's reload leave a page without user activation): sound plays only once the person
# has clicked or typed in this very document.
AUTOPLAY_RULE = """
(() => {
  let gesture = false;
  for (const type of ["pointerdown", "keydown"]) addEventListener(type, () => { gesture = true; }, true);
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!this.muted && !gesture) {
      return Promise.reject(new DOMException("play() needs a gesture", "NotAllowedError"));
    }
    return play.call(this);
  };
})();
"""


def test_sound_the_browser_held_back_after_a_reload_comes_on_with_a_click(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService
) -> None:
    tab = open_tab()
    tab.context.add_init_script(AUTOPLAY_RULE)
    page = tab.page
    service.peer_joins("agent", "Sarah")
    joined_as(page, call_site)  # the click on Join lets sound play
    expect(page.locator("#sound-blocked")).to_be_hidden()

    page.reload()  # resumes without a click
    expect_state(page, "in-call")
    expect(page.get_by_text("Your browser paused the call's sound.")).to_be_visible()
    remote = page.locator("#remote-video")
    assert remote.evaluate("(video) => video.muted && !video.paused")  # the picture still plays

    page.get_by_role("button", name="Turn sound on").click()
    expect(page.locator("#sound-blocked")).to_be_hidden()
    assert remote.evaluate("(video) => !video.muted")


def test_leave_then_join_again(guest: Page, call_site: CallSite, service: FakeCallService) -> None:
    joined_as(guest, call_site)
    guest.get_by_role("button", name="Leave").click()

    expect_state(guest, "ended", "left")
    expect(status(guest)).to_have_text("You left the call.")
    expect_tracks_stopped(guest)
    expect(guest.get_by_role("button", name="Join again")).to_be_focused()
    guest.get_by_role("button", name="Join again").click()
    expect_state(guest, "waiting", "peer")
    assert len(service.hellos("guest")) == 2


@pytest.mark.parametrize(
    ("query", "credential"),
    [
        pytest.param(AGENT_QUERY, {"hostKey": HOST_KEY}, id="host-key"),
        pytest.param(WIDGET_KEY_QUERY, {"appId": APP_ID, "widgetKey": WIDGET_KEY}, id="widget-key"),
    ],
)
def test_the_agent_ends_the_call_for_everyone_after_confirming(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, query: str, credential: dict[str, str]
) -> None:
    page = open_tab().page
    service.peer_joins("guest", "John")
    joined_as(page, call_site, query)

    page.get_by_role("button", name="End call for everyone").click()
    expect(page.get_by_text("End the call for everyone? It cannot be restarted.")).to_be_visible()
    expect(page.get_by_role("button", name="Yes, end the call")).to_be_focused()
    page.get_by_role("button", name="Keep the call").click()
    expect(page.get_by_role("button", name="End call for everyone")).to_be_focused()
    assert service.ends() == []

    page.get_by_role("button", name="End call for everyone").click()
    page.get_by_role("button", name="Yes, end the call").click()
    expect_state(page, "ended", "byYou")
    expect(status(page)).to_have_text("You ended the call for everyone.")
    expect_tracks_stopped(page)
    (sent,) = service.ends()
    assert sent.method == "POST"
    assert sent.path == f"/api/calls/{CALL_ID}/end"
    assert sent.query == {name: [value] for name, value in credential.items()}
    assert sent.json() == credential
    assert sent.content_type.startswith("text/plain")


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        pytest.param(
            refusal(401, "UNAUTHORIZED"),
            "The call could not be ended: this page's agent link is no longer accepted.",
            id="401",
        ),
        pytest.param(
            "abort",
            "The call could not be ended: the service did not answer. Please try again.",
            id="network",
        ),
    ],
)
def test_an_end_that_fails_leaves_the_call_going_and_says_why(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, answer: Any, text: str
) -> None:
    page = open_tab().page
    service.peer_joins("guest", "John")
    joined_as(page, call_site, AGENT_QUERY)
    service.answer_end(answer)

    page.get_by_role("button", name="End call for everyone").click()
    page.get_by_role("button", name="Yes, end the call").click()
    expect(page.locator("#call-message")).to_have_text(text)
    expect(status(page)).to_have_text(text)
    expect_state(page, "in-call")
    assert sorted(track_states(page)) == ["live", "live"]


def test_an_end_of_an_expired_call_says_it_expired(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService
) -> None:
    page = open_tab().page
    joined_as(page, call_site, AGENT_QUERY)
    service.answer_end(refusal(409, "CALL_EXPIRED"))
    page.get_by_role("button", name="End call for everyone").click()
    page.get_by_role("button", name="Yes, end the call").click()

    expect_state(page, "ended", "expired")
    expect_tracks_stopped(page)


def test_the_keep_alive_ping_is_answered(guest: Page, call_site: CallSite, service: FakeCallService) -> None:
    guest.clock.install()
    joined_as(guest, call_site)
    guest.clock.run_for("00:31")

    wait_until(
        guest,
        lambda: any(message == {"action": "ping"} for message in service.socket("guest").received),
        "a ping",
    )
    guest.clock.run_for("00:15")  # the pong came in time: the socket stays
    assert service.socket("guest").open
    expect_state(guest, "waiting", "peer")


def test_a_socket_that_stops_answering_is_replaced(
    guest: Page, call_site: CallSite, service: FakeCallService
) -> None:
    guest.clock.install()
    joined_as(guest, call_site)
    service.answers_pings = False
    guest.clock.run_for("00:31")
    wait_until(
        guest,
        lambda: any(message == {"action": "ping"} for message in service.sockets[0].received),
        "a ping",
    )

    guest.clock.run_for("00:11")  # no pong within 10 s
    wait_until(guest, lambda: len(service.sockets) == 2, "a new connection")
    assert len(service.joins()) == 2  # with a fresh token
    expect_state(guest, "waiting", "peer")


# Language and branding


@pytest.mark.parametrize(
    ("locale", "language", "html_lang", "join_text", "title"),
    [
        pytest.param("en-US", "de-DE", "de", "Beitreten", "Videoanruf", id="answer-german"),
        pytest.param("de-DE", None, "de", "Beitreten", "Videoanruf", id="browser-german"),
        pytest.param("de-DE", "en-US", "en", "Join", "Video call", id="answer-wins-over-browser"),
        pytest.param("de-AT", "fr-FR", "de", "Beitreten", "Videoanruf", id="unknown-answer-then-browser"),
        pytest.param("fr-FR", None, "en", "Join", "Video call", id="english-otherwise"),
    ],
)
def test_the_language_is_the_join_answers_then_the_browsers(
    open_tab: OpenTab,
    call_site: CallSite,
    service: FakeCallService,
    locale: str,
    language: str | None,
    html_lang: str,
    join_text: str,
    title: str,
) -> None:
    page = open_tab(locale=locale).page
    service.answer_join("guest", join_answer("guest", language=language))
    open_call(page, call_site)

    expect_state(page, "prejoin")
    expect(page.locator("html")).to_have_attribute("lang", html_lang)
    expect(page.get_by_role("button", name=join_text, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page).to_have_title(title)


def test_german_covers_the_call(open_tab: OpenTab, call_site: CallSite, service: FakeCallService) -> None:
    page = open_tab(locale="de-DE").page
    service.answer_join("agent", join_answer("agent"))
    open_call(page, call_site, AGENT_QUERY)
    expect(status(page)).to_have_text("Prüfen Sie Kamera und Mikrofon, dann treten Sie bei.")
    expect(page.get_by_label("Ihr Name")).to_have_value("Sarah (Support)")
    expect(page.get_by_label("Mikrofonpegel")).to_be_visible()
    join(page, "Beitreten")

    expect(status(page)).to_have_text("Warten, bis Ihr Gast beitritt…")
    service.peer_joins("guest", "John")
    expect(status(page)).to_have_text("Sie sind im Anruf mit John.")
    for name in ("Mikrofon stummschalten", "Kamera ausschalten", "Verlassen", "Anruf für alle beenden"):
        expect(page.get_by_role("button", name=name)).to_be_visible()
    expect(page.get_by_role("group", name="Steuerung des Anrufs")).to_be_visible()
    page.get_by_role("button", name="Anruf für alle beenden").click()
    expect(
        page.get_by_text("Den Anruf für alle beenden? Er kann nicht wieder gestartet werden.")
    ).to_be_visible()
    page.get_by_role("button", name="Ja, Anruf beenden").click()
    expect(status(page)).to_have_text("Sie haben den Anruf für alle beendet.")
    expect(page.get_by_text("Sie können diese Seite schließen.")).to_be_visible()


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        pytest.param(
            refusal(401, "UNAUTHORIZED", "r1"), "Dieser Agent-Link ist nicht (mehr) gültig.", id="401"
        ),
        pytest.param(refusal(410, "CALL_ENDED"), "Der Anruf ist beendet.", id="410"),
        pytest.param("abort", "Der Videoanruf-Dienst ist nicht erreichbar.", id="network"),
    ],
)
def test_german_covers_the_refusals(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, answer: Any, text: str
) -> None:
    page = open_tab(locale="de-DE").page
    service.answer_join("agent", answer)
    open_call(page, call_site, AGENT_QUERY)
    expect(status(page)).to_contain_text(text)


def test_the_presets_branding_shows_its_logo_and_colour(
    guest: Page, call_site: CallSite, service: FakeCallService
) -> None:
    logo = "https://cdn.example.com/acme/logo.svg"
    service.answer_join("guest", join_answer("guest", branding={"logoUrl": logo, "accentColor": "#ffd400"}))
    requested: list[str] = []
    guest.route(
        "https://cdn.example.com/**", lambda route: (requested.append(route.request.url), route.abort())[1]
    )
    open_call(guest, call_site)
    expect_state(guest, "prejoin")

    join_button = guest.get_by_role("button", name="Join", exact=True)
    expect(join_button).to_have_css("background-color", "rgb(255, 212, 0)")
    expect(join_button).to_have_css("color", "rgb(0, 0, 0)")  # readable on yellow
    wait_until(guest, lambda: requested == [logo], "the logo's request")
    expect(guest.locator("#logo")).to_be_hidden()  # it failed to load: no broken image


@pytest.mark.parametrize(
    "branding",
    [
        {"logoUrl": "javascript:alert(1)", "accentColor": "red"},
        {"logoUrl": "http://cdn.example.com/logo.svg", "accentColor": "#fff"},
        {
            "logoUrl": "https://user:pass@cdn.example.com/logo.svg",
            "accentColor": "#0b5fff; background: url(x)",
        },
        {"logoUrl": ["https://cdn.example.com/logo.svg"], "accentColor": 255},
        "https://cdn.example.com/logo.svg",
    ],
    ids=["javascript-and-name", "http-and-short", "user-info-and-injection", "wrong-types", "not-an-object"],
)
def test_untrusted_branding_is_ignored(
    guest: Page, call_site: CallSite, service: FakeCallService, branding: Any
) -> None:
    service.answer_join("guest", join_answer("guest", branding=branding))
    requested: list[str] = []
    guest.route("**/*logo*", lambda route: (requested.append(route.request.url), route.abort())[1])
    open_call(guest, call_site)
    expect_state(guest, "prejoin")

    expect(guest.locator("#logo")).to_be_hidden()
    assert guest.locator("#logo").get_attribute("src") is None
    expect(guest.get_by_role("button", name="Join", exact=True)).to_have_css(
        "background-color", "rgb(31, 95, 209)"
    )
    guest.wait_for_timeout(300)
    assert requested == []


# Small screens and the keyboard


def test_320_px_wide_needs_no_horizontal_scrolling(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService
) -> None:
    page = open_tab(viewport=NARROW).page
    service.answer_join(
        "agent",
        join_answer(
            "agent",
            title="Support Session #1234 for a customer with a long-winded problem description",
            displayName="Sarah-Marie Schmidt-Leutheusser (Kundenservice)",
        ),
    )
    open_call(page, call_site, AGENT_QUERY)
    expect_state(page, "prejoin")
    expect(page.locator("#preview")).to_be_visible()
    assert scroll_width(page) <= NARROW["width"]

    join(page)
    service.peer_joins("guest", "Maximilian Alexander von Hohenberg-Wittelsbach")
    expect_state(page, "in-call")
    assert scroll_width(page) <= NARROW["width"]
    page.get_by_role("button", name="End call for everyone").click()
    assert scroll_width(page) <= NARROW["width"]
    for name in ("Mute microphone", "Leave", "Yes, end the call"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box is not None
        assert box["height"] >= 44
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= NARROW["width"]


def test_the_keyboard_alone_joins_mutes_and_leaves(guest: Page, call_site: CallSite) -> None:
    open_call(guest, call_site)
    expect_state(guest, "prejoin")
    expect(guest.get_by_label("Camera", exact=True)).to_be_visible()
    expect(guest.get_by_role("button", name="Join", exact=True)).not_to_be_focused()  # no focus taken on load

    order = []
    for _ in range(8):
        guest.keyboard.press("Tab")
        order.append(guest.evaluate("() => document.activeElement.id"))
        if order[-1] == "join":
            break
    assert order == ["camera-select", "mic-select", "preview-mic", "preview-camera", "name", "join"]
    outline = guest.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible

    guest.keyboard.press("Enter")
    expect_state(guest, "waiting", "peer")
    expect(guest.get_by_role("button", name="Mute microphone")).to_be_focused()
    guest.keyboard.press("Enter")
    expect(guest.get_by_role("button", name="Unmute microphone")).to_be_focused()
    guest.keyboard.press("Tab")
    guest.keyboard.press("Tab")
    expect(guest.get_by_role("button", name="Leave")).to_be_focused()
    guest.keyboard.press("Enter")
    expect_state(guest, "ended", "left")
    expect(guest.get_by_role("button", name="Join again")).to_be_focused()


def test_every_state_change_is_announced(guest: Page, call_site: CallSite, service: FakeCallService) -> None:
    region = status(guest)
    open_call(guest, call_site)
    expect(region).to_have_attribute("role", "status")
    expect(region).to_have_attribute("aria-live", "polite")
    announced: list[str] = []

    def heard() -> str:
        text = region.text_content() or ""
        if not announced or announced[-1] != text:
            announced.append(text)
        return text

    expect_state(guest, "prejoin")
    heard()
    join(guest)
    expect_state(guest, "waiting", "peer")
    heard()
    service.peer_joins("agent", "Sarah")
    expect_state(guest, "in-call")
    heard()
    service.end_call()
    expect_state(guest, "ended")
    heard()
    assert announced == [
        "Check your camera and microphone, then join.",
        "Waiting for the agent to join…",
        "You are in the call with Sarah.",
        "The call has ended.",
    ]


# Real media between two pages, the signaling relayed by the test


INBOUND = """async () => {
  const found = { audio: 0, video: 0, frames: 0, connections: 0 };
  for (const pc of window.__recorded.pcs) {
    if (pc.connectionState === "closed") continue;
    found.connections += 1;
    (await pc.getStats()).forEach((report) => {
      if (report.type !== "inbound-rtp") return;
      found[report.kind] += report.bytesReceived || 0;
      if (report.kind === "video") found.frames += report.framesDecoded || 0;
    });
  }
  return found;
}"""


def inbound(page: Page) -> dict[str, int]:
    """What the page's open peer connection has received so far (getStats' inbound-rtp)."""
    found: dict[str, int] = page.evaluate(INBOUND)
    return found


def expect_media_flowing(page: Page, what: str) -> None:
    """Video frames decoded and audio and video bytes received by one open connection, and more
    of each a second later. (Right after a reconnection the page may still be replacing its
    connection: a second in which one was replaced does not count.)"""
    last: tuple[dict[str, int], dict[str, int]] | None = None
    for _ in range(WAIT_MS // 1000):
        before = inbound(page)
        page.wait_for_timeout(1000)
        after = inbound(page)
        last = (before, after)
        if (
            before["connections"] == after["connections"] == 1
            and before["frames"] > 0
            and after["frames"] > before["frames"]
            and after["video"] > before["video"]
            and after["audio"] > before["audio"]
        ):
            return
    pytest.fail(f"{what}: no media flowing; received {last}")


@pytest.fixture
def two_pages(open_tab: OpenTab, call_site: CallSite) -> tuple[Page, Page]:
    """The agent and the guest, each in a browser of their own, both in the call."""
    agent = open_tab().page
    guest = open_tab().page
    open_call(agent, call_site, AGENT_QUERY)
    open_call(guest, call_site)
    guest.get_by_label("Your name").fill("John Doe")
    join(guest)
    expect_state(guest, "waiting", "peer")
    join(agent)
    return agent, guest


def test_two_pages_see_and_hear_each_other(two_pages: tuple[Page, Page], service: FakeCallService) -> None:
    agent, guest = two_pages
    expect_state(agent, "in-call")
    expect_state(guest, "in-call")
    expect(agent.locator("#remote-name")).to_have_text("John Doe")
    expect(guest.locator("#remote-name")).to_have_text("Sarah (Support)")

    expect_media_flowing(agent, "the agent")
    expect_media_flowing(guest, "the guest")
    for page in (agent, guest):
        expect(page.locator("#stage-note")).to_have_text("")
        assert page.locator("#remote-video").evaluate("(v) => v.videoWidth > 0 && !v.paused && !v.muted")
    offers = [data for data in service.signals_from("agent") if data["type"] == "offer"]
    answers = [data for data in service.signals_from("guest") if data["type"] == "answer"]
    assert len(offers) == 1
    assert len(answers) == 1
    assert not [data for data in service.signals_from("guest") if data["type"] == "offer"]

    # The agent ends it: both pages stop camera and microphone within a few seconds.
    agent.get_by_role("button", name="End call for everyone").click()
    agent.get_by_role("button", name="Yes, end the call").click()
    expect_state(agent, "ended", "byYou")
    service.end_call()  # what the backend pushes once the end is written
    expect_state(guest, "ended", "ended")
    expect_tracks_stopped(agent)
    expect_tracks_stopped(guest)


def test_media_goes_on_while_a_socket_reconnects(
    two_pages: tuple[Page, Page], service: FakeCallService
) -> None:
    agent, guest = two_pages
    expect_media_flowing(agent, "the agent")
    service.answer_join("guest", "abort", join_answer("guest"))  # hold the guest in reconnecting a moment

    service.drop("guest")
    expect_state(guest, "reconnecting")
    expect_media_flowing(guest, "the reconnecting guest")
    expect_state(agent, "in-call")  # the guest's media still arrives: not "waiting"
    expect_state(guest, "in-call")
    expect_media_flowing(agent, "the agent after the guest reconnected")
    expect_media_flowing(guest, "the guest after it reconnected")
    assert guest.evaluate("() => window.__recorded.pcs.length") == 1  # the same connection throughout


@pytest.mark.parametrize("reloaded", ["guest", "agent"])
def test_a_reloaded_page_gets_media_again(two_pages: tuple[Page, Page], reloaded: str) -> None:
    agent, guest = two_pages
    expect_media_flowing(agent, "the agent")
    page, other = (guest, agent) if reloaded == "guest" else (agent, guest)

    page.reload()
    expect_state(page, "in-call")  # straight back in, with the name and credential the tab kept
    expect_media_flowing(page, f"the reloaded {reloaded}")
    expect_media_flowing(other, f"the other page after the {reloaded}'s reload")
    expect(agent.locator("#remote-name")).to_have_text("John Doe")
    expect(guest.locator("#remote-name")).to_have_text("Sarah (Support)")


def test_a_page_that_leaves_is_waited_for_at_once(two_pages: tuple[Page, Page]) -> None:
    agent, guest = two_pages
    expect_media_flowing(agent, "the agent")

    guest.get_by_role("button", name="Leave").click()
    # Within a few seconds, though the connection itself would notice only after several more.
    expect(agent.locator("#call")).to_have_attribute("data-state", "waiting", timeout=4000)
    expect(status(agent)).to_have_text("Waiting for John Doe…")
    guest.get_by_role("button", name="Join again").click()
    expect_state(agent, "in-call")
    expect_media_flowing(agent, "the agent after the guest came back")


# What the page may talk to


CONNECT_TRIES = """async (targets) => {
  const blocked = [];
  document.addEventListener("securitypolicyviolation", (event) => blocked.push(event.blockedURI));
  for (const target of targets) {
    try { await fetch(target, { method: "PUT", body: "x" }); } catch (refused) { /* offline, or refused */ }
  }
  await new Promise((resolve) => setTimeout(resolve, 200)); // the reports are queued
  return blocked;
}"""


def test_the_page_holding_an_agents_credential_connects_to_no_other_site(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService
) -> None:
    """Its Content-Security-Policy: the API and signaling, S3's presigned URLs and the local
    run's storage on loopback; any other https host is refused before a request leaves."""
    page = open_tab().page
    service.answer_join("agent", join_answer("agent"))
    open_call(page, call_site, AGENT_QUERY)
    expect_state(page, "prejoin")

    storage = "https://video-calls-recordings.s3.eu-west-1.amazonaws.com/recordings/x.webm?partNumber=1"
    elsewhere = "https://collector.example/keys"
    blocked = page.evaluate(CONNECT_TRIES, [storage, elsewhere, "http://127.0.0.1:9/part"])
    assert blocked == [elsewhere]
