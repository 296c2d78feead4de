"""Signaling end to end through the local run (`python -m localrun`, over DynamoDB Local): a real
WebSocket to its `/ws`, the join's own tokens, the signaling function behind the local WebSocket
API, its management API, and the calls stream that tells both pages when the call ends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

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


# The protocol's refusals and its boundaries, over the real local run


async def ready(session: aiohttp.ClientSession, url: str, name: str) -> aiohttp.ClientWebSocketResponse:
    """A connection that said hello and was answered `ready`."""
    socket = await session.ws_connect(url)
    await socket.send_json({"action": "hello", "displayName": name})
    assert (await receive(socket))["type"] == "ready"
    return socket


async def nothing_more(socket: aiohttp.ClientWebSocketResponse) -> None:
    """Nothing was sent to `socket` meanwhile: the next thing it hears is the pong to this ping
    (a connection's events are handled in order, so anything sent before would come first)."""
    await socket.send_json({"action": "ping"})
    assert await receive(socket) == {"type": "pong"}


def edited(token: str, part: int, value: str) -> str:
    """The token with one of its dot-separated parts changed (v1.callId.role.nonce.expiresAt.tag)."""
    parts = token.split(".")
    parts[part] = value
    return ".".join(parts)


def test_tokens_edited_forged_or_of_an_ended_call_open_nothing(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    from calls.signaling_tokens import issue_token

    call = new_call(local_api, host_key_app)
    other = new_call(local_api, host_key_app)
    guest = joined(local_api, call["guestJoinUrl"])["signaling"]
    base = guest["url"]
    token = guest["token"]
    assert token.split(".")[1:3] == [call["callId"], "guest"]
    forged = issue_token(b"k" * 48, call["callId"], "agent", time.time()).token
    refused = {
        "the guest's token made the agent's": edited(token, 2, "agent"),
        "a token made another call's": edited(token, 1, other["callId"]),
        "a token with a later expiry": edited(token, 4, str(int(token.split(".")[4]) + 3600)),
        "a token signed with another key": forged,
        "a token that is not one": "x" * 300,
    }
    ended_call = new_call(local_api, host_key_app)
    ended_token = joined(local_api, ended_call["guestJoinUrl"])["signaling"]["token"]
    ended = local_api.request("POST", f"/api/calls/{ended_call['callId']}/end", headers=creds(host_key_app))
    assert ended.status == 200, ended.raw
    refused["the token of a call that ended since"] = ended_token

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            for what, bad in refused.items():
                with pytest.raises(aiohttp.WSServerHandshakeError) as error:
                    await session.ws_connect(f"{base}?{urlencode({'token': bad})}")
                assert error.value.status in (401, 403), what
            # None of them spent the real token.
            socket = await ready(session, f"{base}?token={token}", "John")
            await socket.close()

    run(scenario)


def test_frames_over_16_kib_are_refused_and_the_socket_stays(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    call = new_call(local_api, host_key_app)
    agent_url = socket_url(local_api, joined(local_api, call["hostJoinUrl"]))
    guest_url = socket_url(local_api, joined(local_api, call["guestJoinUrl"]))

    def frame(size: int, filler: str = "a") -> str:
        """A signal frame of exactly `size` bytes of UTF-8."""
        empty = json.dumps({"action": "signal", "data": {"type": "offer", "sdp": ""}})
        room = size - len(empty.encode("utf-8"))
        sdp = filler * (room // len(filler.encode("utf-8"))) + "a" * (room % len(filler.encode("utf-8")))
        text = json.dumps({"action": "signal", "data": {"type": "offer", "sdp": sdp}}, ensure_ascii=False)
        assert len(text.encode("utf-8")) == size
        return text

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            agent = await ready(session, agent_url, "Sarah")
            guest = await ready(session, guest_url, "John")
            assert (await receive(agent))["type"] == "peer-joined"

            await agent.send_str(frame(16 * 1024))
            relayed = await receive(guest)
            assert relayed["type"] == "signal"
            assert len(relayed["data"]["sdp"]) > 16_000

            # One byte more, or fewer characters that take more bytes (é is two): refused, to the
            # sender only, and the socket stays open.
            wide = frame(16 * 1024 + 2, "é")
            assert len(wide) < 16 * 1024  # in characters
            for too_large in (frame(16 * 1024 + 1), wide):
                await agent.send_str(too_large)
                refusal = await receive(agent)
                assert refusal["type"] == "error"
                assert refusal["code"] == "MESSAGE_TOO_LARGE"
                assert refusal["message"]
            await nothing_more(agent)
            await nothing_more(guest)

    run(scenario)


def test_frames_that_are_no_message_or_come_too_early_are_answered_and_the_socket_stays(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    call = new_call(local_api, host_key_app)
    agent_url = socket_url(local_api, joined(local_api, call["hostJoinUrl"]))
    signal = {"action": "signal", "data": {"type": "candidate", "candidate": None}}

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            agent = await session.ws_connect(agent_url)
            # Before hello, a signal is not ready; a ping is answered all the same.
            await agent.send_json(signal)
            assert (await receive(agent))["code"] == "NOT_READY"
            await nothing_more(agent)
            for invalid in (
                "[]",
                '"hello"',
                '{"action": "dance"}',
                '{"action": "hello"}',
                '{"action": "hello", "displayName": "   "}',
                '{"action": "hello", "displayName": "' + "x" * 101 + '"}',
                '{"action": "signal"}',
                '{"action": "signal", "data": "offer"}',
                '{"action": "hello", "displayName": "Sarah"',
            ):
                await agent.send_str(invalid)
                answer = await receive(agent)
                assert answer["type"] == "error", invalid
                assert answer["code"] == "INVALID_MESSAGE", invalid
            # Still open, and a hello after all that works; alone, a signal has no one to go to.
            await agent.send_json({"action": "hello", "displayName": "Sarah"})
            assert await receive(agent) == {"type": "ready", "role": "agent", "peer": None}
            await agent.send_json(signal)
            assert (await receive(agent))["code"] == "PEER_NOT_CONNECTED"
            await agent.close()

    run(scenario)


def test_two_guests_racing_one_remains_and_the_other_is_told_replaced(
    local_api: LocalApi, host_key_app: TestApp
) -> None:
    call = new_call(local_api, host_key_app)
    agent_url = socket_url(local_api, joined(local_api, call["hostJoinUrl"]))
    guest_urls = [socket_url(local_api, joined(local_api, call["guestJoinUrl"])) for _ in range(2)]

    async def guest(session: aiohttp.ClientSession, url: str, name: str) -> aiohttp.ClientWebSocketResponse:
        socket = await session.ws_connect(url)
        await socket.send_json({"action": "hello", "displayName": name})
        return socket

    async def heard(socket: aiohttp.ClientWebSocketResponse) -> list[str]:
        """Every message's type until `ready` (it stays) or the close (it was replaced)."""
        types: list[str] = []
        while True:
            message = await socket.receive(timeout=TIMEOUT)
            if message.type != aiohttp.WSMsgType.TEXT:
                return types
            types.append(json.loads(message.data)["type"])
            if types[-1] == "ready":
                return types

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            agent = await ready(session, agent_url, "Sarah")
            first, second = await asyncio.gather(
                guest(session, guest_urls[0], "John on a laptop"),
                guest(session, guest_urls[1], "John on a phone"),
            )
            outcomes = await asyncio.gather(heard(first), heard(second))
            assert sorted(outcomes[0][-1:] + outcomes[1][-1:]) == ["ready", "replaced"], outcomes
            remaining, replaced = (first, second) if outcomes[0][-1] == "ready" else (second, first)
            assert replaced.closed or await closed(replaced)
            # The agent heard of a guest (of each, if both said hello in time), never of one leaving,
            # and its signals go to the one that remains.
            await agent.send_json({"action": "ping"})
            agent_heard = []
            while (message := await receive(agent)) != {"type": "pong"}:
                agent_heard.append(message)
            assert agent_heard, "no peer-joined"
            assert {message["type"] for message in agent_heard} == {"peer-joined"}, agent_heard
            candidate = {"type": "candidate", "candidate": None}
            await agent.send_json({"action": "signal", "data": candidate})
            assert await receive(remaining) == {"type": "signal", "from": "agent", "data": candidate}
            await nothing_more(remaining)

    run(scenario)


def test_nothing_is_relayed_across_calls(local_api: LocalApi, host_key_app: TestApp) -> None:
    calls = [new_call(local_api, host_key_app) for _ in range(2)]
    urls = [
        (
            socket_url(local_api, joined(local_api, call["hostJoinUrl"])),
            socket_url(local_api, joined(local_api, call["guestJoinUrl"])),
        )
        for call in calls
    ]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            pairs = []
            for index, (agent_url, guest_url) in enumerate(urls):
                agent = await ready(session, agent_url, f"Agent {index}")
                guest = await ready(session, guest_url, f"Guest {index}")
                assert (await receive(agent))["type"] == "peer-joined"
                pairs.append((agent, guest))
            (agent_a, guest_a), (agent_b, guest_b) = pairs

            offer = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}
            answer = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n"}
            await agent_a.send_json({"action": "signal", "data": offer})
            await guest_b.send_json({"action": "signal", "data": answer})
            assert await receive(guest_a) == {"type": "signal", "from": "agent", "data": offer}
            assert await receive(agent_b) == {"type": "signal", "from": "guest", "data": answer}
            # Nobody else heard either: not the other call, not the sender itself.
            for socket in (agent_a, guest_a, agent_b, guest_b):
                await nothing_more(socket)

            # Leaving is told within the call only.
            await guest_a.close()
            assert await receive(agent_a) == {"type": "peer-left", "peer": {"role": "guest"}}
            await nothing_more(agent_b)
            await nothing_more(guest_b)

    run(scenario)
