"""The calls table's stream drives the signaling function too: an end, from anywhere, reaches the
call's connected page. The stream is DynamoDB Local's, followed in-process as `make run` does; the
signaling function is the test double, answering on the local server's management API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import aiohttp
import pytest
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY
from localrun.events import LocalEvents
from localrun.server import LocalServer, serving_in_background
from localrun.static import Site

from tests.localrun.conftest import RunningServer, SignalingDouble, not_found_api, run
from tests.services import TABLE_NAMES, LocalApi

pytestmark = pytest.mark.integration

DEMO = {"X-App-Id": DEMO_APP_ID, "X-Widget-Key": DEMO_WIDGET_KEY}


@pytest.fixture
def with_stream(db_environment: str) -> Iterator[RunningServer]:
    signaling = SignalingDouble()
    server = LocalServer(not_found_api, site=Site(), signaling=signaling)
    with serving_in_background(server):
        signaling.callback_url = f"{server.url}/__connections__"
        assert server.signaling is not None
        events = LocalEvents(
            db_environment,
            TABLE_NAMES.calls,
            say=lambda _: None,
            signaling=server.signaling.invoke_from_thread,
        )
        events.start()
        try:
            yield RunningServer(server, signaling)
        finally:
            events.stop()


def test_an_end_through_the_api_pushes_call_ended_to_the_connected_page(
    with_stream: RunningServer, local_api: LocalApi
) -> None:
    call_id = local_api.request(headers=DEMO).body["data"]["callId"]

    async def page() -> tuple[list[str], int | None]:
        received: list[str] = []
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{with_stream.ws_url}?token=allow-{call_id}") as socket:
                with_stream.signaling.wait_for(lambda kinds: "$connect" in kinds, "$connect")
                ended = local_api.request("POST", f"/api/calls/{call_id}/end", headers=DEMO)
                assert ended.status == 200, ended.body
                async for message in socket:
                    received.append(message.data)
            return received, socket.close_code

    received, close_code = run(page())

    assert [json.loads(frame) for frame in received] == [{"type": "call-ended"}]
    assert close_code == 1000
    stream_events = [event for event in with_stream.signaling.events if "Records" in event]
    assert stream_events, "the signaling function got no stream batch"
    assert all(
        record["eventSource"] == "aws:dynamodb" for event in stream_events for record in event["Records"]
    )
