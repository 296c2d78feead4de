"""The local run's own defaults (the app cache off, its own addresses) and its run file."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import localrun.__main__ as localrun_main
import pytest
from calls.settings import get_settings
from localrun.__main__ import apply_local_addresses, apply_local_run_defaults
from localrun.runfile import (
    PROJECT_ROOT,
    RUN_FILE_NAME,
    LocalRun,
    LocalRunError,
    local_dir,
    read_local_run,
    recorded_local_run,
)


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


# Where the functions find the local run


def test_the_local_runs_links_and_signaling_lead_to_itself() -> None:
    environ: dict[str, str] = {}
    apply_local_addresses(environ, 3417)

    assert environ["JOIN_BASE_URL"] == "http://127.0.0.1:3417"
    assert environ["SIGNALING_URL"] == "ws://127.0.0.1:3417/ws"
    assert environ["SIGNALING_CALLBACK_URL"] == "http://127.0.0.1:3417/__connections__"
    assert len(environ["SIGNALING_TOKEN_KEY"]) >= 32


def test_the_developers_addresses_and_key_are_kept_but_not_the_management_api() -> None:
    """A tunnel for the links and the socket is the developer's choice; the connections live here."""
    chosen = {
        "JOIN_BASE_URL": "https://tunnel.example",
        "SIGNALING_URL": "wss://tunnel.example/ws",
        "SIGNALING_TOKEN_KEY": "k" * 40,
        "SIGNALING_CALLBACK_URL": "https://elsewhere.example",
    }
    environ = dict(chosen)
    apply_local_addresses(environ, 3000)

    assert {name: environ[name] for name in ("JOIN_BASE_URL", "SIGNALING_URL", "SIGNALING_TOKEN_KEY")} == {
        name: chosen[name] for name in ("JOIN_BASE_URL", "SIGNALING_URL", "SIGNALING_TOKEN_KEY")
    }
    assert environ["SIGNALING_CALLBACK_URL"] == "http://127.0.0.1:3000/__connections__"


def test_each_local_run_gets_a_signaling_key_of_its_own() -> None:
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    apply_local_addresses(first, 3000)
    apply_local_addresses(second, 3000)

    assert first["SIGNALING_TOKEN_KEY"] != second["SIGNALING_TOKEN_KEY"]


# The run file


def test_a_run_file_of_a_process_that_is_gone_is_ignored_and_replaced(tmp_path: Path) -> None:
    # Above Linux's highest pid (2**22): no process has it.
    dead = LocalRun(pid=2**22 + 12345, api_url="http://127.0.0.1:1", dynamodb_endpoint="x", join_base_url="x")
    (tmp_path / RUN_FILE_NAME).write_text(
        json.dumps({"pid": dead.pid, "apiUrl": dead.api_url, "dynamodbEndpoint": "x", "joinBaseUrl": "x"})
    )
    assert read_local_run(tmp_path) is None

    mine = LocalRun(os.getpid(), "http://127.0.0.1:3000", "http://127.0.0.1:8000", "http://127.0.0.1:3000")
    with recorded_local_run(tmp_path, mine):
        assert read_local_run(tmp_path) == mine
    assert not (tmp_path / RUN_FILE_NAME).exists()


def test_a_live_run_in_the_folder_refuses_another(tmp_path: Path) -> None:
    other = LocalRun(os.getppid(), "http://127.0.0.1:3000", "http://127.0.0.1:8000", "http://127.0.0.1:3000")
    with recorded_local_run(tmp_path, other):
        with (
            pytest.raises(LocalRunError, match=f"pid {os.getppid()}"),
            recorded_local_run(tmp_path, LocalRun(os.getpid(), "u", "d", "j")),
        ):
            pass
        assert read_local_run(tmp_path) == other


@pytest.mark.parametrize("content", ["", "{", "[]", '{"pid": "x"}', '{"pid": 1}'])
def test_an_unreadable_run_file_is_no_run(tmp_path: Path, content: str) -> None:
    (tmp_path / RUN_FILE_NAME).write_text(content)
    assert read_local_run(tmp_path) is None


def test_the_local_folder_is_dot_local_unless_configured(tmp_path: Path) -> None:
    assert local_dir({}) == PROJECT_ROOT / ".local"
    assert local_dir({"LOCAL_RUN_DIR": str(tmp_path)}) == tmp_path


# The signaling function, plugged in where the checkout has it


def test_without_functions_signaling_the_local_run_serves_no_websocket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(localrun_main, "SIGNALING_DIR", tmp_path / "signaling")
    monkeypatch.setitem(sys.modules, "signaling", None)  # as if no such package
    monkeypatch.setitem(sys.modules, "signaling.handler", None)  # nor one another test imported

    assert localrun_main.load_signaling_handler() is None


def test_a_signaling_folder_that_does_not_import_is_said_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(localrun_main, "SIGNALING_DIR", tmp_path)
    monkeypatch.setitem(sys.modules, "signaling", None)
    monkeypatch.setitem(sys.modules, "signaling.handler", None)

    with pytest.raises(localrun_main.SignalingNotImportable, match="make deps"):
        localrun_main.load_signaling_handler()


def test_the_signaling_functions_handler_is_the_one_plugged_in(monkeypatch: pytest.MonkeyPatch) -> None:
    def lambda_handler(event: dict[str, Any], context: Any) -> None:
        return None

    package, module = types.ModuleType("signaling"), types.ModuleType("signaling.handler")
    module.lambda_handler = lambda_handler  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "signaling", package)
    monkeypatch.setitem(sys.modules, "signaling.handler", module)

    assert localrun_main.load_signaling_handler() is lambda_handler
