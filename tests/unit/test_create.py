from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from calls import access, body, create, idempotency, view
from calls.errors import (
    AppDisabled,
    InvalidBody,
    InvalidJson,
    OriginNotAllowed,
    PayloadTooLarge,
    PresetNotFound,
    Unauthorized,
    ValidationFailed,
)
from calls.jsontext import dumps_exact
from calls.models import AppRecord, CallRecord, CreateCallRequest, Preset
from calls.request import CallRequest

KEY = "the-widget-key"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def make_app(**overrides: Any) -> AppRecord:
    values: dict[str, Any] = {
        "app_id": "app-1",
        "status": "active",
        "key_digests": (digest(KEY),),
        "active_preset_id": None,
        "presets": {},
    }
    values.update(overrides)
    return AppRecord(**values)


def request(**overrides: Any) -> CallRequest:
    values: dict[str, Any] = {"request_id": "req-1", "headers": {}, "query": {}, "body": b""}
    values.update(overrides)
    return CallRequest(**values)


# Body


@pytest.mark.parametrize("raw", [b"", b"   ", b"\n\t \r\n"])
def test_no_or_blank_body_is_an_empty_object(raw: bytes) -> None:
    assert body.parse_body(raw) == {}


def test_body_size_limit_is_32_kib() -> None:
    fits = b'{"a":"' + b"x" * (32 * 1024 - 8) + b'"}'
    assert len(fits) == 32 * 1024
    assert body.parse_body(fits)["a"]
    with pytest.raises(PayloadTooLarge):
        body.parse_body(fits + b" ")


def test_size_is_checked_before_json() -> None:
    with pytest.raises(PayloadTooLarge):
        body.parse_body(b"{" * (32 * 1024 + 1))


@pytest.mark.parametrize("raw", [b"{", b"{'a': 1}", b'{"a": NaN}', b"\xff\xfe", b'{"a": 1} x'])
def test_unreadable_body_is_invalid_json(raw: bytes) -> None:
    with pytest.raises(InvalidJson):
        body.parse_body(raw)


@pytest.mark.parametrize("raw", [b"[]", b'"x"', b"3", b"null", b"true"])
def test_json_that_is_not_an_object_is_an_invalid_body(raw: bytes) -> None:
    with pytest.raises(InvalidBody):
        body.parse_body(raw)


def test_lone_surrogate_escape_is_invalid_json() -> None:
    with pytest.raises(InvalidJson):
        body.parse_body(b'{"title": "\\ud800"}')
    assert body.parse_body(b'{"title": "\\ud83d\\ude00"}') == {"title": "\U0001f600"}


def test_deep_nesting_is_invalid_json_not_a_crash() -> None:
    with pytest.raises(InvalidJson):
        body.parse_body(b"[" * 30_000 + b"]" * 2_000)


def test_base64_body_is_decoded() -> None:
    assert body.decode_base64_body("eyJhIjogMX0=") == b'{"a": 1}'
    with pytest.raises(InvalidJson):
        body.decode_base64_body("not base64!")


# Credentials


def test_credentials_precedence_header_then_query_then_body() -> None:
    payload = {"appId": "body-app", "widgetKey": "body-key"}
    query = {"appId": ["query-app"], "widgetKey": ["query-key"]}
    headers = {"x-app-id": "header-app", "x-widget-key": "header-key"}

    assert access.extract_credentials(request(headers=headers, query=query), payload) == access.Credentials(
        "header-app", "header-key"
    )
    assert access.extract_credentials(request(query=query), payload) == access.Credentials(
        "query-app", "query-key"
    )
    assert access.extract_credentials(request(), payload) == access.Credentials("body-app", "body-key")


def test_each_credential_comes_from_its_own_first_non_empty_place() -> None:
    got = access.extract_credentials(
        request(headers={"x-app-id": "", "x-widget-key": "header-key"}, query={"appId": ["", "q-app"]}),
        {"appId": "body-app", "widgetKey": "body-key"},
    )
    assert got == access.Credentials("q-app", "header-key")


@pytest.mark.parametrize(
    "payload",
    [{}, {"appId": "a"}, {"widgetKey": "k"}, {"appId": 5, "widgetKey": "k"}, {"appId": "", "widgetKey": ""}],
)
def test_missing_credentials_are_unauthorized(payload: dict[str, Any]) -> None:
    with pytest.raises(Unauthorized):
        access.extract_credentials(request(), payload)


def test_unknown_app_and_wrong_key_are_the_same_error() -> None:
    with pytest.raises(Unauthorized) as unknown:
        access.authenticate(access.Credentials("nope", KEY), None)
    with pytest.raises(Unauthorized) as wrong:
        access.authenticate(access.Credentials("app-1", "wrong"), make_app())
    assert unknown.value.message == wrong.value.message


def test_any_active_key_authenticates() -> None:
    app = make_app(key_digests=(digest("old"), digest("new")))
    assert access.authenticate(access.Credentials("app-1", "old"), app) is app
    assert access.authenticate(access.Credentials("app-1", "new"), app) is app


def test_disabled_app_is_refused_only_with_a_valid_key() -> None:
    app = make_app(status="disabled")
    with pytest.raises(AppDisabled):
        access.authenticate(access.Credentials("app-1", KEY), app)
    with pytest.raises(Unauthorized):
        access.authenticate(access.Credentials("app-1", "wrong"), app)


def test_origin_check() -> None:
    open_app = make_app()
    listed = make_app(allowed_origins=("https://shop.example",))
    access.check_origin(open_app, "https://anywhere.example")
    access.check_origin(listed, "https://shop.example")
    access.check_origin(listed, None)
    with pytest.raises(OriginNotAllowed):
        access.check_origin(listed, "https://evil.example")


# App cache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_app_cache_serves_within_ttl_and_reloads_after() -> None:
    loads: list[str] = []
    versions = iter([make_app(status="active"), make_app(status="disabled")])

    def load(app_id: str) -> AppRecord | None:
        loads.append(app_id)
        return next(versions)

    clock = FakeClock()
    directory = access.AppDirectory(load, ttl_seconds=30, clock=clock)
    assert directory.get("app-1").enabled  # type: ignore[union-attr]
    clock.now += 29.9
    assert directory.get("app-1").enabled  # type: ignore[union-attr]
    assert loads == ["app-1"]
    clock.now += 0.2
    assert not directory.get("app-1").enabled  # type: ignore[union-attr]
    assert loads == ["app-1", "app-1"]


def test_unknown_apps_are_cached_briefly() -> None:
    loads: list[str] = []

    def load(app_id: str) -> AppRecord | None:
        loads.append(app_id)
        return None

    clock = FakeClock()
    directory = access.AppDirectory(load, ttl_seconds=30, clock=clock)
    assert directory.get("ghost") is None
    assert directory.get("ghost") is None
    assert len(loads) == 1
    clock.now += 5.1
    directory.get("ghost")
    assert len(loads) == 2


def test_ttl_zero_turns_the_cache_off() -> None:
    loads: list[str] = []

    def load(app_id: str) -> AppRecord | None:
        loads.append(app_id)
        return make_app()

    directory = access.AppDirectory(load, ttl_seconds=0, clock=FakeClock())
    directory.get("app-1")
    directory.get("app-1")
    assert len(loads) == 2


def test_cache_is_bounded() -> None:
    directory = access.AppDirectory(lambda app_id: None, ttl_seconds=30, clock=FakeClock())
    for number in range(5000):
        directory.get(f"made-up-{number}")
    assert len(directory) <= 1024


# Genesys


def test_genesys_query_fields_merge_with_body_winning_per_field() -> None:
    query = {"conversationId": ["from-query"], "gcLangTag": ["de-de"], "gcUsePopupAuth": ["TRUE"]}
    merged = create.merge_genesys({"gcLangTag": "en-us", "conversationId": None}, query)
    assert merged == {"conversationId": "from-query", "gcLangTag": "en-us", "gcUsePopupAuth": True}


@pytest.mark.parametrize(("word", "value"), [("true", True), ("1", True), ("False", False), ("0", False)])
def test_popup_auth_words_in_the_query(word: str, value: bool) -> None:
    validated = create.validate_request({}, {"gcUsePopupAuth": [word]})
    assert validated.genesys is not None
    assert validated.genesys.gcUsePopupAuth is value


def test_other_popup_auth_words_are_a_validation_error() -> None:
    with pytest.raises(ValidationFailed) as caught:
        create.validate_request({}, {"gcUsePopupAuth": ["yes"]})
    assert [problem.field for problem in caught.value.details] == ["genesys.gcUsePopupAuth"]


def test_body_genesys_of_the_wrong_type_is_reported_not_merged() -> None:
    with pytest.raises(ValidationFailed) as caught:
        create.validate_request({"genesys": "x"}, {"gcLangTag": ["en-us"]})
    assert [problem.field for problem in caught.value.details] == ["genesys"]


# Presets


PRESETS = {
    "default": Preset("default", {"hostName": "H", "guestName": "G", "recordOnStart": False}),
    "support": Preset(
        "support",
        {"hostName": "Agent", "recordOnStart": True, "previewEnabled": False, "layout": "grid", "ratio": 1.5},
    ),
}


def resolve(app: AppRecord, **fields: Any) -> tuple[str | None, Any]:
    return create.resolve_preset(app, CreateCallRequest.model_validate(fields))


def test_requested_preset_with_overrides() -> None:
    preset_id, settings = resolve(make_app(presets=PRESETS), presetId="support", guestName="Bob")
    assert preset_id == "support"
    assert (settings.host_name, settings.guest_name) == ("Agent", "Bob")
    assert settings.record_on_start is True
    assert settings.preview_enabled is False
    assert settings.extra == {"layout": "grid", "ratio": 1.5}


def test_unknown_requested_preset() -> None:
    with pytest.raises(PresetNotFound):
        resolve(make_app(presets=PRESETS, active_preset_id="default"), presetId="nope")


def test_active_preset_when_none_requested() -> None:
    preset_id, settings = resolve(make_app(presets=PRESETS, active_preset_id="default"), recordOnStart=True)
    assert preset_id == "default"
    assert (settings.host_name, settings.guest_name, settings.record_on_start) == ("H", "G", True)
    assert settings.preview_enabled is True  # the default, as the preset does not say


def test_no_active_preset_means_defaults() -> None:
    preset_id, settings = resolve(make_app(presets=PRESETS))
    assert preset_id is None
    assert (settings.host_name, settings.guest_name) == ("Host", "Guest")
    assert (settings.record_on_start, settings.preview_enabled) == (False, True)


def test_dangling_active_preset_means_defaults_and_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[tuple[str, Any]] = []
    monkeypatch.setattr(create.logger, "warning", lambda message, extra: warnings.append((message, extra)))

    preset_id, settings = resolve(make_app(presets={}, active_preset_id="gone"), hostName="Ann")

    assert preset_id is None
    assert settings.host_name == "Ann"
    assert settings.guest_name == "Guest"
    assert [extra["activePresetId"] for _, extra in warnings] == ["gone"]


def test_another_apps_preset_is_not_visible() -> None:
    mine = make_app(presets={"mine": PRESETS["default"]})
    with pytest.raises(PresetNotFound):
        resolve(mine, presetId="support")


# Links and the response


def test_join_urls_encode_every_value() -> None:
    urls = view.build_join_urls("https://video.example", "c-1", access.Credentials("app id&x=1", "k+/=?#é"))
    assert urls.guest == "https://video.example/c/c-1"
    assert urls.host == (
        "https://video.example/c/c-1?role=agent&appId=app%20id%26x%3D1&widgetKey=k%2B%2F%3D%3F%23%C3%A9"
    )


def service(put: list[CallRecord], **kwargs: Any) -> create.CreateCall:
    app = make_app(presets=PRESETS, active_preset_id="default")
    values: dict[str, Any] = {
        "apps": access.AppDirectory(lambda app_id: app if app_id == "app-1" else None, ttl_seconds=0),
        "put_call_once": put.append,
        "join_base_url": "https://video.example",
        "call_ttl_seconds": 3600,
        "now": lambda: datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC),
    }
    values.update(kwargs)
    return create.CreateCall(**values)


def test_create_call_writes_once_and_answers_with_links() -> None:
    written: list[CallRecord] = []
    result = service(written)(
        request(
            headers={"x-app-id": "app-1", "x-widget-key": KEY},
            body=b'{"title": "T", "metadata": {"n": 1.0}}',
        )
    )
    created = result.created
    assert created is not None
    assert result.status == 201
    assert result.body == dumps_exact({"ok": True, "data": create.response_data(created)})
    assert '"metadata":{"n":1.0}' in result.body
    assert written == [created.record]
    record = created.record
    assert record.created_at == "2026-11-23T12:00:00.123Z"
    assert record.expires_at == int(datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC).timestamp()) + 3600
    assert record.request_id == "req-1"
    data = create.response_data(created)
    assert data["joinUrl"] == data["guestJoinUrl"] == f"https://video.example/c/{record.call_id}"
    assert data["agentJoinUrl"] == data["hostJoinUrl"]
    assert data["title"] == "T"
    assert "description" not in data


def test_checks_run_in_contract_order() -> None:
    written: list[CallRecord] = []
    svc = service(written)
    # Without credentials, an invalid body is still only a 400 and a field error a 401.
    with pytest.raises(InvalidJson):
        svc(request(body=b"{"))
    with pytest.raises(Unauthorized):
        svc(request(body=b'{"title": 5}'))
    with pytest.raises(ValidationFailed):
        svc(
            request(headers={"x-app-id": "app-1", "x-widget-key": KEY}, body=b'{"title": 5, "presetId": "x"}')
        )
    assert written == []


def test_response_echoes_only_what_was_sent() -> None:
    written: list[CallRecord] = []
    created = service(written)(
        request(headers={"x-app-id": "app-1", "x-widget-key": KEY}, body=b'{"title": null}')
    ).created
    assert created is not None
    data = create.response_data(created)
    assert not {"title", "description", "metadata"} & data.keys()
    assert data["previewEnabled"] is True


# Safe retries


class FakeRecords:
    def __init__(self, fail_complete: bool = False) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.released: list[str] = []
        self.fail_complete = fail_complete

    def claim(
        self,
        record_id: str,
        app_id: str,
        request_hash: str,
        now: int,
        expires_at: int,
        in_progress_until: int,
    ) -> Any:
        from calls.models import PreviousAttempt

        if record_id in self.items:
            item = self.items[record_id]
            return PreviousAttempt(request_hash=item["hash"], response=item.get("response"))
        self.items[record_id] = {"hash": request_hash}
        return None

    def complete(self, record_id: str, response: Any) -> None:
        if self.fail_complete:
            raise RuntimeError("database went away")
        self.items[record_id]["response"] = response

    def release(self, record_id: str) -> None:
        self.released.append(record_id)
        del self.items[record_id]


def keyed(key: str, body: bytes = b"{}", widget_key: str = KEY) -> CallRequest:
    return request(
        headers={"x-app-id": "app-1", "x-widget-key": widget_key, "idempotency-key": key}, body=body
    )


def test_replay_returns_the_first_body_without_storing_the_widget_key() -> None:
    records = FakeRecords()
    written: list[CallRecord] = []
    svc = service(written, idempotency=lambda: records)

    first = svc(keyed("k"))
    again = svc(keyed("k"))

    assert not first.replayed
    assert again.replayed
    assert (again.status, again.body) == (first.status, first.body)
    assert len(written) == 1
    stored = next(iter(records.items.values()))["response"].body
    assert KEY not in stored
    assert KEY in first.body


def test_failed_attempt_releases_its_key() -> None:
    records = FakeRecords()
    svc = service([], idempotency=lambda: records)
    with pytest.raises(PresetNotFound):
        svc(keyed("k", b'{"presetId": "nope"}'))
    assert records.released
    assert records.items == {}


def test_call_is_answered_even_if_its_response_cannot_be_stored() -> None:
    written: list[CallRecord] = []
    result = service(written, idempotency=lambda: FakeRecords(fail_complete=True))(keyed("k"))
    assert result.status == 201
    assert len(written) == 1


def test_fingerprint_ignores_key_order_and_credentials_but_not_values() -> None:
    def fingerprint(payload: dict[str, Any]) -> str:
        return idempotency.request_fingerprint(create.validate_request(payload, {}))

    assert fingerprint({"title": "a", "hostName": "b"}) == fingerprint(
        {"hostName": "b", "title": "a", "appId": "x"}
    )
    assert fingerprint({"title": "a"}) != fingerprint({"title": "b"})
    assert fingerprint({"metadata": {"n": 1.0}}) != fingerprint({"metadata": {"n": 1}})


def test_record_ids_are_scoped_to_the_app() -> None:
    assert idempotency.idempotency_record_id("app-1", "k") != idempotency.idempotency_record_id("app-2", "k")


def test_query_genesys_values_keep_their_limits_even_where_the_body_wins() -> None:
    with pytest.raises(ValidationFailed) as caught:
        create.validate_request(
            {"genesys": {"gcLangTag": "en-us", "gcUsePopupAuth": True}},
            {"gcLangTag": ["x" * 257], "gcUsePopupAuth": ["maybe"]},
        )
    assert sorted(problem.field for problem in caught.value.details) == [
        "genesys.gcLangTag",
        "genesys.gcUsePopupAuth",
    ]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"title": "x",}', "line 1, column 14"),
        (b'{\n  "title": "x"\n  "hostName": "y"\n}', "line 3, column 3"),
        (b"{", "line 1, column 2"),
    ],
)
def test_invalid_json_says_where_it_broke(body: bytes, where: str) -> None:
    from calls.body import parse_body

    with pytest.raises(InvalidJson) as caught:
        parse_body(body)
    assert where in caught.value.message
    assert caught.value.message.startswith("The request body is not valid JSON: ")


def test_a_body_that_is_not_utf8_says_where() -> None:
    from calls.body import parse_body

    with pytest.raises(InvalidJson) as caught:
        parse_body(b'{"title": "\xff"}')
    assert "not valid UTF-8 (at byte 12)" in caught.value.message
