"""$disconnect: the connection's item goes, and the other party is told `peer-left`, when the
closing connection was its role's live one and had said hello. A connection that was replaced
(its item now a newer connection's) or closed because the call ended removes nothing and tells
nobody: the conditional delete finds the item not its own, or gone."""

from __future__ import annotations

from signaling import messages
from signaling.delivery import send
from signaling.models import Identity
from signaling.ports import Ports


def disconnect(identity: Identity, *, ports: Ports) -> None:
    gone = ports.connections.remove(identity.call_id, identity.role, identity.connection_id)
    if gone is None or not gone.ready:
        return
    peer = ports.connections.get(identity.call_id, gone.peer_role)
    if peer is not None and peer.ready:
        send(ports, peer, messages.peer_left(identity.role))
