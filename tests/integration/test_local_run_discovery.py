"""`make run` on other ports leaves where it listens for `make invoke` and `callsctl --local`, and no
second DynamoDB Local ever opens its data folder.

What the issue saw: with `PORT=3417 DYNAMODB_LOCAL_PORT=8417 make run`, `make invoke` started a
second DynamoDB Local on :8000 over the same `.local/` data, and `callsctl --local` could not
reach :8000. Here a local run starts its own DynamoDB Local on ports of its own, in a folder of
the test's (LOCAL_RUN_DIR), as `make run` does in `.local/`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY
from localrun.dynamodb_local import DynamoDBLocalError, free_port, running_dynamodb_local
from localrun.processes import stop, wait_for_local_api
from localrun.runfile import RUN_FILE_NAME, read_local_run

from tests.conftest import ROOT
from tests.services import HttpResult, LocalApi

pytestmark = pytest.mark.integration

CALLSCTL = Path(sys.executable).parent / "callsctl"
# What the session's fixtures put into this process's environment; a developer's shell has none.
DEMO = {"X-App-Id": DEMO_APP_ID, "X-Widget-Key": DEMO_WIDGET_KEY}
FIXTURE_VARIABLES = ("DYNAMODB_ENDPOINT_URL", "_TABLE_NAME", "JOIN_BASE_URL", "SIGNALING_", "CACHE_TTL")


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    directory: Path
    api: LocalApi
    dynamodb_port: int
    environment: dict[str, str]


def developer_environment(directory: Path) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not any(part in name for part in FIXTURE_VARIABLES) and not name.startswith(("MAKE", "MFLAGS"))
    }
    return {**inherited, "LOCAL_RUN_DIR": str(directory), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    directory = tmp_path_factory.mktemp("local-run")
    port, dynamodb_port = free_port(), free_port()
    environment = developer_environment(directory)
    log_path = directory / "make-run.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localrun"],
            cwd=ROOT,
            env={**environment, "PORT": str(port), "DYNAMODB_LOCAL_PORT": str(dynamodb_port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_local_api(port, process, log_path, timeout=120)
            api = LocalApi(f"http://127.0.0.1:{port}", port, log_path, environment)
            yield Run(process, directory, api, dynamodb_port, environment)
        finally:
            stop(process)


def test_the_run_file_says_where_the_local_run_listens(local_run: Run) -> None:
    recorded = json.loads((local_run.directory / RUN_FILE_NAME).read_text(encoding="utf-8"))

    s3_endpoint = recorded.pop("s3Endpoint")
    assert recorded == {
        "pid": local_run.process.pid,
        "apiUrl": local_run.api.base_url,
        "dynamodbEndpoint": f"http://127.0.0.1:{local_run.dynamodb_port}",
        "joinBaseUrl": local_run.api.base_url,
    }
    # The recordings' local S3 (moto's server), on loopback, answering.
    assert s3_endpoint.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(s3_endpoint, timeout=5) as answer:
        assert answer.status == 200


def test_the_local_runs_join_links_lead_to_its_own_page(local_run: Run) -> None:
    created: HttpResult = local_run.api.request(headers=DEMO)

    assert created.status == 201, created.body
    data = created.body["data"]
    assert data["guestJoinUrl"] == f"{local_run.api.base_url}/c/{data['callId']}"
    assert data["hostJoinUrl"].startswith(f"{local_run.api.base_url}/c/{data['callId']}?role=agent&")


def test_make_invoke_uses_the_running_database(local_run: Run) -> None:
    invoked = subprocess.run(
        [sys.executable, "-m", "localrun.invoke", "events/minimal.json"],
        cwd=ROOT,
        env=local_run.environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert invoked.returncode == 0, invoked.stderr
    assert f"127.0.0.1:{local_run.dynamodb_port}" in invoked.stderr
    assert "DynamoDB Local on" not in invoked.stderr, "a second DynamoDB Local was started"
    result = json.loads(invoked.stdout)
    assert result["statusCode"] == 201
    call_id = json.loads(result["body"])["data"]["callId"]
    # Written to the running run's database: its API reads the call back.
    read = local_run.api.request("GET", f"/api/calls/{call_id}", headers=DEMO)
    assert read.status == 200, read.body


def test_callsctl_local_finds_the_running_database(local_run: Run) -> None:
    shown = subprocess.run(
        [str(CALLSCTL), "--local", "--json", "apps", "show", DEMO_APP_ID],
        env=local_run.environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["appId"] == DEMO_APP_ID


def test_a_second_local_run_on_the_same_folder_is_refused(local_run: Run) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "localrun"],
        cwd=ROOT,
        env={**local_run.environment, "PORT": str(free_port()), "DYNAMODB_LOCAL_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert second.returncode == 1
    assert f"pid {local_run.process.pid}" in second.stderr
    assert "Traceback" not in second.stderr


def test_no_second_dynamodb_local_opens_the_data_folder(local_run: Run) -> None:
    with (
        pytest.raises(DynamoDBLocalError, match="already open in a DynamoDB Local"),
        running_dynamodb_local(free_port(), local_run.directory / "dynamodb"),
    ):
        pass


def test_a_port_something_listens_on_is_refused(local_run: Run) -> None:
    with (
        pytest.raises(DynamoDBLocalError, match=f"already listens on port {local_run.dynamodb_port}"),
        running_dynamodb_local(local_run.dynamodb_port),
    ):
        pass


def test_the_run_file_is_removed_on_exit(local_run: Run, tmp_path: Path) -> None:
    """A run of its own (the module's must outlive the other tests), on the same database, stopped
    with Ctrl-C's signal."""
    environment = developer_environment(tmp_path)
    environment["DYNAMODB_ENDPOINT_URL"] = f"http://127.0.0.1:{local_run.dynamodb_port}"
    port = free_port()
    log_path = tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localrun"],
            cwd=ROOT,
            env={**environment, "PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_local_api(port, process, log_path, timeout=120)
            assert read_local_run(tmp_path) is not None
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                stop(process)

    assert not (tmp_path / RUN_FILE_NAME).exists()
    assert read_local_run(tmp_path) is None
