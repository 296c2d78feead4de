"""DynamoDB Local, started once per test session on loopback, and the local HTTP server over it.

Registered once for the whole suite by tests/conftest.py, so the integration and the
browser tests share one database and one server.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from callsctl.store import AdminStore, TableNames
from localrun.database import admin_store, prepare_database
from localrun.dynamodb_local import free_port, running_dynamodb_local
from localrun.processes import stop, wait_for_local_api
from localrun.runfile import read_local_run

from tests.conftest import ROOT

TABLE_NAMES = TableNames(
    apps="it-apps",
    calls="it-calls",
    idempotency="it-idempotency",
    webhooks="it-webhooks",
    connections="it-connections",
    recordings="it-recordings",
)


@pytest.fixture(scope="session")
def dynamodb_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("dynamodb") / "dynamodb-local.log"
    with running_dynamodb_local(log_path=log) as endpoint:
        yield endpoint


def table_environment(endpoint: str) -> dict[str, str]:
    return {
        "DYNAMODB_ENDPOINT_URL": endpoint,
        "APPS_TABLE_NAME": TABLE_NAMES.apps,
        "CALLS_TABLE_NAME": TABLE_NAMES.calls,
        "IDEMPOTENCY_TABLE_NAME": TABLE_NAMES.idempotency,
        "WEBHOOKS_TABLE_NAME": TABLE_NAMES.webhooks,
        "CONNECTIONS_TABLE_NAME": TABLE_NAMES.connections,
        "RECORDINGS_TABLE_NAME": TABLE_NAMES.recordings,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.fixture(scope="session")
def prepared_endpoint(dynamodb_endpoint: str) -> str:
    """The endpoint with every table created and the demo data seeded."""
    os.environ.update(table_environment(dynamodb_endpoint))
    prepare_database(admin_store(dynamodb_endpoint, TABLE_NAMES))
    return dynamodb_endpoint


@pytest.fixture
def db_environment(prepared_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the in-process handler at DynamoDB Local."""
    for name, value in table_environment(prepared_endpoint).items():
        monkeypatch.setenv(name, value)
    return prepared_endpoint


@pytest.fixture
def admin(prepared_endpoint: str) -> AdminStore:
    return admin_store(prepared_endpoint, TABLE_NAMES)


@dataclass(frozen=True)
class TestApp:
    __test__ = False  # a value, not a test class

    app_id: str
    widget_key: str


@pytest.fixture
def make_app(admin: AdminStore) -> Callable[..., TestApp]:
    """A fresh app of its own for a test that changes app data; presets as {id: settings}."""

    def create(
        *,
        status: str = "active",
        active_preset_id: str | None = None,
        presets: Mapping[str, dict[str, Any]] | None = None,
        allowed_origins: tuple[str, ...] = (),
        app_id: str | None = None,
        widget_key: str | None = None,
    ) -> TestApp:
        app_id = app_id or f"app-{secrets.token_hex(6)}"
        widget_key = widget_key or secrets.token_urlsafe(24)
        admin.put_app(
            app_id,
            name=f"Test {app_id}",
            status=status,
            active_preset_id=active_preset_id,
            allowed_origins=allowed_origins,
        )
        admin.add_key(app_id, "k1", widget_key)
        for preset_id, settings in (presets or {}).items():
            admin.put_preset(app_id, preset_id, settings)
        return TestApp(app_id, widget_key)

    return create


@dataclass
class HttpResult:
    status: int
    headers: http.client.HTTPMessage
    raw: bytes
    body: Any = field(default=None)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def assert_error(result: HttpResult, status: int, code: str) -> dict[str, Any]:
    """The API's error envelope with its headers; returns the error object."""
    assert result.status == status, result.raw
    assert result.header("Content-Type") == "application/json"
    assert result.header("Cache-Control") == "no-store"
    assert result.body["ok"] is False
    error: dict[str, Any] = result.body["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["requestId"] == result.header("X-Request-Id")
    assert "Traceback" not in result.raw.decode()
    return error


@dataclass
class LocalApi:
    """The local HTTP server running as its own process, and its log."""

    base_url: str
    port: int
    log_path: Path
    environment: Mapping[str, str]
    # The local S3 server (moto) the local run started for recordings, and the run's folder.
    s3_endpoint: str = ""
    directory: Path | None = None

    def request(
        self,
        method: str = "POST",
        path: str = "/api/calls",
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | list[tuple[str, str]] | None = None,
        json_body: Any = None,
        body: bytes | str | None = None,
        timeout: float = 30,
    ) -> HttpResult:
        if json_body is not None:
            body = json.dumps(json_body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        target = path + (f"?{urlencode(query)}" if query else "")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, target, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        parsed = None
        if raw and (response.headers.get("Content-Type") or "").startswith("application/json"):
            parsed = json.loads(raw)
        return HttpResult(response.status, response.headers, raw, parsed)

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def local_api(prepared_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    """`python -m localrun` against the session's DynamoDB Local, as `make run` starts it.

    The app cache is left to the local run's own default (off), never set here, so that the
    tests of an operator's change seen on the next request hold that default; the cache has
    tests of its own with a controllable clock. The join links keep the upstream's base, which
    the tests of their shape hold (the local run's own default, itself, is tested on its own),
    and the run file goes to a folder of the session's, never beside a developer's `make run`.
    """
    port = free_port()
    work = tmp_path_factory.mktemp("local-api")
    log_path = work / "server.log"
    inherited = {name: value for name, value in os.environ.items() if name != "CACHE_TTL_SECONDS"}
    env = {
        **inherited,
        **table_environment(prepared_endpoint),
        "PORT": str(port),
        "LOCAL_RUN_DIR": str(work),
        "JOIN_BASE_URL": "https://video.apifycloud.io",
        # Webhook receivers in the tests time out after 1 s, not the deployed 10 s.
        "WEBHOOK_TIMEOUT_SECONDS": "1",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "PYTHONUNBUFFERED": "1",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localrun"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_for_local_api(port, process, log_path)
            run = read_local_run(work)
            for _ in range(50):  # the run file follows the first answer by a moment
                if run is not None:
                    break
                time.sleep(0.1)
                run = read_local_run(work)
            assert run is not None, "the local run wrote no run file"
            assert run.s3_endpoint, "the local run started no S3 server"
            yield LocalApi(f"http://127.0.0.1:{port}", port, log_path, env, run.s3_endpoint, work)
        finally:
            stop(process)
