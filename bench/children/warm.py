"""Warm calls: the handler serving events one after another in one process, against bare PutItems.

Usage: python -m bench.children.warm EVENT_JSON CALLS REPORT_JSON [PROFILE_OUT]

Each round times one handler event and one bare PutItem of an equal item (the handler's own
PutItem parameters with a fresh callId), alternating which goes first, so that both sides share
the machine's noise. The floor's client is made by the project's own factory: same botocore
settings, its own keep-alive connection to the same server. With PROFILE_OUT, cProfile records
the handler's measured calls (and only those) into that file.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

from bench.children.common import LambdaContext, RequestCounter, write_report

WARMUP_ROUNDS = 50


class WarmRun:
    def __init__(self, event: dict[str, Any]):
        from calls.handler import lambda_handler
        from calls.repository import create_dynamodb_client, get_repository
        from calls.settings import get_settings

        self.event = event
        self.handler = lambda_handler
        self.project_counter = RequestCounter()
        self.project_counter.attach(get_repository().client)
        self.floor_client = create_dynamodb_client(get_settings())
        self.floor_counter = RequestCounter()
        self.floor_counter.attach(self.floor_client)
        self.profiler: Any = None
        self.reset()

    def reset(self) -> None:
        self.project_ns: list[int] = []
        self.project_requests: list[int] = []
        self.floor_ns: list[int] = []
        self.floor_requests: list[int] = []
        self.statuses: dict[str, int] = {}

    def serve(self) -> None:
        request_id = str(uuid.uuid4())
        event = {**self.event, "requestContext": {**self.event["requestContext"], "requestId": request_id}}
        context = LambdaContext(request_id)
        before = self.project_counter.total
        if self.profiler:
            self.profiler.enable()
        started = time.perf_counter_ns()
        result = self.handler(event, context)
        elapsed = time.perf_counter_ns() - started
        if self.profiler:
            self.profiler.disable()
        self.project_ns.append(elapsed)
        self.project_requests.append(self.project_counter.total - before)
        status = str(result["statusCode"])
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def put_floor(self) -> None:
        put = self.project_counter.params["PutItem"]
        request = {**put, "Item": {**put["Item"], "callId": {"S": str(uuid.uuid4())}}}
        before = self.floor_counter.total
        started = time.perf_counter_ns()
        self.floor_client.put_item(**request)
        elapsed = time.perf_counter_ns() - started
        self.floor_ns.append(elapsed)
        self.floor_requests.append(self.floor_counter.total - before)

    def rounds(self, count: int) -> None:
        for number in range(count):
            first, second = (self.serve, self.put_floor) if number % 2 == 0 else (self.put_floor, self.serve)
            first()
            second()


def main(event_path: str, calls_text: str, report_path: str, profile_path: str | None = None) -> int:
    with open(event_path, encoding="utf-8") as source:
        run = WarmRun(json.load(source))
    run.serve()  # the first call: the app is loaded, the connection opened
    first_call_requests = run.project_requests[0]
    run.rounds(WARMUP_ROUNDS)
    run.reset()

    if profile_path:
        import cProfile

        run.profiler = cProfile.Profile()
    began = time.monotonic()
    run.rounds(int(calls_text))
    duration = time.monotonic() - began
    if run.profiler:
        run.profiler.dump_stats(profile_path)

    from calls.settings import get_settings

    write_report(
        report_path,
        {
            "project_ns": run.project_ns,
            "project_requests": run.project_requests,
            "floor_ns": run.floor_ns,
            "floor_requests": run.floor_requests,
            "statuses": run.statuses,
            "first_call_requests": first_call_requests,
            "duration_s": duration,
            "cache_ttl_seconds": get_settings().cache_ttl_seconds,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
