"""The signaling protocol's frames (docs/asyncapi.yaml, version 1): reading what a client sends,
and every message the server sends, built here and nowhere else.

Client frames are JSON text, at most MAX_FRAME_BYTES of UTF-8: `{"action": "hello",
"displayName"}`, `{"action": "signal", "data": {...}}`, `{"action": "ping"}`. Fields a frame
carries beyond these are ignored. A frame refused is answered with an `error` message and
the socket stays open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from calls.jsontext import dumps_exact, has_lone_surrogate, loads_exact, nesting_depth

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024
DISPLAY_NAME_MAX_CHARACTERS = 100
# WebRTC's own shapes are two levels deep; anything far deeper is no signal.
MAX_DATA_DEPTH = 32

HELLO, SIGNAL, PING = "hello", "signal", "ping"
ACTIONS = (HELLO, SIGNAL, PING)


class FrameRefused(Exception):
    """A client frame the server cannot act on; answered with an `error` message of `code`."""

    code: ClassVar[str] = "INVALID_MESSAGE"
    default_message: ClassVar[str] = "The message is not one this server understands."

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidMessage(FrameRefused):
    code = "INVALID_MESSAGE"


class MessageTooLarge(FrameRefused):
    code = "MESSAGE_TOO_LARGE"
    default_message = f"A message may be at most {MAX_FRAME_BYTES} bytes."


# Errors of the protocol that are no frame's fault but the moment's.
PEER_NOT_CONNECTED = "PEER_NOT_CONNECTED"
NOT_READY = "NOT_READY"
ERROR_CODES = (InvalidMessage.code, MessageTooLarge.code, PEER_NOT_CONNECTED, NOT_READY)


@dataclass(frozen=True)
class Hello:
    display_name: str


@dataclass(frozen=True)
class Signal:
    data: dict[str, Any]  # exact JSON (calls.jsontext): relayed as it came


@dataclass(frozen=True)
class Ping:
    pass


ClientMessage = Hello | Signal | Ping


def check_size(body: str | None) -> None:
    """MESSAGE_TOO_LARGE for a frame over the limit, whatever its route (checked first)."""
    if body is not None and len(body) * 4 > MAX_FRAME_BYTES and len(body.encode("utf-8")) > MAX_FRAME_BYTES:
        raise MessageTooLarge()


def parse_frame(body: str | None, *, binary: bool = False) -> ClientMessage:
    """A client frame as its message; MessageTooLarge or InvalidMessage when it is none."""
    check_size(body)
    if binary or not body:
        raise InvalidMessage("Messages are JSON text.")
    try:
        frame = loads_exact(body)
    except ValueError:
        raise InvalidMessage("The message is not valid JSON.") from None
    if not isinstance(frame, dict):
        raise InvalidMessage("A message is a JSON object.")
    if has_lone_surrogate(frame):
        raise InvalidMessage("The message is not valid Unicode.")
    action = frame.get("action")
    if action == HELLO:
        name = frame.get("displayName")
        if not isinstance(name, str) or not name.strip() or len(name) > DISPLAY_NAME_MAX_CHARACTERS:
            raise InvalidMessage(f"hello needs a displayName of 1-{DISPLAY_NAME_MAX_CHARACTERS} characters.")
        return Hello(display_name=name)
    if action == SIGNAL:
        data = frame.get("data")
        if not isinstance(data, dict):
            raise InvalidMessage("signal needs data, a JSON object.")
        if nesting_depth(data, MAX_DATA_DEPTH) > MAX_DATA_DEPTH:
            raise InvalidMessage(f"signal data may be nested {MAX_DATA_DEPTH} levels deep at most.")
        return Signal(data=data)
    if action == PING:
        return Ping()
    raise InvalidMessage(f"action must be one of {', '.join(ACTIONS)}.")


# Server messages


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Peer:
    """The other party, as messages name it."""

    role: str
    display_name: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "displayName": self.display_name}


def ready(role: str, peer: Peer | None) -> bytes:
    """The answer to hello: this connection's role, and the other party if it is there."""
    return _encode({"type": "ready", "role": role, "peer": peer.to_json() if peer else None})


def peer_joined(peer: Peer) -> bytes:
    return _encode({"type": "peer-joined", "peer": peer.to_json()})


def peer_left(role: str) -> bytes:
    return _encode({"type": "peer-left", "peer": {"role": role}})


def signal(from_role: str, data: dict[str, Any]) -> bytes:
    """A relayed signal: the sender's `data` exactly as it came (its numbers keep their text)."""
    return f'{{"type":"signal","from":{json.dumps(from_role)},"data":{dumps_exact(data)}}}'.encode()


def error(code: str, message: str) -> bytes:
    return _encode({"type": "error", "code": code, "message": message})


def refusal(refused: FrameRefused) -> bytes:
    return error(refused.code, refused.message)


PONG = _encode({"type": "pong"})
CALL_ENDED = _encode({"type": "call-ended"})
REPLACED = _encode({"type": "replaced"})
NOT_READY_ERROR = error(NOT_READY, "Say hello first.")
PEER_NOT_CONNECTED_ERROR = error(PEER_NOT_CONNECTED, "The other party is not connected.")
