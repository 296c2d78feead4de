"""The call page's backend, played by the test: the join, end and recording routes (Playwright's
`route`), the signaling protocol, version 1 (Playwright's `route_web_socket`), relaying between the
pages of one test as the real server relays between two browsers, and a bucket that takes a
recording's parts as S3 takes them from presigned URLs (a real HTTP server on loopback, with CORS).

The real backend and its local run are tested elsewhere; these let the page's own logic (its
states, what it sends, its WebRTC, its recording) be tested on its own, every answer at the test's
command.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import BrowserContext, Request, Route, WebSocketRoute

CALL_ID = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
HOST_KEY = "hk_9Qm2-xY7"
APP_ID = "demo-app"
WIDGET_KEY = "demo-widget-key"
SIGNALING_URL = "ws://127.0.0.1:9/ws"  # never dialled: route_web_socket answers it
PART_SIZE_BYTES = 5 * 1024 * 1024  # the API's partSizeBytes: S3's smallest part but the last
MAX_PART_NUMBER = 10_000
RECORDING_ROUTES = re.compile(r"/api/calls/[^/?]+/recordings(/[^/?]+/(parts|complete))?(\?.*)?$")

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


@dataclass
class PartPut:
    """A PUT the bucket received: which upload and part, how many bytes, its headers, and when."""

    upload_id: str
    part_number: int
    size: int
    headers: dict[str, str]
    at: float
    status: int


class FakeBucket:
    """S3's side of a multipart upload, as the page sees it through presigned part URLs: PUT
    `/{key}?uploadId=...&partNumber=N` stores the part (a part sent again replaces it) and answers
    its ETag, readable cross-origin (the bucket's CORS exposes it); OPTIONS answers the preflight.
    A completed or aborted upload refuses parts (404 NoSuchUpload), as S3 does."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parts: dict[str, dict[int, bytes]] = {}
        self.closed: set[str] = set()
        self.puts: list[PartPut] = []
        self.preflights = 0
        self.failures = 0  # the next PUTs answered 503 SlowDown
        self.origin = ""
        self._server: ThreadingHTTPServer | None = None

    @contextmanager
    def serving(self) -> Iterator[FakeBucket]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _bucket_handler(self))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.origin = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    def open_upload(self) -> str:
        upload_id = uuid.uuid4().hex
        with self.lock:
            self.parts[upload_id] = {}
        return upload_id

    def part_url(self, key: str, upload_id: str, part_number: int) -> str:
        return (
            f"{self.origin}/{key}?partNumber={part_number}&uploadId={upload_id}"
            "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host&X-Amz-Signature=f00d"
        )

    def received(self, upload_id: str) -> dict[int, bytes]:
        """The parts that arrived, by number (what S3's ListParts would list)."""
        with self.lock:
            return dict(self.parts.get(upload_id, {}))

    def close_upload(self, upload_id: str) -> bytes:
        """Complete (or abort) the upload: the object is its parts in order."""
        with self.lock:
            self.closed.add(upload_id)
            parts = self.parts.get(upload_id, {})
            return b"".join(parts[number] for number in sorted(parts))

    def put(self, upload_id: str, part_number: int, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            if self.failures > 0:
                self.failures -= 1
                status = 503
            elif upload_id not in self.parts or upload_id in self.closed:
                status = 404
            else:
                self.parts[upload_id][part_number] = body
                status = 200
            self.puts.append(PartPut(upload_id, part_number, len(body), headers, time.monotonic(), status))
            return status

    def puts_of(self, upload_id: str) -> list[PartPut]:
        with self.lock:
            return [put for put in self.puts if put.upload_id == upload_id]


def _bucket_handler(bucket: FakeBucket) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def cors(self) -> None:
            self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
            self.send_header("Vary", "Origin")

        def do_OPTIONS(self) -> None:
            with bucket.lock:
                bucket.preflights += 1
            self.send_response(200)
            self.cors()
            self.send_header("Access-Control-Allow-Methods", "PUT")
            requested = self.headers.get("Access-Control-Request-Headers")
            if requested:
                self.send_header("Access-Control-Allow-Headers", requested)
            self.send_header("Access-Control-Max-Age", "3000")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_PUT(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:
                return  # the page went away mid-part: S3 keeps nothing of it
            status = bucket.put(
                query.get("uploadId", [""])[0],
                int(query.get("partNumber", ["0"])[0]),
                body,
                {name.lower(): value for name, value in self.headers.items()},
            )
            self.send_response(status)
            self.cors()
            if status == 200:
                self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')
                self.send_header("Access-Control-Expose-Headers", "ETag")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@dataclass
class Recording:
    """A recording the page started: its upload, the part numbers it asked URLs for, and how it
    was completed (by the page, with its body, or by the server)."""

    recording_id: str
    upload_id: str
    mime_type: str
    started_at: float
    status: str = "recording"
    part_numbers_asked: list[int] = field(default_factory=list)
    completed_by: str = ""
    completion: dict[str, Any] | None = None
    content: bytes = b""

    @property
    def key(self) -> str:
        return f"recordings/{CALL_ID}/{self.recording_id}.webm"

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "recordingId": self.recording_id,
            "callId": CALL_ID,
            "status": self.status,
            "startedAt": "2026-01-01T00:00:00Z",
            "mimeType": self.mime_type,
        }
        if self.status == "ready":
            view.update(endedAt="2026-01-01T00:01:00Z", sizeBytes=len(self.content))
            if self.completion and "durationSeconds" in self.completion:
                view["durationSeconds"] = self.completion["durationSeconds"]
        return view


class FakeCallService:
    """One call: its join, end and recording routes and its signaling server, for any number of
    pages, and the bucket its recordings go to (when given one)."""

    def __init__(self, bucket: FakeBucket | None = None) -> None:
        self.bucket = bucket
        self.join_answers: dict[str, list[Answer]] = {"agent": [], "guest": []}
        self.end_answers: list[Answer] = []
        self.start_answers: list[Answer] = []  # none: the start succeeds
        self.part_size = PART_SIZE_BYTES
        self.recordings: list[Recording] = []
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
        context.route(RECORDING_ROUTES, self._rest)
        context.route_web_socket(lambda url: url.startswith(SIGNALING_URL), self._connected)

    def answer_join(self, role: str, *answers: Answer) -> None:
        """The next joins of `role` (a link without role=agent is the guest) get these, in turn;
        the last one stays."""
        self.join_answers[role] = list(answers)

    def answer_end(self, *answers: Answer) -> None:
        self.end_answers = list(answers)

    def answer_start(self, *answers: Answer) -> None:
        """The next recording starts get these, in turn; the last one stays."""
        self.start_answers = list(answers)

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
        if "/recordings" in url.path:
            self._fulfill(route, self._recordings(sent))
            return
        if url.path.endswith("/join"):
            role = "agent" if sent.query.get("role") == ["agent"] else "guest"
            queue = self.join_answers[role]
            answer = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else join_answer(role))
        else:
            queue = self.end_answers
            answer = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else self._ended())
        if callable(answer):
            answer = answer(sent)
        if isinstance(answer, dict) and url.path.endswith("/join") and "signaling" not in answer:
            answer = {
                **answer,
                "signaling": {
                    "url": SIGNALING_URL,
                    "token": self.issue(answer["role"]),
                    "expiresAt": "2099-01-01T00:00:00Z",
                },
            }
        self._fulfill(route, answer)

    def _fulfill(self, route: Route, answer: Any, status: int = 200) -> None:
        if answer == "abort":
            route.abort("failed")
            return
        if isinstance(answer, Reply):
            route.fulfill(status=answer.status, json=answer.body)
            return
        assert isinstance(answer, dict)
        route.fulfill(status=status, json={"ok": True, "data": answer})

    # -- Recording: start, part URLs, complete (the seams' routes and shapes) --

    def _recordings(self, sent: Sent) -> Any:
        path = sent.path.removeprefix(f"/api/calls/{CALL_ID}/recordings")
        if not path:
            queue = self.start_answers
            answer = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else None)
            if callable(answer):
                answer = answer(sent)
            return answer if answer is not None else self._start(sent)
        recording_id, action = path.strip("/").split("/")
        found = [recording for recording in self.recordings if recording.recording_id == recording_id]
        if not found:
            return refusal(404, "RECORDING_NOT_FOUND")
        recording = found[0]
        if action == "parts":
            numbers = sent.json()["partNumbers"]
            if recording.status != "recording":
                return refusal(409, "RECORDING_NOT_IN_PROGRESS")
            recording.part_numbers_asked.extend(numbers)
            assert self.bucket is not None
            urls = [
                {
                    "partNumber": number,
                    "url": self.bucket.part_url(recording.key, recording.upload_id, number),
                    "expiresAt": "2099-01-01T00:15:00Z",
                }
                for number in numbers
            ]
            return {"parts": urls}
        if recording.status == "recording":
            recording.completion = sent.json()
            if not self.complete(recording, "page"):
                return refusal(409, "RECORDING_EMPTY")
        return recording.view()

    def _start(self, sent: Sent) -> Any:
        if any(recording.status == "recording" for recording in self.recordings):
            return refusal(409, "RECORDING_IN_PROGRESS")
        assert self.bucket is not None, "a test that records gives the service a bucket"
        recording = Recording(
            recording_id=str(uuid.uuid4()),
            upload_id=self.bucket.open_upload(),
            mime_type=(sent.json() or {}).get("mimeType", "video/webm;codecs=vp8,opus"),
            started_at=time.monotonic(),
        )
        self.recordings.append(recording)
        data = {**recording.view(), "partSizeBytes": self.part_size, "maxPartNumber": MAX_PART_NUMBER}
        return Reply(201, {"ok": True, "data": data})

    def complete(self, recording: Recording, by: str) -> bool:
        """Complete the upload from the parts that arrived; none: aborted and removed (False)."""
        assert self.bucket is not None
        recording.content = self.bucket.close_upload(recording.upload_id)
        recording.completed_by = by
        if not recording.content:
            self.recordings.remove(recording)
            return False
        recording.status = "ready"
        return True

    def server_completes(self) -> None:
        """What the server does when the agent's connection closes or the call ends: every
        recording still open is completed from the parts that arrived."""
        for recording in list(self.recordings):
            if recording.status == "recording":
                self.complete(recording, "server")

    def recording_requests(self, action: str) -> list[Sent]:
        """The page's requests to start (action ""), parts or complete."""
        return [
            sent
            for sent in self.requests
            if "/recordings" in sent.path
            and (sent.path.endswith("/" + action) if action else sent.path.endswith("/recordings"))
        ]

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
