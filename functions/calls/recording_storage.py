"""The recordings' storage (docs/behaviour.md section 10): the recordings table, each recording
and the call's marker of the one in progress written together in transactions, and the bucket's
multipart uploads and presigned URLs. Like calls.repository, nothing above it sees botocore.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast

from calls import tables
from calls.aws_errors import attempt, error_code, translate
from calls.errors import RecordingInProgress
from calls.items import (
    active_recording_item,
    active_recording_key,
    is_recording_item,
    recording_from_item,
    recording_key,
    recording_to_item,
)
from calls.models import RecordingRecord, UploadedPart
from calls.settings import Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client


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
            raise translate(error) from error
        except Exception as error:
            raise translate(error) from error

    def active_recording_id(self, call_id: str) -> str | None:
        """The call's recording in progress, as its marker names it."""
        found = attempt(
            self._client.get_item,
            {"TableName": self._table_name, "Key": active_recording_key(call_id), "ConsistentRead": True},
        )
        item = found.get("Item")
        return str(item["activeRecordingId"]["S"]) if item else None

    def get(self, call_id: str, recording_id: str) -> RecordingRecord | None:
        found = attempt(
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
            page = attempt(self._client.query, request)
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
            raise translate(error) from error
        except Exception as error:
            raise translate(error) from error
        return True

    def _write_alone(self, write: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        ((kind, request),) = write.items()
        operation: Any = self._client.update_item if kind == "Update" else self._client.delete_item
        try:
            operation(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise translate(error) from error
            return False
        except Exception as error:
            raise translate(error) from error
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
        answer = attempt(
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
                if error_code(error) == "NoSuchUpload":
                    return None
                raise translate(error) from error
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
            if error_code(error) == "NoSuchUpload":
                return False
            raise translate(error) from error
        return True

    def abort_upload(self, object_key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=object_key, UploadId=upload_id)
        except Exception as error:
            if error_code(error) != "NoSuchUpload":
                raise translate(error) from error

    def object_size(self, object_key: str) -> int | None:
        try:
            answer = self._client.head_object(Bucket=self._bucket, Key=object_key)
        except Exception as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise translate(error) from error
        return int(answer["ContentLength"])


@functools.cache
def get_recordings_table() -> DynamoDBRecordings:
    """On the API's one DynamoDB client (calls.repository)."""
    from calls.repository import get_repository

    return DynamoDBRecordings(get_repository().client, get_settings().recordings_table_name)


@functools.cache
def get_recordings_bucket() -> S3Recordings:
    """The S3 client is made on the first recording route: no other route loads S3's model."""
    settings = get_settings()
    return S3Recordings(create_s3_client(settings), settings.recordings_bucket_name)
