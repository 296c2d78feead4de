"""Signaling's adapters: the connections table's conditions on DynamoDB Local, and the management
API's answers through botocore (its Stubber, and a bare HTTP 410 from a local endpoint, the way the
local run answers a closed socket; moto's management API never raises GoneException)."""

from __future__ import annotations

import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.stub import Stubber
from calls import tables
from calls.models import DEFAULT_SETTINGS, CallRecord
from calls.repository import get_repository
from callsctl.store import AdminStore
from localrun.demo import DEMO_APP_ID
from signaling import adapters
from signaling.models import Connection, ConnectionGone, Identity, SignalingUnavailable

from tests.integration.conftest import TABLE_NAMES

pytestmark = pytest.mark.integration

NOW = int(time.time())


@pytest.fixture
def connections(db_environment: str) -> adapters.DynamoDBConnections:
    adapters.reset()
    return adapters.DynamoDBConnections(TABLE_NAMES.connections)


def connection(call_id: str, role: str, connection_id: str, **more: Any) -> Connection:
    return Connection(
        call_id=call_id,
        role=role,
        connection_id=connection_id,
        connected_at="2026-11-23T12:00:00.000Z",
        expires_at=NOW + 3600,
        **more,
    )


def raw_items(admin: AdminStore, call_id: str) -> list[dict[str, Any]]:
    found = admin.client.query(
        TableName=TABLE_NAMES.connections,
        KeyConditionExpression="callId = :c",
        ExpressionAttributeValues={":c": {"S": call_id}},
        ConsistentRead=True,
    )
    items: list[dict[str, Any]] = found["Items"]
    return items


# The connections table


def test_the_table_is_made_from_the_shared_schema(
    admin: AdminStore, connections: adapters.DynamoDBConnections
) -> None:
    table = admin.client.describe_table(TableName=TABLE_NAMES.connections)["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "callId", "KeyType": "HASH"},
        {"AttributeName": "role", "KeyType": "RANGE"},
    ]
    ttl = admin.client.describe_time_to_live(TableName=TABLE_NAMES.connections)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == tables.CONNECTIONS.ttl_attribute == "expiresAt"


def test_a_token_is_used_once_and_remembered_until_it_expires(
    admin: AdminStore, connections: adapters.DynamoDBConnections
) -> None:
    call_id = str(uuid.uuid4())
    assert connections.use_token(call_id, "d" * 64, NOW + 60) is True
    assert connections.use_token(call_id, "d" * 64, NOW + 60) is False
    assert connections.use_token(call_id, "e" * 64, NOW + 60) is True
    assert connections.use_token(str(uuid.uuid4()), "d" * 64, NOW + 60) is True
    stored = {item["role"]["S"]: item["expiresAt"]["N"] for item in raw_items(admin, call_id)}
    assert stored == {f"token#{'d' * 64}": str(NOW + 60), f"token#{'e' * 64}": str(NOW + 60)}


def test_racing_uses_of_one_token_admit_it_and_leave_it_used(
    connections: adapters.DynamoDBConnections,
) -> None:
    """Eight uses at once. DynamoDB makes a conditional put atomic, so exactly one is admitted; DynamoDB
    Local on a loaded machine has been seen to admit two of a burst (its conditions are not atomic
    under load), so this race asserts what the emulator does guarantee: the token is admitted, and
    once the burst is over it is used for good. The sequential test above holds the one-and-only."""
    call_id = str(uuid.uuid4())
    barrier = threading.Barrier(8)

    def use(_: int) -> bool:
        barrier.wait()
        return connections.use_token(call_id, "f" * 64, NOW + 60)

    with ThreadPoolExecutor(8) as pool:
        admitted = sum(pool.map(use, range(8)))
    assert admitted >= 1
    assert connections.use_token(call_id, "f" * 64, NOW + 60) is False


def test_a_put_replaces_its_roles_connection_and_returns_it(
    connections: adapters.DynamoDBConnections,
) -> None:
    call_id = str(uuid.uuid4())
    first = connection(call_id, "guest", "first=")
    assert connections.put(first) is None
    assert connections.put(connection(call_id, "agent", "agent=")) is None
    replaced = connections.put(connection(call_id, "guest", "second="))
    assert replaced == first
    both = connections.of_call(call_id)
    assert both.guest is not None
    assert both.agent is not None
    assert (both.guest.connection_id, both.agent.connection_id) == ("second=", "agent=")


def test_racing_connections_of_a_role_leave_one_and_each_other_is_replaced_once(
    connections: adapters.DynamoDBConnections,
) -> None:
    call_id = str(uuid.uuid4())
    ids = [f"guest-{number}=" for number in range(8)]
    barrier = threading.Barrier(len(ids))

    def connect(connection_id: str) -> str | None:
        barrier.wait()
        old = connections.put(connection(call_id, "guest", connection_id))
        return old.connection_id if old else None

    with ThreadPoolExecutor(len(ids)) as pool:
        replaced = list(pool.map(connect, ids))
    remaining = connections.get(call_id, "guest")
    assert remaining is not None
    told = [found for found in replaced if found is not None]
    assert len(told) == len(set(told)) == len(ids) - 1
    assert {*told, remaining.connection_id} == set(ids)


def test_hello_marks_only_the_roles_live_connection(
    admin: AdminStore, connections: adapters.DynamoDBConnections
) -> None:
    call_id = str(uuid.uuid4())
    connections.put(connection(call_id, "guest", "live="))
    assert connections.say_hello(Identity(call_id, "guest", "stale="), "Eve", "t1") is False
    assert connections.say_hello(Identity(call_id, "agent", "agent="), "Sarah", "t1") is False
    assert connections.say_hello(Identity(call_id, "guest", "live="), "Jürgen", "2026-11-23T12:00:01.000Z")
    guest = connections.get(call_id, "guest")
    assert guest is not None
    assert (guest.display_name, guest.hello_at, guest.ready) == ("Jürgen", "2026-11-23T12:00:01.000Z", True)
    # A hello of a missing role never creates an item.
    assert connections.get(call_id, "agent") is None
    assert len(raw_items(admin, call_id)) == 1


def test_both_roles_are_one_read_that_never_returns_tokens_or_other_calls(
    connections: adapters.DynamoDBConnections,
) -> None:
    call_id, other_call = str(uuid.uuid4()), str(uuid.uuid4())
    connections.use_token(call_id, "a" * 64, NOW + 60)
    connections.use_token(call_id, "z" * 64, NOW + 60)
    connections.put(connection(call_id, "agent", "agent=", display_name="Sarah", hello_at="t"))
    connections.put(connection(other_call, "guest", "elsewhere="))
    both = connections.of_call(call_id)
    assert both.agent == connection(call_id, "agent", "agent=", display_name="Sarah", hello_at="t")
    assert both.guest is None
    assert [found.connection_id for found in both] == ["agent="]


def test_remove_takes_only_the_connections_own_item(connections: adapters.DynamoDBConnections) -> None:
    call_id = str(uuid.uuid4())
    live = connection(call_id, "guest", "live=")
    connections.put(live)
    assert connections.remove(call_id, "guest", "replaced=") is None
    assert connections.get(call_id, "guest") == live
    assert connections.remove(call_id, "guest", "live=") == live
    assert connections.get(call_id, "guest") is None
    assert connections.remove(call_id, "guest", "live=") is None


def test_a_throttled_table_is_signaling_unavailable(connections: adapters.DynamoDBConnections) -> None:
    client = adapters.dynamodb_client()
    stubbed = adapters.DynamoDBConnections(TABLE_NAMES.connections, client=lambda: client)
    with Stubber(client) as stubber:
        stubber.add_client_error("query", service_error_code="ProvisionedThroughputExceededException")
        with pytest.raises(SignalingUnavailable, match="ProvisionedThroughputExceededException"):
            stubbed.of_call(str(uuid.uuid4()))
        stubber.add_client_error("delete_item", service_error_code="ResourceNotFoundException")
        with pytest.raises(SignalingUnavailable):
            stubbed.remove("c", "guest", "x=")


# The calls table, as the authorizer and $connect read it


def test_a_calls_state_is_read_from_the_calls_table(db_environment: str) -> None:
    adapters.reset()
    repository = get_repository()
    call_id = str(uuid.uuid4())
    repository.put_call_once(
        CallRecord(
            call_id=call_id,
            app_id=DEMO_APP_ID,
            preset_id=None,
            settings=DEFAULT_SETTINGS,
            created_at="2026-11-23T12:00:00.000Z",
            expires_at=NOW + 600,
            request_id="signaling-adapters",
        )
    )
    calls = adapters.DynamoDBCalls(TABLE_NAMES.calls)
    state = calls.call_state(call_id)
    assert state is not None
    assert (state.ended, state.expires_at, state.live_at(NOW)) == (False, NOW + 600, True)
    repository.end_call_once(DEMO_APP_ID, call_id, ended_at="2026-11-23T12:05:00.000Z", now=NOW)
    ended = calls.call_state(call_id)
    assert ended is not None
    assert (ended.ended, ended.live_at(NOW)) == (True, False)
    assert calls.call_state(str(uuid.uuid4())) is None


# The management API


@pytest.fixture
def management(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[adapters.ApiGatewayManagementApi, Stubber]]:
    monkeypatch.setenv(
        "SIGNALING_CALLBACK_URL", "https://abcdef1234.execute-api.eu-west-1.amazonaws.com/prod"
    )
    adapters.reset()
    client = adapters.management_client()
    with Stubber(client) as stubber:
        yield adapters.ApiGatewayManagementApi(client=lambda: client), stubber
        stubber.assert_no_pending_responses()


def test_a_post_sends_the_frame_to_the_connection(
    management: tuple[adapters.ApiGatewayManagementApi, Stubber],
) -> None:
    api, stubber = management
    stubber.add_response("post_to_connection", {}, {"ConnectionId": "AbC123=", "Data": b'{"type":"pong"}'})
    api.post("AbC123=", b'{"type":"pong"}')


def test_gone_is_connection_gone_to_a_post_and_nothing_to_a_close(
    management: tuple[adapters.ApiGatewayManagementApi, Stubber],
) -> None:
    api, stubber = management
    stubber.add_client_error("post_to_connection", service_error_code="GoneException", http_status_code=410)
    with pytest.raises(ConnectionGone):
        api.post("closed=", b"{}")
    stubber.add_client_error("delete_connection", service_error_code="GoneException", http_status_code=410)
    api.close("closed=")


@pytest.mark.parametrize(
    ("operation", "code", "status"),
    [
        ("post_to_connection", "LimitExceededException", 429),
        ("post_to_connection", "ForbiddenException", 403),
        ("delete_connection", "ForbiddenException", 403),
    ],
)
def test_other_failures_are_signaling_unavailable(
    management: tuple[adapters.ApiGatewayManagementApi, Stubber], operation: str, code: str, status: int
) -> None:
    api, stubber = management
    stubber.add_client_error(operation, service_error_code=code, http_status_code=status)
    send = (lambda: api.post("c=", b"{}")) if operation == "post_to_connection" else (lambda: api.close("c="))
    with pytest.raises(SignalingUnavailable, match=code):
        send()


class ConnectionsEndpoint(http.server.BaseHTTPRequestHandler):
    """A management endpoint as the local run serves it: 410 with no error type for a closed socket."""

    seen: list[tuple[str, str, bytes]] = []  # noqa: RUF012 - shared by the server's handler instances

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append(("POST", self.path, body))
        self.send_response(410 if "closed" in self.path else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_DELETE(self) -> None:
        self.seen.append(("DELETE", self.path, b""))
        self.send_response(410 if "closed" in self.path else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_bare_410_from_a_local_endpoint_is_gone_too(monkeypatch: pytest.MonkeyPatch) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ConnectionsEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv(
            "SIGNALING_CALLBACK_URL", f"http://127.0.0.1:{server.server_port}/__connections__/"
        )
        adapters.reset()
        api = adapters.ApiGatewayManagementApi()
        ConnectionsEndpoint.seen.clear()
        api.post("open-1=", '{"type":"pong","name":"Jürgen"}'.encode())
        with pytest.raises(ConnectionGone):
            api.post("closed-1=", b"{}")
        api.close("open-1=")
        api.close("closed-1=")
    finally:
        server.shutdown()
        server.server_close()
    assert ConnectionsEndpoint.seen[0] == (
        "POST",
        "/__connections__/@connections/open-1%3D",
        '{"type":"pong","name":"Jürgen"}'.encode(),
    )
    assert [(method, path) for method, path, _ in ConnectionsEndpoint.seen[1:]] == [
        ("POST", "/__connections__/@connections/closed-1%3D"),
        ("DELETE", "/__connections__/@connections/open-1%3D"),
        ("DELETE", "/__connections__/@connections/closed-1%3D"),
    ]


def test_without_a_callback_url_the_function_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from calls.settings import ConfigurationError

    monkeypatch.delenv("SIGNALING_CALLBACK_URL", raising=False)
    adapters.reset()
    with pytest.raises(ConfigurationError, match="SIGNALING_CALLBACK_URL"):
        adapters.ApiGatewayManagementApi().post("c=", b"{}")
