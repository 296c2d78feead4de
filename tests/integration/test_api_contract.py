"""docs/behaviour.md sections 1 and 2, rule by rule, through the local HTTP server over DynamoDB Local."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from callsctl.store import AdminStore
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY, DISABLED_APP_ID, DISABLED_WIDGET_KEY

from tests.integration.conftest import HttpResult, LocalApi, TestApp, assert_error

DEMO = {"X-App-Id": DEMO_APP_ID, "X-Widget-Key": DEMO_WIDGET_KEY}
DEMO_QUERY = {"appId": DEMO_APP_ID, "widgetKey": DEMO_WIDGET_KEY}

pytestmark = pytest.mark.integration


def assert_created(result: HttpResult) -> dict[str, Any]:
    assert result.status == 201, result.raw
    assert result.header("Content-Type") == "application/json"
    assert result.header("Cache-Control") == "no-store"
    assert result.header("X-Request-Id")
    assert result.body["ok"] is True
    data: dict[str, Any] = result.body["data"]
    return data


def stored(admin: AdminStore, data: dict[str, Any]) -> dict[str, Any]:
    item = admin.get_call(data["callId"])
    assert item is not None
    return item


# Credentials


def test_credentials_in_headers(local_api: LocalApi) -> None:
    assert_created(local_api.request(headers=DEMO))


def test_header_names_are_case_insensitive(local_api: LocalApi) -> None:
    assert_created(local_api.request(headers={"x-app-id": DEMO_APP_ID, "X-WIDGET-KEY": DEMO_WIDGET_KEY}))


def test_credentials_in_query(local_api: LocalApi) -> None:
    assert_created(local_api.request(query=DEMO_QUERY))


def test_credentials_in_body(local_api: LocalApi) -> None:
    assert_created(local_api.request(json_body={"appId": DEMO_APP_ID, "widgetKey": DEMO_WIDGET_KEY}))


def test_header_wins_over_query_and_body(local_api: LocalApi) -> None:
    wrong = {"appId": DEMO_APP_ID, "widgetKey": "wrong"}
    assert_created(local_api.request(headers=DEMO, query=wrong, json_body=wrong))
    assert_error(local_api.request(headers={"X-Widget-Key": "wrong"}, query=DEMO_QUERY), 401, "UNAUTHORIZED")


def test_query_wins_over_body(local_api: LocalApi) -> None:
    assert_created(local_api.request(query=DEMO_QUERY, json_body={"widgetKey": "wrong"}))
    assert_error(local_api.request(query={"widgetKey": "wrong"}, json_body=DEMO_QUERY), 401, "UNAUTHORIZED")


def test_empty_values_fall_through_to_the_next_place(local_api: LocalApi) -> None:
    result = local_api.request(headers={"X-App-Id": "", "X-Widget-Key": ""}, query=DEMO_QUERY)
    assert_created(result)


def test_missing_unknown_and_wrong_credentials_look_the_same(local_api: LocalApi) -> None:
    missing = assert_error(local_api.request(), 401, "UNAUTHORIZED")
    unknown = assert_error(
        local_api.request(headers={"X-App-Id": "no-such-app", "X-Widget-Key": "x"}), 401, "UNAUTHORIZED"
    )
    wrong = assert_error(
        local_api.request(headers={"X-App-Id": DEMO_APP_ID, "X-Widget-Key": "x"}), 401, "UNAUTHORIZED"
    )
    assert missing["message"] == unknown["message"] == wrong["message"]
    assert "details" not in wrong


def test_disabled_app(local_api: LocalApi) -> None:
    assert_error(
        local_api.request(headers={"X-App-Id": DISABLED_APP_ID, "X-Widget-Key": DISABLED_WIDGET_KEY}),
        403,
        "APP_DISABLED",
    )
    # Without its key, a disabled app is as unknown as any other.
    assert_error(
        local_api.request(headers={"X-App-Id": DISABLED_APP_ID, "X-Widget-Key": "guess"}), 401, "UNAUTHORIZED"
    )


def test_every_active_key_works(
    local_api: LocalApi, make_app: Callable[..., TestApp], admin: AdminStore
) -> None:
    app = make_app()
    admin.add_key(app.app_id, "k2", "second-key")
    for key in (app.widget_key, "second-key"):
        assert_created(local_api.request(headers={"X-App-Id": app.app_id, "X-Widget-Key": key}))


# Body parsing


@pytest.mark.parametrize("body", [None, b"", b"   \n\t"])
def test_no_empty_or_blank_body_creates_a_default_call(
    local_api: LocalApi, admin: AdminStore, body: bytes | None
) -> None:
    data = assert_created(local_api.request(headers=DEMO, body=body))
    item = stored(admin, data)
    assert item["presetId"] == {"S": "default"}
    assert (item["hostName"], item["guestName"]) == ({"S": "Host"}, {"S": "Guest"})


def test_text_plain_body_is_parsed_as_json(local_api: LocalApi) -> None:
    data = assert_created(
        local_api.request(
            headers={"Content-Type": "text/plain;charset=UTF-8"},
            body=json.dumps({**DEMO_QUERY, "title": "from a widget"}),
        )
    )
    assert data["title"] == "from a widget"


def test_base64_encoded_body_is_decoded(local_api: LocalApi, admin: AdminStore) -> None:
    # The local server, like API Gateway with binary media types, base64-encodes octet streams.
    data = assert_created(
        local_api.request(
            headers={**DEMO, "Content-Type": "application/octet-stream"},
            body=json.dumps({"guestName": "Zoë"}).encode(),
        )
    )
    assert stored(admin, data)["guestName"] == {"S": "Zoë"}


def test_body_over_32_kib_is_413_even_without_credentials(local_api: LocalApi) -> None:
    just_fits = json.dumps({"description": "", "pad": "x" * (32 * 1024 - 30)})
    just_fits += " " * (32 * 1024 - len(just_fits))
    assert len(just_fits) == 32 * 1024
    assert_created(local_api.request(headers=DEMO, body=just_fits))
    assert_error(local_api.request(headers=DEMO, body=just_fits + " "), 413, "PAYLOAD_TOO_LARGE")
    assert_error(local_api.request(body=just_fits + " "), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize("body", ['{"title": ', "{'a': 1}", "not json", '{"a": NaN}'])
def test_invalid_json_is_400_even_without_credentials(local_api: LocalApi, body: str) -> None:
    assert_error(local_api.request(headers=DEMO, body=body), 400, "INVALID_JSON")
    assert_error(local_api.request(body=body), 400, "INVALID_JSON")


@pytest.mark.parametrize("body", ["[]", '"x"', "3", "null"])
def test_json_that_is_not_an_object_is_400_invalid_body(local_api: LocalApi, body: str) -> None:
    assert_error(local_api.request(headers=DEMO, body=body), 400, "INVALID_BODY")


def test_validation_errors_name_each_field(local_api: LocalApi) -> None:
    error = assert_error(
        local_api.request(
            headers=DEMO,
            json_body={
                "title": "t" * 201,
                "hostName": "",
                "recordOnStart": "yes",
                "metadata": [1],
                "presetId": "bad id",
                "genesys": {"gcUsePopupAuth": "true", "gcLangTag": "x" * 257},
            },
        ),
        422,
        "VALIDATION_ERROR",
    )
    fields = [detail["field"] for detail in error["details"]]
    assert sorted(fields) == sorted(
        [
            "title",
            "hostName",
            "recordOnStart",
            "metadata",
            "presetId",
            "genesys.gcUsePopupAuth",
            "genesys.gcLangTag",
        ]
    )
    assert all(detail["message"] for detail in error["details"])


def test_field_errors_without_credentials_are_401(local_api: LocalApi) -> None:
    assert_error(local_api.request(json_body={"title": 5}), 401, "UNAUTHORIZED")


def test_nulls_mean_absent_and_unknown_fields_are_ignored(local_api: LocalApi, admin: AdminStore) -> None:
    data = assert_created(
        local_api.request(
            headers=DEMO,
            json_body={"title": None, "metadata": None, "hostName": None, "colour": "blue", "presetId": None},
        )
    )
    assert not {"title", "metadata", "colour"} & data.keys()
    item = stored(admin, data)
    assert "colour" not in item
    assert "title" not in item
    assert item["hostName"] == {"S": "Host"}


# Genesys


def test_genesys_query_and_body_merge_per_field_with_body_winning(
    local_api: LocalApi, admin: AdminStore
) -> None:
    data = assert_created(
        local_api.request(
            headers=DEMO,
            query={"conversationId": "q-conv", "gcLangTag": "de-de", "gcUsePopupAuth": "0"},
            json_body={"genesys": {"gcLangTag": "en-us", "gcTargetEnv": "prod"}},
        )
    )
    assert "genesys" not in data
    assert stored(admin, data)["genesys"] == {
        "M": {
            "conversationId": {"S": "q-conv"},
            "gcLangTag": {"S": "en-us"},
            "gcTargetEnv": {"S": "prod"},
            "gcUsePopupAuth": {"BOOL": False},
        }
    }


@pytest.mark.parametrize(("word", "expected"), [("TRUE", True), ("1", True), ("false", False), ("0", False)])
def test_popup_auth_words_in_the_query(
    local_api: LocalApi, admin: AdminStore, word: str, expected: bool
) -> None:
    data = assert_created(local_api.request(headers=DEMO, query={"gcUsePopupAuth": word}))
    assert stored(admin, data)["genesys"]["M"]["gcUsePopupAuth"] == {"BOOL": expected}


def test_other_popup_auth_words_are_422(local_api: LocalApi) -> None:
    error = assert_error(
        local_api.request(headers=DEMO, query={"gcUsePopupAuth": "yes"}), 422, "VALIDATION_ERROR"
    )
    assert [detail["field"] for detail in error["details"]] == ["genesys.gcUsePopupAuth"]


# Presets


SUPPORT_LIKE = {"hostName": "Agent", "guestName": "Client", "recordOnStart": True, "previewEnabled": False}


def test_requested_preset_is_used(local_api: LocalApi, admin: AdminStore) -> None:
    data = assert_created(local_api.request(headers=DEMO, json_body={"presetId": "support"}))
    assert data["presetId"] == "support"
    assert data["previewEnabled"] is False
    item = stored(admin, data)
    assert item["hostName"] == {"S": "Support Agent"}
    assert item["recordOnStart"] == {"BOOL": True}


def test_unknown_preset_is_422(local_api: LocalApi) -> None:
    assert_error(local_api.request(headers=DEMO, json_body={"presetId": "nope"}), 422, "PRESET_NOT_FOUND")


def test_another_apps_preset_is_never_visible(local_api: LocalApi, make_app: Callable[..., TestApp]) -> None:
    other = make_app(presets={"secret-preset": SUPPORT_LIKE})
    assert_created(
        local_api.request(
            headers={"X-App-Id": other.app_id, "X-Widget-Key": other.widget_key},
            json_body={"presetId": "secret-preset"},
        )
    )
    assert_error(
        local_api.request(headers=DEMO, json_body={"presetId": "secret-preset"}), 422, "PRESET_NOT_FOUND"
    )


def test_active_preset_with_overrides(
    local_api: LocalApi, admin: AdminStore, make_app: Callable[..., TestApp]
) -> None:
    app = make_app(
        active_preset_id="main", presets={"main": {**SUPPORT_LIKE, "layout": "grid", "ratio": 1.50}}
    )
    data = assert_created(
        local_api.request(
            headers={"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key},
            json_body={"hostName": "Sarah", "recordOnStart": False},
        )
    )
    assert data["presetId"] == "main"
    item = stored(admin, data)
    assert item["hostName"] == {"S": "Sarah"}
    assert item["guestName"] == {"S": "Client"}
    assert item["recordOnStart"] == {"BOOL": False}
    assert item["previewEnabled"] == {"BOOL": False}
    assert json.loads(item["presetSettings"]["S"]) == {"layout": "grid", "ratio": 1.5}


def test_no_active_preset_means_defaults(
    local_api: LocalApi, admin: AdminStore, make_app: Callable[..., TestApp]
) -> None:
    app = make_app(presets={"unused": SUPPORT_LIKE})
    data = assert_created(local_api.request(headers={"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}))
    assert "presetId" not in data
    assert data["previewEnabled"] is True
    item = stored(admin, data)
    assert "presetId" not in item
    assert (item["hostName"], item["guestName"], item["recordOnStart"]) == (
        {"S": "Host"},
        {"S": "Guest"},
        {"BOOL": False},
    )


def test_dangling_active_preset_means_defaults_and_a_logged_warning(
    local_api: LocalApi, admin: AdminStore, make_app: Callable[..., TestApp]
) -> None:
    app = make_app(active_preset_id="deleted-preset")
    result = local_api.request(headers={"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key})
    data = assert_created(result)
    assert stored(admin, data)["hostName"] == {"S": "Host"}
    warnings = [
        json.loads(line)
        for line in local_api.logs().splitlines()
        if "Active preset does not exist" in line and app.app_id in line
    ]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"
    assert warnings[0]["correlation_id"] == result.header("X-Request-Id")


# The call record and the response


def test_stored_call_item(local_api: LocalApi, admin: AdminStore) -> None:
    before = int(time.time())
    result = local_api.request(
        headers=DEMO, json_body={"title": "T", "description": "D", "metadata": {"k": "v"}, "guestName": "Ann"}
    )
    data = assert_created(result)
    item = stored(admin, data)

    assert item["callId"] == {"S": data["callId"]}
    assert item["appId"] == {"S": DEMO_APP_ID}
    assert item["status"] == {"S": "created"}
    assert item["requestId"] == {"S": result.header("X-Request-Id")}
    assert item["createdAt"] == {"S": data["createdAt"]}
    assert data["createdAt"].endswith("Z")
    expires_at = int(item["expiresAt"]["N"])
    assert expires_at == data["expiresAt"]
    assert before + 86_400 <= expires_at <= int(time.time()) + 86_400
    assert (item["title"], item["description"]) == ({"S": "T"}, {"S": "D"})
    assert item["guestName"] == {"S": "Ann"}
    assert DEMO_WIDGET_KEY not in json.dumps(item)


def test_call_id_is_a_uuid4_and_urls_have_the_contract_shape(local_api: LocalApi) -> None:
    import uuid

    data = assert_created(local_api.request(headers=DEMO))
    call_id = data["callId"]
    assert uuid.UUID(call_id).version == 4
    guest = f"https://video.apifycloud.io/c/{call_id}"
    host = f"{guest}?role=agent&appId={DEMO_APP_ID}&widgetKey={DEMO_WIDGET_KEY}"
    assert (data["guestJoinUrl"], data["joinUrl"]) == (guest, guest)
    assert (data["hostJoinUrl"], data["agentJoinUrl"]) == (host, host)


def test_echoes_only_what_was_sent(local_api: LocalApi) -> None:
    data = assert_created(local_api.request(headers=DEMO, json_body={"title": ""}))
    assert data["title"] == ""
    assert "description" not in data
    assert "metadata" not in data


def test_metadata_reads_back_exactly(local_api: LocalApi, admin: AdminStore) -> None:
    metadata_text = (
        '{"float":1.5,"whole_float":1.0,"int":10,"big":12345678901234567890,"tiny":1E-7,'
        '"nested":{"list":[1,2.50,{"deep":[true,false,null]}],"s":"Zoë ☎"},"neg":-0.0}'
    )
    body = '{"metadata":' + metadata_text + "}"
    result = local_api.request(headers=DEMO, body=body)
    data = assert_created(result)

    assert item_metadata(admin, data) == metadata_text
    assert '"metadata":' + metadata_text in result.raw.decode("utf-8")


def item_metadata(admin: AdminStore, data: dict[str, Any]) -> str:
    text: str = stored(admin, data)["metadata"]["S"]
    return text


def test_odd_app_ids_and_keys_are_url_encoded(local_api: LocalApi, make_app: Callable[..., TestApp]) -> None:
    app = make_app(app_id="acme co&x=1/é", widget_key="k+/=?#&é z")
    data = assert_created(local_api.request(headers={"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}))
    url = urlsplit(data["hostJoinUrl"])
    assert url.path == f"/c/{data['callId']}"
    assert parse_qs(url.query) == {"role": ["agent"], "appId": [app.app_id], "widgetKey": [app.widget_key]}
    assert " " not in data["hostJoinUrl"]


# Routing


def test_unknown_path_is_404(local_api: LocalApi) -> None:
    assert_error(local_api.request("POST", "/api/nope", headers=DEMO), 404, "NOT_FOUND")
    assert_error(local_api.request("GET", "/no-such-page"), 404, "NOT_FOUND")


# GET lists calls since section 5.
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_wrong_method_is_405(local_api: LocalApi, method: str) -> None:
    assert_error(local_api.request(method, headers=DEMO), 405, "METHOD_NOT_ALLOWED")


# Browser callers (section 4)


def test_preflight(local_api: LocalApi) -> None:
    result = local_api.request(
        "OPTIONS",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-app-id,x-widget-key,idempotency-key",
        },
    )
    assert result.status == 204
    assert result.header("Access-Control-Allow-Methods") == "GET, POST, OPTIONS"  # GET since section 5
    allowed = {
        name.strip().lower() for name in (result.header("Access-Control-Allow-Headers") or "").split(",")
    }
    assert {"content-type", "x-app-id", "x-widget-key", "idempotency-key"} <= allowed
    assert int(result.header("Access-Control-Max-Age") or 0) > 0
    assert result.header("Access-Control-Allow-Origin") == "https://shop.example"


def test_allowed_origins(local_api: LocalApi, make_app: Callable[..., TestApp]) -> None:
    app = make_app(allowed_origins=("https://shop.example",))
    credentials = {"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}

    allowed = local_api.request(headers={**credentials, "Origin": "https://shop.example"})
    assert_created(allowed)
    assert allowed.header("Access-Control-Allow-Origin") == "https://shop.example"
    assert allowed.header("Vary") == "Origin"
    exposed = {name.strip() for name in (allowed.header("Access-Control-Expose-Headers") or "").split(",")}
    assert {"X-Request-Id", "Idempotent-Replayed", "Retry-After"} <= exposed

    assert_error(
        local_api.request(headers={**credentials, "Origin": "https://evil.example"}),
        403,
        "ORIGIN_NOT_ALLOWED",
    )
    server_to_server = local_api.request(headers=credentials)
    assert_created(server_to_server)
    assert server_to_server.header("Access-Control-Allow-Origin") is None


def test_any_origin_when_the_app_lists_none(local_api: LocalApi) -> None:
    result = local_api.request(headers={**DEMO, "Origin": "http://localhost:5173"})
    assert_created(result)
    assert result.header("Access-Control-Allow-Origin") == "http://localhost:5173"


# Load and secrecy


def test_200_concurrent_creates_all_succeed_and_are_stored(local_api: LocalApi, admin: AdminStore) -> None:
    def create(number: int) -> HttpResult:
        return local_api.request(headers=DEMO, json_body={"title": f"concurrent {number}"}, timeout=120)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(create, range(200)))

    assert [result.status for result in results] == [201] * 200
    call_ids = {result.body["data"]["callId"] for result in results}
    assert len(call_ids) == 200
    titles = {stored(admin, result.body["data"])["title"]["S"] for result in results}
    assert titles == {f"concurrent {number}" for number in range(200)}


def test_widget_keys_never_reach_the_logs(local_api: LocalApi, make_app: Callable[..., TestApp]) -> None:
    app = make_app(widget_key="very-secret-widget-key-0042")
    credentials = {"X-App-Id": app.app_id, "X-Widget-Key": app.widget_key}
    requests: list[dict[str, Any]] = [
        {"headers": credentials},
        {"query": {"appId": app.app_id, "widgetKey": app.widget_key}},
        {"json_body": {"appId": app.app_id, "widgetKey": app.widget_key, "title": 5}},
        {"headers": {"X-App-Id": app.app_id, "X-Widget-Key": "very-secret-but-wrong"}},
        {"headers": credentials, "body": "{not json"},
        {"headers": credentials, "json_body": {"presetId": "missing"}},
    ]
    for request in requests:
        local_api.request(**request)

    # Every line the handler wrote (the runner's banner prints the published demo key on purpose).
    handler_lines = [line for line in local_api.logs().splitlines() if line.startswith("{")]
    assert any(app.app_id in line for line in handler_lines)  # the requests were logged
    assert not [line for line in handler_lines if "very-secret" in line or DEMO_WIDGET_KEY in line]
