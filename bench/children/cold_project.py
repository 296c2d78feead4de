"""A cold start of the project: a fresh interpreter imports the handler and serves one event.

Usage: python -m bench.children.cold_project EVENT_JSON REPORT_JSON [--finalize]
Times are time.monotonic() stamps (CLOCK_MONOTONIC, shared with the harness).
"""

import time

STARTED = time.monotonic()

import json  # noqa: E402 - the stamp above must come first
import os  # noqa: E402
import sys  # noqa: E402

from bench.children.common import (  # noqa: E402
    LambdaContext,
    RequestCounter,
    client_config,
    end_process,
    write_report,
)


def _bytecode_shipped(module_name: str) -> bool:
    spec = sys.modules[module_name].__spec__
    return spec is not None and spec.cached is not None and os.path.isfile(spec.cached)


def main(event_path: str, report_path: str) -> int:
    with open(event_path, encoding="utf-8") as source:
        event = json.load(source)
    begin = time.monotonic()

    from calls.handler import lambda_handler

    imported = time.monotonic()
    # The first event would create the client anyway; creating it first lets the counter see it.
    from calls.repository import get_repository

    client = get_repository().client
    counter = RequestCounter()
    counter.attach(client)
    client_ready = time.monotonic()

    result = lambda_handler(event, LambdaContext(event["requestContext"]["requestId"]))
    served = time.monotonic()

    import calls

    calls_modules = [name for name in sys.modules if name.startswith("calls.")]
    write_report(
        report_path,
        {
            "side": "project",
            "status": result["statusCode"],
            "requests": counter.by_operation,
            "stamps": {
                "started": STARTED,
                "begin": begin,
                "imported": imported,
                "client_ready": client_ready,
                "served": served,
            },
            "module_path": calls.__path__[0],
            "calls_modules": sorted(calls_modules),
            # Those whose bytecode the asset shipped (the import system loaded it: it writes none).
            "bytecode_modules": sorted(name for name in calls_modules if _bytecode_shipped(name)),
            "params": counter.params,
            "client_config": client_config(client),
        },
    )
    return 0


if __name__ == "__main__":
    end_process(main(*sys.argv[1:3]), finalize="--finalize" in sys.argv[3:])
