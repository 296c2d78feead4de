"""The local WebSocket API: the handshake, the route events and the management API, as API Gateway
runs them, around a test double of the signaling function."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError
from localrun.websocket import route_key

from tests.localrun.conftest import RunningServer, SignalingDouble, run


async def refused_status(url: str) -> int:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
    return refused.value.status


@pytest.mark.parametrize(
    ("token", "status"),
    [("deny", 403), ("unauthorized", 401), ("crash", 500), ("allow-bad-context", 500)],
)
def test_a_refusing_authorizer_refuses_the_handshake(running: RunningServer, token: str, status: int) -> None:
    assert run(refused_status(f"{running.ws_url}?token={token}")) == status

    assert running.signaling.kinds() == ["authorizer"], "no route event for a refused connection"


def test_a_connect_route_that_does_not_answer_2xx_refuses_the_handshake(running: RunningServer) -> None:
    running.signaling.connect_status = 403

    assert run(refused_status(f"{running.ws_url}?token=allow")) == 403
    assert running.signaling.kinds() == ["authorizer", "$connect"]


FRAMES = [
    '{"action": "hello", "displayName": "Ann"}',
    '{"action": "signal", "data": {"type": "offer", "sdp": "v=0"}}',
    '{"action": "ping"}',
    '{"action": "shout"}',
    "not json",
    '["action", "hello"]',
    '{"action": 3}',
]


async def converse(url: str, frames: list[str], replies: int) -> tuple[list[str], int | None]:
    received: list[str] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        for frame in frames:
            await socket.send_str(frame)
        while len(received) < replies:
            message = await socket.receive(timeout=10)
            assert message.type == aiohttp.WSMsgType.TEXT, message
            received.append(message.data)
        await socket.close()
        return received, socket.close_code


def test_connect_messages_and_disconnect_arrive_in_order_in_api_gateways_shapes(
    running: RunningServer,
) -> None:
    replies, _ = run(converse(f"{running.ws_url}?token=allow-call-7&lang=de", FRAMES, replies=1))
    running.signaling.wait_for(lambda kinds: "$disconnect" in kinds, "$disconnect")

    assert json.loads(replies[0]) == {"type": "pong"}  # the ping route answered through the management API
    kinds = running.signaling.kinds()
    assert kinds == ["authorizer", "$connect", "hello", "signal", "ping", *["$default"] * 4, "$disconnect"]
    authorizer, connect, *messages, disconnect = running.signaling.events

    assert authorizer["type"] == "REQUEST"
    assert authorizer["methodArn"] == "arn:aws:execute-api:us-east-1:000000000000:local/local/$connect"
    assert authorizer["queryStringParameters"] == {"token": "allow-call-7", "lang": "de"}
    assert authorizer["multiValueQueryStringParameters"] == {"token": ["allow-call-7"], "lang": ["de"]}
    assert authorizer["headers"]["Upgrade"] == "websocket"
    assert "authorizer" not in authorizer["requestContext"]

    connection_id = connect["requestContext"]["connectionId"]
    contexts = [event["requestContext"] for event in (authorizer, connect, *messages, disconnect)]
    for context in contexts:
        assert context["connectionId"] == connection_id
        assert context["domainName"] == f"127.0.0.1:{running.server.port}"
        assert context["stage"] == "local"
        assert context["apiId"] == "local"
        assert context["messageDirection"] == "IN"
        assert context["identity"]["sourceIp"] == "127.0.0.1"
        assert isinstance(context["connectedAt"], int)
        assert isinstance(context["requestTimeEpoch"], int)
    assert len({context["requestId"] for context in contexts}) == len(contexts), "one request id per event"
    for context in contexts[1:]:
        assert context["authorizer"]["callId"] == "call-7"
        assert context["authorizer"]["role"] == "agent"
        assert context["authorizer"]["principalId"] == "agent"

    assert (connect["requestContext"]["routeKey"], connect["requestContext"]["eventType"]) == (
        "$connect",
        "CONNECT",
    )
    assert connect["queryStringParameters"] == {"token": "allow-call-7", "lang": "de"}
    assert connect["headers"]["Sec-WebSocket-Version"] == "13"
    assert connect["isBase64Encoded"] is False

    assert [event["body"] for event in messages] == FRAMES
    for event in messages:
        assert event["requestContext"]["eventType"] == "MESSAGE"
        assert event["requestContext"]["messageId"]
        assert event["isBase64Encoded"] is False

    assert disconnect["requestContext"]["routeKey"] == "$disconnect"
    assert disconnect["requestContext"]["eventType"] == "DISCONNECT"
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1000


@pytest.mark.parametrize(
    ("body", "route"),
    [
        ('{"action":"hello"}', "hello"),
        ('{"action":"signal","data":{}}', "signal"),
        ('{"action":"ping"}', "ping"),
        ('{"action":"PING"}', "$default"),
        ('{"action":null}', "$default"),
        ("{}", "$default"),
        ("[]", "$default"),
        ("", "$default"),
    ],
)
def test_route_selection_is_request_body_action(body: str, route: str) -> None:
    assert route_key(body) == route


def test_a_connections_events_wait_for_each_other_and_the_server_keeps_serving(
    running: RunningServer,
) -> None:
    """A slow hello holds back the connection's next event, not the server."""
    running.signaling.slow_routes["hello"] = 1.0

    async def scenario() -> float:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{running.ws_url}?token=allow") as socket:
                await socket.send_str('{"action":"hello"}')
                await socket.send_str('{"action":"ping"}')
                started = time.monotonic()
                async with session.get(f"{running.url}/__ready__") as ready:
                    assert ready.status == 200
                answered_in = time.monotonic() - started
                reply = await socket.receive(timeout=10)
                assert json.loads(reply.data) == {"type": "pong"}
            return answered_in

    answered_in = run(scenario())

    assert answered_in < 0.5, "the event loop was blocked by a handler"
    timings = {kind: (start, end) for kind, start, end in running.signaling.timings}
    assert timings["ping"][0] >= timings["hello"][1], "ping ran before hello had finished"


def test_a_failing_route_tells_the_client_as_api_gateway_does_and_the_socket_stays_open(
    running: RunningServer,
) -> None:
    replies, _ = run(converse(f"{running.ws_url}?token=allow", ["crash", '{"action":"ping"}'], replies=2))

    error = json.loads(replies[0])
    assert error["message"] == "Internal server error"
    assert error["connectionId"]
    assert error["requestId"]
    assert json.loads(replies[1]) == {"type": "pong"}


async def closed_by_server(url: str, send: Any) -> int | None:
    async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=0) as socket:
        await send(socket)
        message = await socket.receive(timeout=10)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
        return socket.close_code


def test_a_binary_frame_closes_the_socket_with_1003(running: RunningServer) -> None:
    async def send(socket: aiohttp.ClientWebSocketResponse) -> None:
        await socket.send_bytes(b"\x00\x01")

    assert run(closed_by_server(f"{running.ws_url}?token=allow", send)) == 1003
    running.signaling.wait_for(lambda kinds: "$disconnect" in kinds, "$disconnect")
    assert "$default" not in running.signaling.kinds()


def test_a_frame_over_128_kib_closes_the_socket_with_1009(running: RunningServer) -> None:
    async def send(socket: aiohttp.ClientWebSocketResponse) -> None:
        await socket.send_str(json.dumps({"action": "signal", "data": "x" * (128 * 1024)}))

    assert run(closed_by_server(f"{running.ws_url}?token=allow", send)) == 1009


def test_a_plain_get_of_the_websocket_path_is_refused(running: RunningServer) -> None:
    async def get() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(running.ws_url.replace("ws:", "http:")) as answer,
        ):
            assert answer.headers["Cache-Control"] == "no-store"
            assert answer.headers["X-Request-Id"]
            return answer.status

    assert run(get()) == 426


# The management API, through boto3's own client


def connection_id_of(running: RunningServer) -> str:
    running.signaling.wait_for(lambda kinds: "$connect" in kinds, "$connect")
    connect = next(event for event in running.signaling.events if SignalingDouble.kind(event) == "$connect")
    return str(connect["requestContext"]["connectionId"])


def test_the_management_api_posts_describes_and_deletes(running: RunningServer) -> None:
    management = running.signaling.management()

    async def scenario() -> tuple[list[str], int | None]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{running.ws_url}?token=allow") as socket,
        ):
            connection_id = connection_id_of(running)
            management.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"ready","peer":null}')
            management.post_to_connection(
                ConnectionId=connection_id, Data=b'{"type":"signal","from":"guest"}'
            )
            info = management.get_connection(ConnectionId=connection_id)
            assert info["Identity"]["SourceIp"] == "127.0.0.1"
            assert info["ConnectedAt"] <= info["LastActiveAt"]
            frames = [(await socket.receive(timeout=10)).data for _ in range(2)]
            management.delete_connection(ConnectionId=connection_id)
            closing = await socket.receive(timeout=10)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            return frames, socket.close_code

    frames, close_code = run(scenario())

    assert [json.loads(frame)["type"] for frame in frames] == ["ready", "signal"]
    assert close_code == 1000
    running.signaling.wait_for(lambda kinds: "$disconnect" in kinds, "$disconnect after DELETE")


def test_a_closed_or_unknown_connection_is_gone_for_boto3(running: RunningServer) -> None:
    run(converse(f"{running.ws_url}?token=allow", [], replies=0))
    closed = connection_id_of(running)
    running.signaling.wait_for(lambda kinds: "$disconnect" in kinds, "$disconnect")
    management = running.signaling.management()

    for connection_id in (closed, "NoSuchConnect1=", "a/b"):
        with pytest.raises(management.exceptions.GoneException) as gone:
            management.post_to_connection(ConnectionId=connection_id, Data=b"{}")
        assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
        with pytest.raises(management.exceptions.GoneException):
            management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(management.exceptions.GoneException):
            management.get_connection(ConnectionId=connection_id)


def test_a_post_over_128_kib_is_payload_too_large(running: RunningServer) -> None:
    management = running.signaling.management()

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{running.ws_url}?token=allow"):
            connection_id = connection_id_of(running)
            with pytest.raises(ClientError) as refused:
                management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
            assert refused.value.response["Error"]["Code"] == "PayloadTooLargeException"

    run(scenario())
