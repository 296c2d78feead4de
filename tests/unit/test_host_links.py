"""Host links (docs/behaviour.md section 6) on create and in the call view, without AWS: the per-call host
key, its digest, its link, and the replay that withholds it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from calls import access, create, view
from calls.items import app_from_items, call_from_item, call_to_item
from calls.models import HOST_LINKS_HOST_KEY, AppRecord, CallRecord, StoredResponse
from calls.request import CallRequest

from tests.unit.test_create import FakeRecords

WIDGET_KEY = "the-widget-key"
NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def app_record(host_links: str = HOST_LINKS_HOST_KEY) -> AppRecord:
    return AppRecord(
        app_id="app-1",
        status="active",
        key_digests=(hashlib.sha256(WIDGET_KEY.encode()).hexdigest(),),
        host_links=host_links,
    )


def service(app: AppRecord, written: list[CallRecord], **kwargs: Any) -> create.CreateCall:
    return create.CreateCall(
        apps=access.AppDirectory(lambda app_id: app if app_id == app.app_id else None, ttl_seconds=0),
        put_call_once=written.append,
        join_base_url="https://video.example",
        call_ttl_seconds=3600,
        now=lambda: NOW,
        **kwargs,
    )


def post(idempotency_key: str | None = None, body: bytes = b"{}") -> CallRequest:
    headers = {"x-app-id": "app-1", "x-widget-key": WIDGET_KEY}
    if idempotency_key is not None:
        headers["idempotency-key"] = idempotency_key
    return CallRequest(request_id="req-1", headers=headers, body=body)


def data_of(body: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body)["data"]
    return data


def host_key_of(link: str) -> str:
    query = parse_qs(urlsplit(link).query)
    assert set(query) == {"role", "hostKey"}, link
    assert query["role"] == ["agent"]
    (host_key,) = query["hostKey"]
    return host_key


# Keys


def test_host_keys_are_random_url_safe_and_at_least_128_bits() -> None:
    keys = {access.new_host_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", key)
        assert len(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))) * 8 >= 128


def test_a_host_key_matches_only_its_own_digest() -> None:
    key = access.new_host_key()
    stored = access.host_key_digest(key)
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    assert access.host_key_matches(key, stored)
    assert not access.host_key_matches(access.new_host_key(), stored)
    assert not access.host_key_matches(stored, stored)
    assert not access.host_key_matches(key, None)


# Create


def test_host_key_mode_links_carry_a_per_call_key_and_the_call_its_digest() -> None:
    written: list[CallRecord] = []
    svc = service(app_record(), written)
    first, second = (data_of(svc(post()).body) for _ in range(2))
    for data, record in zip((first, second), written, strict=True):
        assert data["hostJoinUrl"] == data["agentJoinUrl"]
        assert data["hostJoinUrl"].startswith(f"https://video.example/c/{record.call_id}?role=agent&hostKey=")
        assert WIDGET_KEY not in json.dumps(data)
        assert "appId" not in data["hostJoinUrl"]
        host_key = host_key_of(data["hostJoinUrl"])
        assert record.host_key_digest == hashlib.sha256(host_key.encode()).hexdigest()
        assert host_key not in json.dumps(call_to_item(record))
    assert host_key_of(first["hostJoinUrl"]) != host_key_of(second["hostJoinUrl"])


def test_widget_key_mode_is_unchanged_and_stores_no_digest() -> None:
    written: list[CallRecord] = []
    data = data_of(service(app_record("widgetKey"), written)(post()).body)
    assert data["hostJoinUrl"].endswith("?role=agent&appId=app-1&widgetKey=the-widget-key")
    assert written[0].host_key_digest is None
    assert "hostKeyDigest" not in call_to_item(written[0])


def test_the_digest_is_stored_on_the_call_item_and_read_back() -> None:
    written: list[CallRecord] = []
    service(app_record(), written)(post())
    item = call_to_item(written[0])
    assert item["hostKeyDigest"] == {"S": written[0].host_key_digest}
    assert call_from_item(item).host_key_digest == written[0].host_key_digest


# Replays


def test_a_replay_withholds_the_host_link_and_the_record_holds_no_key() -> None:
    records = FakeRecords()
    written: list[CallRecord] = []
    svc = service(app_record(), written, idempotency=lambda: records)
    first = svc(post("order-42"))
    again = svc(post("order-42"))
    assert again.replayed
    assert len(written) == 1
    first_data, replayed_data = data_of(first.body), data_of(again.body)
    host_key = host_key_of(first_data["hostJoinUrl"])
    assert replayed_data["hostLinkWithheld"] is True
    assert not {"hostJoinUrl", "agentJoinUrl"} & replayed_data.keys()
    assert host_key not in again.body
    # Everything else is the first answer, field for field and in order.
    withheld = {k: v for k, v in first_data.items() if k not in ("hostJoinUrl", "agentJoinUrl")}
    assert list(replayed_data) == [*withheld, "hostLinkWithheld"]
    assert {k: replayed_data[k] for k in withheld} == withheld
    stored: StoredResponse = next(iter(records.items.values()))["response"]
    assert host_key not in stored.body
    assert "hostKey" not in stored.body
    assert WIDGET_KEY not in stored.body


def test_a_record_stored_before_the_app_switched_to_host_keys_replays_without_the_link() -> None:
    """The mode is the app's as it is now: a widget-key-mode record replayed after the switch
    shows no host link either."""
    records = FakeRecords()
    svc = service(app_record("widgetKey"), [], idempotency=lambda: records)
    first = svc(post("k"))
    assert "hostJoinUrl" in data_of(first.body)
    again = service(app_record(), [], idempotency=lambda: records)(post("k"))
    assert again.replayed
    assert data_of(again.body)["hostLinkWithheld"] is True
    assert "hostJoinUrl" not in data_of(again.body)
    assert WIDGET_KEY not in again.body


def test_a_replay_from_another_widget_key_of_the_app_gets_the_same_answer() -> None:
    records = FakeRecords()
    second_key = "second-widget-key"
    app = AppRecord(
        app_id="app-1",
        status="active",
        key_digests=tuple(hashlib.sha256(k.encode()).hexdigest() for k in (WIDGET_KEY, second_key)),
        host_links=HOST_LINKS_HOST_KEY,
    )
    svc = service(app, [], idempotency=lambda: records)
    svc(post("k"))
    replay = svc(post("k"))
    again = svc(
        CallRequest(
            request_id="req-2",
            headers={"x-app-id": "app-1", "x-widget-key": second_key, "idempotency-key": "k"},
            body=b"{}",
        )
    )
    assert again.body == replay.body
    assert data_of(again.body)["hostLinkWithheld"] is True


# The call view


def test_the_call_view_has_host_links_only_in_widget_key_mode() -> None:
    written: list[CallRecord] = []
    service(app_record(), written)(post())
    credentials = access.Credentials("app-1", WIDGET_KEY)
    host_key_caller = access.Caller(credentials, app_record())
    shown = view.caller_view(written[0], host_key_caller, now=NOW, base_url="https://video.example")
    assert not {"hostJoinUrl", "agentJoinUrl"} & shown.keys()
    assert shown["guestJoinUrl"] == shown["joinUrl"] == f"https://video.example/c/{written[0].call_id}"
    assert "hostKeyDigest" not in shown
    assert str(written[0].host_key_digest) not in json.dumps(shown)

    widget_key_caller = access.Caller(credentials, app_record("widgetKey"))
    shown = view.caller_view(written[0], widget_key_caller, now=NOW, base_url="https://video.example")
    assert shown["hostJoinUrl"].endswith("widgetKey=the-widget-key")


# The app item


def test_the_mode_is_read_with_the_app_and_defaults_to_widget_key() -> None:
    def items(**extra: Any) -> list[dict[str, Any]]:
        return [{"appId": {"S": "app-1"}, "sk": {"S": "APP"}, "status": {"S": "active"}, **extra}]

    assert app_from_items(items()) == AppRecord("app-1", "active", ())
    assert app_from_items(items()).host_links == "widgetKey"  # type: ignore[union-attr]
    assert app_from_items(items(hostLinks={"S": "hostKey"})).host_links == "hostKey"  # type: ignore[union-attr]
    assert app_from_items(items(hostLinks={"S": "widgetKey"})).host_links == "widgetKey"  # type: ignore[union-attr]
