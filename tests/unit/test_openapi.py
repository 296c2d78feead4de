"""docs/openapi.json: generated from the code, committed, and true to docs/behaviour.md."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import schemathesis
from calls import errors, join, responses, routes, view
from calls.access import Caller, Credentials
from calls.listing import validate_list_query
from calls.models import (
    IDEMPOTENCY_KEY_PATTERN,
    AppRecord,
    CallRecord,
    CallSettings,
    CreateCallRequest,
    JoinCallRequest,
    ListCallsQuery,
)
from localrun.gateway import LocalLambdaContext
from localrun.server import build_event, response_headers
from openapi_spec import __main__ as cli
from openapi_spec import spec
from openapi_spec.spec import REGENERATE_COMMAND, SPEC_PATH, build_spec, render
from pydantic import TypeAdapter, ValidationError

# The error table of docs/behaviour.md (section 2.3), section 3's two idempotency codes, section 5's
# three and section 6's join answers; 429 is section 8's, written by API Gateway.
CONTRACT_CODES = {
    400: {"INVALID_JSON", "INVALID_BODY", "INVALID_CURSOR"},
    401: {"UNAUTHORIZED"},
    403: {"APP_DISABLED", "ORIGIN_NOT_ALLOWED"},
    404: {"NOT_FOUND", "CALL_NOT_FOUND", "RECORDING_NOT_FOUND"},
    405: {"METHOD_NOT_ALLOWED"},
    409: {
        "IDEMPOTENCY_KEY_IN_USE",
        "CALL_EXPIRED",
        "RECORDING_IN_PROGRESS",
        "RECORDING_NOT_IN_PROGRESS",
        "RECORDING_EMPTY",
    },
    410: {"CALL_ENDED", "CALL_EXPIRED"},
    413: {"PAYLOAD_TOO_LARGE"},
    422: {"VALIDATION_ERROR", "PRESET_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"},
    429: {"TOO_MANY_REQUESTS"},
    500: {"INTERNAL_ERROR"},
    503: {"SERVICE_UNAVAILABLE"},
}
# What every route with credentials can answer (sections 2, 4 and 8).
ADMITTED = {
    401: {"UNAUTHORIZED"},
    403: {"APP_DISABLED", "ORIGIN_NOT_ALLOWED"},
    429: {"TOO_MANY_REQUESTS"},
    500: {"INTERNAL_ERROR"},
    503: {"SERVICE_UNAVAILABLE"},
}
BODY_REFUSALS = {400: {"INVALID_JSON", "INVALID_BODY"}, 413: {"PAYLOAD_TOO_LARGE"}}
# Each operation's error codes by status, as docs/behaviour.md gives them to that route.
OPERATION_CODES: dict[str, dict[int, set[str]]] = {
    "createCall": {
        **ADMITTED,
        **BODY_REFUSALS,
        409: {"IDEMPOTENCY_KEY_IN_USE"},
        422: {"VALIDATION_ERROR", "PRESET_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"},
    },
    "listCalls": {**ADMITTED, 400: {"INVALID_CURSOR"}, 422: {"VALIDATION_ERROR"}},
    "getCall": {**ADMITTED, 404: {"CALL_NOT_FOUND"}},
    "endCall": {**ADMITTED, **BODY_REFUSALS, 404: {"CALL_NOT_FOUND"}, 409: {"CALL_EXPIRED"}},
    # Any origin may join, so no ORIGIN_NOT_ALLOWED; a disabled app refuses its agent.
    "joinCall": {
        **ADMITTED,
        **BODY_REFUSALS,
        403: {"APP_DISABLED"},
        404: {"CALL_NOT_FOUND"},
        410: {"CALL_ENDED", "CALL_EXPIRED"},
        422: {"VALIDATION_ERROR"},
    },
    "preflightCalls": {500: {"INTERNAL_ERROR"}},
    "preflightCall": {500: {"INTERNAL_ERROR"}},
    "preflightEndCall": {500: {"INTERNAL_ERROR"}},
    "preflightJoinCall": {500: {"INTERNAL_ERROR"}},
    # Section 10: the agent (host key, any origin) or the app (credentials and origin).
    "startRecording": {
        **ADMITTED,
        **BODY_REFUSALS,
        404: {"CALL_NOT_FOUND"},
        409: {"RECORDING_IN_PROGRESS"},
        410: {"CALL_ENDED", "CALL_EXPIRED"},
        422: {"VALIDATION_ERROR"},
    },
    "getRecordingPartUrls": {
        **ADMITTED,
        **BODY_REFUSALS,
        404: {"CALL_NOT_FOUND", "RECORDING_NOT_FOUND"},
        409: {"RECORDING_NOT_IN_PROGRESS"},
        422: {"VALIDATION_ERROR"},
    },
    "completeRecording": {
        **ADMITTED,
        **BODY_REFUSALS,
        404: {"CALL_NOT_FOUND", "RECORDING_NOT_FOUND"},
        409: {"RECORDING_EMPTY"},
        422: {"VALIDATION_ERROR"},
    },
    "listRecordings": {**ADMITTED, 404: {"CALL_NOT_FOUND"}},
    "preflightRecordings": {500: {"INTERNAL_ERROR"}},
    "preflightRecordingParts": {500: {"INTERNAL_ERROR"}},
    "preflightCompleteRecording": {500: {"INTERNAL_ERROR"}},
}
# Answered on a path, not by an operation: unknown paths and other methods.
PATH_LEVEL_CODES = {"NOT_FOUND", "METHOD_NOT_ALLOWED"}
ROUTES = {
    "createCall": ("POST", "/api/calls"),
    "listCalls": ("GET", "/api/calls"),
    "getCall": ("GET", "/api/calls/{callId}"),
    "endCall": ("POST", "/api/calls/{callId}/end"),
    "joinCall": ("POST", "/api/calls/{callId}/join"),
    "preflightCalls": ("OPTIONS", "/api/calls"),
    "preflightCall": ("OPTIONS", "/api/calls/{callId}"),
    "preflightEndCall": ("OPTIONS", "/api/calls/{callId}/end"),
    "preflightJoinCall": ("OPTIONS", "/api/calls/{callId}/join"),
    "startRecording": ("POST", "/api/calls/{callId}/recordings"),
    "listRecordings": ("GET", "/api/calls/{callId}/recordings"),
    "getRecordingPartUrls": ("POST", "/api/calls/{callId}/recordings/{recordingId}/parts"),
    "completeRecording": ("POST", "/api/calls/{callId}/recordings/{recordingId}/complete"),
    "preflightRecordings": ("OPTIONS", "/api/calls/{callId}/recordings"),
    "preflightRecordingParts": ("OPTIONS", "/api/calls/{callId}/recordings/{recordingId}/parts"),
    "preflightCompleteRecording": ("OPTIONS", "/api/calls/{callId}/recordings/{recordingId}/complete"),
}
PREFLIGHTS = (
    "preflightCalls",
    "preflightCall",
    "preflightEndCall",
    "preflightJoinCall",
    "preflightRecordings",
    "preflightRecordingParts",
    "preflightCompleteRecording",
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    generated: dict[str, Any] = build_spec()
    return generated


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = document["components"][section][name]
    return node


def documented_codes(document: dict[str, Any], response: dict[str, Any]) -> set[str]:
    schema = resolve(document, response)["content"]["application/json"]["schema"]
    return set(schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"])


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation of the document, by operationId."""
    found: dict[str, dict[str, Any]] = {}
    for path_item in document["paths"].values():
        for method, operation in path_item.items():
            if method != "description":
                assert operation["operationId"] not in found, f"duplicate {operation['operationId']}"
                found[operation["operationId"]] = operation
    return found


def error_codes_of(document: dict[str, Any], operation: dict[str, Any]) -> dict[int, set[str]]:
    return {
        int(status): documented_codes(document, response)
        for status, response in operation["responses"].items()
        if int(status) >= 400
    }


def parameters_of(document: dict[str, Any], operation: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {
        (parameter["in"], parameter["name"]): parameter
        for parameter in (resolve(document, ref) for ref in operation["parameters"])
    }


def test_the_committed_document_matches_the_code() -> None:
    committed = SPEC_PATH.read_text(encoding="utf-8") if SPEC_PATH.exists() else "(missing)"
    assert committed == render(build_spec()), (
        f"docs/openapi.json is stale: the handler's routes, the models or the errors changed. "
        f"Regenerate it with `{REGENERATE_COMMAND}` and commit it."
    )


def test_the_check_command_tells_how_to_regenerate_a_stale_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(cli, "SPEC_PATH", stale)

    assert cli.main(["--check"]) == 1
    assert "make openapi" in capsys.readouterr().err

    assert cli.main(["--write"]) == 0
    assert cli.main(["--check"]) == 0
    assert json.loads(stale.read_text(encoding="utf-8"))["openapi"] == "3.1.0"


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()


# Paths, operations and tags


def test_paths_and_methods_are_the_handlers_routes(document: dict[str, Any]) -> None:
    expected = {
        spec.openapi_path(path): {method.lower() for method in (*methods, "OPTIONS")}
        for path, methods in routes.ROUTES.items()
    }
    assert set(document["paths"]) == {
        "/api/calls",
        "/api/calls/{callId}",
        "/api/calls/{callId}/end",
        "/api/calls/{callId}/join",
        "/api/calls/{callId}/recordings",
        "/api/calls/{callId}/recordings/{recordingId}/parts",
        "/api/calls/{callId}/recordings/{recordingId}/complete",
    }
    assert {path: set(item) - {"description"} for path, item in document["paths"].items()} == expected
    for operation_id, (method, path) in ROUTES.items():
        assert document["paths"][path][method.lower()]["operationId"] == operation_id


@pytest.mark.parametrize(
    ("path", "refused", "allow"),
    [
        ("/api/calls", ["PUT", "DELETE", "HEAD", "PATCH"], "GET, POST, OPTIONS"),
        ("/api/calls/{callId}", ["PUT", "POST", "DELETE", "HEAD", "PATCH"], "GET, OPTIONS"),
        ("/api/calls/{callId}/end", ["GET", "PUT", "DELETE", "HEAD", "PATCH"], "POST, OPTIONS"),
        ("/api/calls/{callId}/join", ["GET", "PUT", "DELETE", "HEAD", "PATCH"], "POST, OPTIONS"),
        ("/api/calls/{callId}/recordings", ["PUT", "DELETE", "HEAD", "PATCH"], "GET, POST, OPTIONS"),
        (
            "/api/calls/{callId}/recordings/{recordingId}/parts",
            ["GET", "PUT", "DELETE", "HEAD", "PATCH"],
            "POST, OPTIONS",
        ),
    ],
)
def test_each_path_names_its_405s_and_their_allow(
    document: dict[str, Any], path: str, refused: list[str], allow: str
) -> None:
    description = document["paths"][path]["description"]
    assert f"({', '.join(refused)})" in description
    assert f"`Allow: {allow}`" in description
    assert "#/components/responses/MethodNotAllowed" in description
    method_not_allowed = document["components"]["responses"]["MethodNotAllowed"]
    assert documented_codes(document, method_not_allowed) == {"METHOD_NOT_ALLOWED"}
    assert "Allow" in method_not_allowed["headers"]


def test_a_route_without_a_description_fails_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def undocumented() -> None: ...

    routes = spec.handler_routes()
    monkeypatch.setattr(spec, "handler_routes", lambda: [*routes, ("/api/calls/<id>", "GET", undocumented)])

    with pytest.raises(LookupError, match="undocumented"):
        build_spec()


def test_operation_ids_are_unique_and_every_operation_is_tagged(document: dict[str, Any]) -> None:
    found = operations(document)  # fails on a duplicate operationId
    assert set(found) == set(ROUTES)
    declared_tags = {tag["name"] for tag in document["tags"]}
    assert all(tag["description"] for tag in document["tags"])
    for operation_id, operation in found.items():
        assert len(operation["tags"]) == 1, operation_id
        assert set(operation["tags"]) <= declared_tags, operation_id
        assert operation["summary"], operation_id
        assert operation["description"], operation_id
    assert {found[name]["tags"][0] for name in ("createCall", "listCalls", "getCall", "endCall")} == {"Calls"}
    assert found["joinCall"]["tags"] == ["Join"]
    assert {found[name]["tags"][0] for name in PREFLIGHTS} == {"CORS"}


# Errors


def test_each_operation_documents_exactly_the_contracts_codes_for_it(document: dict[str, Any]) -> None:
    for operation_id, operation in operations(document).items():
        assert error_codes_of(document, operation) == OPERATION_CODES[operation_id], operation_id


def test_every_code_of_the_contract_and_of_the_code_is_documented_under_its_status(
    document: dict[str, Any],
) -> None:
    by_status: dict[int, set[str]] = {}
    for operation in operations(document).values():
        for status, codes in error_codes_of(document, operation).items():
            by_status.setdefault(status, set()).update(codes)
    for name in ("NotFound", "MethodNotAllowed"):
        (code,) = documented_codes(document, document["components"]["responses"][name])
        assert code in PATH_LEVEL_CODES
        by_status.setdefault(spec.ERROR_RESPONSES[name].status, set()).add(code)
    assert by_status == CONTRACT_CODES
    for error_class in spec.error_classes():
        assert error_class.code in by_status[error_class.status], error_class.__name__


def test_an_error_class_in_no_shared_response_fails_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    class Teapot(errors.ApiError):
        status, code = 418, "TEAPOT"

    monkeypatch.setattr(Teapot, "__module__", "calls.errors")

    with pytest.raises(LookupError, match="TEAPOT"):
        build_spec()


def test_error_responses_are_shared_and_referenced(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    for operation_id, operation in operations(document).items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert set(response) == {"$ref"}, (operation_id, status)
                assert response["$ref"].removeprefix("#/components/responses/") in responses
    # One envelope for all of them.
    for name, response in responses.items():
        schema = response["content"]["application/json"]["schema"]
        assert schema["allOf"][0] == {"$ref": "#/components/schemas/ErrorEnvelope"}, name


def test_retry_after_is_required_exactly_where_a_client_should_retry(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    with_retry_after = {
        name for name, response in responses.items() if "Retry-After" in response.get("headers", {})
    }
    assert with_retry_after == {"IdempotencyKeyInUse", "TooManyRequests", "ServiceUnavailable"}
    header = document["components"]["headers"]["Retry-After"]
    assert header["required"] is True
    assert header["schema"]["type"] == "integer"
    # A 409 to end is final: no Retry-After, unlike create's.
    end_conflict = operations(document)["endCall"]["responses"]["409"]
    assert "Retry-After" not in resolve(document, end_conflict)["headers"]


def test_every_function_response_documents_its_headers(document: dict[str, Any]) -> None:
    headers = document["components"]["headers"]
    assert headers["X-Request-Id"]["required"] is True
    assert headers["Cache-Control"]["schema"]["const"] == "no-store"
    assert headers["Idempotent-Replayed"]["required"] is False
    created = document["paths"]["/api/calls"]["post"]["responses"]["201"]["headers"]
    assert {"X-Request-Id", "Cache-Control", "Idempotent-Replayed", "Access-Control-Allow-Origin"} <= set(
        created
    )
    for operation_id in ("listCalls", "getCall", "endCall"):
        ok = operations(document)[operation_id]["responses"]["200"]["headers"]
        assert {"X-Request-Id", "Cache-Control", "Access-Control-Allow-Origin"} <= set(ok), operation_id
    for name, response in document["components"]["responses"].items():
        assert "Cache-Control" in response["headers"], name
        if name != "TooManyRequests":  # written by API Gateway, which has no X-Request-Id to give
            assert "X-Request-Id" in response["headers"], name


def test_api_gateways_own_answers_are_documented(document: dict[str, Any]) -> None:
    """The stack rewrites API Gateway's errors into the envelope; their codes must be in the document."""
    from infra.rest_api import GATEWAY_ANSWERS

    checked = 0
    for answer in GATEWAY_ANSWERS:
        if answer.status is None:
            continue  # API Gateway's catch-alls keep whatever status it chose
        shared = [
            response
            for response in spec.ERROR_RESPONSES.values()
            if response.status == answer.status and answer.code in response.codes
        ]
        assert shared, answer.name
        for response in shared:
            assert response.retry_after == (answer.retry_after is not None), answer.name
        checked += 1
    assert checked >= 4  # throttled, missing route, too large, integration timeout


# Requests


def test_the_request_body_is_the_model_with_its_limits(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/calls"]["post"]["requestBody"]
    assert body["required"] is False
    schema = resolve(document, body["content"]["application/json"]["schema"])
    model = CreateCallRequest.model_json_schema()
    assert schema["properties"] == json.loads(
        json.dumps(model["properties"]).replace("#/$defs/", "#/components/schemas/")
    )
    title = schema["properties"]["title"]["anyOf"][0]
    assert title == {"maxLength": 200, "type": "string"}
    assert schema["properties"]["presetId"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9._:-]{1,128}$"
    assert "8192 bytes" in schema["properties"]["metadata"]["description"]
    assert "10 levels" in schema["properties"]["metadata"]["description"]
    assert "recordOnStart" in schema["properties"]
    assert "genesys" in schema["properties"]


def test_end_takes_an_optional_object_body(document: dict[str, Any]) -> None:
    body = operations(document)["endCall"]["requestBody"]
    assert body["required"] is False
    schema = resolve(document, body["content"]["application/json"]["schema"])
    assert schema["type"] == "object"
    assert not schema.get("properties")  # only ever read for appId / widgetKey; anything else is ignored
    assert "appId" in schema["description"]


def test_parameters_cover_idempotency_origin_and_the_genesys_query(document: dict[str, Any]) -> None:
    parameters = parameters_of(document, document["paths"]["/api/calls"]["post"])
    assert set(parameters) == {
        ("header", "Idempotency-Key"),
        ("header", "Origin"),
        ("query", "conversationId"),
        ("query", "gcHostOrigin"),
        ("query", "gcTargetEnv"),
        ("query", "gcLangTag"),
        ("query", "gcUsePopupAuth"),
    }
    assert parameters["header", "Idempotency-Key"]["schema"]["pattern"] == IDEMPOTENCY_KEY_PATTERN
    assert parameters["query", "gcLangTag"]["schema"] == {"maxLength": 256, "type": "string"}
    popup = parameters["query", "gcUsePopupAuth"]["schema"]["pattern"]
    for word in ("true", "FALSE", "True", "1", "0"):
        assert re.fullmatch(popup, word)
    for word in ("yes", "2", "", "truee"):
        assert not re.fullmatch(popup, word)


def _model_limits(name: str) -> dict[str, Any]:
    """A field's limits as ListCallsQuery declares them, read from pydantic's field info."""
    field = ListCallsQuery.model_fields[name]
    limits: dict[str, Any] = {}
    if field.default is not None:
        limits["default"] = field.default
    for constraint in field.metadata:
        for attribute, keyword in (("ge", "minimum"), ("le", "maximum"), ("max_length", "maxLength")):
            if getattr(constraint, attribute, None) is not None:
                limits[keyword] = getattr(constraint, attribute)
    return limits


def test_the_list_parameters_are_the_models_fields_with_its_limits(document: dict[str, Any]) -> None:
    ListCallsQuery.model_rebuild()
    parameters = parameters_of(document, operations(document)["listCalls"])
    assert set(parameters) == {("query", name) for name in ListCallsQuery.model_fields} | {
        ("header", "Origin")
    }
    for name in ListCallsQuery.model_fields:
        parameter = parameters["query", name]
        assert parameter["required"] is False, name
        schema = parameter["schema"]
        assert {key: schema[key] for key in _model_limits(name)} == _model_limits(name), name
        assert "anyOf" not in schema, "a query value is never null"
    limit = parameters["query", "limit"]["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == ("integer", 1, 100, 20)
    assert parameters["query", "status"]["schema"]["enum"] == list(view.STATUSES)
    assert parameters["query", "conversationId"]["schema"]["maxLength"] == 256
    assert "INVALID_CURSOR" in parameters["query", "cursor"]["description"]


def test_the_documented_list_limits_are_the_enforced_ones(document: dict[str, Any]) -> None:
    parameters = parameters_of(document, operations(document)["listCalls"])
    limit = parameters["query", "limit"]["schema"]
    longest = parameters["query", "conversationId"]["schema"]["maxLength"]
    for accepted in (limit["minimum"], limit["maximum"]):
        assert validate_list_query({"limit": [str(accepted)]}).limit == accepted
    assert validate_list_query({}).limit == limit["default"]
    assert validate_list_query({"conversationId": ["c" * longest]}).conversationId
    for refused in (
        {"limit": [str(limit["minimum"] - 1)]},
        {"limit": [str(limit["maximum"] + 1)]},
        {"conversationId": ["c" * (longest + 1)]},
        {"status": ["running"]},
    ):
        with pytest.raises(errors.ValidationFailed):
            validate_list_query(refused)


def test_an_empty_query_value_is_documented_as_a_missing_one(document: dict[str, Any]) -> None:
    """The API reads `?status=` as no status (first_query_value); the document says so."""
    found = operations(document)
    for operation_id in ("createCall", "listCalls", "joinCall"):
        for (location, name), parameter in parameters_of(document, found[operation_id]).items():
            if location == "query":
                assert parameter["allowEmptyValue"] is True, (operation_id, name)
                assert "empty value is the same as leaving the parameter out" in parameter["description"]
    query = validate_list_query({name: [""] for name in ListCallsQuery.model_fields})
    assert query == validate_list_query({})


def test_the_call_id_is_a_uuid_path_parameter(document: dict[str, Any]) -> None:
    found = operations(document)
    for operation_id in ("getCall", "endCall"):
        parameter = parameters_of(document, found[operation_id])["path", "callId"]
        assert parameter["required"] is True
        assert parameter["schema"] == {"type": "string", "format": "uuid"}
        assert "CALL_NOT_FOUND" in parameter["description"]
    # A preflight cannot look a call up: any id gets the same answer.
    for operation_id in ("joinCall",):
        parameter = parameters_of(document, found[operation_id])["path", "callId"]
        assert parameter["schema"] == {"type": "string", "format": "uuid"}
    for operation_id in ("preflightCall", "preflightEndCall", "preflightJoinCall"):
        parameter = parameters_of(document, found[operation_id])["path", "callId"]
        assert parameter["schema"] == {"type": "string"}


def test_credentials_are_security_schemes_in_headers_or_query(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert {(scheme["in"], scheme["name"]) for scheme in schemes.values()} == {
        ("header", "X-App-Id"),
        ("header", "X-Widget-Key"),
        ("query", "appId"),
        ("query", "widgetKey"),
    }
    for operation_id, operation in operations(document).items():
        if operation_id.startswith("preflight"):
            expected = []
        elif operation_id == "joinCall":
            expected = [{}, *spec.CREDENTIALS]  # a guest needs none
        else:
            expected = spec.CREDENTIALS
        assert operation["security"] == expected, operation_id
    assert spec.CREDENTIALS == [
        {"appIdHeader": [], "widgetKeyHeader": []},
        {"appIdQuery": [], "widgetKeyQuery": []},
    ]


# Responses


def test_the_success_envelope_has_the_upstream_fields_and_the_additions(document: dict[str, Any]) -> None:
    data = document["components"]["schemas"]["CallData"]
    # The host links are absent only where a replay in hostKey mode withholds them, and says so.
    assert set(data["required"]) == {
        "callId",
        "guestJoinUrl",
        "joinUrl",
        "previewEnabled",
        "createdAt",
        "expiresAt",
    }
    assert {"hostJoinUrl", "agentJoinUrl"} <= data["properties"].keys()
    assert data["properties"]["hostLinkWithheld"]["const"] is True
    for echoed in ("title", "description", "metadata", "presetId"):
        assert "anyOf" not in data["properties"][echoed], "echoes are absent, never null"
        assert "default" not in data["properties"][echoed]


CALL_VIEW_ALWAYS = {
    "callId",
    "status",
    "createdAt",
    "expiresAt",
    "hostName",
    "guestName",
    "recordOnStart",
    "previewEnabled",
    "guestJoinUrl",
    "joinUrl",
}


def test_the_call_view_has_section_5s_fields_and_only_the_constant_ones_required(
    document: dict[str, Any],
) -> None:
    schema = document["components"]["schemas"]["CallView"]
    assert set(schema["required"]) == CALL_VIEW_ALWAYS
    optional = set(schema["properties"]) - CALL_VIEW_ALWAYS
    assert optional == {
        "endedAt",
        "presetId",
        "title",
        "description",
        "metadata",
        "genesys",
        "agentJoinedAt",
        "guestJoinedAt",
        "hostJoinUrl",
        "agentJoinUrl",
    }
    for name in optional:
        assert "anyOf" not in schema["properties"][name], f"{name} is absent, never null"
        assert "default" not in schema["properties"][name], name
    assert schema["properties"]["status"]["enum"] == list(view.STATUSES)
    assert schema["properties"]["callId"]["format"] == "uuid"
    for name in ("createdAt", "endedAt", "agentJoinedAt", "guestJoinedAt"):
        assert schema["properties"][name]["format"] == "date-time", name
    for operation_id in ("getCall", "endCall"):
        ok = operations(document)[operation_id]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": "#/components/schemas/CallViewResponse"}, operation_id
    envelope = document["components"]["schemas"]["CallViewResponse"]
    assert envelope["properties"]["data"] == {"$ref": "#/components/schemas/CallView"}


def _every_fact_call() -> CallRecord:
    return CallRecord(
        call_id="2b7a9f1e-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
        app_id="app-1",
        preset_id="support",
        settings=CallSettings(
            host_name="Sarah",
            guest_name="John",
            record_on_start=True,
            preview_enabled=False,
            extra={
                "language": "de-DE",
                "branding": {"logoUrl": "https://www.example.com/logo.svg", "accentColor": "#0b5fff"},
            },
        ),
        created_at="2026-01-02T03:04:05.678Z",
        expires_at=1_900_000_000,
        request_id="r-1",
        title="t",
        description="d",
        metadata={"a": 1.0},
        genesys={"conversationId": "c-1", "gcUsePopupAuth": True},
        status="ended",
        ended_at="2026-01-02T03:05:00.000Z",
        agent_joined_at="2026-01-02T03:04:30.000Z",
        guest_joined_at="2026-01-02T03:04:40.000Z",
    )


def test_the_documented_call_view_is_what_the_code_builds() -> None:
    """view.call_view and responses.CallView name the same fields: a field added to one fails here."""
    now = view.utc_now()
    caller = Caller(Credentials(app_id="app-1", widget_key="k"), AppRecord("app-1", "active", ("digest",)))
    assert caller.app.host_links_carry_widget_key
    full = view.caller_view(_every_fact_call(), caller, now=now, base_url="https://video.example")
    assert set(full) == set(responses.CallView.__annotations__)
    TypeAdapter(responses.CallView).validate_python(full)

    bare = CallRecord(
        call_id="2b7a9f1e-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
        app_id="app-1",
        preset_id=None,
        settings=CallSettings(
            host_name="Host", guest_name="Guest", record_on_start=False, preview_enabled=True
        ),
        created_at="2026-01-02T03:04:05.678Z",
        expires_at=1_900_000_000,
        request_id="r-1",
    )
    assert set(view.call_view(bare, now=now, base_url="https://video.example")) == CALL_VIEW_ALWAYS


def test_a_status_the_code_does_not_have_is_refused_by_the_view_model() -> None:
    assert set(view.STATUSES) == set(responses.CallStatus.__args__)
    call = view.call_view(_every_fact_call(), now=view.utc_now(), base_url="https://video.example")
    with pytest.raises(ValidationError):
        TypeAdapter(responses.CallView).validate_python({**call, "status": "running"})


def test_the_list_answer_is_a_page_of_call_views(document: dict[str, Any]) -> None:
    ok = operations(document)["listCalls"]["responses"]["200"]["content"]["application/json"]["schema"]
    envelope = resolve(document, ok)
    page = resolve(document, envelope["properties"]["data"])
    assert page["required"] == ["calls"]
    assert page["properties"]["calls"] == {
        "description": page["properties"]["calls"]["description"],
        "items": {"$ref": "#/components/schemas/CallView"},
        "title": "Calls",
        "type": "array",
    }
    assert page["properties"]["nextCursor"]["type"] == "string"
    assert "absent on the last page" in page["properties"]["nextCursor"]["description"]


def test_create_links_to_get_and_end_by_the_created_call_id(document: dict[str, Any]) -> None:
    found = operations(document)
    links = found["createCall"]["responses"]["201"]["links"]
    assert set(links) == {"getCall", "endCall", "joinCall"}
    for name, link in links.items():
        assert link["operationId"] == name
        assert link["operationId"] in found
        assert link["parameters"] == {"callId": "$response.body#/data/callId"}
    # The pointer names a field the created envelope has.
    created = document["components"]["schemas"]["CallCreated"]
    assert created["properties"]["data"] == {"$ref": "#/components/schemas/CallData"}
    assert "callId" in document["components"]["schemas"]["CallData"]["required"]
    assert found["getCall"]["responses"]["200"]["links"]["endCall"]["operationId"] == "endCall"
    assert found["endCall"]["responses"]["200"]["links"]["getCall"]["operationId"] == "getCall"


def test_schemathesis_reads_the_links_for_its_stateful_phase(document: dict[str, Any]) -> None:
    """Inline links only: schemathesis 4.32 cannot follow a link given as a $ref to components."""
    loaded = schemathesis.openapi.from_dict(document)
    loaded.as_state_machine()  # raises when the document has no usable link
    for operation in operations(document).values():
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert "$ref" not in link


def test_the_join_reads_the_models_fields_from_the_query_or_the_body(document: dict[str, Any]) -> None:
    operation = operations(document)["joinCall"]
    parameters = parameters_of(document, operation)
    assert set(parameters) == {("path", "callId")} | {
        ("query", name) for name in JoinCallRequest.model_fields
    }
    assert parameters["query", "role"]["schema"] == {"enum": [join.AGENT, join.GUEST], "type": "string"}
    body = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
    assert operation["requestBody"]["required"] is False
    assert set(body["properties"]) == set(JoinCallRequest.model_fields)
    assert "the query wins" in body["description"]


def test_the_documented_join_answer_is_what_the_code_builds(document: dict[str, Any]) -> None:
    call = _every_fact_call()
    now = view.utc_now()
    for role in (join.AGENT, join.GUEST):
        built = join.join_view(
            call, role, now, join.SignalingOffer(url="wss://x.example/ws", token_key=b"k" * 32)
        )
        assert set(built) == set(responses.JoinView.__annotations__), role
        TypeAdapter(responses.JoinView).validate_python(built)
    assert set(responses.JoinRole.__args__) == {join.AGENT, join.GUEST}
    schema = document["components"]["schemas"]["JoinView"]
    assert set(schema["required"]) == set(responses.JoinView.__annotations__) - {
        "title",
        "language",
        "branding",
    }
    ok = operations(document)["joinCall"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert resolve(document, ok)["properties"]["data"] == {"$ref": "#/components/schemas/JoinView"}


def test_call_expired_is_a_409_to_end_and_a_410_to_join(document: dict[str, Any]) -> None:
    found = operations(document)
    assert "CALL_EXPIRED" in error_codes_of(document, found["endCall"])[409]
    assert error_codes_of(document, found["joinCall"])[410] == {"CALL_ENDED", "CALL_EXPIRED"}
    assert {(error.status, error.code) for error in (errors.CallExpired, errors.CallExpiredGone)} == {
        (409, "CALL_EXPIRED"),
        (410, "CALL_EXPIRED"),
    }


# What the handler answers, against the document


def invoke(method: str, path: str, headers: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    from calls.handler import lambda_handler

    return lambda_handler(
        build_event(method, path, headers or [], b""), LocalLambdaContext(aws_request_id="r-openapi")
    )


def headers_of(result: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in response_headers(result):
        headers.setdefault(name.lower(), value)
    return headers


@pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")  # a preflight counts nothing
def test_every_body_is_json_and_those_without_one_are_named_and_true(document: dict[str, Any]) -> None:
    """The preflights' 204 has no body and no Content-Type: the document says so, and so does the handler."""
    bodiless = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "description":
                continue
            for status, response in operation["responses"].items():
                content = resolve(document, response).get("content")
                if content is None:
                    bodiless.append((method.upper(), path, int(status)))
                else:
                    assert set(content) == {"application/json"}, (method, path, status)
    assert bodiless == [("OPTIONS", path, 204) for path in document["paths"]]

    description = " ".join(document["info"]["description"].split())
    assert (
        "the `204` of `OPTIONS` on every path (CORS preflight) has no body and no `Content-Type`"
        in description
    )
    for route in routes.ROUTES:
        result = invoke("OPTIONS", route.replace("{callId}", "any-id"))
        assert result["statusCode"] == 204
        assert not result.get("body")
        assert "content-type" not in headers_of(result)
    assert headers_of(invoke("POST", "/api/calls"))["content-type"] == "application/json"


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/api/openapi.json"])
def test_the_lambda_does_not_serve_the_document(path: str) -> None:
    result = invoke("GET", path)
    assert result["statusCode"] == 404
    assert json.loads(result["body"])["error"]["code"] == "NOT_FOUND"


REFUSED = [
    (method, path)
    for path, methods in routes.ROUTES.items()
    for method in spec.FORWARDED_METHODS
    if method not in methods and method != "HEAD"  # a HEAD answer has no body to read
]


@pytest.mark.parametrize(("method", "route"), REFUSED)
def test_a_405_carries_every_header_the_document_requires(
    document: dict[str, Any], method: str, route: str
) -> None:
    """RFC 9110 section 15.5.6: a 405 response must name the allowed methods in `Allow`."""
    result = invoke(method, route.replace("{callId}", "2b7a9f1e-3c4d-4e5f-8a6b-7c8d9e0f1a2b"))
    headers = headers_of(result)

    assert result["statusCode"] == 405
    response = document["components"]["responses"]["MethodNotAllowed"]
    required = {
        name.lower() for name, header in response["headers"].items() if resolve(document, header)["required"]
    }
    assert required <= set(headers), f"missing: {required - set(headers)}"
    allow = f"`Allow: {headers['allow']}`"
    assert allow in document["paths"][spec.openapi_path(route)]["description"]


@pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")  # a preflight counts nothing
@pytest.mark.parametrize("route", list(routes.ROUTES))
def test_each_preflight_answers_the_methods_its_operation_documents(
    document: dict[str, Any], route: str
) -> None:
    path = spec.openapi_path(route)
    documented = document["paths"][path]["options"]["responses"]["204"]["headers"]
    result = invoke(
        "OPTIONS",
        route.replace("{callId}", "any-id"),
        [("Origin", "https://site.example"), ("Access-Control-Request-Method", "GET")],
    )
    headers = headers_of(result)

    assert result["statusCode"] == 204
    assert (
        headers["access-control-allow-methods"]
        == documented["Access-Control-Allow-Methods"]["schema"]["const"]
    )
    assert (
        headers["access-control-allow-headers"]
        == documented["Access-Control-Allow-Headers"]["schema"]["const"]
    )


def test_redoclys_recommended_rules_pass_on_the_committed_document() -> None:
    """`npx @redocly/cli lint` as a user would run it; redocly.yaml and .redocly.lint-ignore.yaml
    say which findings are kept on purpose, and why."""
    import subprocess

    from tests.conftest import ROOT

    redocly = ROOT / "node_modules" / ".bin" / "redocly"
    assert redocly.exists(), "npm ci installs @redocly/cli (package.json); make test runs it"
    done = subprocess.run(
        [str(redocly), "lint", "docs/openapi.json"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "Your API description is valid" in report, report
    assert "warning" not in report.lower().replace("deprecation warning", ""), report
