"""infra/function_asset.py: the functions' asset with unchecked-hash bytecode of the runtime's Python."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from infra.function_asset import (
    FUNCTIONS_DIR,
    TASK_ROOT,
    BytecodeSkipped,
    bytecode_path,
    runtime_cache_tag,
    stage_function_asset,
)
from tests.conftest import ROOT


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def copy_with_mtime(source: Path, destination: Path, mtime: int) -> Path:
    """functions/ as another checkout would have it: the same files, other timestamps."""
    for path in sorted(source.rglob("*.py")):
        copied = destination / path.relative_to(source)
        copied.parent.mkdir(parents=True, exist_ok=True)
        copied.write_bytes(path.read_bytes())
        os.utime(copied, (mtime, mtime))
    return destination


def test_the_runtime_cache_tag_is_this_pythons() -> None:
    assert runtime_cache_tag("python3.13") == "cpython-313"
    assert runtime_cache_tag() == sys.implementation.cache_tag, (
        "make deps: the venv is not the Lambda's Python"
    )


def test_identical_sources_give_identical_bytes_whatever_their_mtimes(tmp_path: Path) -> None:
    first = copy_with_mtime(FUNCTIONS_DIR, tmp_path / "checkout-1", 1_000_000_000)
    second = copy_with_mtime(FUNCTIONS_DIR, tmp_path / "checkout-2", 1_700_000_000)
    one = stage_function_asset(tmp_path / "asset-1", first)
    other = stage_function_asset(tmp_path / "asset-2", second)
    assert one.compiled == one.modules == len(list(FUNCTIONS_DIR.rglob("*.py")))
    assert tree(one.path) == tree(other.path)


def test_the_bytes_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    # String hashing is randomized per process; a set of strings must still marshal alike.
    build = (
        "import sys; from pathlib import Path; from infra.function_asset import stage_function_asset; "
        "stage_function_asset(Path(sys.argv[1]))"
    )
    for seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-c", build, str(tmp_path / seed)], cwd=ROOT, env=environment, check=True
        )
    assert tree(tmp_path / "1") == tree(tmp_path / "2")


def test_stale_bytecode_never_ships_and_code_names_its_file_under_var_task(tmp_path: Path) -> None:
    source = tmp_path / "functions"
    (source / "calls" / "__pycache__").mkdir(parents=True)
    (source / "calls" / "__init__.py").write_text("")
    (source / "calls" / "handler.py").write_text("VALUE = 'shipped'\n")
    (source / "calls" / "stale.pyc").write_bytes(b"\0")
    (source / "calls" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    (source / ".mypy_cache").mkdir()
    (source / ".mypy_cache" / "x.json").write_text("{}")
    staged = stage_function_asset(tmp_path / "asset", source)
    tag = runtime_cache_tag()
    assert set(tree(staged.path)) == {
        "calls/__init__.py",
        "calls/handler.py",
        f"calls/__pycache__/__init__.{tag}.pyc",
        f"calls/__pycache__/handler.{tag}.pyc",
    }
    assert (
        f"{TASK_ROOT}/calls/handler.py".encode()
        in bytecode_path(staged.path / "calls" / "handler.py", tag).read_bytes()
    )


def test_the_runtime_loads_the_bytecode_without_checking_the_source(tmp_path: Path) -> None:
    source = tmp_path / "functions"
    (source / "calls").mkdir(parents=True)
    (source / "calls" / "__init__.py").write_text("")
    (source / "calls" / "handler.py").write_text("VALUE = 'compiled'\n")
    staged = stage_function_asset(tmp_path / "task", source)
    # An unchecked-hash .pyc is used even when the source beside it says otherwise: proof that
    # the import system loads the bytecode rather than compiling the source again.
    (staged.path / "calls" / "handler.py").write_text("VALUE = 'recompiled'\n")
    loaded = subprocess.run(
        [sys.executable, "-S", "-c", "import calls.handler as h; print(h.VALUE, h.__file__)"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(staged.path), "PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert loaded == ["compiled", str(staged.path / "calls" / "handler.py")]


def test_another_python_ships_sources_only_with_a_warning(tmp_path: Path) -> None:
    with pytest.warns(BytecodeSkipped, match="python3.99 runtime loads only cpython-399 bytecode"):
        staged = stage_function_asset(tmp_path / "asset", runtime="python3.99")
    assert staged.compiled == 0
    assert staged.modules == len(list(FUNCTIONS_DIR.rglob("*.py")))
    assert not list(staged.path.rglob("*.pyc"))


def test_sources_only_on_request_and_without_a_warning(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        staged = stage_function_asset(tmp_path / "asset", bytecode=False)
    assert (staged.compiled, list(staged.path.rglob("*.pyc"))) == (0, [])
