"""Fixtures every test may use: a clean configuration and the sample events."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return event


def clear_cached_state() -> None:
    """Forget configuration, clients and the app cache, so each test starts as a cold container."""
    from calls import wiring

    wiring.reset()
    # The signaling function's clients and settings, if a test loaded them (never imported here:
    # some tests hide the package to see the local run without it).
    signaling_adapters = sys.modules.get("signaling.adapters")
    if signaling_adapters is not None:
        signaling_adapters.reset()


@pytest.fixture(autouse=True)
def _isolated_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "JOIN_BASE_URL",
        "CACHE_TTL_SECONDS",
        "SIGNALING_URL",
        "SIGNALING_TOKEN_KEY",
        "SIGNALING_CALLBACK_URL",
        "ICE_PROVIDER",
        "ICE_SERVERS",
    ):
        monkeypatch.delenv(name, raising=False)
    clear_cached_state()
    yield
    clear_cached_state()


# The shared services (DynamoDB Local, the local API), defined once for every test package.
from tests.services import (  # noqa: E402
    admin,
    db_environment,
    dynamodb_endpoint,
    local_api,
    make_app,
    prepared_endpoint,
)

__all__ = ["admin", "db_environment", "dynamodb_endpoint", "local_api", "make_app", "prepared_endpoint"]
