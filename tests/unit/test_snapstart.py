"""The SnapStart hooks, registered with the runtime's own hook library and run the way the runtime
runs them: before the snapshot, the first request's building; after each restore, a fresh seed."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from typing import Any

import pytest
import snapshot_restore_py
from calls import repository, snapstart

Hooks = list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]


@pytest.fixture
def runtime_hooks(monkeypatch: pytest.MonkeyPatch) -> tuple[Hooks, Hooks]:
    """Empty registries, read by the runtime through get_before_snapshot() / get_after_restore()."""
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    return snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()


def run(hooks: Hooks) -> None:
    for function, args, kwargs in hooks:
        function(*args, **kwargs)


def test_the_builder_runs_before_the_snapshot(runtime_hooks: tuple[Hooks, Hooks]) -> None:
    before_snapshot, after_restore = runtime_hooks
    built: list[str] = []

    assert snapstart.register_hooks(lambda: built.append("service")) is True
    assert built == []  # registering builds nothing: init would pay for it without SnapStart
    run(before_snapshot)
    assert built == ["service"]
    assert [function for function, _, _ in after_restore] == [snapstart.renew_after_restore]


def test_without_the_runtimes_hook_library_nothing_is_registered(
    runtime_hooks: tuple[Hooks, Hooks], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # as outside Lambda: ImportError
    built: list[str] = []

    assert snapstart.register_hooks(lambda: built.append("service")) is False
    assert runtime_hooks == ([], [])
    assert built == []


def test_environments_restored_from_one_snapshot_draw_different_random_numbers() -> None:
    snapshot = random.getstate()

    def first_draw_after_restore(renew: bool) -> float:
        random.setstate(snapshot)
        if renew:
            snapstart.renew_after_restore()
        return random.random()

    try:
        # Without the hook, every restored environment would draw the same jitter.
        assert first_draw_after_restore(renew=False) == first_draw_after_restore(renew=False)
        assert first_draw_after_restore(renew=True) != first_draw_after_restore(renew=True)
    finally:
        random.seed()


def test_a_restore_never_builds_a_client_that_was_not_built_before_the_snapshot() -> None:
    snapstart.renew_after_restore()
    assert repository.get_repository.cache_info().currsize == 0
