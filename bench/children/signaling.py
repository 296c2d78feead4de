"""Warm signaling: the signaling function serving events one after another in one process, against
the bare requests each event needs, sent with stock botocore clients.

Usage: python -m bench.children.signaling CREATE_EVENT_JSON EVENTS_DIR CALLS REPORT_JSON

Two series, each of CALLS rounds after a warm-up:
- relay: one `signal` event (events/signaling/signal.json, the agent's) of a call whose two parties
  said hello, against one bare Query of the call's partition (the function's own parameters) and
  one bare PostToConnection of the same frame to the same connection;
- connect: a fresh call's guest opening its connection, as API Gateway runs it (the authorizer's
  REQUEST event, then the $connect event with the authorizer's context), against the four bare
  requests that costs (the call's GetItem, the token's conditional PutItem, the connection's
  PutItem, the call's GetItem again), in fresh partitions. The call is created and its token
  signed before the round, untimed.
The management API is the harness's local endpoint (SIGNALING_CALLBACK_URL), which answers every
post at once. Rounds alternate which side goes first, as in bench.children.warm.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.children.common import LambdaContext, write_report

WARMUP_ROUNDS = 50


class Counter:
    """Requests of one client as botocore sends them (one `before-send` per HTTP attempt), and the
    parameters of every request of the latest round, in order."""

    def __init__(self, client: Any) -> None:
        self.total = 0
        self.round: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-send", self._count)
        client.meta.events.register("provide-client-params", self._remember)

    def _count(self, event_name: str, **_: Any) -> None:
        self.total += 1

    def _remember(self, params: dict[str, Any], event_name: str, **_: Any) -> None:
        self.round.append((event_name.rsplit(".", 1)[-1], json.loads(json.dumps(params, default=_bytes))))


def _bytes(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(type(value).__name__)


class Series:
    def __init__(self) -> None:
        self.project_ns: list[int] = []
        self.project_requests: list[int] = []
        self.project_posts: list[int] = []
        self.floor_ns: list[int] = []
        self.floor_requests: list[int] = []
        self.floor_posts: list[int] = []
        self.statuses: dict[str, int] = {}

    def report(self) -> dict[str, Any]:
        return dict(vars(self))


class SignalingRun:
    def __init__(self, create_event: dict[str, Any], events: Path) -> None:
        from botocore.session import get_session
        from calls.handler import lambda_handler as calls_handler
        from signaling import adapters
        from signaling.handler import lambda_handler as signaling_handler

        self.create_event = create_event
        self.authorizer_event = json.loads((events / "authorizer.json").read_text(encoding="utf-8"))
        self.connect_event = json.loads((events / "connect.json").read_text(encoding="utf-8"))
        self.signal_event = json.loads((events / "signal.json").read_text(encoding="utf-8"))
        self.calls_handler = calls_handler
        self.signaling_handler = signaling_handler
        self.dynamodb = Counter(adapters.dynamodb_client())
        self.posts = Counter(adapters.management_client())
        session = get_session()
        self.floor_dynamodb_client: Any = session.create_client(
            "dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT_URL"]
        )
        self.floor_posts_client: Any = session.create_client(
            "apigatewaymanagementapi", endpoint_url=os.environ["SIGNALING_CALLBACK_URL"]
        )
        self.floor_dynamodb = Counter(self.floor_dynamodb_client)
        self.floor_post_counter = Counter(self.floor_posts_client)
        self.series = Series()
        self.relay_event: dict[str, Any] | None = None
        self.relay_floor: list[tuple[str, dict[str, Any]]] = []
        self.connect_floor: list[tuple[str, dict[str, Any]]] = []
        self.pending: tuple[dict[str, Any], dict[str, Any]] | None = None

    # The events

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(str(uuid.uuid4()))
        answer: dict[str, Any] = self.signaling_handler(event, context)
        return answer

    def new_call(self) -> str:
        created = self.calls_handler(self.create_event, LambdaContext(str(uuid.uuid4())))
        if created["statusCode"] != 201:
            raise RuntimeError(f"the create answered {created['statusCode']}: {created['body']}")
        call_id: str = json.loads(created["body"])["data"]["callId"]
        return call_id

    def handshake_events(self, call_id: str, role: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The authorizer's event with a fresh token of the call and role, and the $connect event
        API Gateway sends after an Allow; a new connection id for both."""
        from calls.settings import get_settings
        from calls.signaling_tokens import issue_token

        token = issue_token(get_settings().signaling_token_key, call_id, role, time.time()).token
        connection_id = f"{uuid.uuid4().hex[:14]}="
        authorizer = json.loads(json.dumps(self.authorizer_event))
        authorizer["queryStringParameters"] = {"token": token}
        authorizer["multiValueQueryStringParameters"] = {"token": [token]}
        authorizer["requestContext"]["connectionId"] = connection_id
        connect = json.loads(json.dumps(self.connect_event))
        connect["requestContext"]["connectionId"] = connection_id
        connect["requestContext"]["authorizer"] = {
            "callId": call_id,
            "role": role,
            "principalId": f"{call_id}:{role}",
            "integrationLatency": 0,
        }
        return authorizer, connect

    def open(self, authorizer: dict[str, Any], connect: dict[str, Any]) -> str:
        decision = self.invoke(authorizer)
        allowed = decision["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        opened = self.invoke(connect) if allowed else {"statusCode": 403}
        return str(opened["statusCode"]) if allowed else "denied"

    def message(self, connect: dict[str, Any], body: dict[str, Any], route: str) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(json.dumps(self.signal_event))
        event["requestContext"]["connectionId"] = connect["requestContext"]["connectionId"]
        event["requestContext"]["authorizer"] = connect["requestContext"]["authorizer"]
        event["requestContext"]["routeKey"] = route
        event["body"] = json.dumps(body, separators=(",", ":"))
        return event

    # Timing

    def timed(self, work: Callable[[], str], dynamodb: Counter, posts: Counter, side: str) -> None:
        requests, sent = dynamodb.total, posts.total
        dynamodb.round.clear()
        posts.round.clear()
        started = time.perf_counter_ns()
        status = work()
        elapsed = time.perf_counter_ns() - started
        getattr(self.series, f"{side}_ns").append(elapsed)
        getattr(self.series, f"{side}_requests").append(dynamodb.total - requests)
        getattr(self.series, f"{side}_posts").append(posts.total - sent)
        if side == "project":
            self.series.statuses[status] = self.series.statuses.get(status, 0) + 1

    def rounds(self, count: int, project: Callable[[], None], floor: Callable[[], None]) -> None:
        for number in range(count):
            first, second = (project, floor) if number % 2 == 0 else (floor, project)
            first()
            second()

    def measured(self, count: int, project: Callable[[], None], floor: Callable[[], None]) -> dict[str, Any]:
        self.series = Series()
        self.rounds(WARMUP_ROUNDS, project, floor)
        self.series = Series()
        began = time.monotonic()
        self.rounds(count, project, floor)
        return {**self.series.report(), "duration_s": time.monotonic() - began}

    # Relay

    def prepare_relay(self) -> None:
        call_id = self.new_call()
        parties = {}
        for role, name in (("agent", "Sarah"), ("guest", "John")):
            authorizer, connect = self.handshake_events(call_id, role)
            if self.open(authorizer, connect) != "200":
                raise RuntimeError(f"the {role}'s connection was refused")
            self.invoke(self.message(connect, {"action": "hello", "displayName": name}, "hello"))
            parties[role] = connect
        signal = json.loads(self.signal_event["body"])
        self.relay_event = self.message(parties["agent"], signal, "signal")
        # The function's own requests of one relay, for the floor to send alike.
        self.dynamodb.round.clear()
        self.posts.round.clear()
        self.invoke(self.relay_event)
        self.relay_floor = [*self.dynamodb.round, *self.posts.round]
        if [operation for operation, _ in self.relay_floor] != ["Query", "PostToConnection"]:
            raise RuntimeError(f"a relay made {self.relay_floor}, not one Query and one post")

    def relay(self) -> None:
        assert self.relay_event is not None
        event = self.relay_event

        def serve() -> str:
            return str(self.invoke(event)["statusCode"])

        self.timed(serve, self.dynamodb, self.posts, "project")

    def relay_bare(self) -> None:
        (_, query), (_, post) = self.relay_floor
        data = post["Data"].encode("utf-8")

        def send() -> str:
            self.floor_dynamodb_client.query(**query)
            self.floor_posts_client.post_to_connection(ConnectionId=post["ConnectionId"], Data=data)
            return "200"

        self.timed(send, self.floor_dynamodb, self.floor_post_counter, "floor")

    # Connect

    def prepare_connect(self) -> None:
        authorizer, connect = self.handshake_events(self.new_call(), "guest")
        self.dynamodb.round.clear()
        if self.open(authorizer, connect) != "200":
            raise RuntimeError("the guest's connection was refused")
        self.connect_floor = list(self.dynamodb.round)
        operations = [operation for operation, _ in self.connect_floor]
        if operations != ["GetItem", "PutItem", "PutItem", "GetItem"]:
            raise RuntimeError(f"a connect made {operations}, not GetItem, PutItem, PutItem, GetItem")
        self.pending = self.handshake_events(self.new_call(), "guest")

    def connect(self) -> None:
        assert self.pending is not None
        authorizer, connect = self.pending

        def serve() -> str:
            return self.open(authorizer, connect)

        self.timed(serve, self.dynamodb, self.posts, "project")
        self.pending = self.handshake_events(self.new_call(), "guest")  # untimed

    def connect_bare(self) -> None:
        fresh_call = str(uuid.uuid4())
        requests = []
        for operation, captured in self.connect_floor:
            params = json.loads(json.dumps(captured))
            if operation == "PutItem":
                params["Item"]["callId"] = {"S": fresh_call}
            requests.append((operation, params))

        def send() -> str:
            for operation, params in requests:
                method = "get_item" if operation == "GetItem" else "put_item"
                getattr(self.floor_dynamodb_client, method)(**params)
            return "200"

        self.timed(send, self.floor_dynamodb, self.floor_post_counter, "floor")


def main(create_path: str, events_dir: str, calls_text: str, report_path: str) -> int:
    create_event = json.loads(Path(create_path).read_text(encoding="utf-8"))
    run = SignalingRun(create_event, Path(events_dir))
    calls = int(calls_text)
    run.prepare_relay()
    relay = run.measured(calls, run.relay, run.relay_bare)
    run.prepare_connect()
    connect = run.measured(calls, run.connect, run.connect_bare)
    write_report(report_path, {"relay": relay, "connect": connect})
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
