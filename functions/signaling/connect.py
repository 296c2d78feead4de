"""Opening a signaling connection: the $connect authorizer, then $connect itself.

The authorizer admits a token the join issued (calls.signaling_tokens), for a call that is still
on, once: the token's nonce is recorded with a conditional write, so a second use is refused
however close behind the first it comes. Its decision names the call and the role, which API
Gateway hands to every later event of the connection.

$connect makes the connection its role's live one: one live connection per role. A newer
connection of a role replaces the older (a reload, a second device): the older is told
`replaced` and closed, and its later $disconnect finds the item no longer its own, so it removes
nothing and tells nobody. The call is read again after the write: an end committed before that
read refuses the connection, and one committed after it finds the connection in the table when
the calls stream is handled (signaling.call_ended). Either way no socket outlives its call.

A recording belongs to the agent's live connection (signaling.disconnect). An agent's page that
is told `replaced` stops and completes its own recording, the last part included. One already
gone (the post finds no socket: a tab closed while its network was down) never will: $connect
says so, and the handler completes them from the parts that arrived, so that the newer page can
record anew. A failure there is logged and never refuses the connection (the call's end completes
them anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from calls.signaling_tokens import InvalidSignalingToken, verify_token

from signaling import messages
from signaling.models import AGENT, Connection, ConnectionGone, Identity
from signaling.ports import CallsTable, ConnectionsTable, Ports

# API Gateway closes a WebSocket after two hours: an item older than this is a lost $disconnect's.
CONNECTION_TTL_SECONDS = 3 * 3600


class Refused(Exception):
    """The handshake is refused. `reason` is for the logs: the client learns nothing of it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Admitted:
    call_id: str
    role: str


@dataclass(frozen=True)
class Opened:
    """What $connect did: `live` False when the call is over (refuse the connection);
    `recordings_left` when it replaced an agent connection already gone, whose recordings in
    progress no page will complete."""

    live: bool
    recordings_left: bool = False


def authorize(
    token: str | None, *, key: bytes, calls: CallsTable, connections: ConnectionsTable, now: float
) -> Admitted:
    """The call and role a token opens, once; Refused for a missing, wrong, expired or used token
    and for a token of a call that is unknown, ended or expired. Costs a GetItem of the call
    and one conditional PutItem, only for a token that verifies."""
    try:
        granted = verify_token(key, token, now)
    except InvalidSignalingToken as invalid:
        raise Refused(f"token {invalid.reason}") from None
    state = calls.call_state(granted.call_id)
    if state is None:
        raise Refused("unknown call")
    if not state.live_at(now):
        raise Refused("call ended" if state.ended else "call expired")
    if not connections.use_token(granted.call_id, granted.use_key, granted.expires_at):
        raise Refused("token used")
    return Admitted(call_id=granted.call_id, role=granted.role)


def connect(identity: Identity, *, ports: Ports, now: float) -> Opened:
    """Make the connection its role's live one, unless the call is over."""
    connection = Connection(
        call_id=identity.call_id,
        role=identity.role,
        connection_id=identity.connection_id,
        connected_at=_timestamp(now),
        expires_at=int(now) + CONNECTION_TTL_SECONDS,
    )
    replaced = ports.connections.put(connection)
    state = ports.calls.call_state(identity.call_id)
    live = state is not None and state.live_at(now)
    left = False
    if replaced is not None and not replaced.is_of(identity):
        reached = _close(ports, replaced.connection_id, messages.REPLACED if live else messages.CALL_ENDED)
        left = live and not reached and identity.role == AGENT
    if not live:
        ports.connections.remove(identity.call_id, identity.role, identity.connection_id)
    return Opened(live=live, recordings_left=left)


def _close(ports: Ports, connection_id: str, farewell: bytes) -> bool:
    """Say why, then close; False when the socket was gone already. Its item is no longer its
    own: nothing to remove either way."""
    try:
        ports.sockets.post(connection_id, farewell)
    except ConnectionGone:
        return False
    ports.sockets.close(connection_id)
    return True


def _timestamp(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
