"""The call page on the real local run: what two people would believe, in headless Chromium.

Everything is real here: calls created through the API, the page served by `python -m localrun`
(the session's `local_api`), its join API, the signaling function behind the local WebSocket API
and its management API, the calls stream that tells the pages a call ended, DynamoDB Local under
all of it, and WebRTC between two browser contexts with a fake camera and microphone. Nothing is
mocked; tests/browser/test_call_page.py covers the page's every state against a backend it plays.

The session's local run keeps the upstream's base in its join links (the tests of their shape
need it), so a link here is opened on the local run's own origin: its path and query string,
which are what the page reads, on `local_api.base_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from callsctl.store import AdminStore
from playwright.sync_api import Browser, Page, Request, WebSocket, expect

from tests.browser.conftest import _REPORTS, WAIT_MS, BrowserTab, _save_artifacts, wait_until
from tests.browser.fake_call_service import RECORDER
from tests.integration.test_lifecycle import expire
from tests.services import TABLE_NAMES, LocalApi, TestApp

pytestmark = [pytest.mark.browser]

DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 320, "height": 640}
HOST_NAME = "Sarah (Support)"
GUEST_NAME = "John"
LONG_HOST_NAME = "Sarah-Marie Schmidt-Leutheusser (Kundenservice)"
LONG_GUEST_NAME = "Maximilian Alexander von Hohenberg-Wittelsbach"
# "Within a few seconds" (docs/behaviour.md 9.2), for an end that is pushed to the page.
FEW_SECONDS_MS = 5000

# Every value #call's data-state took, in order, from the first render on (attributeOldValue
# keeps the states a single batch of mutations went through).
STATE_RECORDER = """
(() => {
  const states = [];
  Object.defineProperty(window, "__states", { value: states });
  const note = (state) => { if (state && states.at(-1) !== state) states.push(state); };
  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("call");
    note(root.dataset.state);
    new MutationObserver((records) => {
      for (const record of records.slice(1)) note(record.oldValue);
      note(root.dataset.state);
    }).observe(root, { attributes: true, attributeFilter: ["data-state"], attributeOldValue: true });
  });
})();
"""

# What the page's open peer connection has received so far: getStats' inbound-rtp, video and
# audio, and how many frames the remote <video> element itself has shown.
RECEIVED = """async () => {
  const found = { connections: 0, videoFrames: 0, videoBytes: 0, audioSamples: 0, audioBytes: 0,
                  audioEnergy: 0, shownFrames: 0 };
  for (const pc of window.__recorded.pcs) {
    if (pc.connectionState === "closed") continue;
    found.connections += 1;
    (await pc.getStats()).forEach((report) => {
      if (report.type !== "inbound-rtp") return;
      if (report.kind === "video") {
        found.videoFrames += report.framesDecoded || 0;
        found.videoBytes += report.bytesReceived || 0;
      } else if (report.kind === "audio") {
        found.audioSamples += report.totalSamplesReceived || 0;
        found.audioBytes += report.bytesReceived || 0;
        found.audioEnergy += report.totalAudioEnergy || 0;
      }
    });
  }
  const remote = document.getElementById("remote-video");
  found.shownFrames = remote.getVideoPlaybackQuality().totalVideoFrames;
  return found;
}"""
RISING = ("videoFrames", "videoBytes", "audioSamples", "audioBytes", "audioEnergy", "shownFrames")

# A sampler inside the page, so that a short stall between two of the test's own looks is seen:
# the video frames decoded every 200 ms, with the state the page showed then.
SAMPLER_START = """() => {
  const samples = [];
  window.__samples = samples;
  const read = async () => {
    let frames = 0;
    for (const pc of window.__recorded.pcs) {
      if (pc.connectionState === "closed") continue;
      (await pc.getStats()).forEach((report) => {
        if (report.type === "inbound-rtp" && report.kind === "video") frames += report.framesDecoded || 0;
      });
    }
    samples.push({ at: performance.now(), frames, state: document.getElementById("call").dataset.state });
  };
  window.__sampler = setInterval(read, 200);
}"""
SAMPLER_STOP = "() => { clearInterval(window.__sampler); return window.__samples; }"


# Fixtures and helpers


@dataclass
class Person:
    """One person's browser (a context of its own) on the call page, and what it asked the server."""

    tab: BrowserTab
    sockets: list[str] = field(default_factory=list)  # the signaling URLs it opened
    joins: list[str] = field(default_factory=list)  # the join requests' URLs

    @property
    def page(self) -> Page:
        return self.tab.page

    def tokens(self) -> list[str]:
        return [dict(parse_qsl(urlsplit(url).query))["token"] for url in self.sockets]


OpenPerson = Callable[..., Person]


@pytest.fixture
def open_person(
    allowing_media_chromium: Browser, local_api: LocalApi, request: pytest.FixtureRequest
) -> Iterator[OpenPerson]:
    """Open a join link in a browser of its own, camera and microphone allowed. If the test
    fails, each page's screenshot and HTML go to test-artifacts/browser/, its console to the log."""
    people: list[Person] = []

    def open_(link: str, *, locale: str = "en-US", viewport: dict[str, int] = DESKTOP) -> Person:
        context = allowing_media_chromium.new_context(locale=locale, viewport=viewport)
        context.set_default_timeout(WAIT_MS)
        context.grant_permissions(["camera", "microphone"], origin=local_api.base_url)
        context.add_init_script(RECORDER)
        context.add_init_script(STATE_RECORDER)
        page = context.new_page()
        person = Person(BrowserTab(page, context))
        page.on("console", lambda message: person.tab.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: person.tab.console.append(f"pageerror: {error}"))
        page.on("websocket", lambda socket: _opened(person, socket))
        page.on("request", lambda sent: _requested(person, sent))
        people.append(person)
        page.goto(on_local_run(local_api, link))
        return person

    yield open_
    report = request.node.stash.get(_REPORTS, {}).get("call")
    for index, person in enumerate(people):
        if report is not None and report.failed:
            _save_artifacts(person.page, f"{request.node.nodeid}-{index}")
            print(f"console of page {index}:", *person.tab.console, sep="\n  ")
        person.tab.context.close()


def _opened(person: Person, socket: WebSocket) -> None:
    person.sockets.append(socket.url)


def _requested(person: Person, sent: Request) -> None:
    if sent.method == "POST" and re.search(r"/api/calls/[^/]+/join$", urlsplit(sent.url).path):
        person.joins.append(sent.url)


def on_local_run(local_api: LocalApi, link: str) -> str:
    """The link's path and query string on the local run's own origin."""
    split = urlsplit(link)
    assert re.fullmatch(r"/c/[^/]+", split.path), link
    return local_api.base_url + split.path + (f"?{split.query}" if split.query else "")


def credentials(app: TestApp) -> dict[str, str]:
    return {"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}


def create_call(local_api: LocalApi, app: TestApp, **body: Any) -> dict[str, Any]:
    created = local_api.request(
        headers=credentials(app), json_body={"hostName": HOST_NAME, "guestName": GUEST_NAME, **body}
    )
    assert created.status == 201, created.raw
    call: dict[str, Any] = created.body["data"]
    return call


def call_status(local_api: LocalApi, app: TestApp, call_id: str) -> str:
    read = local_api.request("GET", f"/api/calls/{call_id}", headers=credentials(app))
    assert read.status == 200, read.raw
    status: str = read.body["data"]["status"]
    return status


@pytest.fixture(params=["widgetKey", "hostKey"])
def app(request: pytest.FixtureRequest, make_app: Callable[..., TestApp], admin: AdminStore) -> TestApp:
    """An app of each host-link mode: its agent links carry the app's widget key, or a host key."""
    made = make_app()
    if request.param == "hostKey":
        admin.set_host_links(made.app_id, "hostKey")
    return made


def expect_state(page: Page, state: str, reason: str | None = None, timeout: float | None = None) -> None:
    root = page.locator("#call")
    expect(root).to_have_attribute("data-state", state, timeout=timeout)
    if reason is not None:
        expect(root).to_have_attribute("data-reason", reason, timeout=timeout)


def states(page: Page) -> list[str]:
    seen: list[str] = page.evaluate("() => window.__states")
    return seen


def track_states(page: Page) -> list[str]:
    """The readyState of every camera and microphone track the page was given."""
    found: list[str] = page.evaluate(
        "() => window.__recorded.streams.flatMap((stream) => stream.getTracks()).map((t) => t.readyState)"
    )
    return found


def expect_camera_and_microphone_stopped(page: Page) -> None:
    wait_until(page, lambda: all(state == "ended" for state in track_states(page)), "every track stopped")
    assert sorted({*track_states(page)}) == ["ended"], "the page had camera and microphone to stop"


def join(person: Person, label: str = "Join") -> None:
    person.page.get_by_role("button", name=label, exact=True).click()


def received(page: Page) -> dict[str, float]:
    found: dict[str, float] = page.evaluate(RECEIVED)
    return found


def expect_receiving(*people: Person, what: str) -> None:
    """Each page has one open peer connection over which video frames are decoded and shown and
    audio samples with sound in them are decoded, more of each a second later."""
    last: list[tuple[dict[str, float], dict[str, float]]] = []
    for _ in range(WAIT_MS // 1000):
        before = [received(person.page) for person in people]
        people[0].page.wait_for_timeout(1000)
        after = [received(person.page) for person in people]
        last = list(zip(before, after, strict=True))
        if all(
            earlier["connections"] == later["connections"] == 1
            and all(later[name] > earlier[name] for name in RISING)
            for earlier, later in last
        ):
            return
    pytest.fail(f"{what}: not receiving both ways; (before, after) per page: {last}")


def in_call(open_person: OpenPerson, call: dict[str, Any]) -> tuple[Person, Person]:
    """The agent and the guest, each in a browser of their own, in the call with media flowing."""
    agent = open_person(call["hostJoinUrl"])
    guest = open_person(call["guestJoinUrl"])
    for person in (agent, guest):
        expect_state(person.page, "prejoin")
        join(person)
    for person in (agent, guest):
        expect_state(person.page, "in-call")
    expect_receiving(agent, guest, what="both in the call")
    return agent, guest


def expect_name_clear_of_own_video(page: Page) -> None:
    """The other person's name is not hidden under one's own video in the corner."""
    name = page.locator("#remote-name").bounding_box()
    own = page.locator(".vc-self").bounding_box()
    assert name is not None
    assert own is not None
    apart = name["x"] + name["width"] <= own["x"] or name["y"] + name["height"] <= own["y"]
    assert apart, f"the name {name} runs under the own video {own}"


def connection_id(admin: AdminStore, call_id: str, role: str) -> str:
    """The role's live signaling connection, as the signaling function recorded it."""
    item = admin.client.get_item(
        TableName=TABLE_NAMES.connections,
        Key={"callId": {"S": call_id}, "role": {"S": role}},
        ConsistentRead=True,
    ).get("Item")
    assert item is not None, f"no live {role} connection"
    found: str = item["connectionId"]["S"]
    return found


# Two people, one call


def test_agent_and_guest_see_and_hear_each_other_and_the_agent_ends_it_for_both(
    open_person: OpenPerson, local_api: LocalApi, app: TestApp
) -> None:
    call = create_call(local_api, app, title="Support Session #1234")
    agent = open_person(call["hostJoinUrl"])
    guest = open_person(call["guestJoinUrl"])

    # Before joining: each sees their own camera, their name filled in; the guest types another.
    for person, name in ((agent, HOST_NAME), (guest, GUEST_NAME)):
        expect_state(person.page, "prejoin")
        expect(person.page.locator("#call-title")).to_have_text("Support Session #1234")
        expect(person.page.get_by_label("Your name")).to_have_value(name)
        preview = person.page.locator("#preview-video")
        wait_until(
            person.page, lambda p=preview: p.evaluate("(v) => v.videoWidth > 0 && !v.paused"), "the preview"
        )
    assert "widgetKey" not in agent.page.url
    assert "hostKey" not in agent.page.url
    guest.page.get_by_label("Your name").fill("Jane Doe")
    join(guest)
    expect_state(guest.page, "waiting", "peer")
    expect(guest.page.locator("#status")).to_have_text("Waiting for the agent to join…")
    join(agent)

    expect_state(agent.page, "in-call")
    expect_state(guest.page, "in-call")
    expect(agent.page.locator("#remote-name")).to_have_text("Jane Doe")
    expect(guest.page.locator("#remote-name")).to_have_text(HOST_NAME)
    expect(agent.page.locator("#status")).to_have_text("You are in the call with Jane Doe.")
    expect_receiving(agent, guest, what="agent and guest")
    for person in (agent, guest):
        remote = person.page.locator("#remote-video")
        assert remote.evaluate("(v) => v.videoWidth > 0 && !v.paused && !v.muted")
        expect(person.page.locator("#stage-note")).to_have_text("")
    assert len(agent.sockets) == len(guest.sockets) == 1  # each with its join answer's own token

    # The agent ends it for everyone, confirmed: the guest's page says so within a few seconds.
    agent.page.get_by_role("button", name="End call for everyone").click()
    agent.page.get_by_role("button", name="Yes, end the call").click()
    expect_state(agent.page, "ended", "byYou")
    expect_state(guest.page, "ended", "ended", timeout=FEW_SECONDS_MS)
    expect(guest.page.locator("#status")).to_have_text("The call has ended.")
    for person in (agent, guest):
        expect_camera_and_microphone_stopped(person.page)
    assert call_status(local_api, app, call["callId"]) == "ended"


def test_an_end_through_the_api_ends_both_pages(
    open_person: OpenPerson, local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app = make_app()
    call = create_call(local_api, app)
    agent, guest = in_call(open_person, call)

    # Another client with the app's credentials (the integration's back end, callsctl, Genesys).
    ended = local_api.request("POST", f"/api/calls/{call['callId']}/end", headers=credentials(app))
    assert ended.status == 200, ended.raw
    for person in (agent, guest):
        expect_state(person.page, "ended", "ended", timeout=FEW_SECONDS_MS)
        expect(person.page.locator("#status")).to_have_text("The call has ended.")
    for person in (agent, guest):
        expect_camera_and_microphone_stopped(person.page)
        assert len(person.joins) == 1  # told by the socket, not found out by asking again


def test_a_reloaded_guest_is_back_in_the_call(
    open_person: OpenPerson, local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    call = create_call(local_api, make_app())
    agent, guest = in_call(open_person, call)

    guest.page.reload()
    expect_state(guest.page, "in-call")  # no preview, no click: straight back in
    expect_receiving(agent, guest, what="after the guest's reload")
    expect(agent.page.locator("#remote-name")).to_have_text(GUEST_NAME)
    expect(guest.page.locator("#remote-name")).to_have_text(HOST_NAME)
    assert len(guest.joins) == 2  # the reload joined again
    assert len(set(guest.tokens())) == 2  # with a token of its own


@pytest.mark.parametrize("closed", ["guest", "agent"])
def test_media_goes_on_while_the_server_closes_a_socket_and_the_page_reconnects(
    open_person: OpenPerson,
    local_api: LocalApi,
    make_app: Callable[..., TestApp],
    admin: AdminStore,
    closed: str,
) -> None:
    call = create_call(local_api, make_app())
    agent, guest = in_call(open_person, call)
    person, other = (guest, agent) if closed == "guest" else (agent, guest)
    before = connection_id(admin, call["callId"], closed)
    for page in (agent.page, guest.page):
        page.evaluate(SAMPLER_START)
    for page in (agent.page, guest.page):
        wait_until(page, lambda p=page: p.evaluate("() => window.__samples.length") >= 2, "samples")

    # API Gateway's management API closes the socket, as it does after two hours or an outage.
    deleted = local_api.request("DELETE", f"/__connections__/@connections/{quote(before, safe='')}")
    assert deleted.status == 204, deleted.raw
    wait_until(person.page, lambda: len(person.sockets) == 2, "a second socket")
    expect_state(person.page, "in-call")
    wait_until(
        person.page, lambda: connection_id(admin, call["callId"], closed) != before, "a new connection"
    )
    expect_receiving(agent, guest, what=f"after the {closed}'s socket came back")
    samples = {page: page.evaluate(SAMPLER_STOP) for page in (person.page, other.page)}

    assert "reconnecting" in states(person.page), states(person.page)
    assert states(person.page)[-1] == "in-call"
    assert states(other.page)[-1] == "in-call"
    assert "waiting" not in states(other.page)[states(other.page).index("in-call") :]  # never lost them
    tokens = person.tokens()
    assert len(set(tokens)) == 2  # a fresh token
    assert len(person.joins) == 2  # from a new join
    for page, taken in samples.items():
        # The same peer connection throughout: the socket came back, the media never left. And
        # frames kept rising: no stretch without a new one longer than a busy machine's hiccup.
        assert page.evaluate("() => window.__recorded.pcs.length") == 1
        rises = [sample["at"] for prior, sample in pairwise(taken) if sample["frames"] > prior["frames"]]
        gaps = [later - earlier for earlier, later in pairwise(rises)]
        assert rises, taken
        assert max(gaps) < 1500, taken


async def guest_gone_before_answering(local_api: LocalApi, link: str) -> dict[str, Any]:
    """A guest's page that joins, hears the agent's offer and is gone before it answers (its tab
    closed, its phone lost the network): the offer it took with it."""
    import aiohttp

    split = urlsplit(link)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{local_api.base_url}/api/calls{split.path.removeprefix('/c')}/join"
        ) as joined:
            signaling = (await joined.json())["data"]["signaling"]
        async with session.ws_connect(f"{signaling['url']}?token={signaling['token']}") as socket:
            await socket.send_json({"action": "hello", "displayName": "John"})
            while True:
                message = await socket.receive_json(timeout=WAIT_MS / 1000)
                if message["type"] == "signal" and message["data"]["type"] == "offer":
                    offer: dict[str, Any] = message["data"]
                    return offer


def in_a_thread[T](scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an asyncio scenario beside Playwright's own loop, and wait for it."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(lambda: asyncio.run(asyncio.wait_for(scenario(), 30))).result()


def test_an_offer_left_unanswered_by_a_page_that_went_away_is_made_again_to_the_next(
    open_person: OpenPerson, local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    call = create_call(local_api, make_app())
    agent = open_person(call["hostJoinUrl"])
    expect_state(agent.page, "prejoin")
    join(agent)
    expect_state(agent.page, "waiting", "peer")

    offer = in_a_thread(lambda: guest_gone_before_answering(local_api, call["guestJoinUrl"]))
    assert offer["sdp"].startswith("v=0")
    expect_state(agent.page, "waiting", "peer")
    guest = open_person(call["guestJoinUrl"])
    expect_state(guest.page, "prejoin")
    join(guest)

    expect_state(agent.page, "in-call")
    expect_state(guest.page, "in-call")
    expect_receiving(agent, guest, what="the guest's second page")


# What each link shows


@pytest.mark.parametrize(
    ("case", "state", "reason", "text"),
    [
        pytest.param(
            "wrong-host-key",
            "error",
            "unauthorized",
            "This agent link is not valid (any more). Open the call again from where it was started, "
            "or start a new call.",
            id="wrong-host-key",
        ),
        pytest.param(
            "wrong-widget-key",
            "error",
            "unauthorized",
            "This agent link is not valid (any more). Open the call again from where it was started, "
            "or start a new call.",
            id="wrong-widget-key",
        ),
        pytest.param(
            "disabled-app",
            "error",
            "disabled",
            "Video calls are switched off for this app. Please ask your administrator.",
            id="disabled-app",
        ),
        pytest.param(
            "unknown-call",
            "error",
            "notFound",
            "There is no such call. Check that the link is complete, or ask for a new one.",
            id="unknown-call",
        ),
        pytest.param("ended", "ended", "ended", "The call has ended.", id="ended"),
        pytest.param("expired", "ended", "expired", "This call has expired.", id="expired"),
    ],
)
def test_a_link_that_cannot_join_shows_why(
    open_person: OpenPerson,
    local_api: LocalApi,
    make_app: Callable[..., TestApp],
    admin: AdminStore,
    case: str,
    state: str,
    reason: str,
    text: str,
) -> None:
    app = make_app()
    if case == "wrong-host-key":
        admin.set_host_links(app.app_id, "hostKey")
    call = create_call(local_api, app)
    link = call["hostJoinUrl"]
    split = urlsplit(link)
    query = dict(parse_qsl(split.query))
    if case == "wrong-host-key":
        query["hostKey"] = secrets.token_urlsafe(24)
    elif case == "wrong-widget-key":
        query["widgetKey"] = secrets.token_urlsafe(24)
    elif case == "disabled-app":
        admin.set_status(app.app_id, "disabled")
    elif case == "unknown-call":
        split = split._replace(path=f"/c/{uuid.uuid4()}")
    elif case == "ended":
        local_api.request("POST", f"/api/calls/{call['callId']}/end", headers=credentials(app))
    elif case == "expired":
        expire(admin, call["callId"])
    person = open_person(split._replace(query=urlencode(query)).geturl())

    expect_state(person.page, state, reason)
    expect(person.page.locator("#status")).to_contain_text(text)
    expect(person.page.get_by_role("button", name="Join", exact=True)).to_be_hidden()
    assert track_states(person.page) == []  # camera and microphone never asked for


def test_without_preview_one_click_joins_and_the_names_come_from_the_call(
    open_person: OpenPerson, local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    """At 320 px, one page in English and one in German, with long names."""
    app = make_app(presets={"quick": {"previewEnabled": False}}, active_preset_id="quick")
    call = create_call(local_api, app, hostName=LONG_HOST_NAME, guestName=LONG_GUEST_NAME)
    agent = open_person(call["hostJoinUrl"], viewport=NARROW)
    guest = open_person(call["guestJoinUrl"], locale="de-DE", viewport=NARROW)

    expect_state(agent.page, "prejoin")
    expect(agent.page.locator("#status")).to_have_text(
        "Select Join to enter the call with your camera and microphone."
    )
    expect_state(guest.page, "prejoin")
    expect(guest.page.locator("#status")).to_have_text(
        "Wählen Sie „Beitreten“, um mit Kamera und Mikrofon am Anruf teilzunehmen."
    )
    for person in (agent, guest):
        expect(person.page.locator("#preview")).to_be_hidden()
        expect(person.page.locator("#name")).to_be_hidden()
        assert track_states(person.page) == []  # nothing asked before the click
    join(agent)
    join(guest, "Beitreten")

    expect_state(agent.page, "in-call")
    expect_state(guest.page, "in-call")
    expect(agent.page.locator("#remote-name")).to_have_text(LONG_GUEST_NAME)
    expect(guest.page.locator("#remote-name")).to_have_text(LONG_HOST_NAME)
    expect(guest.page.locator("#status")).to_have_text(f"Sie sind im Anruf mit {LONG_HOST_NAME}.")
    expect_receiving(agent, guest, what="joined with one click")
    for person in (agent, guest):
        assert person.page.evaluate("() => document.documentElement.scrollWidth") <= NARROW["width"]
        expect_name_clear_of_own_video(person.page)


# An independent WebRTC peer


@dataclass
class IndependentGuest:
    """What aiortc, as the guest, received from the page: frames by kind, and what it heard."""

    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    video_size: tuple[int, int] = (0, 0)
    heard: list[str] = field(default_factory=list)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    leave: threading.Event = field(default_factory=threading.Event)


async def aiortc_guest(local_api: LocalApi, link: str, guest: IndependentGuest) -> None:
    """The guest's side of protocol version 1, with aiortc's RTCPeerConnection: join, hello, answer
    the agent's offer, take trickled candidates, and count the frames that arrive."""
    import aiohttp
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
    from aiortc.sdp import candidate_from_sdp

    split = urlsplit(link)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{local_api.base_url}/api/calls{split.path.removeprefix('/c')}/join"
        ) as joined:
            answer = (await joined.json())["data"]
        url = f"{answer['signaling']['url']}?token={answer['signaling']['token']}"
        # The join answer's ICE servers (the local run's: none), not aiortc's default public STUN.
        servers = [RTCIceServer(**server) for server in answer["iceServers"]]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        receiving: list[asyncio.Task[None]] = []

        async def count(track: Any) -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    frame = await track.recv()
                    guest.frames[track.kind] += 1
                    if track.kind == "video":
                        guest.video_size = (frame.width, frame.height)

        pc.on("track", lambda track: receiving.append(asyncio.ensure_future(count(track))))
        socket = await session.ws_connect(url)
        await socket.send_json({"action": "hello", "displayName": "aiortc"})
        pending: list[dict[str, Any]] = []
        try:
            while not guest.leave.is_set():
                with contextlib.suppress(TimeoutError):
                    message = await socket.receive_json(timeout=0.2)
                    guest.heard.append(message["type"])
                    data = message.get("data") or {}
                    if data.get("type") == "offer":
                        await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
                        await pc.setLocalDescription(await pc.createAnswer())
                        local = pc.localDescription
                        await socket.send_json(
                            {"action": "signal", "data": {"type": "answer", "sdp": local.sdp}}
                        )
                        pending, waiting = [], pending
                        for candidate in waiting:
                            await pc.addIceCandidate(candidate)
                    elif data.get("type") == "candidate" and data.get("candidate"):
                        init = data["candidate"]
                        candidate = candidate_from_sdp(init["candidate"].removeprefix("candidate:"))
                        candidate.sdpMid = init.get("sdpMid")
                        candidate.sdpMLineIndex = init.get("sdpMLineIndex")
                        if pc.remoteDescription is None:
                            pending.append(candidate)
                        else:
                            await pc.addIceCandidate(candidate)
                if guest.frames["video"] >= 30 and guest.frames["audio"] >= 50:
                    guest.done.set()
        finally:
            await socket.close()
            await pc.close()
            for task in receiving:
                task.cancel()


def test_an_independent_webrtc_peer_receives_the_pages_camera_and_microphone(
    open_person: OpenPerson, local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    """aiortc, not a browser, as the guest: the page's offer, candidates and media are WebRTC that
    another implementation understands, through the real signaling."""
    call = create_call(local_api, make_app())
    agent = open_person(call["hostJoinUrl"])
    expect_state(agent.page, "prejoin")
    join(agent)
    expect_state(agent.page, "waiting", "peer")

    guest = IndependentGuest()

    def run_guest() -> None:
        try:
            asyncio.run(aiortc_guest(local_api, call["guestJoinUrl"], guest))
        except BaseException as error:
            guest.error = error
            guest.done.set()

    thread = threading.Thread(target=run_guest, daemon=True)
    thread.start()
    try:
        expect_state(agent.page, "in-call")
        expect(agent.page.locator("#remote-name")).to_have_text("aiortc")
        wait_until(agent.page, guest.done.is_set, "frames in aiortc")
        assert guest.error is None, guest.error
        assert guest.video_size[0] > 0, guest.video_size
        assert guest.heard[:2] == ["ready", "signal"], guest.heard  # the agent offers at once
        # And the other way: the page decodes aiortc's own test pattern.
        before = received(agent.page)
        wait_until(agent.page, lambda: received(agent.page)["videoFrames"] > before["videoFrames"], "frames")
    finally:
        guest.leave.set()
        thread.join(10)
