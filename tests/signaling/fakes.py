"""In-memory stand-ins for signaling's ports, with DynamoDB's conditional semantics and API
Gateway's GoneException, counting every request so that tests can hold the warm paths to their cost."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from signaling.models import AGENT, GUEST, CallConnections, CallState, Connection, ConnectionGone, Identity
from signaling.ports import Ports


@dataclass
class FakeConnections:
    items: dict[tuple[str, str], Connection] = field(default_factory=dict)
    used_tokens: dict[tuple[str, str], int] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)

    def use_token(self, call_id: str, use_key: str, expires_at: int) -> bool:
        self.requests["PutItem"] += 1
        if (call_id, use_key) in self.used_tokens:
            return False
        self.used_tokens[call_id, use_key] = expires_at
        return True

    def put(self, connection: Connection) -> Connection | None:
        self.requests["PutItem"] += 1
        old = self.items.get((connection.call_id, connection.role))
        self.items[connection.call_id, connection.role] = connection
        return old

    def say_hello(self, identity: Identity, display_name: str, hello_at: str) -> bool:
        self.requests["UpdateItem"] += 1
        current = self.items.get((identity.call_id, identity.role))
        if current is None or current.connection_id != identity.connection_id:
            return False
        self.items[identity.call_id, identity.role] = replace(
            current, display_name=display_name, hello_at=hello_at
        )
        return True

    def of_call(self, call_id: str) -> CallConnections:
        self.requests["Query"] += 1
        return CallConnections(agent=self.items.get((call_id, AGENT)), guest=self.items.get((call_id, GUEST)))

    def get(self, call_id: str, role: str) -> Connection | None:
        self.requests["GetItem"] += 1
        return self.items.get((call_id, role))

    def remove(self, call_id: str, role: str, connection_id: str) -> Connection | None:
        self.requests["DeleteItem"] += 1
        current = self.items.get((call_id, role))
        if current is None or current.connection_id != connection_id:
            return None
        del self.items[call_id, role]
        return current

    def take(self) -> Counter[str]:
        taken, self.requests = self.requests, Counter()
        return taken


@dataclass
class FakeSockets:
    """The management API: what each connection was sent, which were closed, which are gone."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    raw: list[tuple[str, bytes]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    posts: int = 0
    # Every post and close in order, as ("post" | "close", connection id).
    log: list[tuple[str, str]] = field(default_factory=list)
    # Raised by every post, when set: the management API failing otherwise than Gone.
    failure: Exception | None = None

    def post(self, connection_id: str, message: bytes) -> None:
        self.posts += 1
        self.log.append(("post", connection_id))
        if self.failure is not None:
            raise self.failure
        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        self.raw.append((connection_id, message))
        self.sent.append((connection_id, json.loads(message)))

    def close(self, connection_id: str) -> None:
        self.log.append(("close", connection_id))
        if connection_id not in self.gone:
            self.closed.append(connection_id)
            self.gone.add(connection_id)

    def to(self, connection_id: str) -> list[dict[str, Any]]:
        return [message for target, message in self.sent if target == connection_id]

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        taken, self.sent = self.sent, []
        self.raw, self.log = [], []
        return taken


@dataclass
class FakeCalls:
    states: dict[str, CallState] = field(default_factory=dict)
    reads: int = 0

    def call_state(self, call_id: str) -> CallState | None:
        self.reads += 1
        return self.states.get(call_id)


@dataclass
class Fakes:
    connections: FakeConnections = field(default_factory=FakeConnections)
    sockets: FakeSockets = field(default_factory=FakeSockets)
    calls: FakeCalls = field(default_factory=FakeCalls)

    @property
    def ports(self) -> Ports:
        return Ports(connections=self.connections, sockets=self.sockets, calls=self.calls)
