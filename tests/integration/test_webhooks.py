"""Section 7 end to end through the local run: DynamoDB Local's stream -> the events code ->
the in-process delivery queue -> a real receiver on 127.0.0.1, which verifies every delivery
with the `standardwebhooks` package (the standard's own library, not the project's signing)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from callsctl.cli import cli
from click.testing import CliRunner, Result
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.integration.conftest import TABLE_NAMES, LocalApi, TestApp

pytestmark = pytest.mark.integration

WAIT_SECONDS = 30


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server that records every POST and answers per path from a script of statuses;
    'sleep' answers 200 after sleeping past the delivery timeout."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[int | str]] = field(default_factory=dict)
    lock: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def answer_for(self, path: str) -> int | str:
        with self.lock:
            script = self.scripts.get(path)
            return script.pop(0) if script else 200

    def record(self, received: Received) -> None:
        with self.lock:
            self.received.append(received)
            self.lock.notify_all()

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [item for item in self.received if item.path == path]

    def wait_for(
        self, path: str, predicate: Callable[[list[Received]], bool], timeout: float = WAIT_SECONDS
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [item for item in self.received if item.path == path]
                if predicate(found):
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    summary = [(item.headers.get("webhook-id"), item.json.get("type")) for item in found]
                    raise AssertionError(f"{path}: still waiting; received {summary}")
                self.lock.wait(timeout=min(left, 0.5))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            target = holder["receiver"]
            answer = target.answer_for(self.path)
            target.record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if answer == "sleep":
                time.sleep(2)  # the local run's delivery timeout is 1 s
                answer = 200
            self.send_response(int(answer))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["receiver"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["receiver"]
    server.shutdown()
    server.server_close()


@dataclass
class Ctl:
    """`callsctl --endpoint-url <DynamoDB Local>` on the local run's tables (so --local rules apply)."""

    endpoint: str

    def __call__(self, *args: str) -> Result:
        env = {
            "APPS_TABLE_NAME": TABLE_NAMES.apps,
            "CALLS_TABLE_NAME": TABLE_NAMES.calls,
            "IDEMPOTENCY_TABLE_NAME": TABLE_NAMES.idempotency,
            "WEBHOOKS_TABLE_NAME": TABLE_NAMES.webhooks,
        }
        return CliRunner().invoke(
            cli, ["--endpoint-url", self.endpoint, *args], env=env, catch_exceptions=False
        )

    def json(self, *args: str) -> Any:
        result = self("--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def ctl(prepared_endpoint: str) -> Ctl:
    return Ctl(prepared_endpoint)


def verify(received: Received, secret: str) -> dict[str, Any]:
    """What a receiver does: the standard's library checks the signature (and the timestamp)."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


def add_webhook(ctl: Ctl, app: TestApp, receiver: Receiver, path: str, *events: str) -> tuple[str, str]:
    options = [part for event in events for part in ("--event", event)]
    added = ctl.json("webhooks", "add", app.app_id, receiver.url(path), *options)
    assert added["secret"].startswith("whsec_")
    return added["webhookId"], added["secret"]


def create_call(local_api: LocalApi, app: TestApp, body: Any = None) -> Any:
    headers = {"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key, "Content-Type": "application/json"}
    return local_api.request(headers=headers, json_body=body if body is not None else {})


def of_type(event_type: str, count: int = 1) -> Callable[[list[Received]], bool]:
    return lambda found: sum(1 for item in found if item.json["type"] == event_type) >= count


def test_each_event_type_arrives_signed_with_its_envelope(
    local_api: LocalApi, make_app: Callable[..., TestApp], ctl: Ctl, receiver: Receiver, admin: Any
) -> None:
    app = make_app()
    _, secret = add_webhook(ctl, app, receiver, "/all")
    created = create_call(local_api, app, {"title": "Events", "metadata": {"n": 1.0}})
    assert created.status == 201
    call_id = created.body["data"]["callId"]
    receiver.wait_for("/all", of_type("call.created"))

    # The join route stamps these (section 6); here the item is updated the way it does.
    for attribute in ("agentJoinedAt", "guestJoinedAt"):
        admin.client.update_item(
            TableName=TABLE_NAMES.calls,
            Key={"callId": {"S": call_id}},
            UpdateExpression="SET #stamp = :now",
            ExpressionAttributeNames={"#stamp": attribute},
            ExpressionAttributeValues={":now": {"S": "2030-01-01T00:00:00.000Z"}},
        )
    receiver.wait_for(
        "/all", lambda found: of_type("call.agent_joined")(found) and of_type("call.guest_joined")(found)
    )
    headers = {"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}
    ended = local_api.request("POST", f"/api/calls/{call_id}/end", headers=headers)
    assert ended.status == 200
    found = receiver.wait_for("/all", of_type("call.ended"))

    assert sorted(item.json["type"] for item in found) == [
        "call.agent_joined",
        "call.created",
        "call.ended",
        "call.guest_joined",
    ]
    for item in found:
        envelope = verify(item, secret)
        assert set(envelope) == {"id", "type", "createdAt", "appId", "data"}
        assert item.headers["webhook-id"] == envelope["id"]
        assert item.headers["content-type"] == "application/json"
        assert envelope["appId"] == app.app_id
        assert envelope["data"]["callId"] == call_id
        assert "hostJoinUrl" not in envelope["data"]
        assert "agentJoinUrl" not in envelope["data"]
    assert len({item.headers["webhook-id"] for item in found}) == 4
    # Metadata keeps its JSON: 1.0 is not turned into 1.
    assert b'"metadata":{"n":1.0}' in found[0].body

    by_type = {item.json["type"]: item.json for item in found}
    assert by_type["call.created"]["data"]["status"] == "created"
    assert by_type["call.created"]["createdAt"] == created.body["data"]["createdAt"]
    assert by_type["call.agent_joined"]["data"]["agentJoinedAt"] == "2030-01-01T00:00:00.000Z"
    # call.ended carries the call view of section 5, host links aside, as GET shows it now.
    view = local_api.request("GET", f"/api/calls/{call_id}", headers=headers).body["data"]
    for name in ("hostJoinUrl", "agentJoinUrl"):
        view.pop(name, None)
    assert by_type["call.ended"]["data"] == view
    assert by_type["call.ended"]["createdAt"] == view["endedAt"]


def test_failed_attempts_are_retried_with_the_same_id_and_body(
    local_api: LocalApi, make_app: Callable[..., TestApp], ctl: Ctl, receiver: Receiver
) -> None:
    app = make_app()
    receiver.scripts["/flaky"] = [500, 500, 200]
    receiver.scripts["/slow"] = ["sleep"]
    _, flaky_secret = add_webhook(ctl, app, receiver, "/flaky")
    _, slow_secret = add_webhook(ctl, app, receiver, "/slow")
    assert create_call(local_api, app).status == 201

    attempts = receiver.wait_for("/flaky", lambda found: len(found) >= 3)
    assert len({item.headers["webhook-id"] for item in attempts}) == 1
    assert len({item.body for item in attempts}) == 1
    for item in attempts:
        verify(item, flaky_secret)
    # The third answer was 200: nothing more comes.
    time.sleep(1.5)
    assert len(receiver.at("/flaky")) == 3

    # The first attempt outlived the timeout; the retry has the same id and body.
    slow = receiver.wait_for("/slow", lambda found: len(found) >= 2)
    assert slow[0].headers["webhook-id"] == slow[1].headers["webhook-id"]
    assert slow[0].body == slow[1].body
    verify(slow[1], slow_secret)


def test_a_removed_endpoint_gets_nothing_more(
    local_api: LocalApi, make_app: Callable[..., TestApp], ctl: Ctl, receiver: Receiver
) -> None:
    app = make_app()
    removed_id, _ = add_webhook(ctl, app, receiver, "/removed")
    add_webhook(ctl, app, receiver, "/kept")
    only_ended_id, _ = add_webhook(ctl, app, receiver, "/ended-only", "call.ended")
    call_id = create_call(local_api, app).body["data"]["callId"]
    receiver.wait_for("/removed", of_type("call.created"))
    receiver.wait_for("/kept", of_type("call.created"))

    assert ctl.json("webhooks", "remove", app.app_id, removed_id)["removed"] is True
    headers = {"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}
    assert local_api.request("POST", f"/api/calls/{call_id}/end", headers=headers).status == 200
    receiver.wait_for("/kept", of_type("call.ended"))
    receiver.wait_for("/ended-only", of_type("call.ended"))
    time.sleep(1)
    assert [item.json["type"] for item in receiver.at("/removed")] == ["call.created"]
    # Subscribed to call.ended only: the created event never came.
    assert [item.json["type"] for item in receiver.at("/ended-only")] == ["call.ended"]
    listed = ctl.json("webhooks", "list", app.app_id)
    assert [hook["webhookId"] for hook in listed if hook["webhookId"] == only_ended_id]
    assert removed_id not in {hook["webhookId"] for hook in listed}
    assert ctl("webhooks", "remove", app.app_id, removed_id).exit_code == 1


def test_after_rotation_deliveries_verify_with_the_new_secret_only(
    local_api: LocalApi, make_app: Callable[..., TestApp], ctl: Ctl, receiver: Receiver
) -> None:
    app = make_app()
    webhook_id, old_secret = add_webhook(ctl, app, receiver, "/rotated")
    rotated = ctl.json("webhooks", "rotate-secret", app.app_id, webhook_id)
    new_secret = rotated["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != old_secret
    assert create_call(local_api, app).status == 201
    (delivery,) = receiver.wait_for("/rotated", of_type("call.created"))
    assert verify(delivery, new_secret)["type"] == "call.created"
    with pytest.raises(WebhookVerificationError):
        verify(delivery, old_secret)

    # Neither the local run's logs (the functions' own log lines) nor lists show a secret.
    logs = local_api.logs()
    assert delivery.headers["webhook-id"] in logs
    assert old_secret not in logs
    assert new_secret not in logs
    assert "whsec_" not in logs

    listing = (
        ctl("--json", "webhooks", "list", app.app_id).stdout + ctl("webhooks", "list", app.app_id).stdout
    )
    assert webhook_id in listing
    assert "whsec_" not in listing
    assert "secret" not in listing


def test_a_failed_create_emits_nothing(
    local_api: LocalApi, make_app: Callable[..., TestApp], ctl: Ctl, receiver: Receiver
) -> None:
    app = make_app()
    add_webhook(ctl, app, receiver, "/failed")
    assert create_call(local_api, app, {"presetId": "no-such-preset"}).status == 422
    assert create_call(local_api, app, {"title": 5}).status == 422
    call_id = create_call(local_api, app).body["data"]["callId"]
    receiver.wait_for("/failed", of_type("call.created"))
    time.sleep(1)
    assert [item.json["data"]["callId"] for item in receiver.at("/failed")] == [call_id]


def test_fifty_concurrent_creates_are_fifty_distinct_call_created_events(
    local_api: LocalApi, make_app: Callable[..., TestApp], ctl: Ctl, receiver: Receiver
) -> None:
    app = make_app()
    _, secret = add_webhook(ctl, app, receiver, "/many")
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: create_call(local_api, app), range(50)))
    assert [result.status for result in results] == [201] * 50
    call_ids = {result.body["data"]["callId"] for result in results}
    found = receiver.wait_for("/many", of_type("call.created", 50), timeout=60)
    assert len(found) == 50
    assert {item.json["data"]["callId"] for item in found} == call_ids
    assert len({item.headers["webhook-id"] for item in found}) == 50
    for item in found:
        verify(item, secret)


def test_webhooks_test_sends_a_signed_test_event_and_reports_the_answer(
    make_app: Callable[..., TestApp], ctl: Ctl, receiver: Receiver
) -> None:
    app = make_app()
    webhook_id, secret = add_webhook(ctl, app, receiver, "/probe")
    reported = ctl.json("webhooks", "test", app.app_id, webhook_id)
    assert (reported["delivered"], reported["status"]) == (True, 200)
    (probe,) = receiver.at("/probe")
    envelope = verify(probe, secret)
    assert envelope["type"] == "webhook.test"
    assert envelope["id"] == reported["eventId"] == probe.headers["webhook-id"]

    receiver.scripts["/probe"] = [503]
    failed = ctl("webhooks", "test", app.app_id, webhook_id)
    assert failed.exit_code == 1
    assert "503" in failed.stdout
    assert secret not in failed.output


def test_add_refuses_what_section_7_refuses(
    make_app: Callable[..., TestApp], ctl: Ctl, receiver: Receiver
) -> None:
    app = make_app()
    refused = ctl("webhooks", "add", app.app_id, "http://example.com/hook")
    assert refused.exit_code == 1
    assert "http" in refused.stderr
    assert ctl("webhooks", "add", app.app_id, receiver.url("/x"), "--event", "call.nope").exit_code == 1
    assert ctl("webhooks", "add", "no-such-app", receiver.url("/x")).exit_code == 1
    for number in range(10):
        add_webhook(ctl, app, receiver, f"/n{number}")
    too_many = ctl("webhooks", "add", app.app_id, receiver.url("/n10"))
    assert too_many.exit_code == 1
    assert "10" in too_many.stderr
    assert len(ctl.json("webhooks", "list", app.app_id)) == 10


def test_event_log_lines_carry_their_own_correlation_id_not_a_requests(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    """The local run drives the events code in threads beside the API's; each log line must name
    the work it is about: a request's id on the API's lines, the stream record's on the events'."""
    app = make_app()
    created = local_api.request(headers={"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key})
    assert created.status == 201
    call_id = created.body["data"]["callId"]
    request_id = created.header("X-Request-Id")
    deadline = time.monotonic() + 20
    published: list[dict[str, Any]] = []
    while not published and time.monotonic() < deadline:
        published = [
            json.loads(line)
            for line in local_api.logs().splitlines()
            if line.startswith("{") and '"event published"' in line and call_id in line
        ]
        time.sleep(0.2)
    assert published, "the call.created event was not logged"
    for line in published:
        assert line.get("correlation_id") != request_id
        assert line.get("correlation_id") == line["eventId"]


def test_the_local_run_refuses_metadata_and_link_local_and_says_what_only_it_allows(
    make_app: Callable[..., TestApp], ctl: Ctl
) -> None:
    app = make_app()
    for url in (
        "https://169.254.169.254/latest",
        "https://[fe80::1]/h",
        "https://[::ffff:169.254.169.254]/h",
    ):
        refused = ctl("webhooks", "add", app.app_id, url)
        assert refused.exit_code == 1, url
        assert "metadata" in refused.stderr, url
    private = ctl("webhooks", "add", app.app_id, "https://10.0.0.5/h")
    assert private.exit_code == 0, private.output
    assert "only the local run delivers to" in private.stderr
    public = ctl("webhooks", "add", app.app_id, "https://93.184.216.34/h")
    assert public.exit_code == 0, public.output
    assert "only the local run" not in public.stderr


def test_the_same_url_cannot_be_added_twice(
    make_app: Callable[..., TestApp], ctl: Ctl, receiver: Receiver
) -> None:
    app = make_app()
    first, _ = add_webhook(ctl, app, receiver, "/same")
    again = ctl("webhooks", "add", app.app_id, receiver.url("/same"))
    assert again.exit_code == 1
    assert first in again.stderr
    assert len(ctl.json("webhooks", "list", app.app_id)) == 1
