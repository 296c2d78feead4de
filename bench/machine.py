"""Where and from what a run came: the machine, the interpreter, the commit."""

from __future__ import annotations

import io
import os
import platform
import subprocess
import tarfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def _proc_field(path: str, name: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def machine_info() -> dict[str, Any]:
    memory = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "cpu_model": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "architecture": platform.machine(),
        "memory_mb": int(memory.split()[0]) // 1024 if memory else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "load_average_1m": os.getloadavg()[0],
    }


def _git(*args: str) -> str | None:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip()


def git_info() -> dict[str, Any]:
    """The commit, and whether functions/ (what is measured) differs from it."""
    status = _git("status", "--porcelain", "--", "functions")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "functions_modified": bool(status) if status is not None else None,
    }


class UnknownRevision(ValueError):
    pass


def export_functions(revision: str, destination: Path) -> tuple[Path, str]:
    """functions/ as it was at `revision`, written under `destination`; its path and the commit."""
    commit = _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if not commit:
        raise UnknownRevision(f"{revision!r} names no commit of this repository")
    archive = subprocess.run(  # noqa: S603 - fixed arguments and a verified commit
        ["git", "archive", "--format=tar", commit, "functions"],  # noqa: S607 - git from PATH
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return destination / "functions", commit
