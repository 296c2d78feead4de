"""Each signaling use case against in-memory ports (tests/signaling/fakes.py): no AWS.

Counts are held exactly where the design prices a path: a warm relay is one read and one post,
a ping no read at all.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest
from calls.signaling_tokens import issue_token
from signaling import messages
from signaling.call_ended import end_connections, ended_call_id
from signaling.connect import CONNECTION_TTL_SECONDS, Refused, authorize, connect
from signaling.disconnect import disconnect
from signaling.hello import hello
from signaling.models import CallState, Identity, SignalingUnavailable
from signaling.ping import ping
from signaling.relay import relay

from tests.signaling.fakes import Fakes

KEY = b"s" * 32
NOW = 1_795_476_600.0
OFFER = {"type": "offer", "sdp": "v=0\r\n"}


def new_call(fakes: Fakes, *, ended: bool = False, expires_at: float = NOW + 3600) -> str:
    call_id = str(uuid.uuid4())
    fakes.calls.states[call_id] = CallState(ended=ended, expires_at=int(expires_at))
    return call_id


def joined(fakes: Fakes, call_id: str, role: str, name: str | None = None) -> Identity:
    """A connection of `role` made through $connect, and through hello when a name is given."""
    identity = Identity(call_id, role, f"{role}-{uuid.uuid4().hex[:8]}=")
    assert connect(identity, ports=fakes.ports, now=NOW).live
    if name is not None:
        hello(identity, name, ports=fakes.ports, hello_at="2026-11-23T12:00:00.000Z")
    return identity


def drain(fakes: Fakes) -> None:
    fakes.sockets.take()
    fakes.connections.take()


# The authorizer


def test_a_fresh_token_of_a_live_call_is_admitted_once() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    token = issue_token(KEY, call_id, "agent", NOW).token
    admitted = authorize(token, key=KEY, calls=fakes.calls, connections=fakes.connections, now=NOW + 1)
    assert (admitted.call_id, admitted.role) == (call_id, "agent")
    assert fakes.calls.reads == 1
    assert fakes.connections.take() == Counter({"PutItem": 1})
    with pytest.raises(Refused) as refused:
        authorize(token, key=KEY, calls=fakes.calls, connections=fakes.connections, now=NOW + 2)
    assert refused.value.reason == "token used"


def test_two_tokens_of_one_call_and_role_each_open_once() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    for _ in range(2):
        token = issue_token(KEY, call_id, "guest", NOW).token
        authorize(token, key=KEY, calls=fakes.calls, connections=fakes.connections, now=NOW)
    assert len(fakes.connections.used_tokens) == 2
    # Each used token is remembered until it expires, and then it could not open anything anyway.
    assert set(fakes.connections.used_tokens.values()) == {int(NOW) + 60}


@pytest.mark.parametrize(
    ("token", "now", "reason"),
    [
        (None, NOW, "token missing"),
        ("", NOW, "token missing"),
        ("v1.nonsense", NOW, "token bad signature"),
        ("expired", NOW + 60, "token expired"),
        ("other key", NOW, "token bad signature"),
    ],
)
def test_a_bad_token_is_refused_without_a_request(token: str | None, now: float, reason: str) -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    if token == "expired":
        token = issue_token(KEY, call_id, "guest", NOW).token
    elif token == "other key":
        token = issue_token(b"x" * 32, call_id, "guest", NOW).token
    with pytest.raises(Refused) as refused:
        authorize(token, key=KEY, calls=fakes.calls, connections=fakes.connections, now=now)
    assert refused.value.reason == reason
    assert fakes.calls.reads == 0
    assert not fakes.connections.requests


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (None, "unknown call"),
        (CallState(ended=True, expires_at=int(NOW) + 3600), "call ended"),
        (CallState(ended=False, expires_at=int(NOW)), "call expired"),
    ],
)
def test_a_token_of_a_call_that_is_over_is_refused_and_not_used_up(
    state: CallState | None, reason: str
) -> None:
    fakes = Fakes()
    call_id = str(uuid.uuid4())
    if state is not None:
        fakes.calls.states[call_id] = state
    token = issue_token(KEY, call_id, "guest", NOW).token
    with pytest.raises(Refused) as refused:
        authorize(token, key=KEY, calls=fakes.calls, connections=fakes.connections, now=NOW)
    assert refused.value.reason == reason
    assert not fakes.connections.used_tokens


# $connect: one live connection per role


def test_a_connection_is_stored_as_its_roles_live_one() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    identity = Identity(call_id, "guest", "conn-1=")
    assert connect(identity, ports=fakes.ports, now=NOW).live
    stored = fakes.connections.items[call_id, "guest"]
    assert (stored.connection_id, stored.ready) == ("conn-1=", False)
    assert stored.connected_at == "2026-11-23T23:30:00.000Z"
    assert stored.expires_at == int(NOW) + CONNECTION_TTL_SECONDS
    assert fakes.sockets.sent == []


def test_a_newer_connection_replaces_the_older_which_is_told_and_closed() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    older = joined(fakes, call_id, "guest", "John")
    drain(fakes)

    newer = Identity(call_id, "guest", "guest-newer=")
    assert connect(newer, ports=fakes.ports, now=NOW + 5).live
    assert fakes.connections.items[call_id, "guest"].connection_id == newer.connection_id
    assert fakes.sockets.take() == [(older.connection_id, {"type": "replaced"})]
    assert fakes.sockets.closed == [older.connection_id]

    # The older one's $disconnect leaves the newer item alone, and the agent hears nothing of it.
    disconnect(older, ports=fakes.ports)
    assert fakes.connections.items[call_id, "guest"].connection_id == newer.connection_id
    assert fakes.sockets.sent == []
    # The newer one says hello: the agent learns the guest (re)joined.
    hello(newer, "John", ports=fakes.ports, hello_at="t")
    assert fakes.sockets.to(agent.connection_id) == [
        {"type": "peer-joined", "peer": {"role": "guest", "displayName": "John"}}
    ]


def test_two_guests_racing_leave_one_the_later() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    first, second = Identity(call_id, "guest", "g1="), Identity(call_id, "guest", "g2=")
    assert connect(first, ports=fakes.ports, now=NOW).live
    assert connect(second, ports=fakes.ports, now=NOW).live
    assert fakes.connections.items[call_id, "guest"].connection_id == "g2="
    assert fakes.sockets.sent == [("g1=", {"type": "replaced"})]
    assert fakes.sockets.closed == ["g1="]
    assert len(fakes.connections.items) == 1


def test_the_roles_are_separate_places() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    joined(fakes, call_id, "agent")
    joined(fakes, call_id, "guest")
    assert set(fakes.connections.items) == {(call_id, "agent"), (call_id, "guest")}
    assert fakes.sockets.closed == []


def test_a_replaced_connection_already_gone_is_no_error() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    older = joined(fakes, call_id, "agent")
    fakes.sockets.gone.add(older.connection_id)
    assert connect(Identity(call_id, "agent", "newer="), ports=fakes.ports, now=NOW).live
    assert fakes.connections.items[call_id, "agent"].connection_id == "newer="


def test_a_call_that_ended_before_the_connection_was_written_refuses_it() -> None:
    """The end committed between the authorizer's read and $connect's write: the stream handler
    may have looked already, so $connect itself refuses, and closes what it replaced."""
    fakes = Fakes()
    call_id = new_call(fakes)
    older = joined(fakes, call_id, "guest")
    fakes.calls.states[call_id] = CallState(ended=True, expires_at=int(NOW) + 3600)
    drain(fakes)
    assert not connect(Identity(call_id, "guest", "late="), ports=fakes.ports, now=NOW).live
    assert (call_id, "guest") not in fakes.connections.items
    assert fakes.sockets.sent == [(older.connection_id, {"type": "call-ended"})]
    assert fakes.sockets.closed == [older.connection_id]


# hello


def test_hello_alone_is_ready_without_a_peer() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent")
    drain(fakes)
    hello(agent, "Sarah", ports=fakes.ports, hello_at="2026-11-23T12:00:00.000Z")
    assert fakes.sockets.take() == [(agent.connection_id, {"type": "ready", "role": "agent", "peer": None})]
    stored = fakes.connections.items[call_id, "agent"]
    assert (stored.display_name, stored.hello_at) == ("Sarah", "2026-11-23T12:00:00.000Z")
    assert fakes.connections.take() == Counter({"UpdateItem": 1, "Query": 1})


def test_the_second_hello_names_the_first_and_tells_it() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest")
    drain(fakes)
    hello(guest, "John", ports=fakes.ports, hello_at="t")
    assert fakes.sockets.take() == [
        (agent.connection_id, {"type": "peer-joined", "peer": {"role": "guest", "displayName": "John"}}),
        (
            guest.connection_id,
            {"type": "ready", "role": "guest", "peer": {"role": "agent", "displayName": "Sarah"}},
        ),
    ]


def test_a_peer_that_has_not_said_hello_is_not_there_yet() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent")
    guest = joined(fakes, call_id, "guest")
    drain(fakes)
    hello(guest, "John", ports=fakes.ports, hello_at="t")
    assert fakes.sockets.take() == [(guest.connection_id, {"type": "ready", "role": "guest", "peer": None})]
    hello(agent, "Sarah", ports=fakes.ports, hello_at="t")
    assert [message["type"] for _, message in fakes.sockets.take()] == ["peer-joined", "ready"]


def test_a_peer_whose_socket_is_gone_is_forgotten_and_not_announced() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest")
    fakes.sockets.gone.add(agent.connection_id)
    drain(fakes)
    hello(guest, "John", ports=fakes.ports, hello_at="t")
    assert fakes.sockets.take() == [(guest.connection_id, {"type": "ready", "role": "guest", "peer": None})]
    assert (call_id, "agent") not in fakes.connections.items


def test_hello_from_a_replaced_connection_closes_it_and_tells_nobody() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    joined(fakes, call_id, "agent", "Sarah")
    stale = Identity(call_id, "guest", "stale=")
    joined(fakes, call_id, "guest")
    drain(fakes)
    hello(stale, "John", ports=fakes.ports, hello_at="t")
    assert fakes.sockets.sent == []
    assert fakes.sockets.closed == ["stale="]
    assert fakes.connections.items[call_id, "guest"].hello_at is None


# signal


def test_a_warm_relay_is_one_read_and_one_post_and_the_data_arrives_unchanged() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest", "John")
    drain(fakes)
    posts = fakes.sockets.posts
    data = messages.parse_frame('{"action":"signal","data":{"type":"answer","sdp":"v=0","n":1.0}}')
    assert isinstance(data, messages.Signal)
    relay(guest, data.data, ports=fakes.ports)
    assert fakes.connections.take() == Counter({"Query": 1})
    assert fakes.sockets.posts - posts == 1
    assert fakes.sockets.raw == [
        (
            agent.connection_id,
            b'{"type":"signal","from":"guest","data":{"type":"answer","sdp":"v=0","n":1.0}}',
        )
    ]


def test_signal_before_hello_is_not_ready_and_reaches_nobody() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest")
    drain(fakes)
    relay(guest, OFFER, ports=fakes.ports)
    assert [(target, message["code"]) for target, message in fakes.sockets.take()] == [
        (guest.connection_id, "NOT_READY")
    ]


@pytest.mark.parametrize("peer_state", ["absent", "connected without hello"])
def test_signal_without_a_ready_peer_is_peer_not_connected(peer_state: str) -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    if peer_state != "absent":
        joined(fakes, call_id, "guest")
    drain(fakes)
    relay(agent, OFFER, ports=fakes.ports)
    assert [(target, message["code"]) for target, message in fakes.sockets.take()] == [
        (agent.connection_id, "PEER_NOT_CONNECTED")
    ]


def test_a_peer_gone_without_a_disconnect_is_removed_and_the_sender_told_it_left() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest", "John")
    fakes.sockets.gone.add(guest.connection_id)
    drain(fakes)
    relay(agent, OFFER, ports=fakes.ports)
    assert fakes.sockets.take() == [(agent.connection_id, {"type": "peer-left", "peer": {"role": "guest"}})]
    assert (call_id, "guest") not in fakes.connections.items
    # Later signals find no peer.
    relay(agent, OFFER, ports=fakes.ports)
    assert fakes.sockets.take()[0][1]["code"] == "PEER_NOT_CONNECTED"


def test_a_stale_removal_never_takes_a_newer_connections_item() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    joined(fakes, call_id, "agent", "Sarah")
    old_guest = joined(fakes, call_id, "guest", "John")
    joined(fakes, call_id, "guest", "John")
    from signaling.delivery import send

    assert not send(fakes.ports, old_guest, messages.PONG)  # closed when it was replaced
    assert fakes.connections.items[call_id, "guest"].connection_id != old_guest.connection_id


def test_signals_never_cross_calls() -> None:
    fakes = Fakes()
    calls = [new_call(fakes) for _ in range(3)]
    parties = {
        call_id: (joined(fakes, call_id, "agent", "A"), joined(fakes, call_id, "guest", "G"))
        for call_id in calls
    }
    drain(fakes)
    for call_id, (agent, guest) in parties.items():
        relay(agent, {"type": "offer", "sdp": call_id}, ports=fakes.ports)
        relay(guest, {"type": "answer", "sdp": call_id}, ports=fakes.ports)
    for call_id, (agent, guest) in parties.items():
        assert fakes.sockets.to(guest.connection_id) == [
            {"type": "signal", "from": "agent", "data": {"type": "offer", "sdp": call_id}}
        ]
        assert fakes.sockets.to(agent.connection_id) == [
            {"type": "signal", "from": "guest", "data": {"type": "answer", "sdp": call_id}}
        ]


def test_a_replaced_connection_cannot_signal() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    old_guest = joined(fakes, call_id, "guest", "John")
    joined(fakes, call_id, "guest", "John")
    drain(fakes)
    relay(old_guest, OFFER, ports=fakes.ports)
    assert fakes.sockets.to(agent.connection_id) == []


# ping


def test_ping_is_pong_and_reads_nothing() -> None:
    fakes = Fakes()
    identity = Identity(str(uuid.uuid4()), "guest", "c=")
    ping(identity, ports=fakes.ports)
    assert fakes.sockets.take() == [("c=", {"type": "pong"})]
    assert not fakes.connections.requests


# $disconnect


def test_a_ready_party_leaving_is_peer_left_to_the_other() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest", "John")
    drain(fakes)
    disconnect(guest, ports=fakes.ports)
    assert fakes.sockets.take() == [(agent.connection_id, {"type": "peer-left", "peer": {"role": "guest"}})]
    assert (call_id, "guest") not in fakes.connections.items
    assert fakes.connections.take() == Counter({"DeleteItem": 1, "GetItem": 1})


def test_leaving_before_hello_or_with_no_ready_peer_tells_nobody() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest")
    drain(fakes)
    disconnect(guest, ports=fakes.ports)
    assert fakes.sockets.sent == []
    assert (call_id, "guest") not in fakes.connections.items

    other = new_call(fakes)
    lonely = joined(fakes, other, "agent", "Sarah")
    joined(fakes, other, "guest")
    drain(fakes)
    disconnect(lonely, ports=fakes.ports)
    assert fakes.sockets.sent == []


def test_a_second_disconnect_of_the_same_connection_does_nothing() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest", "John")
    disconnect(guest, ports=fakes.ports)
    drain(fakes)
    disconnect(guest, ports=fakes.ports)
    assert fakes.sockets.sent == []


# The calls stream


Image = dict[str, dict[str, str]]


def image(status: str = "created", **more: str) -> Image:
    return {
        "callId": {"S": "c"},
        "status": {"S": status},
        **{name: {"S": value} for name, value in more.items()},
    }


def record(
    kind: str, old: Image | None = None, new: Image | None = None, call_id: str = "c"
) -> dict[str, Any]:
    stream: dict[str, Any] = {"Keys": {"callId": {"S": call_id}}}
    if old is not None:
        stream["OldImage"] = old
    if new is not None:
        stream["NewImage"] = new
    return {"eventSource": "aws:dynamodb", "eventName": kind, "dynamodb": stream}


@pytest.mark.parametrize(
    ("stream_record", "ends"),
    [
        (record("MODIFY", image(), image("ended", endedAt="t")), True),
        (record("REMOVE", image()), True),  # expired (the TTL), or deleted by an operator
        (record("REMOVE", image("ended", endedAt="t")), False),  # told when it ended
        (record("MODIFY", image(), image(guestJoinedAt="t")), False),
        (record("MODIFY", image("ended", endedAt="t"), image("ended", endedAt="t", x="1")), False),
        (record("INSERT", None, image()), False),
    ],
)
def test_which_changes_end_a_call(stream_record: dict[str, Any], ends: bool) -> None:
    assert ended_call_id(stream_record) == ("c" if ends else None)


def test_an_ended_call_tells_everyone_before_closing_anyone_and_no_peer_left_follows() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest", "John")
    other_call = new_call(fakes)
    bystander = joined(fakes, other_call, "guest", "Eve")
    drain(fakes)

    assert end_connections(call_id, ports=fakes.ports) == 2
    assert [step for step, _ in fakes.sockets.log] == ["post", "post", "close", "close"]
    assert {target for target, message in fakes.sockets.take() if message == {"type": "call-ended"}} == {
        agent.connection_id,
        guest.connection_id,
    }
    assert set(fakes.sockets.closed) == {agent.connection_id, guest.connection_id}
    assert (call_id, "agent") not in fakes.connections.items
    assert (call_id, "guest") not in fakes.connections.items
    for closed in (agent, guest):
        disconnect(closed, ports=fakes.ports)
    assert fakes.sockets.sent == []
    assert fakes.connections.items[other_call, "guest"].connection_id == bystander.connection_id


def test_an_ended_call_skips_gone_sockets_and_a_second_pass_finds_nothing() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    agent = joined(fakes, call_id, "agent", "Sarah")
    guest = joined(fakes, call_id, "guest")
    fakes.sockets.gone.add(guest.connection_id)
    drain(fakes)
    assert end_connections(call_id, ports=fakes.ports) == 2
    assert fakes.sockets.take() == [(agent.connection_id, {"type": "call-ended"})]
    assert end_connections(call_id, ports=fakes.ports) == 0


def test_a_failed_post_removes_nothing_so_the_records_retry_tells_again() -> None:
    fakes = Fakes()
    call_id = new_call(fakes)
    joined(fakes, call_id, "agent", "Sarah")
    fakes.sockets.failure = SignalingUnavailable("timed out")
    with pytest.raises(SignalingUnavailable):
        end_connections(call_id, ports=fakes.ports)
    assert (call_id, "agent") in fakes.connections.items


def test_messages_are_json_text() -> None:
    fakes = Fakes()
    ping(Identity("c", "guest", "x="), ports=fakes.ports)
    (_, raw), *_ = fakes.sockets.raw
    assert json.loads(raw.decode("utf-8")) == {"type": "pong"}
