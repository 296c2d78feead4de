"""The join's decisions (docs/behaviour.md section 6) with the repository replaced by plain
functions: no AWS."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from calls import access, join
from calls.access import MAX_CREDENTIAL_LENGTH
from calls.errors import (
    AppDisabled,
    CallEnded,
    CallExpiredGone,
    CallNotFound,
    InvalidJson,
    Unauthorized,
    ValidationFailed,
)
from calls.models import HOST_LINKS_HOST_KEY, AppRecord, CallRecord, CallSettings
from calls.request import CallRequest

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
WIDGET_KEY = "the-widget-key"
HOST_KEY = "host-key-of-the-call-0123456789abcdef0123"
OTHER_APP_KEY = "other-apps-widget-key"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def app_record(app_id: str = "app-1", **overrides: Any) -> AppRecord:
    values: dict[str, Any] = {"app_id": app_id, "status": "active", "key_digests": (digest(WIDGET_KEY),)}
    values.update(overrides)
    return AppRecord(**values)


def call_record(**overrides: Any) -> CallRecord:
    values: dict[str, Any] = {
        "call_id": str(uuid.uuid4()),
        "app_id": "app-1",
        "preset_id": None,
        "settings": CallSettings(
            host_name="Sarah (Support)", guest_name="John", record_on_start=True, preview_enabled=False
        ),
        "created_at": "2026-11-23T11:00:00.000Z",
        "expires_at": int((NOW + timedelta(hours=1)).timestamp()),
        "request_id": "req-0",
        "title": "Support Session #1234",
    }
    values.update(overrides)
    return CallRecord(**values)


class Calls:
    """The calls table as the join sees it: a GetItem and a conditional stamp, both counted."""

    def __init__(self, *calls: CallRecord) -> None:
        self.calls = {call.call_id: call for call in calls}
        self.reads: list[str] = []
        self.stamps: list[tuple[str, str, str]] = []

    def get_call(self, call_id: str) -> CallRecord | None:
        self.reads.append(call_id)
        return self.calls.get(call_id)

    def stamp_join_once(self, call_id: str, attribute: str, *, joined_at: str, now: int) -> CallRecord | None:
        call = self.calls.get(call_id)
        if call is None:
            return None
        agent = attribute == "agentJoinedAt"
        stamped = call.agent_joined_at if agent else call.guest_joined_at
        if stamped is None and call.status == "created" and call.expires_at > now:
            self.stamps.append((call_id, attribute, joined_at))
            if agent:
                call = dataclasses.replace(call, agent_joined_at=joined_at)
            else:
                call = dataclasses.replace(call, guest_joined_at=joined_at)
            self.calls[call_id] = call
        return call


SIGNALING = join.SignalingOffer(url="wss://video.example/ws", token_key=b"t" * 32)


def joiner(calls: Calls, *apps: AppRecord) -> join.JoinCall:
    by_id = {app.app_id: app for app in (apps or (app_record(),))}
    return join.JoinCall(
        apps=access.AppDirectory(by_id.get, ttl_seconds=0),
        get_call=calls.get_call,
        stamp_join_once=calls.stamp_join_once,
        now=lambda: NOW,
        signaling=SIGNALING,
    )


def without_signaling(view: Mapping[str, Any]) -> dict[str, Any]:
    """The join answer as it was before section 9 added the signaling fields (tested on their own)."""
    return {name: value for name, value in view.items() if name not in ("signaling", "iceServers")}


def request(
    query: dict[str, str] | None = None, body: bytes = b"", headers: dict[str, str] | None = None
) -> CallRequest:
    return CallRequest(
        request_id="req-1",
        headers=headers or {},
        query={name: [value] for name, value in (query or {}).items()},
        body=body,
    )


# Guests


def test_a_guest_joins_by_the_call_id_alone_and_is_stamped_once() -> None:
    call = call_record()
    calls = Calls(call)
    view = joiner(calls)(request(), call.call_id)
    assert without_signaling(view) == {
        "callId": call.call_id,
        "role": "guest",
        "displayName": "John",
        "recordOnStart": True,
        "previewEnabled": False,
        "title": "Support Session #1234",
        "status": "created",
    }
    assert calls.stamps == [(call.call_id, "guestJoinedAt", "2026-11-23T12:00:00.000Z")]
    assert joiner(calls)(request({"role": "guest"}), call.call_id)["role"] == "guest"
    assert len(calls.stamps) == 1


def test_a_later_join_costs_one_read_and_no_write() -> None:
    call = call_record(guest_joined_at="2026-11-23T11:30:00.000Z")
    calls = Calls(call)
    joiner(calls)(request(), call.call_id)
    assert calls.reads == [call.call_id]
    assert calls.stamps == []


def test_a_guest_of_a_disabled_app_still_joins() -> None:
    call = call_record()
    assert joiner(Calls(call), app_record(status="disabled"))(request(), call.call_id)["role"] == "guest"


def test_the_title_appears_only_when_the_call_has_one() -> None:
    call = call_record(title=None)
    assert "title" not in joiner(Calls(call))(request(), call.call_id)


# Agents


def host_key_call(**overrides: Any) -> CallRecord:
    return call_record(host_key_digest=digest(HOST_KEY), **overrides)


def test_the_agent_joins_with_the_calls_host_key() -> None:
    call = host_key_call()
    calls = Calls(call)
    app = app_record(host_links=HOST_LINKS_HOST_KEY)
    view = joiner(calls, app)(request({"role": "agent", "hostKey": HOST_KEY}), call.call_id)
    assert (view["role"], view["displayName"]) == ("agent", "Sarah (Support)")
    assert [stamp[1] for stamp in calls.stamps] == ["agentJoinedAt"]


def test_the_host_key_may_come_in_the_body() -> None:
    call = host_key_call()
    body = b'{"role": "agent", "hostKey": "' + HOST_KEY.encode() + b'"}'
    assert joiner(Calls(call))(request(body=body), call.call_id)["role"] == "agent"


@pytest.mark.parametrize(
    "host_key",
    [
        HOST_KEY[:-1] + ("A" if HOST_KEY[-1] != "A" else "B"),  # tampered
        HOST_KEY[:-1],  # truncated
        HOST_KEY + "x",
        "another-calls-host-key",
        digest(HOST_KEY),  # the stored digest is not the key
    ],
)
def test_a_wrong_host_key_is_401_and_stamps_nothing(host_key: str) -> None:
    call = host_key_call()
    calls = Calls(call)
    with pytest.raises(Unauthorized):
        joiner(calls)(request({"role": "agent", "hostKey": host_key}), call.call_id)
    assert calls.stamps == []


def test_a_host_key_over_the_credential_bound_is_401_even_when_it_would_match() -> None:
    long_key = "k" * (MAX_CREDENTIAL_LENGTH + 1)
    call = call_record(host_key_digest=digest(long_key))
    with pytest.raises(Unauthorized):
        joiner(Calls(call), app_record(host_links=HOST_LINKS_HOST_KEY))(
            request({"role": "agent", "hostKey": long_key}), call.call_id
        )


def test_a_call_without_a_host_key_accepts_none() -> None:
    call = call_record()
    with pytest.raises(Unauthorized):
        joiner(Calls(call))(request({"role": "agent", "hostKey": HOST_KEY}), call.call_id)


def test_a_presented_host_key_decides_even_beside_good_app_credentials() -> None:
    call = host_key_call()
    query = {"role": "agent", "hostKey": "wrong", "appId": "app-1", "widgetKey": WIDGET_KEY}
    with pytest.raises(Unauthorized):
        joiner(Calls(call))(request(query), call.call_id)


def test_an_agent_without_any_credential_is_401() -> None:
    call = call_record()
    with pytest.raises(Unauthorized) as caught:
        joiner(Calls(call))(request({"role": "agent"}), call.call_id)
    assert "hostKey" in caught.value.message


def test_in_widget_key_mode_the_apps_credentials_admit_the_agent() -> None:
    call = call_record()
    for place in ("query", "headers", "body"):
        credentials = {"appId": "app-1", "widgetKey": WIDGET_KEY}
        if place == "query":
            req = request({"role": "agent", **credentials})
        elif place == "headers":
            req = request({"role": "agent"}, headers={"x-app-id": "app-1", "x-widget-key": WIDGET_KEY})
        else:
            req = request(body=b'{"role": "agent", "appId": "app-1", "widgetKey": "the-widget-key"}')
        assert joiner(Calls(call))(req, call.call_id)["role"] == "agent", place


def test_in_host_key_mode_the_apps_credentials_do_not_admit_the_agent() -> None:
    call = host_key_call()
    app = app_record(host_links=HOST_LINKS_HOST_KEY)
    with pytest.raises(Unauthorized) as caught:
        joiner(Calls(call), app)(
            request({"role": "agent", "appId": "app-1", "widgetKey": WIDGET_KEY}), call.call_id
        )
    # The caller's credentials are right: say what this app's calls take, not what was sent.
    assert "host key only" in caught.value.message
    assert "or the appId and widgetKey" not in caught.value.message


def test_wrong_app_credentials_get_the_one_message_that_reveals_nothing() -> None:
    call = host_key_call()
    app = app_record(host_links=HOST_LINKS_HOST_KEY)
    with pytest.raises(Unauthorized) as caught:
        joiner(Calls(call), app)(
            request({"role": "agent", "appId": "app-1", "widgetKey": "wrong"}), call.call_id
        )
    assert "host key only" not in caught.value.message


def test_another_apps_credentials_are_401_even_when_valid_for_it() -> None:
    call = call_record()
    other = app_record("app-2", key_digests=(digest(OTHER_APP_KEY),))
    with pytest.raises(Unauthorized):
        joiner(Calls(call), app_record(), other)(
            request({"role": "agent", "appId": "app-2", "widgetKey": OTHER_APP_KEY}), call.call_id
        )


def test_a_wrong_widget_key_is_401() -> None:
    call = call_record()
    with pytest.raises(Unauthorized):
        joiner(Calls(call))(request({"role": "agent", "appId": "app-1", "widgetKey": "nope"}), call.call_id)


def test_a_disabled_apps_agent_is_403_by_either_credential() -> None:
    disabled = app_record(status="disabled")
    widget_call, host_call = call_record(), host_key_call()
    calls = Calls(widget_call, host_call)
    with pytest.raises(AppDisabled):
        joiner(calls, disabled)(
            request({"role": "agent", "appId": "app-1", "widgetKey": WIDGET_KEY}), widget_call.call_id
        )
    with pytest.raises(AppDisabled):
        joiner(calls, dataclasses.replace(disabled, host_links=HOST_LINKS_HOST_KEY))(
            request({"role": "agent", "hostKey": HOST_KEY}), host_call.call_id
        )
    assert calls.stamps == []


def test_a_deleted_apps_host_key_is_401() -> None:
    call = host_key_call(app_id="app-gone")
    with pytest.raises(Unauthorized):
        joiner(Calls(call))(request({"role": "agent", "hostKey": HOST_KEY}), call.call_id)


# Fields, lookup, state


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ({"role": "boss"}, b""),
        ({"role": "Agent"}, b""),
        ({}, b'{"role": "host"}'),
        ({}, b'{"role": 1}'),
        ({"role": "agent"}, b'{"hostKey": 42}'),
    ],
)
def test_a_bad_field_is_422_with_details_before_the_lookup(query: dict[str, str], body: bytes) -> None:
    calls = Calls()
    with pytest.raises(ValidationFailed) as caught:
        joiner(calls)(request(query, body), str(uuid.uuid4()))
    assert caught.value.details
    assert calls.reads == []


def test_the_query_wins_over_the_body_and_empty_means_absent() -> None:
    call = call_record()
    assert (
        joiner(Calls(call))(request({"role": "guest"}, b'{"role": "agent"}'), call.call_id)["role"] == "guest"
    )
    assert joiner(Calls(call))(request({"role": ""}), call.call_id)["role"] == "guest"
    assert joiner(Calls(call))(request(body=b'{"role": null}'), call.call_id)["role"] == "guest"


@pytest.mark.parametrize(
    "body",
    [b'{"role": {}, "hostKey": "K"}', b'{"role": "boss"}', b'{"hostKey": 42}', b'{"hostKey": ["K"]}'],
)
def test_a_bad_body_field_is_422_even_when_the_query_carries_the_same_field(body: bytes) -> None:
    """The query wins over the body, but never hides a body field the document's schema refuses."""
    call = host_key_call()
    calls = Calls(call)
    with pytest.raises(ValidationFailed) as caught:
        joiner(calls, app_record(host_links=HOST_LINKS_HOST_KEY))(
            request({"role": "agent", "hostKey": HOST_KEY}, body), call.call_id
        )
    assert {problem.field for problem in caught.value.details} <= {"role", "hostKey"}
    assert caught.value.details
    assert calls.stamps == []


def test_an_unreadable_body_is_400() -> None:
    with pytest.raises(InvalidJson):
        joiner(Calls())(request(body=b"{"), str(uuid.uuid4()))


def test_an_unknown_or_malformed_call_is_404_and_a_malformed_id_costs_no_read() -> None:
    calls = Calls()
    with pytest.raises(CallNotFound):
        joiner(calls)(request(), str(uuid.uuid4()))
    with pytest.raises(CallNotFound):
        joiner(calls)(request(), "not-a-call-id")
    assert len(calls.reads) == 1


def test_ended_and_expired_calls_are_410_and_stamp_nothing() -> None:
    ended = call_record(status="ended", ended_at="2026-11-23T11:50:00.000Z")
    expired = call_record(expires_at=int(NOW.timestamp()))
    calls = Calls(ended, expired)
    for role in ({}, {"role": "agent", "appId": "app-1", "widgetKey": WIDGET_KEY}):
        with pytest.raises(CallEnded):
            joiner(calls)(request(role), ended.call_id)
        with pytest.raises(CallExpiredGone):
            joiner(calls)(request(role), expired.call_id)
    assert calls.stamps == []


def test_the_agents_credential_is_checked_before_the_calls_state() -> None:
    ended = call_record(status="ended", ended_at="2026-11-23T11:50:00.000Z")
    with pytest.raises(Unauthorized):
        joiner(Calls(ended))(request({"role": "agent", "hostKey": "wrong"}), ended.call_id)


def test_a_call_ended_between_the_read_and_the_stamp_refuses_the_join() -> None:
    call = call_record()
    calls = Calls(call)

    def ended_meanwhile(call_id: str, attribute: str, *, joined_at: str, now: int) -> CallRecord:
        return dataclasses.replace(call, status="ended", ended_at=joined_at)

    with pytest.raises(CallEnded):
        dataclasses.replace(joiner(calls), stamp_join_once=ended_meanwhile)(request(), call.call_id)


def test_a_call_removed_between_the_read_and_the_stamp_is_404() -> None:
    call = call_record()

    def removed(call_id: str, attribute: str, *, joined_at: str, now: int) -> None:
        return None

    with pytest.raises(CallNotFound):
        dataclasses.replace(joiner(Calls(call)), stamp_join_once=removed)(request(), call.call_id)


def test_a_racing_join_that_stamped_first_is_answered_with_success() -> None:
    call = call_record()

    def stamped_by_another(call_id: str, attribute: str, *, joined_at: str, now: int) -> CallRecord:
        return dataclasses.replace(call, guest_joined_at="2026-11-23T11:59:59.999Z")

    view = dataclasses.replace(joiner(Calls(call)), stamp_join_once=stamped_by_another)(
        request(), call.call_id
    )
    assert view["status"] == "created"


# The preset's settings for the page


def test_the_join_answer_carries_the_presets_language_and_branding() -> None:
    branded = CallSettings(
        host_name="Acme Support",
        guest_name="Customer",
        record_on_start=False,
        preview_enabled=True,
        extra={
            "language": "de-DE",
            "branding": {"logoUrl": "https://www.example.com/logo.svg", "accentColor": "#0b5fff"},
            "other": 1,
        },
    )
    call = call_record(settings=branded)
    view = joiner(Calls(call))(request(), call.call_id)
    assert view["language"] == "de-DE"
    assert view["branding"] == {"logoUrl": "https://www.example.com/logo.svg", "accentColor": "#0b5fff"}
    assert "other" not in view


@pytest.mark.parametrize(
    ("extra", "kept"),
    [
        ({"language": "de"}, {"language": "de"}),
        ({"language": "de DE"}, {}),
        ({"language": "<script>"}, {}),
        ({"language": 7}, {}),
        ({"branding": {"logoUrl": "javascript:alert(1)"}}, {}),
        ({"branding": {"logoUrl": "http://www.example.com/logo.svg"}}, {}),
        ({"branding": {"logoUrl": 'https://x.example/"onerror="x'}}, {}),
        ({"branding": {"logoUrl": "https://x.example/" + "a" * 2048}}, {}),
        ({"branding": {"accentColor": "red; background:url(x)"}}, {}),
        ({"branding": {"accentColor": "#0B5FFF", "logoUrl": 3}}, {"branding": {"accentColor": "#0B5FFF"}}),
        ({"branding": "https://x.example/logo.svg"}, {}),
    ],
)
def test_only_well_formed_page_settings_reach_the_page(extra: dict[str, Any], kept: dict[str, Any]) -> None:
    assert join.page_settings(extra) == kept


# What the call page needs for the call itself: signaling and ICE servers


def test_the_join_answer_carries_a_signaling_token_for_this_call_and_role() -> None:
    from calls.signaling_tokens import verify_token

    call = host_key_call()
    for query, role in (({}, "guest"), ({"role": "agent", "hostKey": HOST_KEY}, "agent")):
        view = joiner(Calls(call))(request(query), call.call_id)
        signaling = view["signaling"]
        assert set(signaling) == {"url", "token", "expiresAt"}
        assert signaling["url"] == "wss://video.example/ws"
        granted = verify_token(SIGNALING.token_key, signaling["token"], NOW.timestamp())
        assert (granted.call_id, granted.role) == (call.call_id, role)
        assert signaling["expiresAt"] == "2026-11-23T12:01:00.000Z"
        assert granted.expires_at == int((NOW + timedelta(seconds=60)).timestamp())


def test_every_join_gets_a_token_of_its_own_and_pays_no_request_for_it() -> None:
    call = call_record(guest_joined_at="2026-11-23T11:30:00.000Z")
    calls = Calls(call)
    tokens = {joiner(calls)(request(), call.call_id)["signaling"]["token"] for _ in range(3)}
    assert len(tokens) == 3
    assert calls.reads == [call.call_id] * 3
    assert calls.stamps == []


def test_the_ice_servers_are_the_sources_for_this_call_and_role() -> None:
    call = call_record()
    asked: list[tuple[str, str]] = []

    def servers(call_id: str, role: str) -> list[dict[str, Any]]:
        asked.append((call_id, role))
        return [
            {"urls": ["stun:stun.example:3478"]},
            {"urls": ["turn:t.example"], "username": "u", "credential": "c"},
        ]

    offer = dataclasses.replace(SIGNALING, ice_servers=servers)
    view = dataclasses.replace(joiner(Calls(call)), signaling=offer)(request(), call.call_id)
    assert view["iceServers"] == servers(call.call_id, "guest")
    assert asked[0] == (call.call_id, "guest")
    assert joiner(Calls(call))(request(), call.call_id)["iceServers"] == []


def test_a_refused_join_hands_out_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    issued: list[str] = []
    real = join.issue_token

    def spy(key: bytes, call_id: str, role: str, now: float) -> Any:
        issued.append(role)
        return real(key, call_id, role, now)

    monkeypatch.setattr(join, "issue_token", spy)
    ended = call_record(status="ended", ended_at="2026-11-23T11:50:00.000Z")
    with pytest.raises(CallEnded):
        joiner(Calls(ended))(request(), ended.call_id)
    agents_call = host_key_call()
    with pytest.raises(Unauthorized):
        joiner(Calls(agents_call))(request({"role": "agent", "hostKey": "wrong"}), agents_call.call_id)
    assert issued == []
    joiner(Calls(agents_call))(request(), agents_call.call_id)
    assert issued == ["guest"]
