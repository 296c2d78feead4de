"""Starting and stopping the local services' processes, shared by the runner, the tests and the bench."""

from __future__ import annotations

import http.client
import subprocess
import time
from pathlib import Path


class ServiceDidNotStart(RuntimeError):
    pass


def stop(process: subprocess.Popen[bytes], grace_seconds: float = 10) -> None:
    """SIGTERM, then SIGKILL if the process has not left within the grace period."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_local_api(
    port: int, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60
) -> None:
    """Until `python -m localrun` on `port` answers its readiness path; its log if it dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise ServiceDidNotStart(f"the local server exited early:\n{tail}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/__ready__")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise ServiceDidNotStart(f"the local server did not answer within {timeout:.0f} s")
