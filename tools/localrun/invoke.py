"""`make invoke EVENT=events/x.json`: one API Gateway event through the handler, against the local database.

Uses DYNAMODB_ENDPOINT_URL if set, else the database of a running `make run` (its run file says
where), else starts DynamoDB Local on the same data folder for the length of the call (which
refuses a folder another DynamoDB Local has open).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from localrun.__main__ import database_endpoint
from localrun.database import admin_store, prepare_database
from localrun.dynamodb_local import DynamoDBLocalError, local_aws_environment
from localrun.gateway import LocalLambdaContext
from localrun.runfile import local_dir, read_local_run


class InvokeError(Exception):
    pass


@contextlib.contextmanager
def _endpoint() -> Iterator[str]:
    running = None if os.environ.get("DYNAMODB_ENDPOINT_URL") else read_local_run(local_dir())
    if running is not None:
        print(f"Using the DynamoDB of the local run at {running.api_url}: {running.dynamodb_endpoint}")
        # Its join links too, so an invoked create's links lead to the running page.
        os.environ.setdefault("JOIN_BASE_URL", running.join_base_url)
        yield running.dynamodb_endpoint
        return
    with database_endpoint() as endpoint:
        yield endpoint


def read_event(path: str) -> dict[str, Any]:
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvokeError(f"no such event file: {path} (the samples are in events/)") from None
    except OSError as error:
        raise InvokeError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise InvokeError(f"{path} is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise InvokeError(f"{path} is not an API Gateway event (a JSON object)")
    return event


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
    if len(argv) != 1 or not argv[0].strip():
        print("usage: make invoke EVENT=events/<file>.json", file=sys.stderr)
        return 2
    try:
        event = read_event(argv[0])
    except InvokeError as error:
        print(f"make invoke: {error}", file=sys.stderr)
        return 2
    local_aws_environment()
    try:
        return _invoke(event)
    except DynamoDBLocalError as error:
        print(f"make invoke: {error}", file=sys.stderr)
        return 1


def _invoke(event: dict[str, Any]) -> int:
    with _stdout_for_the_result_only() as result_stream, _endpoint() as endpoint:
        os.environ["DYNAMODB_ENDPOINT_URL"] = endpoint
        prepare_database(admin_store(endpoint))
        from calls.handler import lambda_handler

        result = lambda_handler(event, LocalLambdaContext(aws_request_id=str(uuid.uuid4())))
        print(json.dumps(result, indent=2), file=result_stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
