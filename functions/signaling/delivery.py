"""Sending one frame to one connection: the step every use case shares.

A post that meets a closed socket (GoneException) removes that connection's item, but only while
the item is still that connection's: a newer connection of the role is never touched. So a
connection whose $disconnect was lost stops being anyone's peer the first time it is written to.
"""

from __future__ import annotations

from signaling.models import Connection, ConnectionGone, Identity
from signaling.ports import Ports


def send(ports: Ports, to: Connection | Identity, message: bytes) -> bool:
    """Post `message` to `to`; False when its socket was gone (its item is then removed)."""
    try:
        ports.sockets.post(to.connection_id, message)
    except ConnectionGone:
        ports.connections.remove(to.call_id, to.role, to.connection_id)
        return False
    return True
