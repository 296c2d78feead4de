"""Warm calls: the handler serving events one after another in one process, against bare requests.

Usage: python -m bench.children.warm CREATE_EVENT_JSON READ_EVENT_JSON JOIN_EVENT_JSON CALLS REPORT_JSON
    [PROFILE_OUT]

Three series, each of CALLS rounds after a warm-up:
- create: one POST event against one bare PutItem of an equal item (the handler's own PutItem
  parameters with a fresh callId);
- read: one GET of a call the handler created (READ_EVENT_JSON with that call's id) against one
  bare GetItem with the handler's own GetItem parameters (ConsistentRead);
- join: one guest's join (JOIN_EVENT_JSON) of that same call, which its guest has joined before,
  against the same bare GetItem.
Before the join series, first joins: FIRST_JOIN_CALLS calls (the read's and fresh ones) each
joined by its guest and by its agent (with the app's credentials, as a widgetKey-mode host link
carries them), then each again; the DynamoDB requests of every one are reported.
Each round alternates which side goes first, so that both share the machine's noise. The floor is
a stock botocore client (default configuration; only the endpoint is the bench's), its own
keep-alive connection to the same server; the project's client is the function's, configured as
the function sees fit. With PROFILE_OUT, cProfile records the handler's measured calls (and only
those) into that file.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.children.common import LambdaContext, RequestCounter, write_report

WARMUP_ROUNDS = 50
FIRST_JOIN_CALLS = 10
ROLES = ("guest", "agent")


def stock_dynamodb_client() -> Any:
    """What a function gets without configuring anything: botocore's defaults throughout."""
    from botocore.session import get_session

    return get_session().create_client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT_URL"])


class Series:
    """One side-by-side series: latencies, DynamoDB requests per call, the handler's statuses."""

    def __init__(self) -> None:
        self.project_ns: list[int] = []
        self.project_requests: list[int] = []
        self.floor_ns: list[int] = []
        self.floor_requests: list[int] = []
        self.statuses: dict[str, int] = {}

    def report(self) -> dict[str, Any]:
        return {
            "project_ns": self.project_ns,
            "project_requests": self.project_requests,
            "floor_ns": self.floor_ns,
            "floor_requests": self.floor_requests,
            "statuses": self.statuses,
        }


class WarmRun:
    def __init__(
        self, create_event: dict[str, Any], read_template: dict[str, Any], join_template: dict[str, Any]
    ):
        from calls.handler import lambda_handler
        from calls.repository import get_repository

        self.create_event = create_event
        self.read_template = read_template
        self.read_event: dict[str, Any] | None = None
        self.join_template = join_template
        self.join_repeated: dict[str, Any] | None = None
        self.handler = lambda_handler
        self.project_counter = RequestCounter()
        self.project_counter.attach(get_repository().client)
        self.floor_client = stock_dynamodb_client()
        self.floor_counter = RequestCounter()
        self.floor_counter.attach(self.floor_client)
        self.profiler: Any = None
        self.series = Series()

    def serve(self, event: dict[str, Any]) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        event = {**event, "requestContext": {**event["requestContext"], "requestId": request_id}}
        context = LambdaContext(request_id)
        before = self.project_counter.total
        if self.profiler:
            self.profiler.enable()
        started = time.perf_counter_ns()
        result: dict[str, Any] = self.handler(event, context)
        elapsed = time.perf_counter_ns() - started
        if self.profiler:
            self.profiler.disable()
        self.series.project_ns.append(elapsed)
        self.series.project_requests.append(self.project_counter.total - before)
        status = str(result["statusCode"])
        self.series.statuses[status] = self.series.statuses.get(status, 0) + 1
        return result

    def create(self) -> None:
        self.serve(self.create_event)

    def read(self) -> None:
        assert self.read_event is not None
        self.serve(self.read_event)

    def join(self) -> None:
        assert self.join_repeated is not None
        self.serve(self.join_repeated)

    def floor(self, operation: str, request: dict[str, Any]) -> None:
        send = getattr(self.floor_client, operation)
        before = self.floor_counter.total
        started = time.perf_counter_ns()
        send(**request)
        elapsed = time.perf_counter_ns() - started
        self.series.floor_ns.append(elapsed)
        self.series.floor_requests.append(self.floor_counter.total - before)

    def put_floor(self) -> None:
        put = self.project_counter.params["PutItem"]
        self.floor("put_item", {**put, "Item": {**put["Item"], "callId": {"S": str(uuid.uuid4())}}})

    def get_floor(self) -> None:
        self.floor("get_item", self.project_counter.params["GetItem"])

    def first_read(self, call_id: str) -> int:
        """The read event for a call the handler created; its first GET; the requests it made."""
        sample_id = self.read_template["path"].rsplit("/", 1)[-1]
        self.read_event = json.loads(json.dumps(self.read_template).replace(sample_id, call_id))
        before = self.project_counter.total
        result = self.serve(self.read_event)
        if result["statusCode"] != 200:
            raise RuntimeError(f"the read event answered {result['statusCode']}: {result['body']}")
        return self.project_counter.total - before

    def join_event(self, call_id: str, role: str) -> dict[str, Any]:
        """The join event for a call, as the page behind its guest or its agent link sends it."""
        sample_id = self.join_template["pathParameters"]["callId"]
        event: dict[str, Any] = json.loads(json.dumps(self.join_template).replace(sample_id, call_id))
        if role == "agent":
            headers = self.create_event["headers"]
            query = {"role": "agent", "appId": headers["X-App-Id"], "widgetKey": headers["X-Widget-Key"]}
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()}
        return event

    def counted_join(self, call_id: str, role: str) -> int:
        before = self.project_counter.total
        result = self.serve(self.join_event(call_id, role))
        if result["statusCode"] != 200:
            raise RuntimeError(f"the {role}'s join answered {result['statusCode']}: {result['body']}")
        return self.project_counter.total - before

    def first_joins(self, call_id: str) -> dict[str, dict[str, list[int]]]:
        """Each role's first join, then its second, of `call_id` and of fresh calls; their requests."""
        profiler, self.profiler = self.profiler, None  # not among the measured calls
        self.series = Series()  # nor added to the previous series' figures
        call_ids = [call_id]
        while len(call_ids) < FIRST_JOIN_CALLS:
            created = self.serve(self.create_event)
            call_ids.append(json.loads(created["body"])["data"]["callId"])
        counts: dict[str, dict[str, list[int]]] = {"first": {}, "again": {}}
        for role in ROLES:
            counts["first"][role] = [self.counted_join(each, role) for each in call_ids]
            counts["again"][role] = [self.counted_join(each, role) for each in call_ids]
        self.join_repeated = self.join_event(call_id, "guest")
        self.profiler = profiler
        return counts

    def rounds(self, count: int, project: Callable[[], None], floor: Callable[[], None]) -> None:
        for number in range(count):
            first, second = (project, floor) if number % 2 == 0 else (floor, project)
            first()
            second()

    def measured(self, count: int, project: Callable[[], None], floor: Callable[[], None]) -> dict[str, Any]:
        """A warm-up, then `count` measured rounds; their figures."""
        profiler, self.profiler = self.profiler, None
        self.series = Series()
        self.rounds(WARMUP_ROUNDS, project, floor)
        self.profiler = profiler
        self.series = Series()
        began = time.monotonic()
        self.rounds(count, project, floor)
        return {**self.series.report(), "duration_s": time.monotonic() - began}


def main(
    create_path: str,
    read_path: str,
    join_path: str,
    calls_text: str,
    report_path: str,
    profile_path: str | None = None,
) -> int:
    events = []
    for path in (create_path, read_path, join_path):
        with open(path, encoding="utf-8") as source:
            events.append(json.load(source))
    run = WarmRun(*events)
    first = run.serve(run.create_event)  # the first call: the app is loaded, the connection opened
    first_call_requests = run.series.project_requests[0]
    first_call_id = json.loads(first["body"])["data"]["callId"]
    first_read_requests = run.first_read(first_call_id)

    if profile_path:
        import cProfile

        run.profiler = cProfile.Profile()
    calls = int(calls_text)
    create = run.measured(calls, run.create, run.put_floor)
    read = run.measured(calls, run.read, run.get_floor)
    # After the reads: the read's call gets its joins only now, so that every GET above read it unjoined.
    joins = run.first_joins(first_call_id)
    join = run.measured(calls, run.join, run.get_floor)
    if run.profiler:
        run.profiler.dump_stats(profile_path)

    from calls.settings import get_settings

    write_report(
        report_path,
        {
            "create": {**create, "first_call_requests": first_call_requests},
            "read": {**read, "first_call_requests": first_read_requests},
            "join": {**join, "first_call_requests": joins["first"]["guest"][0], "joins": joins},
            "cache_ttl_seconds": get_settings().cache_ttl_seconds,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:7]))
