"""A recorded call on the real local run: the file an operator downloads afterwards.

Everything is real, as in test_call_end_to_end.py: the call created through the API with
`recordOnStart`, the page served by the session's `python -m localrun`, two browser contexts
with fake devices, the recording routes, the parts put with presigned URLs into the local run's
S3 (moto's server), the completion by the page or by the server (the agent's connection closed,
the call ended) and the listing with its download URL. The file is read with PyAV.
tests/browser/test_recording.py covers the page's every recording state against a played backend.
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import pytest
from calls.recordings import object_key
from calls.settings import DEFAULT_RECORDINGS_BUCKET_NAME
from localrun.s3_local import s3_client
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import WAIT_MS, wait_until
from tests.browser.test_call_end_to_end import (
    OpenPerson,
    Person,
    create_call,
    credentials,
    expect_state,
    in_call,
    open_person,  # noqa: F401 (a fixture)
)
from tests.browser.test_recording import noisy_chromium, read_media  # noqa: F401 (a fixture)
from tests.services import LocalApi, TestApp

pytestmark = [pytest.mark.browser]

RECORDED_SECONDS = 10
# A part fills in seconds from a camera that films noise, in a minute on a loaded machine.
PART_WAIT_S = 90
# An uplink on which four seconds of recording (about 1.3 MB) take seconds to go up.
SLOW_UPLINK_BYTES = 400_000


@pytest.fixture
def app(make_app: Any) -> TestApp:
    made: TestApp = make_app()
    return made


def recordings(local_api: LocalApi, app: TestApp, call_id: str) -> list[dict[str, Any]]:
    listed = local_api.request("GET", f"/api/calls/{call_id}/recordings", headers=credentials(app))
    assert listed.status == 200, listed.raw
    found: list[dict[str, Any]] = listed.body["data"]["recordings"]
    return found


def ready_recording(page: Page, local_api: LocalApi, app: TestApp, call_id: str) -> dict[str, Any]:
    """The call's one recording, once the server says it is ready."""
    found: list[dict[str, Any]] = []

    def ready() -> bool:
        found[:] = recordings(local_api, app, call_id)
        return len(found) == 1 and found[0]["status"] == "ready"

    wait_until(page, ready, "a ready recording in the list")
    return found[0]


def download(recording: dict[str, Any]) -> bytes:
    with urllib.request.urlopen(recording["downloadUrl"], timeout=30) as answer:
        content: bytes = answer.read()
    return content


def parts_in_bucket(local_api: LocalApi, call_id: str, recording_id: str) -> list[int]:
    """The part numbers S3 holds for the recording's upload still open."""
    client = s3_client(local_api.s3_endpoint)
    key = object_key(call_id, recording_id)
    bucket = DEFAULT_RECORDINGS_BUCKET_NAME
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    numbers: list[int] = []
    for upload in uploads:
        parts = client.list_parts(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
        numbers += [part["PartNumber"] for part in parts.get("Parts", [])]
    return numbers


def recording_indicator(person: Person) -> Any:
    return person.page.locator("#recording-indicator")


def test_a_call_recorded_from_its_start_downloads_as_what_both_people_saw_and_heard(
    open_person: OpenPerson,  # noqa: F811 (the fixture imported above)
    local_api: LocalApi,
    app: TestApp,
) -> None:
    call = create_call(local_api, app, recordOnStart=True)
    agent, guest = in_call(open_person, call)
    for person in (agent, guest):
        expect(recording_indicator(person)).to_be_visible()
    began = time.monotonic()
    agent.page.wait_for_timeout(RECORDED_SECONDS * 1000)

    agent.page.get_by_role("button", name="End call for everyone").click()
    agent.page.get_by_role("button", name="Yes, end the call").click()
    recorded = time.monotonic() - began
    expect_state(agent.page, "ended", "byYou")
    expect_state(guest.page, "ended")
    recording = ready_recording(agent.page, local_api, app, call["callId"])

    assert recording["mimeType"].startswith("video/webm")
    content = download(recording)
    assert len(content) == recording["sizeBytes"]
    media = read_media(content)
    assert (media.video_codecs, media.audio_codecs) == (["vp8"], ["opus"])
    assert media.size == (1280, 360)  # both people side by side
    # From the indicator to the click, give or take the start's and the last part's moments.
    assert recording["durationSeconds"] == pytest.approx(recorded, abs=3.0)
    assert media.seconds == pytest.approx(recording["durationSeconds"], abs=1.5)
    assert media.frames > RECORDED_SECONDS * 5
    assert media.loudest > 0.05  # the fake microphones' beeps are in the mix


def test_the_agents_page_closed_mid_recording_leaves_a_ready_recording_of_what_arrived(
    noisy_chromium: Browser,  # noqa: F811 (the fixture imported above)
    local_api: LocalApi,
    app: TestApp,
) -> None:
    call = create_call(local_api, app, recordOnStart=True)
    agent_context = noisy_chromium.new_context(viewport={"width": 1280, "height": 800})
    agent_context.set_default_timeout(WAIT_MS)
    agent_context.grant_permissions(["camera", "microphone"], origin=local_api.base_url)
    guest_context = noisy_chromium.new_context(viewport={"width": 1280, "height": 800})
    guest_context.set_default_timeout(WAIT_MS)
    guest_context.grant_permissions(["camera", "microphone"], origin=local_api.base_url)
    try:
        pages = []
        for context, link in ((agent_context, call["hostJoinUrl"]), (guest_context, call["guestJoinUrl"])):
            page = context.new_page()
            page.goto(local_api.base_url + link[link.index("/c/") :])
            expect_state(page, "prejoin")
            page.get_by_role("button", name="Join", exact=True).click()
            pages.append(page)
        agent, guest = pages
        for page in pages:
            expect_state(page, "in-call")
        expect(agent.locator("#recording-indicator")).to_be_visible()
        (started,) = recordings(local_api, app, call["callId"])
        assert started["status"] == "recording"

        # The first part is in the bucket: then the page goes away without a word.
        for _ in range(PART_WAIT_S * 10):
            if parts_in_bucket(local_api, call["callId"], started["recordingId"]):
                break
            agent.wait_for_timeout(100)
        assert 1 in parts_in_bucket(local_api, call["callId"], started["recordingId"])
        agent_context.close()

        # The server completes it when the agent's connection closes; the call goes on.
        recording = ready_recording(guest, local_api, app, call["callId"])
        assert recording["recordingId"] == started["recordingId"]
        media = read_media(download(recording))
        assert (media.video_codecs, media.audio_codecs) == (["vp8"], ["opus"])
        assert media.seconds > 0.5
        expect(guest.locator("#recording-indicator")).to_be_hidden()
        ended = local_api.request("GET", f"/api/calls/{call['callId']}", headers=credentials(app))
        assert ended.body["data"]["status"] != "ended"
    finally:
        guest_context.close()
        agent_context.close()  # again, if the test stopped before it closed it


def test_the_agent_leaving_a_short_recording_keeps_all_of_it(
    open_person: OpenPerson,  # noqa: F811 (the fixture imported above)
    local_api: LocalApi,
    app: TestApp,
) -> None:
    """Shorter than one part, the whole recording is the last part: Leave sends it and completes
    before its socket closes, which would have the server complete the upload without it (and,
    with no part at all, discard the recording). A slow uplink makes the part take seconds."""
    call = create_call(local_api, app, recordOnStart=True)
    agent, guest = in_call(open_person, call)
    expect(recording_indicator(agent)).to_be_visible()
    began = time.monotonic()
    agent.page.wait_for_timeout(4000)
    uplink = agent.page.context.new_cdp_session(agent.page)
    uplink.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": SLOW_UPLINK_BYTES},
    )

    agent.page.get_by_role("button", name="Leave").click()
    expect_state(agent.page, "ended", "left")
    recorded = time.monotonic() - began

    recording = ready_recording(guest.page, local_api, app, call["callId"])
    media = read_media(download(recording))
    assert (media.video_codecs, media.audio_codecs) == (["vp8"], ["opus"])
    assert media.seconds == pytest.approx(recorded, abs=3.0)
    expect(recording_indicator(guest)).to_be_hidden()
