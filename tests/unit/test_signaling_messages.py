"""Signaling frames (signaling.messages): what a client may send, and every message the server sends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from signaling import messages
from signaling.messages import (
    MAX_FRAME_BYTES,
    Hello,
    InvalidMessage,
    MessageTooLarge,
    Peer,
    Ping,
    Signal,
    parse_frame,
)

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\n"}
CANDIDATE = {
    "type": "candidate",
    "candidate": {"candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host", "sdpMLineIndex": 0},
}


def frame(value: Any) -> str:
    return json.dumps(value)


def test_the_three_actions() -> None:
    assert parse_frame(frame({"action": "hello", "displayName": "Sarah (Support)"})) == Hello(
        "Sarah (Support)"
    )
    assert parse_frame(frame({"action": "signal", "data": OFFER})) == Signal(OFFER)
    assert parse_frame(frame({"action": "ping"})) == Ping()


def test_unknown_fields_are_ignored() -> None:
    parsed = parse_frame(frame({"action": "hello", "displayName": "John", "v": 2, "extra": [1]}))
    assert parsed == Hello("John")


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        "not json",
        "[]",
        '"hello"',
        "3",
        "null",
        '{"action": "offer"}',
        '{"action": "HELLO", "displayName": "x"}',
        '{"displayName": "x"}',
        '{"action": ["hello"]}',
        '{"action": "hello"}',
        '{"action": "hello", "displayName": ""}',
        '{"action": "hello", "displayName": "   "}',
        '{"action": "hello", "displayName": 7}',
        '{"action": "hello", "displayName": "' + "n" * 101 + '"}',
        '{"action": "signal"}',
        '{"action": "signal", "data": null}',
        '{"action": "signal", "data": "offer"}',
        '{"action": "signal", "data": [1]}',
        '{"action": "signal", "data": {"sdp": "\\ud800"}}',
        '{"action": "signal", "data": ' + "[" * 40 + "]" * 40 + "}",
        '{"action": "signal", "data": {"a": NaN}}',
    ],
)
def test_what_is_no_message_is_invalid(body: str) -> None:
    with pytest.raises(InvalidMessage) as refused:
        parse_frame(body)
    assert refused.value.code == "INVALID_MESSAGE"
    assert refused.value.message


def test_a_binary_frame_is_invalid() -> None:
    with pytest.raises(InvalidMessage):
        parse_frame(frame({"action": "ping"}), binary=True)


def test_a_display_name_of_a_hundred_characters_is_fine() -> None:
    assert parse_frame(frame({"action": "hello", "displayName": "ü" * 100})) == Hello("ü" * 100)


def test_the_size_limit_is_16_kib_of_utf8_whatever_the_frame() -> None:
    def signal_of(size: int) -> str:
        body = frame({"action": "signal", "data": {"type": "offer", "sdp": ""}})
        return body.replace('"sdp": ""', '"sdp": "' + "a" * (size - len(body.encode())) + '"')

    at_limit = signal_of(MAX_FRAME_BYTES)
    assert len(at_limit.encode()) == MAX_FRAME_BYTES
    assert isinstance(parse_frame(at_limit), Signal)
    for over in (signal_of(MAX_FRAME_BYTES + 1), "x" * (MAX_FRAME_BYTES + 1), "{" * 20_000):
        with pytest.raises(MessageTooLarge) as refused:
            parse_frame(over)
        assert refused.value.code == "MESSAGE_TOO_LARGE"
    # Counted in bytes: three-byte characters overrun the limit in fewer characters than it.
    base = frame({"action": "signal", "data": {"type": "offer", "sdp": ""}})
    wide = base.replace('"sdp": ""', '"sdp": "' + "€" * ((MAX_FRAME_BYTES - len(base)) // 3 + 1) + '"')
    assert len(wide) < MAX_FRAME_BYTES < len(wide.encode())
    with pytest.raises(MessageTooLarge):
        parse_frame(wide)


def test_signal_data_is_relayed_exactly_as_sent() -> None:
    body = (
        '{"action":"signal","data":{"type":"candidate","candidate":'
        '{"sdpMLineIndex":0,"x":1.50,"big":12345678901234567890123,"s":"é\\u0041"}}}'
    )
    parsed = parse_frame(body)
    assert isinstance(parsed, Signal)
    relayed = json.loads(messages.signal("agent", parsed.data))
    assert relayed["type"] == "signal"
    assert relayed["from"] == "agent"
    text = messages.signal("agent", parsed.data).decode()
    assert '"x":1.50' in text
    assert '"big":12345678901234567890123' in text
    assert relayed["data"]["candidate"]["s"] == "éA"
    assert messages.signal("guest", CANDIDATE) == (
        b'{"type":"signal","from":"guest","data":'
        + json.dumps(CANDIDATE, separators=(",", ":")).encode()
        + b"}"
    )


def test_every_server_message() -> None:
    def decoded(raw: bytes) -> Any:
        return json.loads(raw)

    assert decoded(messages.ready("guest", None)) == {"type": "ready", "role": "guest", "peer": None}
    assert decoded(messages.ready("agent", Peer("guest", "John"))) == {
        "type": "ready",
        "role": "agent",
        "peer": {"role": "guest", "displayName": "John"},
    }
    assert decoded(messages.peer_joined(Peer("agent", "Sarah"))) == {
        "type": "peer-joined",
        "peer": {"role": "agent", "displayName": "Sarah"},
    }
    assert decoded(messages.peer_left("guest")) == {"type": "peer-left", "peer": {"role": "guest"}}
    assert decoded(messages.PONG) == {"type": "pong"}
    assert decoded(messages.CALL_ENDED) == {"type": "call-ended"}
    assert decoded(messages.REPLACED) == {"type": "replaced"}
    for raw, code in (
        (messages.NOT_READY_ERROR, "NOT_READY"),
        (messages.PEER_NOT_CONNECTED_ERROR, "PEER_NOT_CONNECTED"),
        (messages.refusal(MessageTooLarge()), "MESSAGE_TOO_LARGE"),
        (messages.refusal(InvalidMessage("x")), "INVALID_MESSAGE"),
    ):
        error = decoded(raw)
        assert (error["type"], error["code"]) == ("error", code)
        assert error["message"]
    assert set(messages.ERROR_CODES) == {
        "INVALID_MESSAGE",
        "MESSAGE_TOO_LARGE",
        "PEER_NOT_CONNECTED",
        "NOT_READY",
    }


def test_names_are_sent_as_utf8_text() -> None:
    assert (
        messages.peer_joined(Peer("guest", "Jürgen"))
        == '{"type":"peer-joined","peer":{"role":"guest","displayName":"Jürgen"}}'.encode()
    )
