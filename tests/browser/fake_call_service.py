"""The call page's backend, played by the test: the join and end routes (Playwright's `route`) and
the signaling protocol, version 1 (Playwright's `route_web_socket`), relaying between the pages of
one test as the real server relays between two browsers.

The real backend and its local run are tested elsewhere; these let the page's own logic (its
states, what it sends, its WebRTC) be tested on its own, every answer at the test's command.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import BrowserContext, Request, Route, WebSocketRoute

CALL_ID = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
HOST_KEY = "hk_9Qm2-xY7"
APP_ID = "demo-app"
WIDGET_KEY = "demo-widget-key"
SIGNALING_URL = "ws://127.0.0.1:9/ws"  # never dialled: route_web_socket answers it

# Recorded in the page before its own scripts run: every peer connection and every stream from
# getUserMedia, so that a test can read getStats() and see that the tracks were stopped.
RECORDER = """
(() => {
  const recorded = { pcs: [], streams: [] };
  Object.defineProperty(window, "__recorded", { value: recorded });
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); recorded.pcs.push(this); }
  };
  const devices = navigator.mediaDevices;
  if (devices) {
    const getUserMedia = devices.getUserMedia.bind(devices);
    devices.getUserMedia = async (constraints) => {
      const stream = await getUserMedia(constraints);
      recorded.streams.push(stream);
      return stream;
    };
  }
})();
"""


def other_role(role: str) -> str:
    return "guest" if role == "agent" else "agent"


def join_answer(role: str = "guest", **changes: Any) -> dict[str, Any]:
    """A join answer's `data`, without `signaling` (FakeCallService fills it in with a token)."""
    data: dict[str, Any] = {
        "callId": CALL_ID,
        "role": role,
        "displayName": "Sarah (Support)" if role == "agent" else "John",
        "recordOnStart": False,
        "previewEnabled": True,
        "status": "created",
        "iceServers": [],
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


@dataclass(frozen=True)
class Reply:
    """An answer other than a 200 with data: its status and body."""

    status: int
    body: Any


def refusal(status: int, code: str, request_id: str = "req-1") -> Reply:
    """The API's error envelope."""
    return Reply(status, {"ok": False, "error": {"code": code, "message": code, "requestId": request_id}})


@dataclass
class Sent:
    """A request the page made to the API."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Socket:
    """One of the page's signaling connections."""

    role: str
    token: str
    route: WebSocketRoute
    open: bool = True
    said_hello: bool = False
    display_name: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    def send(self, message: dict[str, Any]) -> None:
        if self.open:
            self.route.send(json.dumps(message))


# An answer: a dict for a 200 with that data, a Reply for anything else, "abort" for no answer
# at all, or a function of the request giving one of those.
Answer = dict[str, Any] | Reply | str | Callable[[Sent], Any]


class FakeCallService:
    """One call: its join and end routes and its signaling server, for any number of pages."""

    def __init__(self) -> None:
        self.join_answers: dict[str, list[Answer]] = {"agent": [], "guest": []}
        self.end_answers: list[Answer] = []
        self.requests: list[Sent] = []
        self.tokens: dict[str, str] = {}
        self.used_tokens: set[str] = set()
        self.sockets: list[Socket] = []
        self.pretend: dict[str, str] = {}  # role -> display name of a peer played by the test
        self.answers_pings = True  # False: a socket that is dead without the browser knowing
        self._counter = itertools.count(1)

    # -- Setting it up --

    def attach(self, context: BrowserContext) -> None:
        """Serve this call to every page of `context` (before its pages are opened)."""
        context.add_init_script(RECORDER)
        context.route(re.compile(r"/api/calls/[^/?]+/(join|end)(\?.*)?$"), self._rest)
        context.route_web_socket(lambda url: url.startswith(SIGNALING_URL), self._connected)

    def answer_join(self, role: str, *answers: Answer) -> None:
        """The next joins of `role` (a link without role=agent is the guest) get these, in turn;
        the last one stays."""
        self.join_answers[role] = list(answers)

    def answer_end(self, *answers: Answer) -> None:
        self.end_answers = list(answers)

    # -- REST --

    def _rest(self, route: Route, request: Request) -> None:
        url = urlsplit(request.url)
        sent = Sent(
            request.method,
            url.path,
            parse_qs(url.query),
            request.headers.get("content-type", ""),
            request.post_data or "",
        )
        self.requests.append(sent)
        if url.path.endswith("/join"):
            role = "agent" if sent.query.get("role") == ["agent"] else "guest"
            queue = self.join_answers[role]
            answer = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else join_answer(role))
        else:
            queue = self.end_answers
            answer = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else self._ended())
        if callable(answer):
            answer = answer(sent)
        if answer == "abort":
            route.abort("failed")
            return
        if isinstance(answer, Reply):
            route.fulfill(status=answer.status, json=answer.body)
            return
        assert isinstance(answer, dict)
        data = dict(answer)
        if url.path.endswith("/join") and "signaling" not in data:
            data["signaling"] = {
                "url": SIGNALING_URL,
                "token": self.issue(data["role"]),
                "expiresAt": "2099-01-01T00:00:00Z",
            }
        route.fulfill(status=200, json={"ok": True, "data": data})

    def _ended(self) -> dict[str, Any]:
        return {"callId": CALL_ID, "status": "ended", "endedAt": "2026-01-01T00:00:00Z"}

    def issue(self, role: str) -> str:
        token = f"tok-{role}-{next(self._counter)}"
        self.tokens[token] = role
        return token

    def joins(self, role: str | None = None) -> list[Sent]:
        return [
            sent
            for sent in self.requests
            if sent.path.endswith("/join")
            and (role is None or (sent.query.get("role") == ["agent"]) == (role == "agent"))
        ]

    def ends(self) -> list[Sent]:
        return [sent for sent in self.requests if sent.path.endswith("/end")]

    # -- Signaling --

    def _connected(self, route: WebSocketRoute) -> None:
        token = parse_qs(urlsplit(route.url).query).get("token", [""])[0]
        role = self.tokens.get(token)
        if role is None or token in self.used_tokens:
            route.close(code=1008, reason="refused")  # the real server refuses the handshake
            return
        self.used_tokens.add(token)
        older = self.live(role)
        socket = Socket(role, token, route)
        self.sockets.append(socket)
        route.on_message(lambda raw: self._message(socket, raw))
        route.on_close(lambda code, reason: self._gone(socket))
        for old in older:  # one live connection per role: the newer one takes over, silently
            old.send({"type": "replaced"})
            self._close(old)

    def live(self, role: str) -> list[Socket]:
        return [socket for socket in self.sockets if socket.role == role and socket.open]

    def socket(self, role: str) -> Socket:
        """The role's live connection."""
        (found,) = self.live(role)
        return found

    def _other(self, role: str) -> Socket | None:
        found = [socket for socket in self.live(other_role(role)) if socket.said_hello]
        return found[0] if found else None

    def _peer_of(self, role: str) -> dict[str, str] | None:
        other = self._other(role)
        if other is not None:
            return {"role": other.role, "displayName": other.display_name}
        if other_role(role) in self.pretend:
            return {"role": other_role(role), "displayName": self.pretend[other_role(role)]}
        return None

    def _message(self, socket: Socket, raw: str | bytes) -> None:
        message = json.loads(raw)
        socket.received.append(message)
        action = message.get("action")
        if action == "hello":
            socket.said_hello = True
            socket.display_name = message.get("displayName", "")
            socket.send({"type": "ready", "role": socket.role, "peer": self._peer_of(socket.role)})
            other = self._other(socket.role)
            if other is not None:
                other.send(
                    {"type": "peer-joined", "peer": {"role": socket.role, "displayName": socket.display_name}}
                )
        elif action == "signal":
            other = self._other(socket.role)
            if other is not None:
                other.send({"type": "signal", "from": socket.role, "data": message.get("data")})
            elif other_role(socket.role) not in self.pretend:  # else the test's pretend peer takes it
                socket.send({"type": "error", "code": "PEER_NOT_CONNECTED", "message": "no peer"})
        elif action == "ping":
            if self.answers_pings:
                socket.send({"type": "pong"})
        else:
            socket.send({"type": "error", "code": "INVALID_MESSAGE", "message": "unknown action"})

    def _close(self, socket: Socket, code: int = 1000) -> None:
        if socket.open:
            socket.route.close(code=code)
            self._gone(socket)

    def _gone(self, socket: Socket) -> None:
        """A connection closed: the other party hears peer-left, unless a newer one took over."""
        if not socket.open:
            return
        socket.open = False
        other = self._other(socket.role)
        if socket.said_hello and other is not None and not self.live(socket.role):
            other.send({"type": "peer-left", "peer": {"role": socket.role}})

    # -- What the test makes happen --

    def peer_joins(self, role: str, display_name: str) -> None:
        """A peer played by the test (no media) says hello as `role`."""
        self.pretend[role] = display_name
        for socket in self.live(other_role(role)):
            if socket.said_hello:
                socket.send({"type": "peer-joined", "peer": {"role": role, "displayName": display_name}})

    def peer_leaves(self, role: str) -> None:
        self.pretend.pop(role, None)
        for socket in self.live(other_role(role)):
            socket.send({"type": "peer-left", "peer": {"role": role}})

    def end_call(self) -> None:
        """The call ended (from anywhere): every connection hears call-ended, then is closed."""
        for socket in list(self.sockets):
            if socket.open:
                socket.send({"type": "call-ended"})
                self._close(socket)

    def drop(self, role: str, code: int = 1001) -> None:
        """The server side closes the role's connection without a word (a network drop, a deploy)."""
        for socket in self.live(role):
            self._close(socket, code)

    def hellos(self, role: str) -> list[dict[str, Any]]:
        return [
            message
            for socket in self.sockets
            if socket.role == role
            for message in socket.received
            if message.get("action") == "hello"
        ]

    def signals_from(self, role: str) -> list[dict[str, Any]]:
        return [
            message["data"]
            for socket in self.sockets
            if socket.role == role
            for message in socket.received
            if message.get("action") == "signal"
        ]
