"""`hello`: a connection takes part under a name. It is answered `ready`, naming the other party
if that one has said hello too; the other party is told `peer-joined`.

Two parties saying hello at the same moment may each see the other in `ready` and also get
`peer-joined`: a client treats a `peer-joined` for the peer it knows as that peer starting over.
"""

from __future__ import annotations

from signaling import messages
from signaling.delivery import send
from signaling.models import Identity
from signaling.ports import Ports


def hello(identity: Identity, display_name: str, *, ports: Ports, hello_at: str) -> None:
    """An update of the connection's own item, one read of both roles, and the two messages. A
    connection that is not its role's live one any more (replaced, or its call ended) is closed."""
    if not ports.connections.say_hello(identity, display_name, hello_at):
        ports.sockets.close(identity.connection_id)
        return
    peer_connection = ports.connections.of_call(identity.call_id).peer_of(identity.role)
    peer = None
    if peer_connection is not None and peer_connection.ready:
        joined = messages.peer_joined(messages.Peer(identity.role, display_name))
        if send(ports, peer_connection, joined):
            peer = messages.Peer(peer_connection.role, peer_connection.display_name or "")
    send(ports, identity, messages.ready(identity.role, peer))
