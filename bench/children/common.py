"""Helpers that the project's and the floor's processes both use, so that neither pays more for them.

Kept to the standard library modules that every Python process has loaded anyway.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

DEMO_FUNCTION_NAME = "video-calls-bench"


class LambdaContext:
    """The attributes of the Lambda context object that the handler and Powertools read."""

    function_name = DEMO_FUNCTION_NAME
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{DEMO_FUNCTION_NAME}"
    memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
    log_group_name = f"/aws/lambda/{DEMO_FUNCTION_NAME}"
    log_stream_name = "bench"

    def __init__(self, aws_request_id: str):
        self.aws_request_id = aws_request_id

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


class RequestCounter:
    """DynamoDB requests as botocore sends them: one `before-send` per HTTP attempt, retries included."""

    def __init__(self) -> None:
        self.by_operation: dict[str, int] = {}
        self.params: dict[str, dict[str, Any]] = {}

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb", self._count)
        client.meta.events.register("provide-client-params.dynamodb", self._remember_params)

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def _count(self, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        self.by_operation[operation] = self.by_operation.get(operation, 0) + 1

    def _remember_params(self, params: dict[str, Any], event_name: str, **_: Any) -> None:
        """The first request of each operation, so that the floor can send an equal one."""
        self.params.setdefault(event_name.rsplit(".", 1)[-1], params)


def client_config(client: Any) -> dict[str, Any]:
    """The botocore settings the project chose for its client, for the record (the floor's is stock)."""
    from botocore.validate import ParamValidationDecorator

    config = client.meta.config
    return {
        "connect_timeout": config.connect_timeout,
        "read_timeout": config.read_timeout,
        "retries": config.retries,
        "tcp_keepalive": config.tcp_keepalive,
        # The client's config does not keep this setting; its serializer shows it.
        "parameter_validation": isinstance(client._serializer, ParamValidationDecorator),
        "user_agent": config.user_agent,
    }


def peak_rss_kib() -> int:
    """This process's own peak resident set (VmHWM).

    Not the parent's `wait4` rusage: Linux carries the spawning process's RSS into the child's
    ru_maxrss across exec, so a large harness would inflate both sides alike.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def write_report(path: str, report: dict[str, Any]) -> None:
    report["peak_rss_kib"] = peak_rss_kib()
    Path(path).write_text(json.dumps(report), encoding="utf-8")


def end_process(code: int, finalize: bool) -> None:
    """Leave as soon as the work is done, unless `finalize` asks for the interpreter's full teardown.

    A Lambda execution environment is frozen after its response and later killed; it never
    finalizes the interpreter, so teardown (final garbage collections over every loaded object,
    0.1-0.3 s after botocore has loaded a service model) is no part of a cold start.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if finalize:
        sys.exit(code)
    os._exit(code)
