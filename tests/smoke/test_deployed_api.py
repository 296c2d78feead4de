"""End to end against a deployed stage: `make smoke URL=<ApiUrl> APP_ID=... WIDGET_KEY=...`.

Skipped when no URL is given (as in `make test`). Each run creates a few real calls in the
stage's calls table; they expire after the stage's call TTL.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

BASE_URL = os.environ.get("SMOKE_URL", "").strip()

pytestmark = pytest.mark.skipif(
    not BASE_URL, reason="no deployed stage given: make smoke URL=<ApiUrl> APP_ID=... WIDGET_KEY=..."
)

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMEOUT_SECONDS = 30
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Stage:
    base_url: str
    app_id: str
    widget_key: str

    @property
    def calls_url(self) -> str:
        return f"{self.base_url}api/calls"

    def credentials(self) -> dict[str, str]:
        return {"X-App-Id": self.app_id, "X-Widget-Key": self.widget_key}


@pytest.fixture(scope="module")
def stage() -> Stage:
    app_id = os.environ.get("SMOKE_APP_ID", "").strip()
    widget_key = os.environ.get("SMOKE_WIDGET_KEY", "").strip()
    if not (app_id and widget_key):
        pytest.fail("URL is given but APP_ID or WIDGET_KEY is missing: `callsctl apps create` makes both")
    base = BASE_URL.removesuffix("api/calls").rstrip("/") + "/"
    url = urlsplit(base)
    # Plain http only for the local runner (`make run`), which the same test can check.
    if url.scheme != "https" and not (url.scheme == "http" and url.hostname in LOOPBACK_HOSTS):
        pytest.fail(f"URL must be the stack's https ApiUrl output, got {BASE_URL!r}")
    return Stage(base, app_id, widget_key)


def send(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> Answer:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, raw_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, raw_headers, raw = error.code, error.headers, error.read()
    headers_lower = {name.lower(): value for name, value in raw_headers.items()}
    return Answer(status, headers_lower, json.loads(raw) if raw.strip() else {})


def create_call(stage: Stage, payload: dict[str, Any], **headers: str) -> Answer:
    return send(
        "POST",
        stage.calls_url,
        {"Content-Type": "application/json", **stage.credentials(), **headers},
        json.dumps(payload).encode(),
    )


def assert_error(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.body["ok"] is False
    assert answer.body["error"]["code"] == code
    assert answer.body["error"]["requestId"]
    assert answer.header("Cache-Control") == "no-store"


def test_a_call_is_created_with_its_join_links(stage: Stage) -> None:
    answer = create_call(stage, {"title": "Smoke test", "metadata": {"ticket": "SMOKE-1", "n": 1.0}})
    assert answer.status == 201, answer
    assert answer.header("Cache-Control") == "no-store"
    assert (answer.header("Content-Type") or "").startswith("application/json")
    assert answer.header("X-Request-Id")
    data = answer.body["data"]
    assert answer.body["ok"] is True
    assert UUID_PATTERN.match(data["callId"])
    assert data["guestJoinUrl"].endswith(f"/c/{data['callId']}")
    assert data["joinUrl"] == data["guestJoinUrl"]
    assert data["hostJoinUrl"].startswith(f"{data['guestJoinUrl']}?role=agent&appId=")
    assert data["agentJoinUrl"] == data["hostJoinUrl"]
    assert data["title"] == "Smoke test"
    assert data["metadata"] == {"ticket": "SMOKE-1", "n": 1.0}
    assert "description" not in data


def test_a_wrong_widget_key_is_refused(stage: Stage) -> None:
    answer = create_call(stage, {}, **{"X-Widget-Key": "not-the-key"})
    assert_error(answer, 401, "UNAUTHORIZED")


def test_a_body_that_is_not_json_is_refused(stage: Stage) -> None:
    answer = send("POST", stage.calls_url, {**stage.credentials(), "Content-Type": "text/plain"}, b"{nope")
    assert_error(answer, 400, "INVALID_JSON")


def test_unknown_paths_and_wrong_methods_answer_in_the_envelope(stage: Stage) -> None:
    assert_error(send("GET", f"{stage.base_url}api/nothing-here"), 404, "NOT_FOUND")
    assert_error(send("DELETE", stage.calls_url), 405, "METHOD_NOT_ALLOWED")


def test_cors_preflight(stage: Stage) -> None:
    answer = send(
        "OPTIONS",
        stage.calls_url,
        {
            "Origin": "https://smoke.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-app-id,x-widget-key,idempotency-key",
        },
    )
    assert answer.status == 204, answer
    methods = answer.header("Access-Control-Allow-Methods") or ""
    assert "POST" in methods
    allowed = (answer.header("Access-Control-Allow-Headers") or "").lower()
    for header in ("content-type", "x-app-id", "x-widget-key", "idempotency-key"):
        assert header in allowed
    assert answer.header("Access-Control-Max-Age")


def test_an_idempotent_retry_returns_the_first_call(stage: Stage) -> None:
    key = f"smoke-{uuid.uuid4()}"
    first = create_call(stage, {"title": "Retry me"}, **{"Idempotency-Key": key})
    again = create_call(stage, {"title": "Retry me"}, **{"Idempotency-Key": key})
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.header("Idempotent-Replayed") == "true"


def test_a_call_is_read_listed_and_ended(stage: Stage) -> None:
    conversation = f"smoke-{uuid.uuid4()}"
    created = create_call(stage, {"title": "Lifecycle", "genesys": {"conversationId": conversation}})
    assert created.status == 201, created
    call_id = created.body["data"]["callId"]
    call_url = f"{stage.calls_url}/{call_id}"

    read = send("GET", call_url, stage.credentials())
    assert read.status == 200, read
    assert (read.body["data"]["callId"], read.body["data"]["status"]) == (call_id, "created")

    found = send("GET", f"{stage.calls_url}?conversationId={conversation}&limit=1", stage.credentials())
    assert found.status == 200, found
    assert [call["callId"] for call in found.body["data"]["calls"]] == [call_id]

    ended = send("POST", f"{call_url}/end", stage.credentials())
    assert ended.status == 200, ended
    assert ended.body["data"]["status"] == "ended"
    again = send("POST", f"{call_url}/end", stage.credentials())
    assert again.body["data"]["endedAt"] == ended.body["data"]["endedAt"]

    assert_error(send("GET", f"{stage.calls_url}/{uuid.uuid4()}", stage.credentials()), 404, "CALL_NOT_FOUND")
    assert_error(send("GET", f"{stage.calls_url}?cursor=forged", stage.credentials()), 400, "INVALID_CURSOR")
