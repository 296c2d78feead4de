"""The signaling function driven through `signaling.handler.lambda_handler` by API Gateway-shaped
events (events/signaling/): the authorizer's REQUEST event, $connect, hello, signal, ping,
$default, $disconnect, and a batch of the calls table's stream. DynamoDB is moto's; the management
API is an in-memory one (tests/signaling/fakes.py), put in the adapters' place.

A call is created and joined through the calls function, so the token is the join's own.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from callsctl.store import AdminStore, TableNames
from localrun.demo import DEMO_WIDGET_KEY, seed_demo_data
from localrun.gateway import LocalLambdaContext
from moto import mock_aws
from signaling import adapters, handler
from signaling.ports import Ports

from tests.conftest import load_event
from tests.signaling.fakes import FakeSockets

# A relay, a hello or a ping counts no metric: Powertools says so, and that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")

NAMES = TableNames(apps="apps", calls="calls", idempotency="idempotency", connections="connections")
SAMPLE_CALL_ID = "5c8f3a2e-9b1d-4e6f-a7c0-2d4b6e8f1a3c"
SAMPLE_CONNECTION_ID = "L0SM9cOFvHcCIhw="


@dataclass
class World:
    store: AdminStore
    sockets: FakeSockets
    requests: Counter[str]

    def take_requests(self) -> Counter[str]:
        taken = self.requests.copy()
        self.requests.clear()
        return taken


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
    for variable, name in (
        ("APPS_TABLE_NAME", NAMES.apps),
        ("CALLS_TABLE_NAME", NAMES.calls),
        ("IDEMPOTENCY_TABLE_NAME", NAMES.idempotency),
        ("CONNECTIONS_TABLE_NAME", NAMES.connections),
    ):
        monkeypatch.setenv(variable, name)
    with mock_aws():
        admin = AdminStore(boto3.client("dynamodb"), NAMES)
        admin.ensure_tables()
        seed_demo_data(admin)
        sockets = FakeSockets()
        requests: Counter[str] = Counter()
        client = adapters.dynamodb_client()
        client.meta.events.register(
            "before-send.dynamodb", lambda event_name, **_: requests.update([event_name.rsplit(".", 1)[-1]])
        )
        settings = adapters.get_signaling_settings()
        ports = Ports(
            connections=adapters.DynamoDBConnections(settings.connections_table_name),
            sockets=sockets,
            calls=adapters.DynamoDBCalls(settings.calls_table_name),
        )
        monkeypatch.setattr(handler, "ports", lambda: ports)
        yield World(admin, sockets, requests)


def context() -> LocalLambdaContext:
    return LocalLambdaContext(aws_request_id="signaling-request-id")


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    from signaling.handler import lambda_handler

    answer: dict[str, Any] = lambda_handler(event, context())
    return answer


def invoke_calls(method: str, path: str, **more: Any) -> dict[str, Any]:
    from calls.handler import lambda_handler

    event = load_event("minimal.json" if path == "/api/calls" else "join-call.json")
    event.update(httpMethod=method, path=path, **more)
    event["requestContext"] = {**event["requestContext"], "httpMethod": method, "path": path}
    answer: dict[str, Any] = lambda_handler(event, context())
    return answer


def new_call(world: World) -> dict[str, Any]:
    created = invoke_calls("POST", "/api/calls", body='{"hostName": "Sarah", "guestName": "John"}')
    assert created["statusCode"] == 201, created["body"]
    data: dict[str, Any] = json.loads(created["body"])["data"]
    return data


def join_token(call: dict[str, Any], role: str) -> str:
    query = {"role": "agent", "appId": "demo-app", "widgetKey": DEMO_WIDGET_KEY} if role == "agent" else None
    joined = invoke_calls(
        "POST",
        f"/api/calls/{call['callId']}/join",
        queryStringParameters=query,
        multiValueQueryStringParameters={name: [value] for name, value in (query or {}).items()} or None,
        pathParameters={"callId": call["callId"]},
    )
    assert joined["statusCode"] == 200, joined["body"]
    token: str = json.loads(joined["body"])["data"]["signaling"]["token"]
    return token


def authorizer_event(token: str | None, connection_id: str) -> dict[str, Any]:
    event = load_event("signaling/authorizer.json")
    event["queryStringParameters"] = {"token": token} if token is not None else None
    event["multiValueQueryStringParameters"] = {"token": [token]} if token is not None else None
    event["requestContext"]["connectionId"] = connection_id
    return event


def with_connection(name: str, call_id: str, role: str, connection_id: str) -> dict[str, Any]:
    """A sample event of this connection: what API Gateway adds from the authorizer's answer."""
    event = load_event(f"signaling/{name}.json")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"] = {
        "callId": call_id,
        "role": role,
        "principalId": f"{call_id}:{role}",
        "integrationLatency": 0,
    }
    return event


def frame(call_id: str, role: str, connection_id: str, body: str, route: str) -> dict[str, Any]:
    event = with_connection("hello", call_id, role, connection_id)
    event["requestContext"]["routeKey"] = route
    event["body"] = body
    return event


@dataclass(frozen=True)
class Party:
    call_id: str
    role: str
    connection_id: str

    def send(self, action: str, **fields: Any) -> dict[str, Any]:
        body = json.dumps({"action": action, **fields})
        return invoke(frame(self.call_id, self.role, self.connection_id, body, action))


def open_connection(world: World, call: dict[str, Any], role: str, connection_id: str) -> Party:
    """The handshake as API Gateway runs it: the authorizer, then $connect with its context."""
    decision = invoke(authorizer_event(join_token(call, role), connection_id))
    statement = decision["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow", decision
    assert decision["context"] == {"callId": call["callId"], "role": role}
    connect = with_connection("connect", call["callId"], role, connection_id)
    assert invoke(connect) == {"statusCode": 200}
    return Party(call["callId"], role, connection_id)


# The authorizer


def test_the_authorizer_allows_a_joins_token_once_on_the_connect_route(world: World) -> None:
    call = new_call(world)
    token = join_token(call, "guest")
    first = invoke(authorizer_event(token, "conn-1="))
    assert first == {
        "principalId": f"{call['callId']}:guest",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/$connect",
                }
            ],
        },
        "context": {"callId": call["callId"], "role": "guest"},
    }
    again = invoke(authorizer_event(token, "conn-2="))
    assert again["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "context" not in again


def test_the_sample_authorizer_event_is_refused_its_token_being_a_samples(world: World) -> None:
    decision = invoke(load_event("signaling/authorizer.json"))
    assert decision["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert world.take_requests() == Counter()  # a token that does not verify costs nothing


@pytest.mark.parametrize("token", [None, "", "nonsense", "v1.x.guest.y.1.z"])
def test_a_missing_or_wrong_token_is_denied(world: World, token: str | None) -> None:
    assert invoke(authorizer_event(token, "c="))["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_a_token_of_an_ended_call_is_denied(world: World) -> None:
    call = new_call(world)
    token = join_token(call, "guest")
    ended = invoke_calls(
        "POST",
        f"/api/calls/{call['callId']}/end",
        headers={"X-App-Id": "demo-app", "X-Widget-Key": DEMO_WIDGET_KEY},
        multiValueHeaders=None,
        pathParameters={"callId": call["callId"]},
    )
    assert ended["statusCode"] == 200, ended["body"]
    assert invoke(authorizer_event(token, "c="))["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_a_token_for_one_role_opens_that_role_only(world: World) -> None:
    call = new_call(world)
    guest = open_connection(world, call, "guest", "guest-1=")
    item = world.store.client.get_item(
        TableName=NAMES.connections, Key={"callId": {"S": guest.call_id}, "role": {"S": "guest"}}
    )["Item"]
    assert item["connectionId"]["S"] == "guest-1="
    assert "agent" not in json.dumps(item)


# A whole call's signaling


def test_two_parties_meet_exchange_signals_and_part(world: World) -> None:
    call = new_call(world)
    agent = open_connection(world, call, "agent", "agent-1=")
    guest = open_connection(world, call, "guest", "guest-1=")
    sockets = world.sockets

    assert agent.send("hello", displayName="Sarah") == {"statusCode": 200}
    assert sockets.take() == [("agent-1=", {"type": "ready", "role": "agent", "peer": None})]
    guest.send("hello", displayName="John")
    assert sockets.take() == [
        ("agent-1=", {"type": "peer-joined", "peer": {"role": "guest", "displayName": "John"}}),
        ("guest-1=", {"type": "ready", "role": "guest", "peer": {"role": "agent", "displayName": "Sarah"}}),
    ]

    offer = {"type": "offer", "sdp": "v=0\r\n"}
    agent.send("signal", data=offer)
    assert sockets.take() == [("guest-1=", {"type": "signal", "from": "agent", "data": offer})]
    candidate = {"type": "candidate", "candidate": None}
    guest.send("signal", data=candidate)
    assert sockets.take() == [("agent-1=", {"type": "signal", "from": "guest", "data": candidate})]

    guest.send("ping")
    assert sockets.take() == [("guest-1=", {"type": "pong"})]

    assert invoke(with_connection("disconnect", guest.call_id, "guest", "guest-1=")) == {"statusCode": 200}
    assert sockets.take() == [("agent-1=", {"type": "peer-left", "peer": {"role": "guest"}})]
    agent.send("signal", data=offer)
    assert sockets.take()[0][1]["code"] == "PEER_NOT_CONNECTED"


def test_a_warm_relay_is_one_dynamodb_request_and_one_post(world: World) -> None:
    call = new_call(world)
    agent = open_connection(world, call, "agent", "agent-1=")
    guest = open_connection(world, call, "guest", "guest-1=")
    agent.send("hello", displayName="Sarah")
    guest.send("hello", displayName="John")
    guest.send("signal", data={"type": "answer", "sdp": "warm-up"})
    world.take_requests()
    for number in range(3):
        posts = world.sockets.posts
        agent.send("signal", data={"type": "offer", "sdp": f"v={number}"})
        assert world.take_requests() == Counter({"Query": 1})
        assert world.sockets.posts - posts == 1
    ping_posts = world.sockets.posts
    guest.send("ping")
    assert world.take_requests() == Counter()
    assert world.sockets.posts - ping_posts == 1


def test_the_sample_hello_and_signal_events_reach_their_use_cases(world: World) -> None:
    """events/signaling/hello.json and signal.json as they are, but for a real call's guest."""
    call = new_call(world)
    agent = open_connection(world, call, "agent", "agent-1=")
    agent.send("hello", displayName="Sarah")
    open_connection(world, call, "guest", SAMPLE_CONNECTION_ID)
    world.sockets.take()

    hello = load_event("signaling/hello.json")
    hello["requestContext"]["authorizer"]["callId"] = call["callId"]
    assert invoke(hello) == {"statusCode": 200}
    assert world.sockets.to(SAMPLE_CONNECTION_ID) == [
        {"type": "ready", "role": "guest", "peer": {"role": "agent", "displayName": "Sarah"}}
    ]
    signal = load_event("signaling/signal.json")
    signal["requestContext"]["authorizer"]["callId"] = call["callId"]
    invoke(signal)
    relayed = world.sockets.to("agent-1=")[-1]
    assert relayed == {"type": "signal", "from": "guest", "data": json.loads(signal["body"])["data"]}


def test_a_newer_connection_replaces_the_older_which_then_leaves_quietly(world: World) -> None:
    call = new_call(world)
    agent = open_connection(world, call, "agent", "agent-1=")
    agent.send("hello", displayName="Sarah")
    old = open_connection(world, call, "guest", "guest-old=")
    old.send("hello", displayName="John")
    world.sockets.take()

    new = open_connection(world, call, "guest", "guest-new=")
    assert world.sockets.take() == [("guest-old=", {"type": "replaced"})]
    assert world.sockets.closed == ["guest-old="]
    invoke(with_connection("disconnect", call["callId"], "guest", "guest-old="))
    assert world.sockets.take() == []
    new.send("hello", displayName="John")
    assert ("agent-1=", {"type": "peer-joined", "peer": {"role": "guest", "displayName": "John"}}) in (
        world.sockets.take()
    )


# Frames refused, the socket left open


def test_refused_frames_are_answered_with_errors(world: World) -> None:
    call = new_call(world)
    guest = open_connection(world, call, "guest", "guest-1=")
    cases = [
        (frame(call["callId"], "guest", "guest-1=", '{"action":"signal","data":{}}', "signal"), "NOT_READY"),
        (frame(call["callId"], "guest", "guest-1=", "not json", "$default"), "INVALID_MESSAGE"),
        (frame(call["callId"], "guest", "guest-1=", '{"action":"dance"}', "$default"), "INVALID_MESSAGE"),
        (frame(call["callId"], "guest", "guest-1=", '{"action":"hello"}', "hello"), "INVALID_MESSAGE"),
        (
            frame(call["callId"], "guest", "guest-1=", '{"action":"signal","data":"x"}', "signal"),
            "INVALID_MESSAGE",
        ),
        (
            frame(
                call["callId"],
                "guest",
                "guest-1=",
                json.dumps({"action": "ping", "pad": "x" * 17_000}),
                "ping",
            ),
            "MESSAGE_TOO_LARGE",
        ),
        (frame(call["callId"], "guest", "guest-1=", "x" * 20_000, "$default"), "MESSAGE_TOO_LARGE"),
    ]
    for event, code in cases:
        assert invoke(event) == {"statusCode": 200}
        ((target, message),) = world.sockets.take()
        assert (target, message["type"], message["code"]) == ("guest-1=", "error", code)
    binary = frame(call["callId"], "guest", "guest-1=", "eyJhY3Rpb24iOiJwaW5nIn0=", "ping")
    binary["isBase64Encoded"] = True
    invoke(binary)
    assert world.sockets.take()[0][1]["code"] == "INVALID_MESSAGE"
    assert world.sockets.closed == []
    guest.send("hello", displayName="John")
    assert world.sockets.take()[0][1]["type"] == "ready"


def test_a_route_event_without_the_authorizers_context_is_refused(world: World) -> None:
    event = load_event("signaling/hello.json")
    del event["requestContext"]["authorizer"]
    assert invoke(event) == {"statusCode": 403}
    assert world.sockets.sent == []


# The calls stream


def stream_batch(world: World, call_id: str, kind: str, old: dict[str, Any] | None) -> dict[str, Any]:
    """The calls table's stream record for `call_id` as Lambda delivers it (moto keeps no stream)."""
    new = world.store.client.get_item(TableName=NAMES.calls, Key={"callId": {"S": call_id}}).get("Item")
    images: dict[str, Any] = {"Keys": {"callId": {"S": call_id}}, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old is not None:
        images["OldImage"] = old
    if kind != "REMOVE" and new is not None:
        images["NewImage"] = new
    record = {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": kind,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            **images,
            "ApproximateCreationDateTime": 1795476900,
            "SequenceNumber": "1",
            "SizeBytes": 300,
        },
        "eventSourceARN": f"arn:aws:dynamodb:eu-west-1:123456789012:table/{NAMES.calls}/stream/2026-11-23",
    }
    return {"Records": [record]}


def test_an_ended_call_tells_and_closes_both_parties(world: World) -> None:
    call = new_call(world)
    agent = open_connection(world, call, "agent", "agent-1=")
    guest = open_connection(world, call, "guest", "guest-1=")
    agent.send("hello", displayName="Sarah")
    guest.send("hello", displayName="John")
    other = new_call(world)
    bystander = open_connection(world, other, "guest", "elsewhere=")
    world.sockets.take()

    before = copy.deepcopy(
        world.store.client.get_item(TableName=NAMES.calls, Key={"callId": {"S": call["callId"]}})["Item"]
    )
    ended = invoke_calls(
        "POST",
        f"/api/calls/{call['callId']}/end",
        headers={"X-App-Id": "demo-app", "X-Widget-Key": DEMO_WIDGET_KEY},
        multiValueHeaders=None,
        pathParameters={"callId": call["callId"]},
    )
    assert ended["statusCode"] == 200
    answer = invoke(stream_batch(world, call["callId"], "MODIFY", before))
    assert answer == {"batchItemFailures": []}
    told = world.sockets.take()
    assert sorted(told, key=lambda sent: sent[0]) == [
        ("agent-1=", {"type": "call-ended"}),
        ("guest-1=", {"type": "call-ended"}),
    ]
    assert sorted(world.sockets.closed) == ["agent-1=", "guest-1="]
    for party in (agent, guest):
        invoke(with_connection("disconnect", party.call_id, party.role, party.connection_id))
    assert world.sockets.take() == []
    bystander.send("ping")
    assert world.sockets.take() == [("elsewhere=", {"type": "pong"})]


def test_a_stream_record_that_ends_nothing_touches_nothing(world: World) -> None:
    call = new_call(world)
    open_connection(world, call, "guest", "guest-1=")
    world.sockets.take()
    world.take_requests()
    item = world.store.client.get_item(TableName=NAMES.calls, Key={"callId": {"S": call["callId"]}})["Item"]
    assert invoke(stream_batch(world, call["callId"], "INSERT", None)) == {"batchItemFailures": []}
    assert invoke(stream_batch(world, call["callId"], "MODIFY", item)) == {"batchItemFailures": []}
    assert world.sockets.sent == []
    assert world.take_requests() == Counter()


# Logs


@pytest.fixture
def log_output(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the signaling function writes to its log (stdout in Lambda), from here on."""
    written = io.StringIO()
    stream_handler = handler.logger.registered_handler
    assert isinstance(stream_handler, logging.StreamHandler)
    monkeypatch.setattr(stream_handler, "stream", written)
    return written


def log_lines(written: io.StringIO, message: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in written.getvalue().splitlines() if '"level"' in line]
    return [line for line in lines if line["message"] == message]


def test_a_connections_call_and_role_stay_off_the_logs_of_later_events(
    world: World, log_output: io.StringIO
) -> None:
    """A warm container's next event (another connection's handshake, a route event that came
    without the authorizer's context) is not logged as the previous connection's call."""
    call = new_call(world)
    open_connection(world, call, "guest", "guest-1=")
    invoke(frame(call["callId"], "guest", "guest-1=", '{"action": "dance"}', "$default"))
    (own,) = log_lines(log_output, "Message refused")  # the connection's own lines name it
    assert (own["callId"], own["role"], own["routeKey"]) == (call["callId"], "guest", "$default")

    invoke(authorizer_event("nonsense", "other-1="))
    stray = load_event("signaling/hello.json")
    del stray["requestContext"]["authorizer"]
    invoke(stray)

    (refused,) = log_lines(log_output, "Signaling connection refused")
    (without,) = log_lines(log_output, "Route event without the authorizer's call and role")
    for line in (refused, without):
        assert call["callId"] not in json.dumps(line), line
        assert "role" not in line, line
    assert "routeKey" not in refused


# Recordings an agent page already gone left behind


@dataclass
class FailingRecordings:
    """The recordings' storage in trouble: every completion raises, and is counted."""

    attempts: list[str]

    def finish(self, call_id: str) -> int:
        self.attempts.append(call_id)
        raise RuntimeError("S3 is unwell")


def test_a_newer_agent_connects_even_when_completing_what_a_gone_page_left_fails(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []
    with_recordings = dataclasses.replace(handler.ports(), recordings=FailingRecordings(attempts))
    monkeypatch.setattr(handler, "ports", lambda: with_recordings)
    call = new_call(world)
    open_connection(world, call, "agent", "agent-old=")
    world.sockets.gone.add("agent-old=")  # its tab closed without a word

    open_connection(world, call, "agent", "agent-new=")  # $connect answers 200 all the same

    assert attempts == [call["callId"]]
    item = world.store.client.get_item(
        TableName=NAMES.connections, Key={"callId": {"S": call["callId"]}, "role": {"S": "agent"}}
    )["Item"]
    assert item["connectionId"]["S"] == "agent-new="
