"""A call ended, from anywhere (the API, `callsctl`, the agent's page, the Genesys panel), or
expired: each of its connections is told `call-ended` and closed, and its item removed; then every
recording of the call still in progress is completed from the parts that arrived (docs/behaviour.md
section 10).

Driven by the calls table's stream, beside the events function: every committed end (a MODIFY
that adds `endedAt`) and every removal of a call that had not ended (DynamoDB's TTL, hours late
at worst, or an operator's delete). A record handled twice closes nothing twice: the second
time the call has no connections left, and its recordings are finished already.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calls import tables

from signaling import messages
from signaling.models import ConnectionGone
from signaling.ports import Ports

ENDED = "ended"


def ended_call_id(record: Mapping[str, Any]) -> str | None:
    """The call a stream record ends, if it ends one (the record as Lambda delivers it)."""
    stream = record.get("dynamodb") or {}
    old, new = stream.get("OldImage") or {}, stream.get("NewImage") or {}
    kind = record.get("eventName")
    ends = (kind == "MODIFY" and "endedAt" in new and "endedAt" not in old) or (
        kind == "REMOVE" and old.get("status", {}).get("S") != ENDED
    )
    if not ends:
        return None
    key = (stream.get("Keys") or {}).get(tables.CALLS.partition_key.name, {}).get("S")
    return str(key) if key else None


def end_connections(call_id: str, *, ports: Ports) -> int:
    """Tell every connection of the call, then remove each item and close each socket; how many
    there were. Every party is told before any socket closes, and each item goes before its
    socket, so the $disconnect that follows finds nothing and tells nobody `peer-left`. Should a
    post fail otherwise than Gone, nothing is removed yet: the stream record's retry tells again."""
    connections = list(ports.connections.of_call(call_id))
    open_sockets = []
    for connection in connections:
        try:
            ports.sockets.post(connection.connection_id, messages.CALL_ENDED)
        except ConnectionGone:
            continue
        open_sockets.append(connection.connection_id)
    for connection in connections:
        ports.connections.remove(call_id, connection.role, connection.connection_id)
    for connection_id in open_sockets:
        ports.sockets.close(connection_id)
    return len(connections)


def end_call(call_id: str, *, ports: Ports) -> tuple[int, int]:
    """The call's connections closed, then its recordings finished: how many of each."""
    closed = end_connections(call_id, ports=ports)
    return closed, ports.recordings.finish(call_id)
