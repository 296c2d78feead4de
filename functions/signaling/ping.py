"""`ping`: answered `pong`, which keeps an idle socket open (API Gateway closes it after 10
minutes without a frame). No read: the cheapest message there is."""

from __future__ import annotations

from signaling import messages
from signaling.delivery import send
from signaling.models import Identity
from signaling.ports import Ports


def ping(identity: Identity, *, ports: Ports) -> None:
    send(ports, identity, messages.PONG)
