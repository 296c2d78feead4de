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


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: make invoke EVENT=events/<file>.json", file=sys.stderr)
        return 2
    event = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    local_aws_environment()
    with _endpoint() as endpoint:
        os.environ["DYNAMODB_ENDPOINT_URL"] = endpoint
        prepare_database(admin_store(endpoint))
        from calls.handler import lambda_handler

        result = lambda_handler(event, LocalLambdaContext(aws_request_id=str(uuid.uuid4())))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
