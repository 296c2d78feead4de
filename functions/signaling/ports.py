"""What the signaling use cases need from the outside world: the connections table, the calls
table (read only), API Gateway's management API and the call's recordings. The function gets the
AWS implementations (signaling.adapters); the tests pass in-memory ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from signaling.models import CallConnections, CallState, Connection, Identity


class ConnectionsTable(Protocol):
    def use_token(self, call_id: str, use_key: str, expires_at: int) -> bool:
        """Record a token as used, once: False when it was used before."""
        ...

    def put(self, connection: Connection) -> Connection | None:
        """Make `connection` its role's live connection; return the one it replaced, if any."""
        ...

    def say_hello(self, identity: Identity, display_name: str, hello_at: str) -> bool:
        """Mark the connection ready under this name; False when it is not its role's live one."""
        ...

    def of_call(self, call_id: str) -> CallConnections:
        """Both roles' connections, in one consistent read."""
        ...

    def get(self, call_id: str, role: str) -> Connection | None:
        """One role's connection, read consistently."""
        ...

    def remove(self, call_id: str, role: str, connection_id: str) -> Connection | None:
        """Remove the role's item only while it is still this connection's; return it if removed."""
        ...


class CallsTable(Protocol):
    def call_state(self, call_id: str) -> CallState | None:
        """The call's state, read consistently; None for a call that does not exist (any more)."""
        ...


class ManagementApi(Protocol):
    def post(self, connection_id: str, message: bytes) -> None:
        """Send one frame; ConnectionGone when the socket is closed."""
        ...

    def close(self, connection_id: str) -> None:
        """Close the socket; one already closed is no error."""
        ...


class CallRecordings(Protocol):
    def finish(self, call_id: str) -> int:
        """Complete every recording of the call still recording from the parts that arrived
        (calls.finish_recording); how many there were."""
        ...


class NoRecordings:
    """For a function without the recordings (and the tests that need none): nothing to finish."""

    def finish(self, call_id: str) -> int:
        return 0


@dataclass(frozen=True)
class Ports:
    """Everything a message or a disconnect needs; the authorizer and $connect read calls too."""

    connections: ConnectionsTable
    sockets: ManagementApi
    calls: CallsTable
    recordings: CallRecordings = field(default_factory=NoRecordings)
