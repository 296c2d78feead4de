"""The local run's own defaults: the app cache is off unless the developer sets it."""

from __future__ import annotations

import pytest
from calls.settings import get_settings
from localrun.__main__ import apply_local_run_defaults


@pytest.mark.parametrize("unset", [{}, {"CACHE_TTL_SECONDS": ""}, {"CACHE_TTL_SECONDS": "  "}])
def test_the_local_run_turns_the_app_cache_off(unset: dict[str, str]) -> None:
    environ = dict(unset)
    apply_local_run_defaults(environ)
    assert environ["CACHE_TTL_SECONDS"] == "0"


def test_a_cache_ttl_the_developer_sets_is_kept() -> None:
    environ = {"CACHE_TTL_SECONDS": "30"}
    apply_local_run_defaults(environ)
    assert environ == {"CACHE_TTL_SECONDS": "30"}


def test_the_deployed_default_stays_30_seconds() -> None:
    """Only the local run changes the default; the function's own is unchanged."""
    assert get_settings().cache_ttl_seconds == 30
