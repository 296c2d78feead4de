"""Signaling end to end through the local run (`python -m localrun`, over DynamoDB Local): a real
WebSocket to its `/ws`, the join's own tokens, the signaling function behind the local WebSocket
API, its management API, and the calls stream that tells both pages when the call ends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from callsctl.store import AdminStore

from tests.integration.conftest import LocalApi, TestApp
from tests.integration.test_lifecycle import assert_ok, creds

pytestmark = pytest.mark.integration

TIMEOUT = 10.0


def run[T](scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), 60))


def joined(local_api: LocalApi, link: str) -> dict[str, Any]:
    split = urlsplit(link)
    query = {name: values[0] for name, values in parse_qs(split.query).items()}
    answer: dict[str, Any] = assert_ok(
        local_api.request("POST", f"{split.path.replace('/c/', '/api/calls/')}/join", query=query)
    )
    return answer


@pytest.fixture
def host_key_app(make_app: Callable[..., TestApp], admin: AdminStore) -> TestApp:
    app = make_app()
    admin.set_host_links(app.app_id, "hostKey")
    return app


def new_call(local_api: LocalApi, app: TestApp) -> dict[str, Any]:
    created = local_api.request(headers=creds(app), json_body={"hostName": "Sarah", "guestName": "John"})
    assert created.status == 201, created.raw
    data: dict[str, Any] = created.body["data"]
    return data


def socket_url(local_api: LocalApi, answer: dict[str, Any]) -> str:
    signaling = answer["signaling"]
    assert signaling["url"] == f"ws://127.0.0.1:{local_api.port}/ws"
    return f"{signaling['url']}?token={signaling['token']}"


async def receive(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await socket.receive(timeout=TIMEOUT)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    received: dict[str, Any] = json.loads(message.data)
    return received


async def closed(socket: aiohttp.ClientWebSocketResponse) -> bool:
    message = await socket.receive(timeout=TIMEOUT)
    return message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


def test_two_pages_meet_signal_and_are_told_when_the_call_ends(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    call = new_call(local_api, host_key_app)
    agent_url = socket_url(local_api, joined(local_api, call["hostJoinUrl"]))
    guest_url = socket_url(local_api, joined(local_api, call["guestJoinUrl"]))
    host_key = parse_qs(urlsplit(call["hostJoinUrl"]).query)["hostKey"][0]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            agent = await session.ws_connect(agent_url)
            guest = await session.ws_connect(guest_url)
            await agent.send_json({"action": "hello", "displayName": "Sarah"})
            assert await receive(agent) == {"type": "ready", "role": "agent", "peer": None}
            await guest.send_json({"action": "hello", "displayName": "John"})
            assert await receive(guest) == {
                "type": "ready",
                "role": "guest",
                "peer": {"role": "agent", "displayName": "Sarah"},
            }
            assert await receive(agent) == {
                "type": "peer-joined",
                "peer": {"role": "guest", "displayName": "John"},
            }

            offer = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}
            await agent.send_json({"action": "signal", "data": offer})
            assert await receive(guest) == {"type": "signal", "from": "agent", "data": offer}
            await guest.send_json({"action": "ping"})
            assert await receive(guest) == {"type": "pong"}
            await guest.send_str("not json")
            assert (await receive(guest))["code"] == "INVALID_MESSAGE"

            # The agent's page ends the call with its link's key: both pages hear it, then close.
            ended = await asyncio.to_thread(
                local_api.request, "POST", f"/api/calls/{call['callId']}/end", query={"hostKey": host_key}
            )
            assert ended.status == 200, ended.raw
            for socket in (agent, guest):
                assert await receive(socket) == {"type": "call-ended"}
                assert await closed(socket)

    run(scenario)


def test_a_token_opens_one_connection_and_a_wrong_one_none(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    call = new_call(local_api, host_key_app)
    url = socket_url(local_api, joined(local_api, call["guestJoinUrl"]))

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            first = await session.ws_connect(url)
            for refused in (url, url[:-2], url.split("?")[0]):
                with pytest.raises(aiohttp.WSServerHandshakeError) as error:
                    await session.ws_connect(refused)
                assert error.value.status in (401, 403)
            await first.send_json({"action": "ping"})
            assert await receive(first) == {"type": "pong"}
            await first.close()

    run(scenario)


def test_a_reload_replaces_the_older_connection_and_the_peer_sees_the_newer_join(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    call = new_call(local_api, host_key_app)
    agent_url = socket_url(local_api, joined(local_api, call["hostJoinUrl"]))
    first_guest = socket_url(local_api, joined(local_api, call["guestJoinUrl"]))
    second_guest = socket_url(local_api, joined(local_api, call["guestJoinUrl"]))

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            agent = await session.ws_connect(agent_url)
            await agent.send_json({"action": "hello", "displayName": "Sarah"})
            await receive(agent)
            older = await session.ws_connect(first_guest)
            await older.send_json({"action": "hello", "displayName": "John"})
            await receive(older)
            assert (await receive(agent))["type"] == "peer-joined"

            newer = await session.ws_connect(second_guest)
            assert await receive(older) == {"type": "replaced"}
            assert await closed(older)
            await newer.send_json({"action": "hello", "displayName": "John"})
            assert (await receive(newer))["peer"] == {"role": "agent", "displayName": "Sarah"}
            # The agent hears of the newer guest, and never of the older one leaving.
            assert await receive(agent) == {
                "type": "peer-joined",
                "peer": {"role": "guest", "displayName": "John"},
            }
            await newer.close()
            assert await receive(agent) == {"type": "peer-left", "peer": {"role": "guest"}}
            await agent.close()

    run(scenario)
