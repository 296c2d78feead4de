"""The local run's S3: moto in server mode on loopback, the recordings bucket on it with the CORS
rule the call page needs, and a copy of every ready recording under `.local/recordings/`.

moto keeps its objects in memory, so a restart would lose every recording while the database
(DynamoDB Local's files) still lists them. The local run therefore copies each recording's object
to `.local/recordings/{callId}/{recordingId}.webm` when the recording becomes ready (it follows
the recordings table's stream, as the deployed events function does), and puts every copy back
into a new server at start-up.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from localrun.dynamodb_local import free_port, listening
from localrun.processes import stop

# The key prefix every recording's object has (calls.recordings.object_key).
RECORDINGS_PREFIX = "recordings/"
# What the page may do from its origin: PUT parts, GET a download, and read the ETag S3 answers.
CORS_METHODS = ("PUT", "GET", "HEAD")
CORS_MAX_AGE_SECONDS = 3000


class LocalS3Error(RuntimeError):
    pass


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalS3Error(f"the local S3 server (moto) exited with status {process.returncode}")
        if listening(port):
            return
        time.sleep(0.1)
    raise LocalS3Error(f"the local S3 server (moto) did not listen on port {port} within {timeout:.0f} s")


@contextlib.contextmanager
def running_s3_server(port: int | None = None, log_path: Path | None = None) -> Iterator[str]:
    """moto's S3-compatible server on 127.0.0.1 (`port`, else a free one): its endpoint URL."""
    if port and listening(port):
        raise LocalS3Error(
            f"something already listens on port {port}; set S3_LOCAL_PORT to another port, or "
            "S3_ENDPOINT_URL to use that server"
        )
    port = port or free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(  # noqa: S603 - a fixed command line
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_until_listening(port, process, timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)
    finally:
        if log_path and not isinstance(log, int):
            log.close()


def s3_client(endpoint_url: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(s3={"addressing_style": "path"}, signature_version="s3v4")
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


def prepare_bucket(client: Any, bucket: str, origins: Sequence[str]) -> None:
    """The bucket, made if missing, with the deployed bucket's CORS rule for these origins."""
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    client.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": list(dict.fromkeys(origins)),
                    "AllowedMethods": list(CORS_METHODS),
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": CORS_MAX_AGE_SECONDS,
                }
            ]
        },
    )


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    from urllib.parse import urlsplit

    split = urlsplit(url)
    return f"{split.scheme}://{split.netloc}"


class RecordingCopies:
    """The local copies of ready recordings: `directory/{callId}/{recordingId}.webm`, each the
    object `recordings/{callId}/{recordingId}.webm` of the bucket."""

    def __init__(self, directory: Path, client: Any, bucket: str):
        self.directory = directory
        self._client = client
        self._bucket = bucket

    def path_of(self, object_key: str) -> Path:
        if not object_key.startswith(RECORDINGS_PREFIX) or ".." in object_key.split("/"):
            raise ValueError(f"not a recording's object key: {object_key!r}")
        return self.directory / object_key.removeprefix(RECORDINGS_PREFIX)

    def keep(self, object_key: str) -> Path:
        """Copy the object to its file (whole or not at all)."""
        path = self.path_of(object_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        self._client.download_file(self._bucket, object_key, str(partial))
        partial.replace(path)
        return path

    def restore(self) -> list[str]:
        """Put back every copy whose object the bucket lacks; the keys put back."""
        restored = []
        for path in sorted(self.directory.glob("*/*.webm")):
            key = RECORDINGS_PREFIX + path.relative_to(self.directory).as_posix()
            try:
                self._client.head_object(Bucket=self._bucket, Key=key)
                continue
            except self._client.exceptions.ClientError:
                pass
            self._client.upload_file(str(path), self._bucket, key, ExtraArgs={"ContentType": "video/webm"})
            restored.append(key)
        return restored


def ready_object_keys(records: Sequence[dict[str, Any]]) -> list[str]:
    """The objects of the recordings a stream batch makes ready (as the events do: a MODIFY from
    `recording` to `ready`)."""
    keys = []
    for record in records:
        stream = record.get("dynamodb") or {}
        old, new = stream.get("OldImage") or {}, stream.get("NewImage") or {}
        if record.get("eventName") != "MODIFY":
            continue
        if old.get("status", {}).get("S") == "recording" and new.get("status", {}).get("S") == "ready":
            key = new.get("objectKey", {}).get("S")
            if key:
                keys.append(key)
    return keys
