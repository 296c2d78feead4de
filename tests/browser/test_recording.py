"""Recording in the call page (widget/call/recorder.js, composer.js, upload.js): what starts it, the
Record control, the indicator on both pages, the upload in parts of exactly `partSizeBytes` to a
bucket that takes them as S3 takes them from presigned URLs, and the file those parts make.

The backend is played by the test (tests/browser/fake_call_service.py: the recording routes of
the seams through Playwright's `route`, the bucket a real HTTP server on loopback, with CORS, so
that the page's PUTs, their preflights and its keepalive requests really leave the browser). The
parts are joined as S3 joins them, and the file is read with PyAV (FFmpeg's demuxers and decoders).
"""

from __future__ import annotations

import io
import os
import re
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, MEDIA_ARGS, CallSite, OpenTab, wait_until
from tests.browser.fake_call_service import (
    HOST_KEY,
    PART_SIZE_BYTES,
    FakeBucket,
    FakeCallService,
    Recording,
    join_answer,
    refusal,
)
from tests.browser.test_call_page import (
    AGENT_QUERY,
    NARROW,
    expect_state,
    expect_tracks_stopped,
    joined_as,
    open_call,
    scroll_width,
    track_states,
)

pytestmark = [pytest.mark.browser]

WIDE = {"width": 1280, "height": 800}
RECORDING_NOW = "This call is being recorded"


@pytest.fixture
def bucket() -> Iterator[FakeBucket]:
    with FakeBucket().serving() as serving:
        yield serving


@pytest.fixture
def service(bucket: FakeBucket) -> FakeCallService:
    return FakeCallService(bucket)


# What the parts make


@dataclass
class Media:
    """What PyAV finds in a file: its streams' codecs, the picture size, how long it runs (the
    last video frame's end), the frames decoded, and the loudest audio sample."""

    video_codecs: list[str]
    audio_codecs: list[str]
    size: tuple[int, int]
    seconds: float
    frames: int
    loudest: float


def read_media(content: bytes) -> Media:
    with av.open(io.BytesIO(content), format="webm") as container:
        video = [stream.codec_context.name for stream in container.streams.video]
        audio = [stream.codec_context.name for stream in container.streams.audio]
        first = container.streams.video[0]
        size = (first.codec_context.width, first.codec_context.height)
        end = Fraction(0)
        frames = 0
        loudest = 0.0
        for packet in container.demux():
            if packet.pts is not None and packet.time_base is not None:
                end = max(end, (packet.pts + (packet.duration or 0)) * packet.time_base)
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    frames += 1
                elif isinstance(frame, av.AudioFrame):
                    assert frame.format.name == "fltp", frame.format.name  # FFmpeg's Opus decoder: floats
                    samples = array("f", bytes(frame.planes[0]))[: frame.samples]
                    loudest = max(loudest, *(abs(sample) for sample in samples))
    return Media(video, audio, size, float(end), frames, loudest)


def the_recording(service: FakeCallService) -> Recording:
    (recording,) = service.recordings
    return recording


def parts_put(bucket: FakeBucket, recording: Recording) -> list[tuple[int, int]]:
    """(part number, size) of every part that landed, in the order they landed."""
    return [(put.part_number, put.size) for put in bucket.puts_of(recording.upload_id) if put.status == 200]


def indicator(page: Page) -> Any:
    return page.locator("#recording-indicator")


def record_button(page: Page) -> Any:
    return page.locator("#record")


# Pages in the call


def both_in_call(open_tab: OpenTab, call_site: CallSite, **tab: Any) -> tuple[Page, Page]:
    """Two real pages, the guest first, then the agent: both in the call, with media."""
    agent = open_tab(**tab).page
    guest = open_tab(**tab).page
    open_call(agent, call_site, AGENT_QUERY)
    open_call(guest, call_site)
    guest.get_by_label("Your name").fill("John Doe")
    guest.locator("#join").click()
    expect_state(guest, "waiting", "peer")
    agent.locator("#join").click()
    expect_state(agent, "in-call")
    expect_state(guest, "in-call")
    return agent, guest


def agent_with_a_guest(open_tab: OpenTab, call_site: CallSite, service: FakeCallService, **tab: Any) -> Page:
    """The agent in the call with a guest the test plays (no media: the guest's half is black)."""
    agent = open_tab(**tab).page
    service.peer_joins("guest", "John")
    open_call(agent, call_site, AGENT_QUERY)
    expect(agent.locator("#join")).to_be_enabled()
    agent.locator("#join").click()
    expect_state(agent, "in-call")
    return agent


def expect_completed(page: Page, recording: Recording) -> None:
    wait_until(page, lambda: recording.status == "ready", "the recording completed")


# When recording starts, and the control


def test_record_on_start_begins_once_both_are_in_the_call_and_not_before(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, bucket: FakeBucket
) -> None:
    service.answer_join("agent", join_answer("agent", recordOnStart=True))
    service.answer_join("guest", join_answer("guest", recordOnStart=True))
    agent = open_tab().page
    guest = open_tab().page
    open_call(agent, call_site, AGENT_QUERY)
    agent.locator("#join").click()
    expect_state(agent, "waiting", "peer")
    agent.wait_for_timeout(1500)
    assert service.recording_requests("") == []  # the agent alone: nothing is recorded
    expect(indicator(agent)).to_be_hidden()

    open_call(guest, call_site)
    expect(guest.get_by_text("This call will be recorded when both of you are in it.")).to_be_visible()
    guest.locator("#join").click()
    expect_state(agent, "in-call")
    expect(indicator(agent)).to_have_text(RECORDING_NOW)
    expect(indicator(guest)).to_have_text(RECORDING_NOW)
    (start,) = service.recording_requests("")
    assert start.json() == {"mimeType": "video/webm;codecs=vp8,opus"}
    assert start.query == {"hostKey": [HOST_KEY]}  # the agent's credential, as the link carried it
    assert start.content_type.startswith("text/plain")
    expect(agent.get_by_role("button", name="Stop recording")).to_be_visible()
    expect(record_button(guest)).to_be_hidden()  # the guest's page has no Record control
    assert guest.get_by_role("button", name=re.compile("record", re.IGNORECASE)).count() == 0

    agent.wait_for_timeout(3000)
    agent.get_by_role("button", name="Stop recording").click()
    expect(indicator(agent)).to_be_hidden()
    expect(indicator(guest)).to_be_hidden()
    expect(agent.get_by_role("button", name="Record", exact=True)).to_be_visible()
    recording = the_recording(service)
    expect_completed(agent, recording)
    assert recording.completed_by == "page"
    media = read_media(recording.content)
    assert (media.video_codecs, media.audio_codecs) == (["vp8"], ["opus"])
    assert media.seconds == pytest.approx(recording.completion["durationSeconds"], abs=1.0)
    assert media.seconds > 2.5
    agent.wait_for_timeout(1000)
    assert len(service.recording_requests("")) == 1  # stopped means stopped: no new one by itself


def test_the_record_control_records_from_the_keyboard_and_the_guest_sees_it(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, bucket: FakeBucket
) -> None:
    agent, guest = both_in_call(open_tab, call_site)
    agent.wait_for_timeout(500)
    assert service.recording_requests("") == []  # no recordOnStart: nothing until the agent asks
    expect(indicator(agent)).to_be_hidden()
    expect(indicator(guest)).to_be_hidden()

    agent.get_by_role("button", name="Mute microphone").click()  # what is heard is the guest's
    button = agent.get_by_role("button", name="Record", exact=True)
    button.focus()
    agent.keyboard.press("Enter")
    expect(indicator(agent)).to_have_text(RECORDING_NOW)
    expect(indicator(guest)).to_have_text(RECORDING_NOW)
    stop = agent.get_by_role("button", name="Stop recording")
    expect(stop).to_be_focused()  # the same control, still where the keyboard left it
    expect(indicator(guest).locator("xpath=..")).to_have_attribute("role", "status")  # announced

    guest.reload()  # a guest who comes back is told again
    expect_state(guest, "in-call")
    expect(indicator(guest)).to_have_text(RECORDING_NOW)
    # Seconds with the guest's microphone back in the mix: its fake device beeps about once a
    # second, and a recording of well under one (a quick machine) may hold none.
    agent.wait_for_timeout(3000)

    agent.keyboard.press("Enter")
    expect(indicator(guest)).to_be_hidden()
    expect(agent.get_by_role("button", name="Record", exact=True)).to_be_focused()
    recording = the_recording(service)
    expect_completed(agent, recording)
    media = read_media(recording.content)
    assert (media.video_codecs, media.audio_codecs) == (["vp8"], ["opus"])
    assert media.loudest > 0.05  # the guest's beep, mixed in (the agent's microphone is muted)
    expect_state(agent, "in-call")
    expect_state(guest, "in-call")


# The upload and the file


def noise_video(path: Path, seconds: int = 1) -> Path:
    """A Y4M clip of random pixels for Chromium's fake camera: nothing to compress, so the
    recording runs at its full bit rate and fills 5 MiB parts in seconds rather than minutes."""
    width, height, rate = 640, 360, 30
    with path.open("wb") as file:
        file.write(f"YUV4MPEG2 W{width} H{height} F{rate}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(seconds * rate):
            file.write(b"FRAME\n" + os.urandom(width * height * 3 // 2))
    return path


@pytest.fixture(scope="module")
def noisy_chromium(
    playwright_driver: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """A browser whose fake camera films noise."""
    clip = noise_video(tmp_path_factory.mktemp("camera") / "noise.y4m")
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, *MEDIA_ARGS, f"--use-file-for-fake-video-capture={clip}"],
    )
    yield browser
    browser.close()


# How long one 5 MiB part may take to fill at the recording's bit rate, on a slow machine.
PART_WAIT_S = 60
# As a background tab has it: requestAnimationFrame never fires.
NO_ANIMATION_FRAMES = "window.requestAnimationFrame = () => 0;"


def test_parts_of_exactly_the_part_size_go_up_while_it_records_then_the_last_and_a_webm_of_it(
    open_tab: OpenTab,
    call_site: CallSite,
    service: FakeCallService,
    bucket: FakeBucket,
    noisy_chromium: Browser,
) -> None:
    service.answer_join("agent", join_answer("agent", recordOnStart=True))
    tab = open_tab(browser=noisy_chromium)
    tab.context.add_init_script(NO_ANIMATION_FRAMES)
    agent = tab.page
    service.peer_joins("guest", "John")
    joined_as(agent, call_site, AGENT_QUERY)
    expect(indicator(agent)).to_be_visible()
    began = time.monotonic()
    recording = the_recording(service)

    # Full parts go up while the recording runs (the second begins with what the first left).
    for count in (1, 2):
        for _ in range(PART_WAIT_S * 10):
            if len(parts_put(bucket, recording)) >= count:
                break
            agent.wait_for_timeout(100)
        assert len(parts_put(bucket, recording)) >= count, f"part {count} never went up while recording"
        expect(indicator(agent)).to_be_visible()
    agent.get_by_role("button", name="Stop recording").click()
    recorded = time.monotonic() - began
    expect_completed(agent, recording)

    parts = parts_put(bucket, recording)
    numbers = [number for number, _ in parts]
    sizes = [size for _, size in parts]
    assert numbers == list(range(1, len(parts) + 1))  # one after the other, each once
    assert len(parts) >= 3
    assert sizes[:-1] == [PART_SIZE_BYTES] * (len(parts) - 1)  # S3 takes no smaller part but the last
    assert 0 < sizes[-1] <= PART_SIZE_BYTES
    assert sorted(set(recording.part_numbers_asked)) == numbers  # a URL for each, none wasted
    for put in bucket.puts_of(recording.upload_id):
        assert "content-type" not in put.headers  # nothing the presigned URL did not sign
        assert not [name for name in put.headers if name.startswith("x-amz-")]
    assert recording.completion is not None
    assert recording.completion["durationSeconds"] == pytest.approx(recorded, abs=1.5)

    media = read_media(recording.content)
    assert len(recording.content) == sum(sizes)
    assert (media.video_codecs, media.audio_codecs) == (["vp8"], ["opus"])
    assert media.size == (1280, 360)  # both people side by side
    assert media.seconds == pytest.approx(recording.completion["durationSeconds"], abs=1.0)
    # Drawn on the worker's clock, though no animation frame ever came; a timer slowed to once a
    # second, as a background tab's are, would give one frame a second.
    assert media.frames / media.seconds > 5
    assert media.loudest > 0.05  # the microphone's beep is in the mix


def test_a_part_that_fails_is_put_again_with_a_fresh_url(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, bucket: FakeBucket
) -> None:
    agent = agent_with_a_guest(open_tab, call_site, service)
    agent.get_by_role("button", name="Record", exact=True).click()
    expect(indicator(agent)).to_be_visible()
    agent.wait_for_timeout(2500)
    bucket.failures = 2  # 503 SlowDown, twice
    agent.get_by_role("button", name="Stop recording").click()
    recording = the_recording(service)
    expect_completed(agent, recording)

    assert [put.status for put in bucket.puts_of(recording.upload_id)] == [503, 503, 200]
    assert recording.part_numbers_asked.count(1) >= 3  # a fresh URL for each try
    media = read_media(recording.content)
    assert (media.video_codecs, media.audio_codecs) == (["vp8"], ["opus"])
    expect(agent.locator("#record-message")).to_have_text("")


# The strictest autoplay rule, which headless Chromium does not apply: an AudioContext runs only
# once the person has clicked or typed in this very document.
AUDIO_NEEDS_A_GESTURE = """
(() => {
  let gesture = false;
  for (const type of ["pointerdown", "keydown"]) addEventListener(type, () => { gesture = true; }, true);
  const Native = window.AudioContext;
  window.AudioContext = class extends Native {
    constructor(...args) {
      super(...args);
      this.blocked = !gesture;
      if (this.blocked) this.suspend();
    }
    get state() { return this.blocked ? "suspended" : super.state; }
    resume() {
      if (!gesture) return new Promise(() => {});
      this.blocked = false;
      return super.resume();
    }
  };
})();
"""


def test_after_a_reload_the_recording_waits_for_a_click_before_it_mixes_the_sound(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, bucket: FakeBucket
) -> None:
    service.answer_join("agent", join_answer("agent", recordOnStart=True))
    tab = open_tab()
    tab.context.add_init_script(AUDIO_NEEDS_A_GESTURE)
    agent = agent_with_a_guest(open_tab=lambda **_: tab, call_site=call_site, service=service)
    expect(indicator(agent)).to_be_visible()  # the click on Join lets sound be mixed

    agent.reload()  # back in the call without a click
    service.server_completes()  # as the server does when the old page's connection closes
    expect_state(agent, "in-call")
    expect(agent.locator("#record-message")).to_have_text(
        "The recording starts with your next click or key press: your browser waits for one before it "
        "mixes the sound."
    )
    expect(agent.get_by_role("button", name="Starting the recording…")).to_have_attribute(
        "aria-disabled", "true"
    )
    agent.wait_for_timeout(1000)
    assert len(service.recording_requests("")) == 1  # nothing started that would record nothing

    agent.keyboard.press("Shift")
    expect(indicator(agent)).to_be_visible()
    expect(agent.locator("#record-message")).to_have_text("")
    assert len(service.recording_requests("")) == 2
    agent.wait_for_timeout(2000)
    agent.get_by_role("button", name="Stop recording").click()
    recording = service.recordings[-1]
    expect_completed(agent, recording)
    media = read_media(recording.content)
    assert (media.video_codecs, media.audio_codecs) == (["vp8"], ["opus"])
    assert media.loudest > 0.05


# Failures keep the call going


@pytest.mark.parametrize(
    ("answer", "starts", "text"),
    [
        pytest.param(
            refusal(409, "RECORDING_IN_PROGRESS"),
            3,
            "The recording could not start: this call is already being recorded, perhaps in another "
            "tab. The call goes on.",
            id="409-in-progress",
        ),
        pytest.param(
            refusal(410, "CALL_ENDED"),
            1,
            "The recording could not start: the call has ended.",
            id="410-ended",
        ),
        pytest.param(
            "abort",
            3,
            "The recording could not start: the service did not answer. The call goes on; select Record "
            "to try again.",
            id="network",
        ),
    ],
)
def test_a_recording_that_cannot_start_says_so_and_the_call_goes_on(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, answer: Any, starts: int, text: str
) -> None:
    service.answer_start(answer)
    agent = agent_with_a_guest(open_tab, call_site, service)
    agent.get_by_role("button", name="Record", exact=True).click()

    expect(agent.locator("#record-message")).to_have_text(text)
    expect(agent.locator("#record-message")).to_have_attribute("role", "status")
    assert len(service.recording_requests("")) == starts
    expect(indicator(agent)).to_be_hidden()
    expect(agent.get_by_role("button", name="Record", exact=True)).to_be_visible()
    expect_state(agent, "in-call")
    assert sorted(track_states(agent)) == ["live", "live"]
    assert service.socket("agent").open


def test_a_recording_the_server_completed_goes_on_as_a_new_one(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, bucket: FakeBucket
) -> None:
    service.answer_join("agent", join_answer("agent", recordOnStart=True))
    agent = agent_with_a_guest(open_tab, call_site, service)
    expect(indicator(agent)).to_be_visible()
    agent.wait_for_timeout(1500)

    # The agent's connection drops: the server completes its recording from the parts that
    # arrived (none: it is removed), and the page, back, hears that it is over.
    service.drop("agent")
    service.server_completes()
    wait_until(agent, lambda: len(service.recording_requests("")) == 2, "a new recording")
    expect(indicator(agent)).to_be_visible()
    expect_state(agent, "in-call")
    recording = the_recording(service)
    assert recording.status == "recording"
    expect(agent.locator("#record-message")).to_have_text("")


# Leaving, ending, and a page that goes away


def test_leaving_uploads_the_last_part_and_completes(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, bucket: FakeBucket
) -> None:
    agent = agent_with_a_guest(open_tab, call_site, service)
    agent.get_by_role("button", name="Record", exact=True).click()
    expect(indicator(agent)).to_be_visible()
    agent.wait_for_timeout(2500)
    agent.get_by_role("button", name="Leave").click()

    expect_state(agent, "ended", "left")
    expect_tracks_stopped(agent)
    recording = the_recording(service)
    expect_completed(agent, recording)
    assert recording.completed_by == "page"
    assert recording.completion is not None
    media = read_media(recording.content)
    assert media.seconds == pytest.approx(recording.completion["durationSeconds"], abs=1.0)
    assert media.seconds >= 2
    # The guest's page was told before the agent's socket closed.
    assert {"type": "recording", "active": False} in service.signals_from("agent")


def test_the_agents_end_sends_the_last_part_before_the_call_ends(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, bucket: FakeBucket
) -> None:
    service.answer_join("agent", join_answer("agent", recordOnStart=True))
    agent = agent_with_a_guest(open_tab, call_site, service)
    expect(indicator(agent)).to_be_visible()
    agent.wait_for_timeout(2500)
    recording = the_recording(service)
    parts_when_ended: list[int] = []

    def end(sent: Any) -> dict[str, Any]:
        parts_when_ended.append(len(parts_put(bucket, recording)))
        return {"callId": sent.path.split("/")[3], "status": "ended", "endedAt": "2026-01-01T00:00:00Z"}

    service.answer_end(end)
    agent.get_by_role("button", name="End call for everyone").click()
    agent.get_by_role("button", name="Yes, end the call").click()
    expect_state(agent, "ended", "byYou")
    assert parts_when_ended == [1]  # the last part had landed when the end was asked for
    expect_completed(agent, recording)
    assert recording.completed_by == "page"


def test_a_page_closed_mid_recording_still_sends_what_it_holds(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, bucket: FakeBucket
) -> None:
    service.answer_join("agent", join_answer("agent", recordOnStart=True))
    agent = agent_with_a_guest(open_tab, call_site, service)
    expect(indicator(agent)).to_be_visible()
    agent.wait_for_timeout(3000)
    recording = the_recording(service)
    assert parts_put(bucket, recording) == []  # all of it is held in the page: under a part

    agent.close()  # pagehide: the page can wait for nothing
    deadline = time.monotonic() + 10
    while len(parts_put(bucket, recording)) < 1:
        assert time.monotonic() < deadline, "the held bytes never arrived"
        time.sleep(0.1)
    service.server_completes()  # as the server does when the agent's connection closes
    assert recording.status == "ready"
    media = read_media(recording.content)
    assert (media.video_codecs, media.audio_codecs) == (["vp8"], ["opus"])
    assert 1.5 <= media.seconds <= 4.5  # the whole seconds the recorder had handed over


# Language, small screens


def test_recording_in_german_on_a_320_px_screen(
    open_tab: OpenTab, call_site: CallSite, service: FakeCallService, bucket: FakeBucket
) -> None:
    service.answer_join("agent", join_answer("agent", language="de-DE", recordOnStart=True))
    service.answer_join("guest", join_answer("guest", language="de-DE", recordOnStart=True))
    agent = agent_with_a_guest(open_tab, call_site, service, viewport=NARROW)
    expect(indicator(agent)).to_have_text("Dieser Anruf wird aufgezeichnet")
    stop = agent.get_by_role("button", name="Aufnahme beenden")
    expect(stop).to_be_visible()
    assert scroll_width(agent) <= NARROW["width"]
    box = stop.bounding_box()
    assert box is not None
    assert box["height"] >= 44
    assert box["x"] + box["width"] <= NARROW["width"]

    service.peer_leaves("guest")  # the played guest makes way for a real one
    guest = open_tab(viewport=NARROW).page
    open_call(guest, call_site)
    notice = "Dieser Anruf wird aufgezeichnet, sobald Sie beide im Anruf sind."
    expect(guest.get_by_text(notice)).to_be_visible()
    guest.get_by_role("button", name="Beitreten", exact=True).click()
    expect_state(guest, "in-call")
    expect(indicator(guest)).to_have_text("Dieser Anruf wird aufgezeichnet")
    assert scroll_width(guest) <= NARROW["width"]

    stop.click()
    expect(indicator(guest)).to_be_hidden()
    expect(agent.get_by_role("button", name="Aufnehmen", exact=True)).to_be_visible()
