"""What the local run serves besides the API (never part of the Lambda)."""

from __future__ import annotations

from collections.abc import Callable

StaticRoute = Callable[[], tuple[int, str, bytes]]


def _ready() -> tuple[int, str, bytes]:
    return 200, "application/json", b'{"ready":true}'


def static_routes() -> dict[str, StaticRoute]:
    """GET paths answered by the local server itself, each with a function giving status, type, body."""
    return {"/__ready__": _ready}
