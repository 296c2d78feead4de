"""The local run's stand-in for the delivery queue: SQS's receive counts, visibility changes on
the compressed schedule, batch item failures, and the dead-letter queue after the last attempt."""

from __future__ import annotations

import threading

import pytest
from callevents import retry
from callevents.messages import Delivery
from localrun.events import DEFAULT_RETRY_SPAN_SECONDS, InProcessQueue, retry_scale

DELIVERY = Delivery("evt_1", "call.created", "app_1", "wh_1", '{"id":"evt_1"}')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_compressed_schedule_fits_about_a_minute_by_default() -> None:
    scale = retry_scale({})
    assert retry.schedule_span_seconds() * scale == pytest.approx(DEFAULT_RETRY_SPAN_SECONDS)
    assert retry_scale({"LOCAL_RETRY_SPAN_SECONDS": "6"}) == pytest.approx(scale / 10)
    with pytest.raises(ValueError, match="above 0"):
        retry_scale({"LOCAL_RETRY_SPAN_SECONDS": "0"})


def test_failed_messages_come_back_per_the_schedule_then_dead_letter() -> None:
    clock = Clock()
    said: list[str] = []
    queue = InProcessQueue(scale=0.001, say=said.append, clock=clock)
    queue.send([DELIVERY])
    stop = threading.Event()
    for attempt in range(1, retry.MAX_ATTEMPTS + 1):
        (record,) = queue.receive(stop)
        assert record["attributes"]["ApproximateReceiveCount"] == str(attempt)
        assert record["body"] == DELIVERY.to_message()  # the same bytes every time
        delay = retry.delay_after_attempt(attempt)
        if delay is not None:
            queue.retry_later(record["receiptHandle"], delay)
        queue.settle([record], {record["messageId"]})
        if delay is not None:
            clock.now += delay * 0.001 - 1e-6
            stop.set()
            assert queue.receive(stop) == []  # not yet visible
            stop.clear()
            clock.now += 2e-6
    assert queue.pending() == 0
    assert queue.dead_letters == [DELIVERY]
    assert any("dead-lettered" in line for line in said)
    # Each retry line says which event failed for which endpoint.
    assert any(line.startswith("[webhooks] call.created evt_1 to wh_1: attempt 1 failed") for line in said)


def test_a_delivered_message_is_deleted() -> None:
    queue = InProcessQueue(scale=0.001, say=lambda _: None, clock=Clock())
    queue.send([DELIVERY])
    (record,) = queue.receive(threading.Event())
    queue.settle([record], set())
    assert queue.pending() == 0
    assert queue.dead_letters == []
