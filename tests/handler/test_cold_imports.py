"""A cold start pays only for the route it serves (issue 13, item 4).

Each case is a fresh interpreter, as a new Lambda container without SnapStart is: it imports
the handler, serves one event over moto's in-memory DynamoDB, and reports which of the
function's modules it loaded and whether the list's query model was built. Creating a call
must load none of the other routes' modules; the other cases show that the probe does see a
route's lazy imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import boto3
import pytest
from calls import tables
from callsctl.store import AdminStore, TableNames
from localrun.demo import seed_demo_data
from moto import mock_aws

from tests.conftest import ROOT, load_event

NAMES = TableNames(apps="apps", calls="calls", idempotency="idempotency")
OTHER_ROUTES = frozenset(
    {
        "calls.read",
        "calls.listing",
        "calls.end",
        "calls.cursor",
        "calls.join",
        # The join's own: the signaling token and the ICE servers.
        "calls.signaling_tokens",
        "calls.ice",
    }
)

# Nothing of the function is imported before the handler: the tables are filled with boto3 alone.
CHILD = """
import json, sys
import boto3
from moto import mock_aws

setup = json.load(sys.stdin)
with mock_aws():
    client = boto3.client("dynamodb")
    for request in setup["tables"]:
        client.create_table(**request)
    for table, item in setup["items"]:
        client.put_item(TableName=table, Item=item)
    before = [name for name in sys.modules if name.split(".")[0] == "calls"]

    from calls.handler import lambda_handler

    class Context:
        function_name = "video-calls"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:video-calls"
        memory_limit_in_mb = 1024
        aws_request_id = "cold-imports"
        log_group_name = "/aws/lambda/video-calls"
        log_stream_name = "cold-imports"

    result = lambda_handler(setup["event"], Context())
    report = {
        "status": result["statusCode"],
        "before": before,
        "modules": sorted(name for name in sys.modules if name.split(".")[0] == "calls"),
        "list_query_built": sys.modules["calls.models"].ListCallsQuery.__pydantic_complete__,
    }
sys.stderr.write("REPORT " + json.dumps(report) + "\\n")
"""


def _demo_tables() -> dict[str, Any]:
    """The apps and calls tables of the demo data, as CreateTable requests and items."""
    with mock_aws():
        admin = AdminStore(boto3.client("dynamodb"), NAMES)
        admin.ensure_tables()
        seed_demo_data(admin)
        items = [[NAMES.apps, item] for item in admin.client.scan(TableName=NAMES.apps)["Items"]]
    requests = [
        tables.create_table_request(tables.APPS, NAMES.apps),
        tables.create_table_request(tables.CALLS, NAMES.calls),
    ]
    return {"tables": requests, "items": items}


def cold_start(event: dict[str, Any]) -> dict[str, Any]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), os.environ.get("PYTHONPATH", "")]),
        "APPS_TABLE_NAME": NAMES.apps,
        "CALLS_TABLE_NAME": NAMES.calls,
        "IDEMPOTENCY_TABLE_NAME": NAMES.idempotency,
    }
    environment.pop("DYNAMODB_ENDPOINT_URL", None)
    completed = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps({**_demo_tables(), "event": event}),
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


def list_event() -> dict[str, Any]:
    event = load_event("minimal.json")
    event.update(httpMethod="GET", body=None)
    return event


def test_creating_a_call_loads_no_other_route_and_builds_no_list_model() -> None:
    report = cold_start(load_event("full-upstream-example.json"))

    assert report["status"] == 201
    assert report["before"] == []
    assert "calls.create" in report["modules"]
    assert not OTHER_ROUTES & set(report["modules"])
    assert report["list_query_built"] is False


@pytest.mark.parametrize(
    ("event", "status", "loaded", "built"),
    [
        pytest.param(load_event("get-call.json"), 404, {"calls.read"}, False, id="read"),
        pytest.param(list_event(), 200, {"calls.listing", "calls.cursor"}, True, id="list"),
    ],
)
def test_other_routes_load_their_own_modules_when_they_run(
    event: dict[str, Any], status: int, loaded: set[str], built: bool
) -> None:
    report = cold_start(event)

    assert report["status"] == status
    assert loaded <= set(report["modules"])
    assert "calls.create" not in report["modules"]
    assert report["list_query_built"] is built
