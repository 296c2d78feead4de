"""The API's routes: each path and its methods. One fact, read by the handler (which serves them),
the stack (which gives each path its resource in API Gateway) and the OpenAPI document.

Paths are spelled as API Gateway and OpenAPI spell them (`{callId}`); `resolver_path` gives
Powertools' spelling. Nothing is imported here, so the stack can read it without loading the
handler.
"""

from __future__ import annotations

import re

CALLS = "/api/calls"
CALL = "/api/calls/{callId}"
END = "/api/calls/{callId}/end"
JOIN = "/api/calls/{callId}/join"
RECORDINGS = "/api/calls/{callId}/recordings"
RECORDING_PARTS = "/api/calls/{callId}/recordings/{recordingId}/parts"
RECORDING_COMPLETE = "/api/calls/{callId}/recordings/{recordingId}/complete"

# Each path's methods, for its preflight and for the 405 (with `Allow`) of any other method on it.
ROUTES: dict[str, tuple[str, ...]] = {
    CALLS: ("GET", "POST"),
    CALL: ("GET",),
    END: ("POST",),
    JOIN: ("POST",),
    RECORDINGS: ("GET", "POST"),
    RECORDING_PARTS: ("POST",),
    RECORDING_COMPLETE: ("POST",),
}


def resolver_path(path: str) -> str:
    """`/api/calls/{callId}` as Powertools' resolver spells it: `/api/calls/<call_id>`."""
    return re.sub(r"\{(\w+)\}", lambda name: f"<{_snake_case(name.group(1))}>", path)


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
