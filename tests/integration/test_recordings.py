"""Recording end to end through the local run (`python -m localrun`, DynamoDB Local, moto's S3 server):
the routes, real bytes PUT to the presigned part URLs and read back from the download URL, the
server completing what a closed agent socket or an ended call left, `recording.ready` at a real
webhook receiver, the local copy under the run's folder, and `callsctl calls recordings`."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from callsctl.cli import cli
from callsctl.store import AdminStore
from click.testing import CliRunner
from standardwebhooks import Webhook

from tests.integration.conftest import TABLE_NAMES, LocalApi, TestApp, assert_error
from tests.integration.test_lifecycle import assert_ok, creds
from tests.integration.test_signaling_local_run import joined, receive, socket_url
from tests.integration.test_webhooks import Receiver, receiver  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

FIRST_PART = bytes(range(256)) * (5 * 1024 * 1024 // 256)  # exactly 5 MiB
LAST_PART = b"the last, short part"


def http_bytes(method: str, url: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """A request as a browser's fetch makes it to S3: no Content-Type of a form, no other header."""
    split = urlsplit(url)
    connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=30)
    try:
        connection.request(method, f"{split.path}?{split.query}", body=body)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def new_call(local_api: LocalApi, app: TestApp) -> str:
    created = local_api.request(headers=creds(app), json_body={})
    assert created.status == 201, created.raw
    call_id: str = created.body["data"]["callId"]
    return call_id


def start(local_api: LocalApi, call_id: str, **where: Any) -> dict[str, Any]:
    answer = local_api.request("POST", f"/api/calls/{call_id}/recordings", **where)
    assert answer.status == 201, answer.raw
    data: dict[str, Any] = answer.body["data"]
    return data


def upload(local_api: LocalApi, call_id: str, recording_id: str, parts: list[bytes], **where: Any) -> None:
    urls = assert_ok(
        local_api.request(
            "POST",
            f"/api/calls/{call_id}/recordings/{recording_id}/parts",
            json_body={"partNumbers": list(range(1, len(parts) + 1))},
            **where,
        )
    )["parts"]
    for part, body in zip(urls, parts, strict=True):
        status, headers, _ = http_bytes("PUT", part["url"], body)
        assert status == 200
        assert headers.get("etag")


def recordings(local_api: LocalApi, call_id: str, app: TestApp) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = assert_ok(
        local_api.request("GET", f"/api/calls/{call_id}/recordings", headers=creds(app))
    )["recordings"]
    return found


def wait_until_ready(local_api: LocalApi, call_id: str, app: TestApp) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = recordings(local_api, call_id, app)
        if found and found[0]["status"] == "ready":
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"still not ready: {found}")


def test_a_recording_uploaded_in_two_parts_downloads_as_the_same_bytes(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app = make_app()
    call_id = new_call(local_api, app)
    started = start(local_api, call_id, headers=creds(app), json_body={})
    assert started["status"] == "recording"
    assert started["partSizeBytes"] == len(FIRST_PART)
    assert started["maxPartNumber"] == 10_000
    assert started["mimeType"] == "video/webm;codecs=vp8,opus"
    recording_id = started["recordingId"]

    second = local_api.request("POST", f"/api/calls/{call_id}/recordings", headers=creds(app))
    assert_error(second, 409, "RECORDING_IN_PROGRESS")

    upload(local_api, call_id, recording_id, [FIRST_PART, LAST_PART], headers=creds(app))
    completed = assert_ok(
        local_api.request(
            "POST",
            f"/api/calls/{call_id}/recordings/{recording_id}/complete",
            headers=creds(app),
            json_body={"durationSeconds": 12.5},
        )
    )
    assert completed["status"] == "ready"
    assert completed["sizeBytes"] == len(FIRST_PART) + len(LAST_PART)
    assert completed["durationSeconds"] == 12.5
    assert "downloadUrl" not in completed
    again = local_api.request(
        "POST", f"/api/calls/{call_id}/recordings/{recording_id}/complete", headers=creds(app)
    )
    assert assert_ok(again) == completed
    refused = local_api.request(
        "POST",
        f"/api/calls/{call_id}/recordings/{recording_id}/parts",
        headers=creds(app),
        json_body={"partNumbers": [3]},
    )
    assert_error(refused, 409, "RECORDING_NOT_IN_PROGRESS")

    (listed,) = recordings(local_api, call_id, app)
    assert {k: v for k, v in listed.items() if not k.startswith("downloadUrl")} == completed
    query = parse_qs(urlsplit(listed["downloadUrl"]).query)
    assert int(query["X-Amz-Expires"][0]) <= 900
    status, _, body = http_bytes("GET", listed["downloadUrl"])
    assert status == 200
    assert body == FIRST_PART + LAST_PART

    # The local run keeps a copy, so the recording outlives a restart of moto.
    assert local_api.directory is not None
    copy = local_api.directory / "recordings" / call_id / f"{recording_id}.webm"
    deadline = time.monotonic() + 10
    while not copy.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert copy.read_bytes() == FIRST_PART + LAST_PART

    # A new recording may start once the first is complete.
    assert start(local_api, call_id, headers=creds(app))["recordingId"] != recording_id


def test_only_the_agent_or_the_app_may_record_and_only_the_app_may_list(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app, other = make_app(), make_app()
    call_id = new_call(local_api, app)
    recording_id = start(local_api, call_id, headers=creds(app))["recordingId"]
    parts = f"/api/calls/{call_id}/recordings/{recording_id}/parts"

    # The guest has the call id and nothing else.
    assert_error(local_api.request("POST", parts, json_body={"partNumbers": [1]}), 401, "UNAUTHORIZED")
    assert_error(local_api.request("POST", f"/api/calls/{call_id}/recordings"), 401, "UNAUTHORIZED")
    assert_error(
        local_api.request("POST", parts, json_body={"partNumbers": [1], "hostKey": "not-the-key"}),
        401,
        "UNAUTHORIZED",
    )
    # Another app finds no such call.
    assert_error(
        local_api.request("POST", parts, headers=creds(other), json_body={"partNumbers": [1]}),
        404,
        "CALL_NOT_FOUND",
    )
    assert_error(
        local_api.request("GET", f"/api/calls/{call_id}/recordings", headers=creds(other)),
        404,
        "CALL_NOT_FOUND",
    )
    bad = local_api.request("POST", parts, headers=creds(app), json_body={"partNumbers": [0, "2", True]})
    assert {d["field"] for d in assert_error(bad, 422, "VALIDATION_ERROR")["details"]} == {
        "partNumbers.0",
        "partNumbers.1",
        "partNumbers.2",
    }
    unknown = f"/api/calls/{call_id}/recordings/5c8f3a2e-9b1d-4e6f-a7c0-2d4b6e8f1a3c/parts"
    assert_error(
        local_api.request("POST", unknown, headers=creds(app), json_body={"partNumbers": [1]}),
        404,
        "RECORDING_NOT_FOUND",
    )


def test_completing_a_recording_without_parts_discards_it(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app = make_app()
    call_id = new_call(local_api, app)
    recording_id = start(local_api, call_id, headers=creds(app))["recordingId"]
    complete = f"/api/calls/{call_id}/recordings/{recording_id}/complete"
    assert_error(local_api.request("POST", complete, headers=creds(app)), 409, "RECORDING_EMPTY")
    assert recordings(local_api, call_id, app) == []
    assert_error(local_api.request("POST", complete, headers=creds(app)), 404, "RECORDING_NOT_FOUND")
    start(local_api, call_id, headers=creds(app))


def test_the_agent_socket_closing_completes_its_unfinished_recording(
    local_api: LocalApi, make_app: Callable[..., TestApp], admin: AdminStore
) -> None:
    app = make_app()
    admin.set_host_links(app.app_id, "hostKey")
    created = local_api.request(headers=creds(app), json_body={}).body["data"]
    call_id = created["callId"]
    host_key = parse_qs(urlsplit(created["hostJoinUrl"]).query)["hostKey"][0]
    agent_url = socket_url(local_api, joined(local_api, created["hostJoinUrl"]))
    # The agent's page, by its link's host key, from the join links' origin.
    page = {"query": {"hostKey": host_key}, "headers": {"Origin": "https://video.apifycloud.io"}}
    recording_id = start(local_api, call_id, **page)["recordingId"]
    upload(local_api, call_id, recording_id, [FIRST_PART, LAST_PART], **page)

    async def tab_closes() -> None:
        async with aiohttp.ClientSession() as session:
            agent = await session.ws_connect(agent_url)
            await agent.send_json({"action": "hello", "displayName": "Sarah"})
            assert (await receive(agent))["type"] == "ready"
            await agent.close()

    asyncio.run(asyncio.wait_for(tab_closes(), 30))
    ready = wait_until_ready(local_api, call_id, app)
    assert ready["recordingId"] == recording_id
    assert ready["sizeBytes"] == len(FIRST_PART) + len(LAST_PART)
    assert ready["durationSeconds"] >= 0


def test_ending_the_call_completes_its_recording_and_sends_recording_ready(
    local_api: LocalApi,
    make_app: Callable[..., TestApp],
    receiver: Receiver,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    app = make_app()
    added = ctl(
        local_api,
        "--json",
        "webhooks",
        "add",
        app.app_id,
        receiver.url("/ready"),
        "--event",
        "recording.ready",
    )
    assert added.exit_code == 0, added.output
    secret = json.loads(added.stdout)["secret"]
    call_id = new_call(local_api, app)
    recording_id = start(local_api, call_id, headers=creds(app))["recordingId"]
    upload(local_api, call_id, recording_id, [LAST_PART], headers=creds(app))
    assert_ok(local_api.request("POST", f"/api/calls/{call_id}/end", headers=creds(app)))

    (delivered,) = receiver.wait_for("/ready", lambda found: len(found) >= 1)
    event = Webhook(secret).verify(delivered.body, delivered.headers)
    assert event["type"] == "recording.ready"
    assert event["appId"] == app.app_id
    assert event["data"]["recordingId"] == recording_id
    assert event["data"]["status"] == "ready"
    assert event["data"]["sizeBytes"] == len(LAST_PART)
    assert "downloadUrl" not in event["data"]
    assert event["createdAt"] == event["data"]["endedAt"]

    listed = ctl(local_api, "--json", "calls", "recordings", app.app_id, call_id)
    assert listed.exit_code == 0, listed.output
    (shown,) = json.loads(listed.stdout)
    assert shown["recordingId"] == recording_id
    downloaded = ctl(local_api, "calls", "recordings", app.app_id, call_id, "--download", str(tmp_path))
    assert downloaded.exit_code == 0, downloaded.output
    assert recording_id in downloaded.stdout
    assert (tmp_path / f"{recording_id}.webm").read_bytes() == LAST_PART
    other = make_app()
    refused = ctl(local_api, "calls", "recordings", other.app_id, call_id, "--download", str(tmp_path / "x"))
    assert refused.exit_code == 1
    assert not (tmp_path / "x").exists()


def ctl(local_api: LocalApi, *args: str) -> Any:
    env = {
        "APPS_TABLE_NAME": TABLE_NAMES.apps,
        "CALLS_TABLE_NAME": TABLE_NAMES.calls,
        "IDEMPOTENCY_TABLE_NAME": TABLE_NAMES.idempotency,
        "WEBHOOKS_TABLE_NAME": TABLE_NAMES.webhooks,
        "RECORDINGS_TABLE_NAME": TABLE_NAMES.recordings,
        "S3_ENDPOINT_URL": local_api.s3_endpoint,
    }
    endpoint = local_api.environment["DYNAMODB_ENDPOINT_URL"]
    return CliRunner().invoke(cli, ["--endpoint-url", endpoint, *args], env=env, catch_exceptions=False)
