"""Every DynamoDB and S3 call of the API lives here; nothing above this module sees botocore. How
the records are stored as items is calls.items'.

The client comes from botocore directly: boto3's import pulls in s3transfer, which
costs a cold start about 0.1 s for nothing this function uses.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast

from calls import tables
from calls.errors import InternalError, RecordingInProgress, ServiceUnavailable
from calls.items import (
    active_recording_item,
    active_recording_key,
    app_from_items,
    call_from_item,
    call_to_item,
    is_recording_item,
    previous_attempt,
    recording_from_item,
    recording_key,
    recording_to_item,
)
from calls.models import (
    AppRecord,
    CallRecord,
    PageKey,
    PreviousAttempt,
    RecordingRecord,
    RecordPage,
    StoredResponse,
    UploadedPart,
)
from calls.settings import Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client

# DynamoDB's answers that mean "too busy right now, retry later".
_RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        # S3's
        "SlowDown",
        "InternalError",
        "RequestTimeout",
    }
)


class CallIdTaken(InternalError):
    """A call with this id exists already; the write refused to overwrite it."""


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
                if _error_code(error) == "ValidationException":
                    # The id is the caller's: one DynamoDB refuses as a key names no app (401).
                    return None
                raise _translate(error) from error
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
        _call(self.client.put_item, request)

    def get_call(self, call_id: str) -> CallRecord | None:
        """One call by id, read consistently so that a call just created is found."""
        found = _call(
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
        page = _call(self.client.query, request)
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
                raise _translate(error) from error
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            return call_from_item(old) if old else None
        except Exception as error:
            raise _translate(error) from error
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
                    raise _translate(error) from error
                item: dict[str, Any] | None = error.response.get("Item") or self._read(record_id)  # type: ignore[assignment]
            except Exception as error:
                raise _translate(error) from error
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
        _call(
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
        _call(self._client.delete_item, {"TableName": self._table_name, "Key": {"id": {"S": record_id}}})

    def _read(self, record_id: str) -> dict[str, Any] | None:
        found = _call(
            self._client.get_item,
            {"TableName": self._table_name, "Key": {"id": {"S": record_id}}, "ConsistentRead": True},
        )
        item: dict[str, Any] | None = found.get("Item")
        return item


def _call(operation: Any, request: dict[str, Any]) -> Any:
    try:
        return operation(**request)
    except Exception as error:
        raise _translate(error) from error


def _error_code(error: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def _translate(error: Exception) -> Exception:
    """botocore's failures as domain errors: busy or slow means 503, anything else 500."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ConditionalCheckFailedException":
            return CallIdTaken()
        if code in _RETRYABLE_ERROR_CODES:
            return ServiceUnavailable()
        return InternalError()
    if isinstance(
        error,
        ConnectTimeoutError | ReadTimeoutError | EndpointConnectionError | ConnectionClosedError,
    ):
        return ServiceUnavailable()
    return error


class KinesisVideoSignaling:
    """The Kinesis Video Streams calls behind managed TURN (calls.ice): the channel's HTTPS
    endpoint, then GetIceServerConfig on it. Short timeouts: a slow answer costs the page its
    TURN servers, never the join."""

    def __init__(self, region: str):
        from botocore.config import Config

        self._region = region
        self._config = Config(
            connect_timeout=0.5, read_timeout=1, retries={"total_max_attempts": 2, "mode": "standard"}
        )
        self._control: Any = None

    def https_endpoint(self, channel_arn: str) -> str:
        from botocore.session import get_session

        if self._control is None:
            self._control = get_session().create_client(
                "kinesisvideo", region_name=self._region, config=self._config
            )
        answer = self._control.get_signaling_channel_endpoint(
            ChannelARN=channel_arn,
            SingleMasterChannelEndpointConfiguration={"Protocols": ["HTTPS"], "Role": "VIEWER"},
        )
        endpoint: str = next(
            found["ResourceEndpoint"]
            for found in answer["ResourceEndpointList"]
            if found.get("Protocol") == "HTTPS"
        )
        return endpoint

    def ice_server_config(self, channel_arn: str, endpoint: str) -> list[dict[str, Any]]:
        from botocore.session import get_session

        signaling: Any = get_session().create_client(
            "kinesis-video-signaling", region_name=self._region, endpoint_url=endpoint, config=self._config
        )
        answer = signaling.get_ice_server_config(ChannelARN=channel_arn, Service="TURN")
        servers: list[dict[str, Any]] = answer["IceServerList"]
        return servers


class DynamoDBRecordings:
    """The recordings table (calls.tables.RECORDINGS): each recording, and the call's marker of the
    one in progress, written and removed together in transactions."""

    def __init__(self, client: DynamoDBClient, table_name: str):
        self._client = client
        self._table_name = table_name

    def start(self, recording: RecordingRecord) -> None:
        """The new recording and the marker that it is the call's one in progress, in one
        transaction; RecordingInProgress when the call has one already."""
        from botocore.exceptions import ClientError

        new = "attribute_not_exists(recordingId)"
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table_name,
                            "Item": active_recording_item(recording),
                            "ConditionExpression": new,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table_name,
                            "Item": recording_to_item(recording),
                            "ConditionExpression": new,
                        }
                    },
                ]
            )
        except ClientError as error:
            if _cancelled_by_condition(error, index=0):
                raise RecordingInProgress() from None
            raise _translate(error) from error
        except Exception as error:
            raise _translate(error) from error

    def active_recording_id(self, call_id: str) -> str | None:
        """The call's recording in progress, as its marker names it."""
        found = _call(
            self._client.get_item,
            {"TableName": self._table_name, "Key": active_recording_key(call_id), "ConsistentRead": True},
        )
        item = found.get("Item")
        return str(item["activeRecordingId"]["S"]) if item else None

    def get(self, call_id: str, recording_id: str) -> RecordingRecord | None:
        found = _call(
            self._client.get_item,
            {
                "TableName": self._table_name,
                "Key": recording_key(call_id, recording_id),
                "ConsistentRead": True,
            },
        )
        item = found.get("Item")
        return recording_from_item(item) if item and is_recording_item(item) else None

    def of_call(self, call_id: str) -> list[RecordingRecord]:
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "#pk = :call",
            "ExpressionAttributeNames": {"#pk": tables.RECORDINGS.partition_key.name},
            "ExpressionAttributeValues": {":call": {"S": call_id}},
            "ConsistentRead": True,
        }
        found: list[RecordingRecord] = []
        while True:
            page = _call(self._client.query, request)
            found.extend(
                recording_from_item(item) for item in page.get("Items", []) if is_recording_item(item)
            )
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mark_ready(
        self, recording: RecordingRecord, *, ended_at: str, size_bytes: int, duration_seconds: float
    ) -> RecordingRecord | None:
        import dataclasses

        ready = dataclasses.replace(
            recording,
            status="ready",
            ended_at=ended_at,
            size_bytes=size_bytes,
            duration_seconds=duration_seconds,
        )
        stored = recording_to_item(ready)
        update = {
            "TableName": self._table_name,
            "Key": recording_key(recording.call_id, recording.recording_id),
            "UpdateExpression": "SET #status = :ready, endedAt = :endedAt, sizeBytes = :size, "
            "durationSeconds = :duration",
            "ConditionExpression": "#status = :recording",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":ready": {"S": "ready"},
                ":recording": {"S": "recording"},
                ":endedAt": stored["endedAt"],
                ":size": stored["sizeBytes"],
                ":duration": stored["durationSeconds"],
            },
        }
        if self._write_with_marker_gone(recording, {"Update": update}):
            return recording_from_item(stored)
        return self.get(recording.call_id, recording.recording_id)

    def discard(self, recording: RecordingRecord) -> None:
        delete = {
            "TableName": self._table_name,
            "Key": recording_key(recording.call_id, recording.recording_id),
            "ConditionExpression": "#status = :recording",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":recording": {"S": "recording"}},
        }
        self._write_with_marker_gone(recording, {"Delete": delete})

    def _write_with_marker_gone(self, recording: RecordingRecord, write: dict[str, Any]) -> bool:
        """`write` (conditional on the recording still recording) and the removal of the call's
        marker, when it names this recording, in one transaction; False when the condition refused."""
        from botocore.exceptions import ClientError

        marker = {
            "Delete": {
                "TableName": self._table_name,
                "Key": active_recording_key(recording.call_id),
                "ConditionExpression": "attribute_not_exists(activeRecordingId) OR activeRecordingId = :me",
                "ExpressionAttributeValues": {":me": {"S": recording.recording_id}},
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[write, marker])  # type: ignore[list-item]
        except ClientError as error:
            if _cancelled_by_condition(error, index=0):
                return False
            if _cancelled_by_condition(error, index=1):
                # The marker names another recording: this one is no longer the call's in progress.
                return self._write_alone(write)
            raise _translate(error) from error
        except Exception as error:
            raise _translate(error) from error
        return True

    def _write_alone(self, write: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        ((kind, request),) = write.items()
        operation: Any = self._client.update_item if kind == "Update" else self._client.delete_item
        try:
            operation(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _translate(error) from error
            return False
        except Exception as error:
            raise _translate(error) from error
        return True


def _cancelled_by_condition(error: Exception, *, index: int) -> bool:
    """Whether a cancelled transaction's item at `index` failed its condition."""
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return False
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons: list[dict[str, Any]] = error.response.get("CancellationReasons", [])  # type: ignore[assignment]
    if not reasons:  # some servers only say so in the message
        message = str(error.response.get("Error", {}).get("Message", ""))
        codes = message.partition("[")[2].rstrip("]").split(",")
        reasons = [{"Code": code.strip()} for code in codes]
    return index < len(reasons) and reasons[index].get("Code") == "ConditionalCheckFailed"


# S3 answers at once or is in trouble: a part URL costs no request at all, and completing an
# upload of many parts is the slowest call, within a few seconds.
S3_CONNECT_TIMEOUT_SECONDS = 1.0
S3_READ_TIMEOUT_SECONDS = 5.0
S3_MAX_ATTEMPTS = 2


def create_s3_client(settings: Settings) -> S3Client:
    from botocore.config import Config
    from botocore.session import get_session

    config = Config(
        connect_timeout=S3_CONNECT_TIMEOUT_SECONDS,
        read_timeout=S3_READ_TIMEOUT_SECONDS,
        retries={"total_max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"},
        tcp_keepalive=True,
        signature_version="s3v4",
        # A local S3-compatible server has one host name: the bucket goes in the path.
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "virtual"},
    )
    client = get_session().create_client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
    return cast("S3Client", client)


class S3Recordings:
    """The recordings bucket: multipart uploads, their presigned part URLs, presigned downloads."""

    def __init__(self, client: S3Client, bucket: str):
        self._client = client
        self._bucket = bucket

    def start_upload(self, object_key: str, content_type: str) -> str:
        answer = _call(
            self._client.create_multipart_upload,
            {"Bucket": self._bucket, "Key": object_key, "ContentType": content_type},
        )
        return str(answer["UploadId"])

    def part_upload_url(self, object_key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        """A presigned UploadPart: signed here, no request."""
        return self._client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self._bucket,
                "Key": object_key,
                "UploadId": upload_id,
                "PartNumber": part_number,
            },
            ExpiresIn=expires_in,
        )

    def download_url(self, object_key: str, file_name: str, expires_in: int) -> str:
        """A presigned GetObject that saves as `file_name`: signed here, no request."""
        return self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": object_key,
                "ResponseContentDisposition": f'attachment; filename="{file_name}"',
            },
            ExpiresIn=expires_in,
        )

    def list_parts(self, object_key: str, upload_id: str) -> list[UploadedPart] | None:
        request: dict[str, Any] = {"Bucket": self._bucket, "Key": object_key, "UploadId": upload_id}
        parts: list[UploadedPart] = []
        while True:
            try:
                page = self._client.list_parts(**request)
            except Exception as error:
                if _error_code(error) == "NoSuchUpload":
                    return None
                raise _translate(error) from error
            parts.extend(
                UploadedPart(part_number=part["PartNumber"], etag=part["ETag"], size_bytes=part["Size"])
                for part in page.get("Parts", [])
            )
            if not page.get("IsTruncated"):
                return parts
            request["PartNumberMarker"] = page["NextPartNumberMarker"]

    def complete_upload(self, object_key: str, upload_id: str, parts: Sequence[UploadedPart]) -> bool:
        try:
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=object_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in parts]},
            )
        except Exception as error:
            if _error_code(error) == "NoSuchUpload":
                return False
            raise _translate(error) from error
        return True

    def abort_upload(self, object_key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=object_key, UploadId=upload_id)
        except Exception as error:
            if _error_code(error) != "NoSuchUpload":
                raise _translate(error) from error

    def object_size(self, object_key: str) -> int | None:
        try:
            answer = self._client.head_object(Bucket=self._bucket, Key=object_key)
        except Exception as error:
            if _error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise _translate(error) from error
        return int(answer["ContentLength"])


@functools.cache
def get_recordings_table() -> DynamoDBRecordings:
    return DynamoDBRecordings(get_repository().client, get_settings().recordings_table_name)


@functools.cache
def get_recordings_bucket() -> S3Recordings:
    """The S3 client is made on the first recording route: no other route loads S3's model."""
    settings = get_settings()
    return S3Recordings(create_s3_client(settings), settings.recordings_bucket_name)


@functools.cache
def get_idempotency_table() -> IdempotencyTable:
    settings = get_settings()
    return IdempotencyTable(get_repository().client, settings.idempotency_table_name)


@functools.cache
def get_repository() -> Repository:
    """One client and repository per container, reused across invocations (keep-alive)."""
    settings = get_settings()
    return Repository(create_dynamodb_client(settings), settings.apps_table_name, settings.calls_table_name)
