"""$disconnect: the connection's item goes, and the other party is told `peer-left`, when the
closing connection was its role's live one and had said hello. A connection that was replaced
(its item now a newer connection's) or closed because the call ended removes nothing and tells
nobody: the conditional delete finds the item not its own, or gone.

When the agent's live connection ends, its page is gone (a closed tab, a lost network): every
recording of the call still in progress is completed from the parts that arrived (docs/behaviour.md
section 10), after the peer was told. A replaced connection finishes nothing: the newer page is the
agent's now; a call's end finishes its recordings itself (signaling.call_ended)."""

from __future__ import annotations

from signaling import messages
from signaling.delivery import send
from signaling.models import AGENT, Identity
from signaling.ports import Ports


def disconnect(identity: Identity, *, ports: Ports) -> int:
    """How many recordings the disconnect completed."""
    gone = ports.connections.remove(identity.call_id, identity.role, identity.connection_id)
    if gone is None:
        return 0
    if gone.ready:
        peer = ports.connections.get(identity.call_id, gone.peer_role)
        if peer is not None and peer.ready:
            send(ports, peer, messages.peer_left(identity.role))
    if identity.role != AGENT:
        return 0
    return ports.recordings.finish(identity.call_id)
