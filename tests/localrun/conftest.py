"""The local server in this process, with test doubles for its Lambda handlers.

`SignalingDouble` stands in for the signaling function: it records every event it is given and
answers each kind as a function would (an authorizer's policy, a route's status), and talks back
through the management API with boto3's own `apigatewaymanagementapi` client, as the real one
does. No AWS and no database: only the bridge is under test.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from localrun.server import LocalServer, serving_in_background
from localrun.static import Site

WAIT_SECONDS = 10


def not_found_api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 404, "headers": {"Content-Type": "application/json"}, "body": '{"ok":false}'}


@dataclass
class SignalingDouble:
    """Events in, in the order they came; `callback_url` is the server's management API."""

    callback_url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    timings: list[tuple[str, float, float]] = field(default_factory=list)
    slow_routes: dict[str, float] = field(default_factory=dict)
    connect_status: int = 200
    by_call: dict[str, str] = field(default_factory=dict)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        started = time.monotonic()
        with self._lock:
            self.events.append(event)
            self._lock.notify_all()
        try:
            return self._answer(event)
        finally:
            self.timings.append((self.kind(event), started, time.monotonic()))

    @staticmethod
    def kind(event: dict[str, Any]) -> str:
        if event.get("type") == "REQUEST":
            return "authorizer"
        if "Records" in event:
            return "stream"
        return str(event["requestContext"]["routeKey"])

    def kinds(self) -> list[str]:
        with self._lock:
            return [self.kind(event) for event in self.events]

    def wait_for(self, condition: Callable[[list[str]], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        with self._lock:
            while not condition([self.kind(event) for event in self.events]):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"timed out waiting for {what}; events: {self.kinds_unlocked()}")
                self._lock.wait(remaining)

    def kinds_unlocked(self) -> list[str]:
        return [self.kind(event) for event in self.events]

    def management(self) -> Any:
        return boto3.client(
            "apigatewaymanagementapi", endpoint_url=self.callback_url, region_name="us-east-1"
        )

    def _answer(self, event: dict[str, Any]) -> Any:
        kind = self.kind(event)
        if kind == "authorizer":
            return self._authorize(event)
        if kind == "stream":
            return self._stream(event)
        time.sleep(self.slow_routes.get(kind, 0))
        if kind == "$connect":
            call_id = event["requestContext"]["authorizer"]["callId"]
            self.by_call[call_id] = event["requestContext"]["connectionId"]
            return {"statusCode": self.connect_status}
        if kind == "ping":
            connection_id = event["requestContext"]["connectionId"]
            self.management().post_to_connection(ConnectionId=connection_id, Data=b'{"type":"pong"}')
        if kind == "$default" and event.get("body") == "crash":
            raise RuntimeError("the function failed")
        return {"statusCode": 200}

    @staticmethod
    def _authorize(event: dict[str, Any]) -> dict[str, Any]:
        token = (event.get("queryStringParameters") or {}).get("token", "")
        if token == "unauthorized":
            raise Exception("Unauthorized")
        if token == "crash":
            raise RuntimeError("the authorizer failed")
        effect = "Allow" if token.startswith("allow") else "Deny"
        context: dict[str, Any] = {"callId": token.removeprefix("allow-") or "call-1", "role": "agent"}
        if token == "allow-bad-context":
            context["nested"] = {"not": "allowed"}
        return {
            "principalId": "agent",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
                ],
            },
            "context": context,
        }

    def _stream(self, event: dict[str, Any]) -> dict[str, Any]:
        """An end of a call the double knows a connection of: call-ended, then the socket closed."""
        for record in event["Records"]:
            image = record["dynamodb"].get("NewImage") or {}
            call_id = image.get("callId", {}).get("S")
            if record["eventName"] == "MODIFY" and "endedAt" in image and call_id in self.by_call:
                connection_id = self.by_call[call_id]
                self.management().post_to_connection(
                    ConnectionId=connection_id, Data=b'{"type":"call-ended"}'
                )
                self.management().delete_connection(ConnectionId=connection_id)
        return {"batchItemFailures": []}


@dataclass
class RunningServer:
    server: LocalServer
    signaling: SignalingDouble

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws"


@pytest.fixture
def running() -> Iterator[RunningServer]:
    signaling = SignalingDouble()
    server = LocalServer(not_found_api, site=Site(), signaling=signaling)
    with serving_in_background(server):
        signaling.callback_url = f"{server.url}/__connections__"
        yield RunningServer(server, signaling)


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, WAIT_SECONDS * 2))
