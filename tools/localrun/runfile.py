"""Where a running `make run` listens, left in `.local/run.json` for `make invoke` and `callsctl --local`.

Written once the server listens, removed when it stops. A reader trusts it only while the process
that wrote it is alive, so a file left by a killed run is ignored (and replaced by the next run).
Standard library only: callsctl reads it too.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUN_FILE_NAME = "run.json"


class LocalRunError(RuntimeError):
    pass


def local_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The local run's folder: its data, logs and run file (LOCAL_RUN_DIR, default `.local/`)."""
    configured = environ.get("LOCAL_RUN_DIR", "").strip()
    return Path(configured) if configured else PROJECT_ROOT / ".local"


@dataclass(frozen=True)
class LocalRun:
    pid: int
    api_url: str
    dynamodb_endpoint: str
    join_base_url: str
    # The local S3 server that keeps recordings (S3_ENDPOINT_URL), where it runs one.
    s3_endpoint: str | None = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_local_run(directory: Path) -> LocalRun | None:
    """The local run recorded in `directory`, if its process is still alive."""
    try:
        recorded = json.loads((directory / RUN_FILE_NAME).read_text(encoding="utf-8"))
        run = LocalRun(
            pid=int(recorded["pid"]),
            api_url=str(recorded["apiUrl"]),
            dynamodb_endpoint=str(recorded["dynamodbEndpoint"]),
            join_base_url=str(recorded["joinBaseUrl"]),
            s3_endpoint=str(recorded["s3Endpoint"]) if recorded.get("s3Endpoint") else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return run if _alive(run.pid) else None


def _as_json(run: LocalRun) -> str:
    fields = asdict(run)
    return json.dumps(
        {
            "pid": fields["pid"],
            "apiUrl": fields["api_url"],
            "dynamodbEndpoint": fields["dynamodb_endpoint"],
            "joinBaseUrl": fields["join_base_url"],
            "s3Endpoint": fields["s3_endpoint"],
        },
        indent=2,
    )


def refuse_a_second_run(directory: Path) -> None:
    running = read_local_run(directory)
    if running is not None and running.pid != os.getpid():
        raise LocalRunError(
            f"a local run (pid {running.pid}) is already serving {running.api_url} from {directory}; "
            "stop it first, or give this one another LOCAL_RUN_DIR"
        )


@contextlib.contextmanager
def recorded_local_run(directory: Path, run: LocalRun) -> Iterator[Path]:
    """Write the run file for the length of the block; remove it after, if it is still ours."""
    refuse_a_second_run(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RUN_FILE_NAME
    partial = path.with_name(f".{RUN_FILE_NAME}.{os.getpid()}")
    partial.write_text(_as_json(run) + "\n", encoding="utf-8")
    partial.replace(path)
    try:
        yield path
    finally:
        current = read_local_run(directory)
        if current is None or current.pid == run.pid:
            path.unlink(missing_ok=True)
