"""docs/openapi.json: generated from the code, committed, and true to the contract."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import schemathesis
from calls import errors
from calls.models import IDEMPOTENCY_KEY_PATTERN, CreateCallRequest
from localrun.server import LocalLambdaContext, build_event, response_headers
from openapi_spec import __main__ as cli
from openapi_spec import spec
from openapi_spec.spec import REGENERATE_COMMAND, SPEC_PATH, build_spec, render

# The contract's error table (section 2, "Errors"), and section 3's two idempotency codes.
CONTRACT_CODES = {
    400: {"INVALID_JSON", "INVALID_BODY"},
    401: {"UNAUTHORIZED"},
    403: {"APP_DISABLED", "ORIGIN_NOT_ALLOWED"},
    404: {"NOT_FOUND"},
    405: {"METHOD_NOT_ALLOWED"},
    409: {"IDEMPOTENCY_KEY_IN_USE"},
    413: {"PAYLOAD_TOO_LARGE"},
    422: {"VALIDATION_ERROR", "PRESET_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"},
    500: {"INTERNAL_ERROR"},
    503: {"SERVICE_UNAVAILABLE"},
}


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


def test_paths_and_methods_are_the_handlers_routes(document: dict[str, Any]) -> None:
    path_item = document["paths"]["/api/calls"]
    assert set(document["paths"]) == {"/api/calls"}
    assert {name for name in path_item if name != "description"} == {"post", "options"}
    # The methods that only ever answer 405 are named, not offered as operations.
    for method in ("GET", "PUT", "PATCH", "DELETE", "HEAD"):
        assert method in path_item["description"]


def test_a_route_without_a_description_fails_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def undocumented() -> None: ...

    routes = spec.handler_routes()
    monkeypatch.setattr(spec, "handler_routes", lambda: [*routes, ("/api/calls/{id}", "GET", undocumented)])

    with pytest.raises(LookupError, match="undocumented"):
        build_spec()


def test_every_error_code_is_documented_under_its_status(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    for status, codes in CONTRACT_CODES.items():
        assert documented_codes(document, responses[f"Error{status}"]) == codes, status
    for error_class in [errors.ApiError, *spec._subclasses(errors.ApiError)]:
        assert error_class.code in documented_codes(document, responses[f"Error{error_class.status}"])


def test_create_call_lists_every_status_a_client_can_get(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/calls"]["post"]["responses"]
    assert set(responses) == {"201", "400", "401", "403", "409", "413", "422", "429", "500", "503"}
    assert documented_codes(document, responses["429"]) == {"TOO_MANY_REQUESTS"}
    preflight = document["paths"]["/api/calls"]["options"]["responses"]
    assert set(preflight) == {"204", "500"}
    assert "content" not in preflight["204"]


def test_retry_after_is_required_exactly_where_a_client_should_retry(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    with_retry_after = {
        name for name, response in responses.items() if "Retry-After" in response.get("headers", {})
    }
    assert with_retry_after == {"Error409", "Error429", "Error503"}
    header = document["components"]["headers"]["Retry-After"]
    assert header["required"] is True
    assert header["schema"]["type"] == "integer"


def test_every_function_response_documents_its_headers(document: dict[str, Any]) -> None:
    headers = document["components"]["headers"]
    assert headers["X-Request-Id"]["required"] is True
    assert headers["Cache-Control"]["schema"]["const"] == "no-store"
    assert headers["Idempotent-Replayed"]["required"] is False
    created = document["paths"]["/api/calls"]["post"]["responses"]["201"]["headers"]
    assert {"X-Request-Id", "Cache-Control", "Idempotent-Replayed", "Access-Control-Allow-Origin"} <= set(
        created
    )
    for name, response in document["components"]["responses"].items():
        assert "Cache-Control" in response["headers"], name
        if name != "Error429":  # written by API Gateway, which has no X-Request-Id to give
            assert "X-Request-Id" in response["headers"], name


def test_api_gateways_own_answers_are_documented(document: dict[str, Any]) -> None:
    """The stack rewrites API Gateway's errors into the envelope; their codes must be in the document."""
    stack = pytest.importorskip("infra.stack", reason="the stack is not in this checkout")
    responses = document["components"]["responses"]
    checked = 0
    for answer in stack.GATEWAY_ANSWERS:
        if answer.status is None:
            continue  # API Gateway's catch-alls keep whatever status it chose
        assert answer.code in documented_codes(document, responses[f"Error{answer.status}"]), answer.name
        retry_after = "Retry-After" in responses[f"Error{answer.status}"]["headers"]
        assert retry_after == (answer.retry_after is not None), answer.name
        checked += 1
    assert checked >= 4  # throttled, missing route, too large, integration timeout


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


def test_parameters_cover_idempotency_origin_and_the_genesys_query(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/calls"]["post"]
    parameters = {
        (parameter["in"], parameter["name"]): parameter
        for parameter in (resolve(document, ref) for ref in operation["parameters"])
    }
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


def test_credentials_are_security_schemes_in_headers_or_query(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert {(scheme["in"], scheme["name"]) for scheme in schemes.values()} == {
        ("header", "X-App-Id"),
        ("header", "X-Widget-Key"),
        ("query", "appId"),
        ("query", "widgetKey"),
    }
    assert document["paths"]["/api/calls"]["post"]["security"] == [
        {"appIdHeader": [], "widgetKeyHeader": []},
        {"appIdQuery": [], "widgetKeyQuery": []},
    ]
    assert document["paths"]["/api/calls"]["options"]["security"] == []


def test_the_success_envelope_has_the_upstream_fields_and_the_additions(document: dict[str, Any]) -> None:
    data = document["components"]["schemas"]["CallData"]
    assert set(data["required"]) == {
        "callId",
        "hostJoinUrl",
        "guestJoinUrl",
        "joinUrl",
        "agentJoinUrl",
        "previewEnabled",
        "createdAt",
        "expiresAt",
    }
    for echoed in ("title", "description", "metadata", "presetId"):
        assert "anyOf" not in data["properties"][echoed], "echoes are absent, never null"
        assert "default" not in data["properties"][echoed]


def invoke(method: str, path: str) -> dict[str, Any]:
    from calls.handler import lambda_handler

    return lambda_handler(build_event(method, path, [], b""), LocalLambdaContext(aws_request_id="r-openapi"))


def test_every_body_is_json_and_those_without_one_are_named_and_true(document: dict[str, Any]) -> None:
    """The preflight's 204 has no body and no Content-Type: the document says so, and so does the handler."""
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
    assert bodiless == [("OPTIONS", "/api/calls", 204)]

    description = document["info"]["description"]
    for method, path, status in bodiless:
        assert f"the `{status}` of `{method} {path}` (CORS preflight) has no body and no `Content-Type`" in (
            " ".join(description.split())
        )
        result = invoke(method, path)
        assert result["statusCode"] == status
        assert not result.get("body")
        assert "content-type" not in {name.lower() for name, _ in response_headers(result)}
    assert ("Content-Type", "application/json") in response_headers(invoke("POST", "/api/calls"))


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/api/openapi.json"])
def test_the_lambda_does_not_serve_the_document(path: str) -> None:
    result = invoke("GET", path)
    assert result["statusCode"] == 404
    assert json.loads(result["body"])["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_405_carries_every_header_the_document_requires(document: dict[str, Any], method: str) -> None:
    """RFC 9110 section 15.5.6: a 405 response must name the allowed methods in `Allow`."""
    result = invoke(method, "/api/calls")
    headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
    for values_name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(values_name.lower(), values[-1])

    assert result["statusCode"] == 405
    response = document["components"]["responses"]["Error405"]
    required = {
        name.lower() for name, header in response["headers"].items() if resolve(document, header)["required"]
    }
    assert required <= set(headers), f"missing: {required - set(headers)}"
    assert {method.strip() for method in headers["allow"].split(",")} == {"POST", "OPTIONS"}
