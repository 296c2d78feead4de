"""The local run's events and webhooks, on the same code as the deployed functions.

DynamoDB Local has streams, so the calls table's stream is followed for real: a thread polls
it (dynamodbstreams GetRecords) and hands each batch, in the shape Lambda delivers, to the
events function's own `handle`. SQS and EventBridge have no local server, so their part is
played in-process: the bus prints each event, and a small queue gives the delivery function's
own `handle` SQS-shaped batches, honours its batch item failures and its visibility changes
(the retry schedule), and dead-letters after the last attempt. The schedule is the deployed
one compressed, by default so that every attempt fits in about a minute.

The signaling function has a trigger on the same stream (an end, from anywhere, tells the
call's pages and completes the call's recordings): a second follower hands it the same batches,
with retries of its own, as a second event source mapping would.

The recordings table's stream is followed the same way: by the events code (`recording.ready`, the
deployed events function's second event source mapping), and by the local run's own copier, which
keeps each ready recording's object under `.local/recordings/` (localrun.s3_local).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from callevents import retry
from callevents.envelope import Event
from callevents.messages import Delivery

if TYPE_CHECKING:
    from localrun.s3_local import RecordingCopies

Printer = Callable[[str], None]
StreamHandler = Callable[[dict[str, Any]], Any]

DEFAULT_RETRY_SPAN_SECONDS = 60.0
# The deployed queue's visibility timeout: how long a received message stays hidden while it
# is being delivered, or after a crash that said nothing about when to retry. Not compressed:
# a delivery in flight must not be handed out a second time.
QUEUE_VISIBILITY_SECONDS = 180
BATCH_SIZE = 10
POLL_SECONDS = 0.2
STREAM_RETRIES = 5


def retry_scale(environ: dict[str, str] | os._Environ[str] = os.environ) -> float:
    """LOCAL_RETRY_SPAN_SECONDS: how long the whole retry schedule takes locally (default 60 s)."""
    raw = environ.get("LOCAL_RETRY_SPAN_SECONDS", "").strip()
    span = float(raw) if raw else DEFAULT_RETRY_SPAN_SECONDS
    if span <= 0:
        raise ValueError("LOCAL_RETRY_SPAN_SECONDS must be above 0")
    return span / retry.schedule_span_seconds()


def _say(text: str) -> None:
    print(text, flush=True)


class PrintingBus:
    """EventBridge stand-in: every event the bus would get, one line each."""

    def __init__(self, say: Printer = _say):
        self._say = say

    def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self._say(f"[events] {event.type} {event.id} app={event.app_id} call={event.data.get('callId')}")


@dataclass
class _Message:
    message_id: str
    body: str
    sent_at: float
    visible_at: float = 0.0
    receive_count: int = 0
    receipt_handle: str = ""


@dataclass
class InProcessQueue:
    """The delivery queue as SQS runs it, for one consumer: the delivery function's handler."""

    scale: float
    say: Printer = _say
    max_receives: int = retry.MAX_ATTEMPTS
    clock: Callable[[], float] = time.monotonic
    dead_letters: list[Delivery] = field(default_factory=list)
    _messages: dict[str, _Message] = field(default_factory=dict)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def send(self, deliveries: Sequence[Delivery]) -> None:
        with self._lock:
            for delivery in deliveries:
                message_id = str(uuid.uuid4())
                self._messages[message_id] = _Message(message_id, delivery.to_message(), time.time())
            self._lock.notify_all()

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        with self._lock:
            for message in self._messages.values():
                if message.receipt_handle == receipt_handle:
                    message.visible_at = self.clock() + delay_seconds * self.scale
                    delivery = Delivery.from_message(message.body)
                    self.say(
                        f"[webhooks] {delivery.event_type} {delivery.event_id} to {delivery.webhook_id}: "
                        f"attempt {message.receive_count} failed; next in "
                        f"{delay_seconds} s, {delay_seconds * self.scale:.2f} s locally"
                    )
            self._lock.notify_all()

    def receive(self, stop: threading.Event) -> list[dict[str, Any]]:
        """Up to a batch of visible messages, as SQS records; waits while there are none."""
        with self._lock:
            while True:
                now = self.clock()
                ready = [m for m in self._messages.values() if m.visible_at <= now][:BATCH_SIZE]
                if ready:
                    return [self._receive(message, now) for message in ready]
                if stop.is_set():
                    return []
                upcoming = [m.visible_at - now for m in self._messages.values()]
                self._lock.wait(timeout=min([POLL_SECONDS, *upcoming]))

    def _receive(self, message: _Message, now: float) -> dict[str, Any]:
        message.receive_count += 1
        message.receipt_handle = str(uuid.uuid4())
        # In flight: hidden for the queue's real visibility timeout (only retries are compressed).
        message.visible_at = now + QUEUE_VISIBILITY_SECONDS
        return {
            "messageId": message.message_id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": {
                "ApproximateReceiveCount": str(message.receive_count),
                "SentTimestamp": str(int(message.sent_at * 1000)),
                "ApproximateFirstReceiveTimestamp": str(int(message.sent_at * 1000)),
                "SenderId": "local",
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:video-calls-local-deliveries",
            "awsRegion": "us-east-1",
        }

    def settle(self, records: list[dict[str, Any]], failed_ids: set[str]) -> None:
        """Delete what was delivered; dead-letter what failed its last attempt."""
        with self._lock:
            for record in records:
                message = self._messages.get(record["messageId"])
                if message is None:
                    continue
                if record["messageId"] not in failed_ids:
                    del self._messages[message.message_id]
                elif message.receive_count >= self.max_receives:
                    del self._messages[message.message_id]
                    delivery = Delivery.from_message(message.body)
                    self.dead_letters.append(delivery)
                    self.say(
                        f"[webhooks] {delivery.event_id} to {delivery.webhook_id}: "
                        f"{message.receive_count} attempts failed, dead-lettered"
                    )
            self._lock.notify_all()

    def pending(self) -> int:
        with self._lock:
            return len(self._messages)


@dataclass
class LocalEvents:
    """The stream follower and the delivery workers, started and stopped together."""

    endpoint_url: str
    calls_table_name: str
    say: Printer = _say
    scale: float = field(default_factory=retry_scale)
    workers: int = 4
    # The signaling function's handler, for the calls stream's batches (None: not in this checkout).
    signaling: StreamHandler | None = None
    # The recordings table, whose stream gives `recording.ready` and the local copies (None: not followed).
    recordings_table_name: str | None = None
    recording_copies: RecordingCopies | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        from callevents.adapters import get_webhook_directory
        from callevents.delivery import Courier
        from callevents.destinations import DestinationPolicy
        from callevents.fanout import Outbox
        from callevents.settings import get_event_settings
        from calls.settings import get_settings

        self.queue = InProcessQueue(scale=self.scale, say=self.say)
        directory = get_webhook_directory()
        self.outbox = Outbox(
            bus=PrintingBus(self.say),
            webhooks=directory,
            queue=self.queue,
            base_url=get_settings().join_base_url,
        )
        # Receivers of the local run live on this machine: loopback and private addresses allowed.
        self.courier = Courier(
            webhooks=directory,
            retries=self.queue,
            policy=DestinationPolicy(private_networks_allowed=True),
            timeout_seconds=get_event_settings().delivery_timeout_seconds,
        )

    def start(self) -> None:
        follower = StreamFollower(self.endpoint_url, self.calls_table_name, self._handle_stream, self._stop)
        follower.prepare()
        self._threads = [
            threading.Thread(target=follower.run, name="calls-stream", daemon=True),
            threading.Thread(target=self._deliver_forever, name="webhook-deliveries", daemon=True),
        ]
        if self.signaling is not None:
            signaling = StreamFollower(
                self.endpoint_url, self.calls_table_name, self._handle_signaling_stream, self._stop
            )
            signaling.prepare()
            self._threads.append(
                threading.Thread(target=signaling.run, name="calls-stream-signaling", daemon=True)
            )
        if self.recordings_table_name is not None:
            self._follow(self.recordings_table_name, self._handle_stream, "recordings-stream")
            if self.recording_copies is not None:
                self._follow(self.recordings_table_name, self._keep_ready_recordings, "recordings-copies")
        for thread in self._threads:
            thread.start()

    def _follow(self, table_name: str, handle: Callable[[dict[str, Any]], dict[str, Any]], name: str) -> None:
        follower = StreamFollower(self.endpoint_url, table_name, handle, self._stop)
        follower.prepare()
        self._threads.append(threading.Thread(target=follower.run, name=name, daemon=True))

    def _keep_ready_recordings(self, event: dict[str, Any]) -> dict[str, Any]:
        from localrun.s3_local import ready_object_keys

        assert self.recording_copies is not None
        for key in ready_object_keys(event["Records"]):
            try:
                path = self.recording_copies.keep(key)
            except Exception as error:  # retried, as a failed batch is
                self.say(f"[recordings] copying {key} failed: {error.__class__.__name__}: {error}")
                numbers = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
                return {"batchItemFailures": [{"itemIdentifier": number} for number in numbers]}
            self.say(f"[recordings] {key} ready, kept in {path}")
        return {}

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _handle_stream(self, event: dict[str, Any]) -> dict[str, Any]:
        from callevents.stream_handler import handle

        return dict(handle(event, None, self.outbox))

    def _handle_signaling_stream(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.signaling is not None
        try:
            result = self.signaling(event)
        except Exception as error:  # a crashed invocation: the batch is retried, as Lambda does
            self.say(f"[signaling] the stream handler failed: {error.__class__.__name__}: {error}")
            numbers = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
            return {"batchItemFailures": [{"itemIdentifier": number} for number in numbers]}
        return dict(result) if isinstance(result, dict) else {}

    def _deliver_forever(self) -> None:
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="delivery") as pool:
            while not self._stop.is_set():
                records = self.queue.receive(self._stop)
                if records:
                    pool.submit(self._deliver_batch, records)

    def _deliver_batch(self, records: list[dict[str, Any]]) -> None:
        from callevents.delivery_handler import handle

        try:
            result = handle({"Records": records}, None, self.courier)
            failed = {str(item["itemIdentifier"]) for item in result.get("batchItemFailures", [])}
        except Exception as error:  # a crashed invocation: SQS retries the whole batch
            self.say(f"[webhooks] the delivery handler failed: {error.__class__.__name__}")
            failed = {record["messageId"] for record in records}
        self.queue.settle(records, failed)


class StreamFollower:
    """Polls DynamoDB Local's stream of one table and hands each batch to `handle`, as Lambda's
    event source mapping does: in order per shard, a failed record retried from where it failed."""

    def __init__(
        self,
        endpoint_url: str,
        table_name: str,
        handle: Callable[[dict[str, Any]], dict[str, Any]],
        stop: threading.Event,
    ):
        import boto3

        self._dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url)
        self._table_name = table_name
        self._handle = handle
        self._stop = stop
        self._iterators: dict[str, str] = {}
        self._finished: set[str] = set()
        self._stream_arn = ""
        # The last record seen per shard: after an iterator is renewed, nothing is handled twice.
        self._last_sequence: dict[str, int] = {}

    def prepare(self) -> None:
        """Start at the stream's end: what was written before this run is not sent again. (DynamoDB
        Local refuses to read from a LATEST iterator, so the shards are read through and dropped.)"""
        table = self._dynamodb.describe_table(TableName=self._table_name)["Table"]
        self._stream_arn = table["LatestStreamArn"]
        for shard_id in self._shard_ids():
            iterator: str | None = self._iterator(shard_id, "TRIM_HORIZON")
            while iterator:
                answer = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = answer.get("NextShardIterator")
                if not answer.get("Records"):
                    break
                self._last_sequence[shard_id] = int(answer["Records"][-1]["dynamodb"]["SequenceNumber"])
            if iterator:
                self._iterators[shard_id] = iterator
            else:
                self._finished.add(shard_id)

    def run(self) -> None:
        last_describe = time.monotonic()
        while not self._stop.is_set():
            busy = False
            for shard_id, iterator in list(self._iterators.items()):
                try:
                    busy |= self._poll(shard_id, iterator)
                except Exception as error:  # keep following; say what went wrong
                    _say(
                        f"[events] reading the stream of {self._table_name} failed: "
                        f"{error.__class__.__name__}: {error}"
                    )
                    self._stop.wait(1)
            if time.monotonic() - last_describe > 1:
                try:
                    self._discover()
                except Exception as error:
                    _say(
                        f"[events] describing the stream of {self._table_name} failed: "
                        f"{error.__class__.__name__}: {error}"
                    )
                last_describe = time.monotonic()
            if not busy:
                self._stop.wait(POLL_SECONDS)

    def _poll(self, shard_id: str, iterator: str) -> bool:
        try:
            answer = self._streams.get_records(ShardIterator=iterator, Limit=100)
        except self._streams.exceptions.TrimmedDataAccessException:
            # DynamoDB Local says this of an iterator taken on a shard that was empty then:
            # read the shard from its start again, skipping what was seen.
            self._iterators[shard_id] = self._iterator(shard_id, "TRIM_HORIZON")
            return True
        seen = self._last_sequence.get(shard_id, -1)
        records = [
            self._lambda_record(record)
            for record in answer.get("Records", [])
            if int(record["dynamodb"]["SequenceNumber"]) > seen
        ]
        if records:
            self._process(records)
            self._last_sequence[shard_id] = int(records[-1]["dynamodb"]["SequenceNumber"])
        following = answer.get("NextShardIterator")
        if following:
            self._iterators[shard_id] = following
        else:
            del self._iterators[shard_id]
            self._finished.add(shard_id)
        return bool(records)

    def _process(self, records: list[dict[str, Any]]) -> None:
        for attempt in itertools.count(1):
            result = self._handle({"Records": records})
            failures = [str(item["itemIdentifier"]) for item in result.get("batchItemFailures", [])]
            if not failures:
                return
            # Lambda resumes from the first failed record: the ones before it are done.
            numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
            records = records[min(numbers.index(number) for number in failures) :]
            if attempt >= STREAM_RETRIES:
                _say(f"[events] {len(records)} stream record(s) failed {attempt} times; skipped")
                return
            time.sleep(0.2 * attempt)

    def _discover(self) -> None:
        for shard_id in self._shard_ids():
            if shard_id not in self._iterators and shard_id not in self._finished:
                self._iterators[shard_id] = self._iterator(shard_id, "TRIM_HORIZON")

    def _shard_ids(self) -> Iterator[str]:
        description = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            yield shard["ShardId"]

    def _iterator(self, shard_id: str, position: str) -> str:
        answer = self._streams.get_shard_iterator(
            StreamArn=self._stream_arn, ShardId=shard_id, ShardIteratorType=position
        )
        return str(answer["ShardIterator"])

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """boto3's record in the shape Lambda delivers it: epoch seconds, the source ARN."""
        record = json.loads(json.dumps(record, default=_json_default))
        record["eventSourceARN"] = self._stream_arn
        return record


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} in a stream record")
