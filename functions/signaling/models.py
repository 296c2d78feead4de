"""The signaling function's records and outcomes: who a connection is, what the connections
table holds about it, and the failures its adapters report. Nothing here talks to AWS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

AGENT, GUEST = "agent", "guest"
ROLES = (AGENT, GUEST)


def other_role(role: str) -> str:
    return GUEST if role == AGENT else AGENT


@dataclass(frozen=True)
class Identity:
    """Who an event's connection is: the call and role its token granted (the authorizer's
    context, on every event of the connection) and API Gateway's id of the connection. Never
    anything a message says: no frame can name another call or another connection."""

    call_id: str
    role: str
    connection_id: str


@dataclass(frozen=True)
class Connection:
    """A role's live connection to a call, as the connections table holds it."""

    call_id: str
    role: str
    connection_id: str
    connected_at: str
    expires_at: int  # epoch seconds; the table's TTL removes what a lost $disconnect left
    display_name: str | None = None
    hello_at: str | None = None  # set by `hello`: only then does the connection take part

    @property
    def ready(self) -> bool:
        return self.hello_at is not None

    @property
    def peer_role(self) -> str:
        return other_role(self.role)

    def is_of(self, identity: Identity) -> bool:
        return self.connection_id == identity.connection_id


@dataclass(frozen=True)
class CallConnections:
    """Both roles' connections to one call, as one read finds them."""

    agent: Connection | None = None
    guest: Connection | None = None

    def of(self, role: str) -> Connection | None:
        return self.agent if role == AGENT else self.guest

    def peer_of(self, role: str) -> Connection | None:
        return self.of(other_role(role))

    def __iter__(self) -> Iterator[Connection]:
        return iter([connection for connection in (self.agent, self.guest) if connection is not None])


@dataclass(frozen=True)
class CallState:
    """What signaling needs of a call: whether it is still on."""

    ended: bool
    expires_at: int  # epoch seconds

    def live_at(self, now: float) -> bool:
        return not self.ended and now < self.expires_at


class ConnectionGone(Exception):
    """The socket is closed: API Gateway's GoneException (HTTP 410) to a post."""


class SignalingUnavailable(RuntimeError):
    """DynamoDB or the management API failed otherwise (throttled, timed out, refused)."""
