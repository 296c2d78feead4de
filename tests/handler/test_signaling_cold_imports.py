"""A signaling cold start pays for its own route only: a fresh interpreter, as a new Lambda
container is, imports the handler and serves one event. A `signal` or a `ping` loads neither
pydantic (the API's models) nor the token code nor another route's module, and a `ping` not even
DynamoDB's client; the authorizer's case shows the probe does see what a route imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from calls import tables

from tests.conftest import ROOT, load_event

CALL_ID = "5c8f3a2e-9b1d-4e6f-a7c0-2d4b6e8f1a3c"
ROUTE_MODULES = frozenset(
    {"signaling.connect", "signaling.hello", "signaling.relay", "signaling.ping", "signaling.disconnect"}
)

CHILD = """
import http.server, json, sys, threading
import boto3
from moto import mock_aws

setup = json.load(sys.stdin)


class Endpoint(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
threading.Thread(target=server.serve_forever, daemon=True).start()
import os
os.environ["SIGNALING_CALLBACK_URL"] = f"http://127.0.0.1:{server.server_port}"

with mock_aws():
    client = boto3.client("dynamodb")
    client.create_table(**setup["table"])
    for item in setup["items"]:
        client.put_item(TableName=setup["table"]["TableName"], Item=item)
    before = set(sys.modules)

    from signaling.handler import lambda_handler
    from signaling import adapters

    class Context:
        function_name = "video-calls-signaling"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:video-calls-signaling"
        memory_limit_in_mb = 512
        aws_request_id = "cold-imports"
        log_group_name = "/aws/lambda/video-calls-signaling"
        log_stream_name = "cold-imports"

    answer = lambda_handler(setup["event"], Context())
    loaded = sorted(set(sys.modules) - before)
    report = {
        "answer": answer,
        "loaded": [name for name in loaded if name.split(".")[0] in ("calls", "signaling", "pydantic")],
        "dynamodb_client_built": adapters.dynamodb_client.cache_info().currsize > 0,
        "management_client_built": adapters.management_client.cache_info().currsize > 0,
    }
server.shutdown()
sys.stderr.write("REPORT " + json.dumps(report) + "\\n")
"""


def ready(role: str) -> dict[str, Any]:
    return {
        "callId": {"S": CALL_ID},
        "role": {"S": role},
        "connectionId": {"S": f"{role}-1="},
        "connectedAt": {"S": "2026-11-23T23:30:00.000Z"},
        "expiresAt": {"N": "4102444800"},
        "displayName": {"S": role.title()},
        "helloAt": {"S": "2026-11-23T23:30:01.000Z"},
    }


def cold_start(event: dict[str, Any]) -> dict[str, Any]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), os.environ.get("PYTHONPATH", "")]),
        "CONNECTIONS_TABLE_NAME": "connections",
        "CALLS_TABLE_NAME": "calls",
    }
    environment.pop("DYNAMODB_ENDPOINT_URL", None)
    setup = {
        "table": tables.create_table_request(tables.CONNECTIONS, "connections"),
        "items": [ready("agent"), ready("guest")],
        "event": event,
    }
    completed = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps(setup),
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    reports = [line for line in completed.stderr.splitlines() if line.startswith("REPORT ")]
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert reports, completed.stderr[-3000:]
    report: dict[str, Any] = json.loads(reports[-1].removeprefix("REPORT "))
    return report


def message(body: dict[str, Any], route: str) -> dict[str, Any]:
    event = load_event("signaling/signal.json")
    event["requestContext"]["routeKey"] = route
    event["requestContext"]["connectionId"] = "agent-1="
    event["requestContext"]["authorizer"] = {"callId": CALL_ID, "role": "agent", "principalId": "x"}
    event["body"] = json.dumps(body)
    return event


def test_a_cold_signal_loads_the_relay_alone() -> None:
    report = cold_start(message({"action": "signal", "data": {"type": "offer", "sdp": "v=0"}}, "signal"))
    assert report["answer"] == {"statusCode": 200}
    assert "signaling.relay" in report["loaded"]
    assert not (ROUTE_MODULES - {"signaling.relay"}) & set(report["loaded"])
    assert not {"calls.signaling_tokens", "calls.models", "pydantic"} & set(report["loaded"])
    assert report["dynamodb_client_built"]
    assert report["management_client_built"]


def test_a_cold_ping_builds_no_dynamodb_client() -> None:
    report = cold_start(message({"action": "ping"}, "ping"))
    assert report["answer"] == {"statusCode": 200}
    assert not (ROUTE_MODULES - {"signaling.ping"}) & set(report["loaded"])
    assert not {"calls.signaling_tokens", "calls.models", "pydantic"} & set(report["loaded"])
    assert report["management_client_built"]
    assert not report["dynamodb_client_built"]


def test_the_authorizer_loads_the_token_code() -> None:
    report = cold_start(load_event("signaling/authorizer.json"))
    assert report["answer"]["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert {"signaling.connect", "calls.signaling_tokens"} <= set(report["loaded"])
    assert not report["management_client_built"]
