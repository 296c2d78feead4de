"""The functions' asset as it ships: functions/ with the bytecode that Lambda would otherwise compile
at every cold start.

Lambda's /var/task is read-only, so Python cannot cache there the modules it compiles: an asset of
sources alone pays for compiling every module it imports at every cold start (10-13 ms, 5%, of a
create's in `make bench`). The asset is therefore a staging copy of functions/ in which every
module is compiled ahead, by the Lambda's Python minor (infra.config.LAMBDA_RUNTIME), into the
`__pycache__/<module>.cpython-313.pyc` that its import system looks for.

The bytecode is unchecked-hash (PEP 552): a .pyc that records a hash of its source instead of the
source's mtime, and that the import system loads without reading the source to check it. Identical
sources therefore give identical bytes whatever the checkout's timestamps, so the CDK's asset hash
(a fingerprint of the files' paths and contents) is the same on every machine and every synth, and
an unchanged function is not redeployed. Every code object names its file under /var/task, where
Lambda unpacks it, not under this build's scratch directory (the import system renames them to the
real location anyway, but the bytes must not depend on it).

The sources ship too: tracebacks and log lines quote them, and a Python that cannot use the
bytecode falls back to them. Without them a cold start was no faster (README, Performance).

Only a Python of the runtime's minor can write bytecode the runtime accepts (the magic number
changes with each minor): any other ships sources only, with a warning.

This is the one place the asset is built: infra/lambda_defaults.py stages it for every function, and
`make bench` (bench/asset.py) measures it.
"""

from __future__ import annotations

import py_compile
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from infra.config import LAMBDA_RUNTIME

FUNCTIONS_DIR = Path(__file__).resolve().parents[1] / "functions"
# What never ships even if a test run left it behind in functions/: stale bytecode (of any Python)
# is dropped before the asset's own is compiled.
EXCLUDED = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache")
# Where Lambda unpacks the asset: the file name each code object records.
TASK_ROOT = "/var/task"


class BytecodeSkipped(UserWarning):
    """The asset ships sources only: this Python cannot write the runtime's bytecode."""


@dataclass(frozen=True)
class StagedAsset:
    path: Path
    modules: int  # the .py files shipped
    compiled: int  # the .pyc files shipped beside them (0 or `modules`)


def runtime_cache_tag(runtime: str = LAMBDA_RUNTIME) -> str:
    """The cache tag of the runtime's CPython: python3.13 -> cpython-313."""
    major, minor = runtime.removeprefix("python").split(".")
    return f"cpython-{major}{minor}"


def bytecode_path(source: Path, cache_tag: str) -> Path:
    """Where the runtime's import system looks for a module's bytecode.

    Not importlib.util.cache_from_source, which would follow this machine's PYTHONPYCACHEPREFIX.
    """
    return source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"


# What each function ships: its own package and the packages it imports, nothing else. The API
# function's cold start and its asset budget (make bench) concern calls/ alone; and a function
# cannot import what it does not ship.
API_PACKAGES = ("calls",)
EVENTS_PACKAGES = ("calls", "callevents")
SIGNALING_PACKAGES = ("calls", "signaling")


def stage_function_asset(
    destination: Path,
    source: Path = FUNCTIONS_DIR,
    *,
    packages: tuple[str, ...] | None = None,
    bytecode: bool = True,
    runtime: str = LAMBDA_RUNTIME,
) -> StagedAsset:
    """Copy `source` (only its `packages`, when given) into `destination` (which must not exist)
    and compile every module there.

    With `bytecode=False`, or on a Python of another minor than the runtime's, sources only.
    """
    if packages is None:
        shutil.copytree(source, destination, ignore=shutil.ignore_patterns(*EXCLUDED))
    else:
        destination.mkdir(parents=True)
        for package in packages:
            shutil.copytree(source / package, destination / package, ignore=shutil.ignore_patterns(*EXCLUDED))
    modules = sorted(destination.rglob("*.py"))
    cache_tag = runtime_cache_tag(runtime)
    if not bytecode:
        return StagedAsset(destination, len(modules), 0)
    if sys.implementation.cache_tag != cache_tag:
        warnings.warn(
            f"the function asset ships without bytecode: it is built by {sys.implementation.cache_tag}, "
            f"the {runtime} runtime loads only {cache_tag} bytecode, so every cold start compiles "
            f"every module (run make deps to get a {runtime.removeprefix('python')} venv)",
            BytecodeSkipped,
            stacklevel=2,
        )
        return StagedAsset(destination, len(modules), 0)
    for module in modules:
        relative = module.relative_to(destination).as_posix()
        py_compile.compile(
            str(module),
            cfile=str(bytecode_path(module, cache_tag)),
            dfile=f"{TASK_ROOT}/{relative}",
            doraise=True,
            optimize=0,  # Lambda runs python without -O: the plain .pyc, whatever this process runs
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    return StagedAsset(destination, len(modules), len(modules))
