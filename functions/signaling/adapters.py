"""The AWS adapters of the signaling function, behind signaling.ports: the connections table,
the calls table (read only) and API Gateway's management API. Every AWS call of the function
is here; nothing above this module sees botocore.

Clients come from botocore directly (as the API's do: boto3's import costs a cold start for
nothing used here), each created on its first request, so a `ping` never loads DynamoDB's
model and an authorizer never loads the management API's. Timeouts are short and attempts
bounded: a slow dependency fails the one event, it does not hold the socket's next frames.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from calls import tables

from signaling.models import (
    AGENT,
    GUEST,
    CallConnections,
    CallState,
    Connection,
    ConnectionGone,
    Identity,
    SignalingUnavailable,
)
from signaling.ports import Ports
from signaling.settings import (
    MANAGEMENT_CONNECT_TIMEOUT_SECONDS,
    MANAGEMENT_MAX_ATTEMPTS,
    MANAGEMENT_READ_TIMEOUT_SECONDS,
    get_signaling_settings,
)

CALL_ID = tables.CONNECTIONS.partition_key.name
ROLE = tables.CONNECTIONS.sort_key.name if tables.CONNECTIONS.sort_key else "role"
TTL = tables.CONNECTIONS.ttl_attribute or "expiresAt"
# How the management API says a connection is closed; a bare 410 (the local run's endpoint may
# answer without an error type) is parsed by botocore as the code "410".
GONE_CODES = frozenset({"GoneException", "410"})


@functools.cache
def dynamodb_client() -> Any:
    from botocore.config import Config
    from botocore.session import get_session
    from calls.settings import get_settings

    settings = get_settings()
    config = Config(
        connect_timeout=settings.dynamodb_connect_timeout_seconds,
        read_timeout=settings.dynamodb_read_timeout_seconds,
        retries={"total_max_attempts": settings.dynamodb_max_attempts, "mode": "standard"},
        tcp_keepalive=True,
        parameter_validation=False,
    )
    return get_session().create_client("dynamodb", endpoint_url=settings.dynamodb_endpoint_url, config=config)


@functools.cache
def management_client() -> Any:
    from botocore.config import Config
    from botocore.session import get_session
    from calls.settings import ConfigurationError

    callback_url = get_signaling_settings().callback_url
    if callback_url is None:
        raise ConfigurationError("SIGNALING_CALLBACK_URL is not set: the function cannot answer a socket")
    config = Config(
        connect_timeout=MANAGEMENT_CONNECT_TIMEOUT_SECONDS,
        read_timeout=MANAGEMENT_READ_TIMEOUT_SECONDS,
        retries={"total_max_attempts": MANAGEMENT_MAX_ATTEMPTS, "mode": "standard"},
        tcp_keepalive=True,
        parameter_validation=False,
    )
    return get_session().create_client("apigatewaymanagementapi", endpoint_url=callback_url, config=config)


def _code(error: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def _failed(error: Exception) -> SignalingUnavailable:
    """botocore's failure as the domain's; its message names the operation, never a secret."""
    return SignalingUnavailable(f"{type(error).__name__}: {_code(error) or error}")


class DynamoDBConnections:
    def __init__(self, table_name: str, client: Callable[[], Any] = dynamodb_client):
        self._table_name = table_name
        self._client = client

    def use_token(self, call_id: str, use_key: str, expires_at: int) -> bool:
        item = {
            CALL_ID: {"S": call_id},
            ROLE: {"S": f"{tables.USED_TOKEN_PREFIX}{use_key}"},
            TTL: {"N": str(expires_at)},
        }
        return (
            self._conditional(
                "put_item",
                {
                    "TableName": self._table_name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(#role)",
                    "ExpressionAttributeNames": {"#role": ROLE},
                },
            )
            is not None
        )

    def put(self, connection: Connection) -> Connection | None:
        answer = self._call(
            "put_item",
            {"TableName": self._table_name, "Item": _item(connection), "ReturnValues": "ALL_OLD"},
        )
        old = answer.get("Attributes")
        return _connection(old) if old else None

    def say_hello(self, identity: Identity, display_name: str, hello_at: str) -> bool:
        return (
            self._conditional(
                "update_item",
                {
                    "TableName": self._table_name,
                    "Key": _key(identity.call_id, identity.role),
                    "UpdateExpression": "SET displayName = :name, helloAt = :at",
                    "ConditionExpression": "connectionId = :me",
                    "ExpressionAttributeValues": {
                        ":name": {"S": display_name},
                        ":at": {"S": hello_at},
                        ":me": {"S": identity.connection_id},
                    },
                },
            )
            is not None
        )

    def of_call(self, call_id: str) -> CallConnections:
        # The roles' range only: the used tokens of the call sort after it ("token#...").
        answer = self._call(
            "query",
            {
                "TableName": self._table_name,
                "KeyConditionExpression": "#call = :call AND #role BETWEEN :agent AND :guest",
                "ExpressionAttributeNames": {"#call": CALL_ID, "#role": ROLE},
                "ExpressionAttributeValues": {
                    ":call": {"S": call_id},
                    ":agent": {"S": AGENT},
                    ":guest": {"S": GUEST},
                },
                "ConsistentRead": True,
            },
        )
        found = {connection.role: connection for connection in map(_connection, answer.get("Items", []))}
        return CallConnections(agent=found.get(AGENT), guest=found.get(GUEST))

    def get(self, call_id: str, role: str) -> Connection | None:
        answer = self._call(
            "get_item",
            {"TableName": self._table_name, "Key": _key(call_id, role), "ConsistentRead": True},
        )
        item = answer.get("Item")
        return _connection(item) if item else None

    def remove(self, call_id: str, role: str, connection_id: str) -> Connection | None:
        answer = self._conditional(
            "delete_item",
            {
                "TableName": self._table_name,
                "Key": _key(call_id, role),
                "ConditionExpression": "connectionId = :me",
                "ExpressionAttributeValues": {":me": {"S": connection_id}},
                "ReturnValues": "ALL_OLD",
            },
        )
        old = (answer or {}).get("Attributes")
        return _connection(old) if old else None

    def _call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self._client(), operation)(**request)
        except Exception as error:
            raise _failed(error) from error
        return answer

    def _conditional(self, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The answer; None when the condition refused the write."""
        try:
            answer: dict[str, Any] = getattr(self._client(), operation)(**request)
        except Exception as error:
            if _code(error) == "ConditionalCheckFailedException":
                return None
            raise _failed(error) from error
        return answer


class DynamoDBCalls:
    def __init__(self, table_name: str, client: Callable[[], Any] = dynamodb_client):
        self._table_name = table_name
        self._client = client

    def call_state(self, call_id: str) -> CallState | None:
        try:
            answer = self._client().get_item(
                TableName=self._table_name,
                Key={tables.CALLS.partition_key.name: {"S": call_id}},
                ProjectionExpression="#status, expiresAt",
                ExpressionAttributeNames={"#status": "status"},
                ConsistentRead=True,
            )
        except Exception as error:
            raise _failed(error) from error
        item = answer.get("Item")
        if not item:
            return None
        ended = item.get("status", {}).get("S") == "ended"
        return CallState(ended=ended, expires_at=int(item["expiresAt"]["N"]))


class RecordingsFinisher:
    """The call's recordings (calls.finish_recording over the API's own adapters of the recordings
    table and bucket), loaded on first use: only an agent's $disconnect and a call's end need them,
    so no other route's cold start loads S3's model or pydantic."""

    def finish(self, call_id: str) -> int:
        from datetime import UTC, datetime

        from calls.finish_recording import RecordingFinisher
        from calls.recording_storage import get_recordings_bucket, get_recordings_table

        finisher = RecordingFinisher(get_recordings_table(), get_recordings_bucket())
        return len(finisher.finish_call(call_id, now=datetime.now(UTC)))


class ApiGatewayManagementApi:
    def __init__(self, client: Callable[[], Any] = management_client):
        self._client = client

    def post(self, connection_id: str, message: bytes) -> None:
        client = self._client()
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=message)
        except Exception as error:
            if _code(error) in GONE_CODES:
                raise ConnectionGone(connection_id) from None
            raise _failed(error) from error

    def close(self, connection_id: str) -> None:
        client = self._client()
        try:
            client.delete_connection(ConnectionId=connection_id)
        except Exception as error:
            if _code(error) in GONE_CODES:
                return
            raise _failed(error) from error


def _key(call_id: str, role: str) -> dict[str, Any]:
    return {CALL_ID: {"S": call_id}, ROLE: {"S": role}}


def _item(connection: Connection) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(connection.call_id, connection.role),
        "connectionId": {"S": connection.connection_id},
        "connectedAt": {"S": connection.connected_at},
        TTL: {"N": str(connection.expires_at)},
    }
    if connection.display_name is not None:
        item["displayName"] = {"S": connection.display_name}
    if connection.hello_at is not None:
        item["helloAt"] = {"S": connection.hello_at}
    return item


def _connection(item: dict[str, Any]) -> Connection:
    def text(name: str) -> str | None:
        value = item.get(name)
        return str(value["S"]) if value else None

    return Connection(
        call_id=item[CALL_ID]["S"],
        role=item[ROLE]["S"],
        connection_id=item["connectionId"]["S"],
        connected_at=text("connectedAt") or "",
        expires_at=int(item[TTL]["N"]) if TTL in item else 0,
        display_name=text("displayName"),
        hello_at=text("helloAt"),
    )


@functools.cache
def get_ports() -> Ports:
    """The function's adapters, once per container; each makes its client on its first request."""
    settings = get_signaling_settings()
    return Ports(
        connections=DynamoDBConnections(settings.connections_table_name),
        sockets=ApiGatewayManagementApi(),
        calls=DynamoDBCalls(settings.calls_table_name),
        recordings=RecordingsFinisher(),
    )


def reset() -> None:
    """Forget the ports, clients and settings: a cold container again (for tests)."""
    get_ports.cache_clear()
    dynamodb_client.cache_clear()
    management_client.cache_clear()
    get_signaling_settings.cache_clear()
    from calls import wiring

    wiring.reset()
