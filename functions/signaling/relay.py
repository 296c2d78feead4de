"""`signal`: the sender's `data`, unchanged, to the other party of the same call, and only to it.

The warm path is one consistent Query of the call's partition (the sender's own item, to know it
said hello, and the peer's) and one post. The call is the sender's own, from its token: a frame
names no call and no connection, so nothing ever crosses calls.
"""

from __future__ import annotations

from typing import Any

from signaling import messages
from signaling.delivery import send
from signaling.models import Identity
from signaling.ports import Ports


def relay(identity: Identity, data: dict[str, Any], *, ports: Ports) -> None:
    both = ports.connections.of_call(identity.call_id)
    sender = both.of(identity.role)
    if sender is None or not sender.is_of(identity) or not sender.ready:
        send(ports, identity, messages.NOT_READY_ERROR)
        return
    peer = both.peer_of(identity.role)
    if peer is None or not peer.ready:
        send(ports, identity, messages.PEER_NOT_CONNECTED_ERROR)
        return
    if not send(ports, peer, messages.signal(identity.role, data)):
        # Its socket had closed without a $disconnect yet: the sender learns it now.
        send(ports, identity, messages.peer_left(peer.role))
