"""Every DynamoDB call of the calls, the apps and the idempotency records lives here; nothing
above this module sees botocore. How the records are stored as items is calls.items'; the
recordings' storage is calls.recording_storage, Kinesis Video's TURN calls.kinesis_video, and
botocore's failures become domain errors in calls.aws_errors.

The client comes from botocore directly: boto3's import pulls in s3transfer, which
costs a cold start about 0.1 s for nothing this function uses.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast

from calls import tables
from calls.aws_errors import attempt, error_code, translate
from calls.errors import ServiceUnavailable
from calls.items import (
    app_from_items,
    call_from_item,
    call_to_item,
    previous_attempt,
)
from calls.models import (
    AppRecord,
    CallRecord,
    PageKey,
    PreviousAttempt,
    RecordPage,
    StoredResponse,
)
from calls.settings import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def create_dynamodb_client(settings: Settings) -> DynamoDBClient:
    from botocore import __version__ as botocore_version
    from botocore.config import Config
    from botocore.session import get_session

    config = Config(
        connect_timeout=settings.dynamodb_connect_timeout_seconds,
        read_timeout=settings.dynamodb_read_timeout_seconds,
        # total_max_attempts counts the first try; botocore's max_attempts would count retries only.
        retries={"total_max_attempts": settings.dynamodb_max_attempts, "mode": "standard"},
        tcp_keepalive=True,
        # Per-request CPU that buys nothing here (about 0.1 ms of a warm call together): every
        # request is built by this module, so botocore's check of its parameters against the
        # model repeats what the code guarantees (DynamoDB still validates); and a fixed
        # User-Agent spares botocore assembling its many-part one twice per request.
        parameter_validation=False,
        user_agent=f"Botocore/{botocore_version} video-calls",
    )
    client = get_session().create_client(
        "dynamodb", endpoint_url=settings.dynamodb_endpoint_url, config=config
    )
    return cast("DynamoDBClient", client)


class Repository:
    def __init__(self, client: DynamoDBClient, apps_table_name: str, calls_table_name: str):
        self.client = client
        self._apps_table_name = apps_table_name
        self._calls_table_name = calls_table_name

    def load_app(self, app_id: str) -> AppRecord | None:
        """The app with all its presets, in one Query (more pages only past 1 MB)."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._apps_table_name,
            "KeyConditionExpression": "#pk = :app",
            "ExpressionAttributeNames": {"#pk": tables.APPS.partition_key.name},
            "ExpressionAttributeValues": {":app": {"S": app_id}},
        }
        while True:
            try:
                page = self.client.query(**request)
            except Exception as error:
                if error_code(error) == "ValidationException":
                    # The id is the caller's: one DynamoDB refuses as a key names no app (401).
                    return None
                raise translate(error) from error
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return app_from_items(items)

    def put_call_once(self, call: CallRecord) -> None:
        """Write the call; the condition makes it impossible to overwrite an existing one."""
        request = {
            "TableName": self._calls_table_name,
            "Item": call_to_item(call),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": tables.CALLS.partition_key.name},
        }
        attempt(self.client.put_item, request)

    def get_call(self, call_id: str) -> CallRecord | None:
        """One call by id, read consistently so that a call just created is found."""
        found = attempt(
            self.client.get_item,
            {
                "TableName": self._calls_table_name,
                "Key": {tables.CALLS.partition_key.name: {"S": call_id}},
                "ConsistentRead": True,
            },
        )
        item = found.get("Item")
        return call_from_item(item) if item else None

    def list_calls(
        self,
        app_id: str,
        *,
        limit: int,
        now: int,
        status: str | None = None,
        conversation_id: str | None = None,
        start: PageKey | None = None,
    ) -> RecordPage:
        """One Query of the app's calls, newest first: by the app index, or by the conversation
        index when a conversation is asked for. The status is a filter on what the Query reads,
        so a page may hold fewer than `limit` calls."""
        if conversation_id is None:
            index, partition_name = tables.CALLS_BY_APP_INDEX, "appId"
            partition_value = app_id
        else:
            index, partition_name = tables.CALLS_BY_CONVERSATION_INDEX, tables.CONVERSATION_KEY_ATTRIBUTE
            partition_value = tables.conversation_key(app_id, conversation_id)
        request: dict[str, Any] = {
            "TableName": self._calls_table_name,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": partition_name},
            "ExpressionAttributeValues": {":pk": {"S": partition_value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if status is not None:
            _add_status_filter(request, status, now)
        if start is not None:
            request["ExclusiveStartKey"] = {
                partition_name: {"S": partition_value},
                "createdAt": {"S": start.created_at},
                tables.CALLS.partition_key.name: {"S": start.call_id},
            }
        page = attempt(self.client.query, request)
        last = page.get("LastEvaluatedKey")
        next_key = PageKey(created_at=last["createdAt"]["S"], call_id=last["callId"]["S"]) if last else None
        return RecordPage(calls=[call_from_item(item) for item in page.get("Items", [])], next_key=next_key)

    def end_call_once(self, app_id: str, call_id: str, *, ended_at: str, now: int) -> CallRecord | None:
        """End a live call of this app in one conditional update. Returns the call as it stands
        afterwards: ended by this request, or as it was when the condition refused (already
        ended, expired, another app's); None when there is no such call. Nothing is overwritten."""
        request = {
            "TableName": self._calls_table_name,
            "Key": {tables.CALLS.partition_key.name: {"S": call_id}},
            "UpdateExpression": "SET #status = :ended, endedAt = :endedAt",
            "ConditionExpression": "appId = :app AND #status = :created AND expiresAt > :now",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":ended": {"S": "ended"},
                ":endedAt": {"S": ended_at},
                ":app": {"S": app_id},
                ":created": {"S": "created"},
                ":now": {"N": str(now)},
            },
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        return self._update_call_once(request)

    def stamp_join_once(self, call_id: str, attribute: str, *, joined_at: str, now: int) -> CallRecord | None:
        """Stamp a role's first join (`attribute` is agentJoinedAt or guestJoinedAt) on a live call,
        in one conditional update: a stamp is never overwritten and never lands on an ended or
        expired call. Returns the call as it stands afterwards (stamped by this request or an
        earlier one, or ended meanwhile); None when there is no such call any more."""
        request = {
            "TableName": self._calls_table_name,
            "Key": {tables.CALLS.partition_key.name: {"S": call_id}},
            "UpdateExpression": "SET #joined = :joinedAt",
            "ConditionExpression": (
                "attribute_not_exists(#joined) AND #status = :created AND expiresAt > :now"
            ),
            "ExpressionAttributeNames": {"#joined": attribute, "#status": "status"},
            "ExpressionAttributeValues": {
                ":joinedAt": {"S": joined_at},
                ":created": {"S": "created"},
                ":now": {"N": str(now)},
            },
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        return self._update_call_once(request)

    def _update_call_once(self, request: dict[str, Any]) -> CallRecord | None:
        """A conditional UpdateItem of a call that returns the call either way: as updated, or as
        it was when the condition refused; None when no such call exists."""
        from botocore.exceptions import ClientError

        try:
            updated = self.client.update_item(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise translate(error) from error
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            return call_from_item(old) if old else None
        except Exception as error:
            raise translate(error) from error
        return call_from_item(updated["Attributes"])


def _add_status_filter(request: dict[str, Any], status: str, now: int) -> None:
    """Status as the call view derives it: ended is stored; expired is a live call past its
    expiresAt that the TTL has not removed yet."""
    names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
    names["#status"] = "status"
    if status == "ended":
        request["FilterExpression"] = "#status = :ended"
        values[":ended"] = {"S": "ended"}
        return
    names["#expires"] = "expiresAt"
    values.update({":created": {"S": "created"}, ":now": {"N": str(now)}})
    comparison = ">" if status == "created" else "<="
    request["FilterExpression"] = f"#status = :created AND #expires {comparison} :now"


class IdempotencyTable:
    """Idempotency-Key records: IN_PROGRESS while a request runs, then COMPLETED with its response."""

    def __init__(self, client: DynamoDBClient, table_name: str):
        self._client = client
        self._table_name = table_name

    def claim(
        self,
        record_id: str,
        app_id: str,
        request_hash: str,
        now: int,
        expires_at: int,
        in_progress_until: int,
    ) -> PreviousAttempt | None:
        from botocore.exceptions import ClientError

        request: dict[str, Any] = {
            "TableName": self._table_name,
            "Item": {
                "id": {"S": record_id},
                "appId": {"S": app_id},
                "requestHash": {"S": request_hash},
                "status": {"S": "IN_PROGRESS"},
                "expiration": {"N": str(expires_at)},
                "inProgressUntil": {"N": str(in_progress_until)},
            },
            # Free, expired (TTL deletes lazily), or left in progress by a crashed attempt.
            "ConditionExpression": (
                "attribute_not_exists(id) OR expiration < :now "
                "OR (#status = :in_progress AND inProgressUntil < :now)"
            ),
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":now": {"N": str(now)}, ":in_progress": {"S": "IN_PROGRESS"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        for _ in range(3):
            try:
                self._client.put_item(**request)
                return None
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise translate(error) from error
                item: dict[str, Any] | None = error.response.get("Item") or self._read(record_id)  # type: ignore[assignment]
            except Exception as error:
                raise translate(error) from error
            if item is not None:
                return previous_attempt(item)
            # Released between our write and our read: try to take it again.
        raise ServiceUnavailable()

    def complete(self, record_id: str, response: StoredResponse) -> None:
        values: dict[str, Any] = {
            ":done": {"S": "COMPLETED"},
            ":code": {"N": str(response.status)},
            ":body": {"S": response.body},
        }
        update = "SET #status = :done, responseStatus = :code, responseBody = :body"
        attempt(
            self._client.update_item,
            {
                "TableName": self._table_name,
                "Key": {"id": {"S": record_id}},
                "UpdateExpression": f"{update} REMOVE inProgressUntil",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values,
            },
        )

    def release(self, record_id: str) -> None:
        attempt(self._client.delete_item, {"TableName": self._table_name, "Key": {"id": {"S": record_id}}})

    def _read(self, record_id: str) -> dict[str, Any] | None:
        found = attempt(
            self._client.get_item,
            {"TableName": self._table_name, "Key": {"id": {"S": record_id}}, "ConsistentRead": True},
        )
        item: dict[str, Any] | None = found.get("Item")
        return item


@functools.cache
def get_idempotency_table() -> IdempotencyTable:
    settings = get_settings()
    return IdempotencyTable(get_repository().client, settings.idempotency_table_name)


@functools.cache
def get_repository() -> Repository:
    """One client and repository per container, reused across invocations (keep-alive)."""
    settings = get_settings()
    return Repository(create_dynamodb_client(settings), settings.apps_table_name, settings.calls_table_name)
