"""`make invoke EVENT=events/x.json`: one API Gateway event through the handler, against the local database.

Uses DYNAMODB_ENDPOINT_URL if set, else the database of a running `make run`, else starts
DynamoDB Local on the same data folder for the length of the call.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from localrun.__main__ import database_endpoint
from localrun.database import admin_store, prepare_database
from localrun.dynamodb_local import local_aws_environment
from localrun.server import LocalLambdaContext


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.3):
        return True
    return False


@contextlib.contextmanager
def _endpoint() -> Iterator[str]:
    port = int(os.environ.get("DYNAMODB_LOCAL_PORT", "8000"))
    if not os.environ.get("DYNAMODB_ENDPOINT_URL") and _listening(port):
        yield f"http://127.0.0.1:{port}"
        return
    with database_endpoint() as endpoint:
        yield endpoint


@contextlib.contextmanager
def _stdout_for_the_result_only() -> Iterator[TextIO]:
    """Yield the real stdout, and send whatever else is written to stdout meanwhile to stderr.

    The function logs JSON lines to stdout, as Lambda wants them, and the database's start-up
    lines are printed there too; `make -s invoke EVENT=... | jq` needs the result alone. This is
    done here, at the file descriptor, so the function's own logging stays as it is deployed.
    """
    sys.stdout.flush()
    result_stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        yield result_stream
    finally:
        sys.stdout.flush()
        result_stream.flush()
        os.dup2(result_stream.fileno(), sys.stdout.fileno())
        result_stream.close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: make invoke EVENT=events/<file>.json", file=sys.stderr)
        return 2
    event = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    local_aws_environment()
    with _stdout_for_the_result_only() as result_stream, _endpoint() as endpoint:
        os.environ["DYNAMODB_ENDPOINT_URL"] = endpoint
        prepare_database(admin_store(endpoint))
        from calls.handler import lambda_handler

        result = lambda_handler(event, LocalLambdaContext(aws_request_id=str(uuid.uuid4())))
        print(json.dumps(result, indent=2), file=result_stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
