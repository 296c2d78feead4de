"""The floor of a cold start: a fresh interpreter imports boto3, creates a stock DynamoDB client
(botocore's default configuration; only the endpoint is the bench's) and does the project's DynamoDB
work by hand: the same Query of the app, then an equal PutItem of a call (a fresh callId).

Usage: python -m bench.children.cold_floor TEMPLATE_JSON REPORT_JSON [--finalize]
The template holds the project's own request parameters, captured by a project run.
"""

import time

STARTED = time.monotonic()

import json  # noqa: E402 - the stamp above must come first
import os  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

from bench.children.common import RequestCounter, end_process, write_report  # noqa: E402


def main(template_path: str, report_path: str) -> int:
    with open(template_path, encoding="utf-8") as source:
        template = json.load(source)
    begin = time.monotonic()

    import boto3

    imported = time.monotonic()
    client = boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL"))
    counter = RequestCounter()
    counter.attach(client)
    client_ready = time.monotonic()

    client.query(**template["params"]["Query"])
    put = template["params"]["PutItem"]
    client.put_item(**{**put, "Item": {**put["Item"], "callId": {"S": str(uuid.uuid4())}}})
    served = time.monotonic()

    write_report(
        report_path,
        {
            "side": "floor",
            "status": 201,
            "requests": counter.by_operation,
            "stamps": {
                "started": STARTED,
                "begin": begin,
                "imported": imported,
                "client_ready": client_ready,
                "served": served,
            },
        },
    )
    return 0


if __name__ == "__main__":
    end_process(main(*sys.argv[1:3]), finalize="--finalize" in sys.argv[3:])
