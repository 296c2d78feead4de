"""Delivery decisions with fakes at the seams: signing (checked by the standard's library),
where a webhook may point, the retry schedule, and both handlers' partial batch failures."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from callevents import retry, signing
from callevents.delivery import DELIVERED, DROPPED, Courier, DeliveryFailed, deliver
from callevents.destinations import Destination, DestinationPolicy, RefusedDestination, check_url
from callevents.endpoints import Endpoint
from callevents.envelope import Event
from callevents.fanout import Outbox
from callevents.messages import Delivery
from callevents.sender import Answer
from standardwebhooks import Webhook

SECRET = signing.new_secret()


def endpoint(url: str = "https://hooks.example.com/in?token=abc", events: tuple[str, ...] = ()) -> Endpoint:
    return Endpoint("wh_1", url, events, "2026-01-01T00:00:00.000Z", SECRET)


@dataclass
class FakeDirectory:
    found: dict[str, Endpoint] = field(default_factory=dict)

    def endpoints(self, app_id: str) -> list[Endpoint]:
        return list(self.found.values())

    def endpoint(self, app_id: str, webhook_id: str) -> Endpoint | None:
        return self.found.get(webhook_id)


@dataclass
class FakeQueue:
    sent: list[Delivery] = field(default_factory=list)
    delays: list[tuple[str, int]] = field(default_factory=list)

    def send(self, deliveries: Sequence[Delivery]) -> None:
        self.sent.extend(deliveries)

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        self.delays.append((receipt_handle, delay_seconds))


@dataclass
class FakePost:
    answers: list[Answer]
    calls: list[tuple[Destination, bytes, dict[str, str]]] = field(default_factory=list)

    def __call__(self, destination: Destination, body: bytes, headers: dict[str, str], **_: Any) -> Answer:
        self.calls.append((destination, body, headers))
        return self.answers.pop(0)


def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def courier(post: FakePost, directory: FakeDirectory, queue: FakeQueue, **policy: Any) -> Courier:
    return Courier(
        webhooks=directory,
        retries=queue,
        policy=DestinationPolicy(resolve=policy.pop("resolve", public_resolver), **policy),
        timeout_seconds=10,
        clock=lambda: 1_800_000_000,
        post=post,
    )


DELIVERY = Delivery("evt_1", "call.created", "app_1", "wh_1", '{"id":"evt_1","type":"call.created"}')


def test_a_delivery_is_signed_so_the_standards_library_verifies_it() -> None:
    post = FakePost([Answer(204, "")])
    outcome = deliver(
        DELIVERY,
        attempt=1,
        receipt_handle="r1",
        courier=courier(post, FakeDirectory({"wh_1": endpoint()}), FakeQueue()),
    )
    assert outcome.result == DELIVERED
    ((destination, body, headers),) = post.calls
    assert destination.addresses == ("93.184.216.34",)
    assert body == DELIVERY.body.encode()
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == "1800000000"
    # The standard's verifier checks the timestamp against now: sign "now" for it.
    import time

    fresh = signing.signed_headers(SECRET, "evt_1", int(time.time()), DELIVERY.body)
    assert Webhook(SECRET).verify(DELIVERY.body, fresh) == json.loads(DELIVERY.body)
    with pytest.raises(Exception, match="signature"):
        Webhook(signing.new_secret()).verify(DELIVERY.body, fresh)


def test_secrets_are_whsec_and_24_to_64_random_bytes() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert 24 <= len(signing.secret_key(first)) <= 64


@pytest.mark.parametrize("attempt", range(1, retry.MAX_ATTEMPTS))
def test_a_failure_comes_back_after_the_schedules_delay(attempt: int) -> None:
    queue = FakeQueue()
    post = FakePost([Answer(500, "boom")])
    with pytest.raises(DeliveryFailed) as failed:
        deliver(
            DELIVERY,
            attempt=attempt,
            receipt_handle="r9",
            courier=courier(post, FakeDirectory({"wh_1": endpoint()}), queue),
        )
    assert queue.delays == [("r9", retry.RETRY_DELAYS_SECONDS[attempt - 1])]
    assert failed.value.outcome.status == 500


def test_the_last_attempt_sets_no_delay_so_the_queue_dead_letters_it() -> None:
    queue = FakeQueue()
    with pytest.raises(DeliveryFailed):
        deliver(
            DELIVERY,
            attempt=retry.MAX_ATTEMPTS,
            receipt_handle="r",
            courier=courier(
                FakePost([Answer(None, "", "timeout")]), FakeDirectory({"wh_1": endpoint()}), queue
            ),
        )
    assert queue.delays == []


def test_the_schedule_is_the_documented_one() -> None:
    """Eight attempts: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h later (about
    27.6 h in all), then the dead-letter queue. Pinned to the numbers, not to the constant."""
    delays = [retry.delay_after_attempt(attempt) for attempt in range(1, 9)]
    assert delays == [5, 300, 1800, 7200, 18000, 36000, 36000, None]
    assert retry.MAX_ATTEMPTS == 8
    assert retry.delay_after_attempt(0) is None
    assert retry.schedule_span_seconds() == 99_305
    assert all(delay <= retry.SQS_MAX_VISIBILITY_SECONDS for delay in delays if delay is not None)


def test_the_schedule_is_at_least_five_attempts_over_at_least_an_hour() -> None:
    assert retry.MAX_ATTEMPTS >= 5
    assert retry.schedule_span_seconds() >= 3600
    assert list(retry.RETRY_DELAYS_SECONDS) == sorted(retry.RETRY_DELAYS_SECONDS)


def test_a_removed_or_unsubscribed_endpoint_gets_nothing() -> None:
    post = FakePost([])
    removed = deliver(
        DELIVERY, attempt=1, receipt_handle="r", courier=courier(post, FakeDirectory(), FakeQueue())
    )
    assert removed.result == DROPPED
    narrowed = FakeDirectory({"wh_1": endpoint(events=("call.ended",))})
    assert (
        deliver(DELIVERY, attempt=1, receipt_handle="r", courier=courier(post, narrowed, FakeQueue())).result
        == DROPPED
    )
    assert post.calls == []


def test_a_host_that_now_resolves_to_a_private_address_is_refused_at_delivery() -> None:
    queue = FakeQueue()
    post = FakePost([])
    with pytest.raises(DeliveryFailed) as failed:
        deliver(
            DELIVERY,
            attempt=1,
            receipt_handle="r",
            courier=courier(
                post, FakeDirectory({"wh_1": endpoint()}), queue, resolve=lambda h, p: ["10.0.0.5"]
            ),
        )
    assert "refused" in failed.value.outcome.reason
    assert post.calls == []
    # Logged fields carry the host only: not the path or query (they may hold a token), never the secret.
    logged = json.dumps(failed.value.outcome.log_fields())
    assert "token" not in logged
    assert SECRET not in logged


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "0.0.0.0",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        # IPv6 addresses that carry an IPv4 address which is not on the public internet:
        "::ffff:100.100.100.200",  # IPv4-mapped, a cloud metadata address Python calls global
        "::127.0.0.1",  # IPv4-compatible (deprecated, still routed by some stacks)
        "::169.254.169.254",
        "::10.0.0.5",
        "64:ff9b::7f00:1",  # NAT64's well-known prefix + 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # + 169.254.169.254
        "64:ff9b::a00:5",  # + 10.0.0.5
        "64:ff9b:1::a00:5",  # the local-use NAT64 prefix
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    ],
)
def test_loopback_private_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    policy = DestinationPolicy(resolve=lambda host, port: [address])
    with pytest.raises(RefusedDestination):
        policy.check("https://hooks.example.com/")
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(RefusedDestination):
        DestinationPolicy().check(f"https://{literal}/")


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2606:4700::6810:84e5"])
def test_nat64_of_a_public_address_and_public_ipv6_pass(address: str) -> None:
    checked = DestinationPolicy(resolve=lambda host, port: [address]).check("https://hooks.example.com/")
    assert checked.addresses == (address,)


def test_one_bad_address_among_good_ones_is_enough_to_refuse() -> None:
    policy = DestinationPolicy(resolve=lambda host, port: ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(RefusedDestination):
        policy.check("https://hooks.example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",  # plain http beyond loopback
        "ftp://hooks.example.com/",
        "https://user:pass@hooks.example.com/",
        "https:///nohost",
        "https://hooks.example.com/#frag",
        "https://hooks.example.com/" + "a" * 2100,
    ],
)
def test_the_url_rules_of_section_7(url: str) -> None:
    with pytest.raises(RefusedDestination):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5/h", "http://192.168.1.20:8080/h", "http://hooks.example.com/"]
)
def test_plain_http_beyond_loopback_is_refused_even_where_private_networks_are_allowed(url: str) -> None:
    local = DestinationPolicy(private_networks_allowed=True, resolve=lambda h, p: ["10.0.0.5"])
    with pytest.raises(RefusedDestination, match="loopback"):
        local.check(url)


def test_http_to_loopback_passes_only_where_private_networks_are_allowed() -> None:
    assert check_url("http://127.0.0.1:8080/hook")[0] == "http"
    assert check_url("http://localhost/hook")[1] == "localhost"
    local = DestinationPolicy(private_networks_allowed=True, resolve=lambda h, p: ["127.0.0.1"])
    assert local.check("http://localhost:9000/x").addresses == ("127.0.0.1",)
    with pytest.raises(RefusedDestination):
        DestinationPolicy(resolve=lambda h, p: ["127.0.0.1"]).check("http://localhost:9000/x")


def test_a_public_https_url_passes_with_its_resolved_addresses() -> None:
    checked = DestinationPolicy(resolve=public_resolver).check("https://hooks.example.com:8443/in?x=1")
    assert (checked.host, checked.port, checked.target, checked.addresses) == (
        "hooks.example.com",
        8443,
        "/in?x=1",
        ("93.184.216.34",),
    )
    assert ipaddress.ip_address(checked.addresses[0]).is_global


# The handlers' batch behaviour, through Powertools' batch utility.


def sqs_record(message_id: str, delivery: Delivery, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": delivery.to_message(),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


def test_the_delivery_handler_reports_only_the_failed_message() -> None:
    from callevents.delivery_handler import handle

    directory = FakeDirectory({"wh_1": endpoint(), "wh_2": endpoint("https://other.example.com/")})
    directory.found["wh_2"] = Endpoint("wh_2", "https://other.example.com/", (), "t", SECRET)
    good = DELIVERY
    bad = Delivery("evt_1", "call.created", "app_1", "wh_2", DELIVERY.body)

    class ByHost(FakePost):
        def __call__(
            self, destination: Destination, body: bytes, headers: dict[str, str], **_: Any
        ) -> Answer:
            self.calls.append((destination, body, headers))
            return Answer(200, "") if destination.host == "hooks.example.com" else Answer(503, "later")

    queue = FakeQueue()
    result = handle(
        {"Records": [sqs_record("m1", good), sqs_record("m2", bad, receive_count=2)]},
        None,
        courier(ByHost([]), directory, queue),
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert queue.delays == [("rh-m2", retry.RETRY_DELAYS_SECONDS[1])]

    # Every message failing is still a partial response, not a function error.
    result = handle({"Records": [sqs_record("m3", bad)]}, None, courier(ByHost([]), directory, FakeQueue()))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m3"}]}


def test_the_stream_handler_reports_the_record_whose_publishing_failed() -> None:
    from callevents.stream_handler import handle

    from tests.unit.test_events_envelope import call_item, stream_record

    class FlakyBus:
        def __init__(self) -> None:
            self.published: list[Event] = []

        def publish(self, events: Sequence[Event]) -> None:
            if len(self.published) == 1:
                self.published.append(events[0])  # remember the attempt, then refuse
                raise RuntimeError("bus refused")
            self.published.extend(events)

    bus = FlakyBus()
    queue = FakeQueue()
    first = stream_record("INSERT", new=call_item(), event_id="a")
    second = stream_record("INSERT", new=call_item(), event_id="b")
    second["dynamodb"]["SequenceNumber"] = "200"
    nothing = stream_record("MODIFY", old=call_item(), new=call_item(title={"S": "x"}), event_id="c")
    outbox = Outbox(
        bus=bus, webhooks=FakeDirectory({"wh_1": endpoint()}), queue=queue, base_url="https://v.example"
    )
    result = handle({"Records": [first, second, nothing]}, None, outbox)
    assert result == {"batchItemFailures": [{"itemIdentifier": "200"}]}
    # The first record's event went to the bus and to the one endpoint.
    assert [delivery.event_id for delivery in queue.sent] == [bus.published[0].id]


def test_an_answer_dripped_past_the_timeout_ends_the_attempt_at_its_deadline() -> None:
    """Socket timeouts count each read afresh; the attempt as a whole still ends at `timeout`."""
    import socket
    import threading
    import time

    from callevents.destinations import Destination
    from callevents.sender import post

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    stop = threading.Event()

    def drip() -> None:
        connection, _ = server.accept()
        connection.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
            if stop.is_set():
                break
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        connection.close()

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    destination = Destination(
        url=f"http://127.0.0.1:{port}/hook",
        scheme="http",
        host="127.0.0.1",
        port=port,
        target="/hook",
        addresses=("127.0.0.1",),
    )
    started = time.monotonic()
    answer = post(destination, b"{}", {}, timeout=1.0)
    elapsed = time.monotonic() - started
    stop.set()
    server.close()
    assert answer.status is None
    assert answer.error == "no answer within 1 s"
    assert elapsed < 2.0


def test_fan_out_queues_only_the_endpoints_subscribed_to_the_event_type() -> None:
    """Filtered at fan-out, not only again at delivery: an unsubscribed endpoint costs no message."""
    from callevents.envelope import change_from_stream_record
    from callevents.fanout import publish_change

    from tests.unit.test_events_envelope import call_item, stream_record

    def hook(webhook_id: str, events: tuple[str, ...]) -> Endpoint:
        return Endpoint(webhook_id, "https://hooks.example.com/", events, "2026-01-01T00:00:00.000Z", SECRET)

    queue = FakeQueue()
    directory = FakeDirectory(
        {
            "wh_all": hook("wh_all", ()),
            "wh_created": hook("wh_created", ("call.created",)),
            "wh_ended": hook("wh_ended", ("call.ended", "call.expired")),
        }
    )

    class Bus:
        def publish(self, events: Sequence[Event]) -> None:
            return None

    outbox = Outbox(bus=Bus(), webhooks=directory, queue=queue, base_url="https://v.example")
    publish_change(change_from_stream_record(stream_record("INSERT", new=call_item(), event_id="x")), outbox)
    assert sorted(delivery.webhook_id for delivery in queue.sent) == ["wh_all", "wh_created"]
