"""The REST API: routes to the function, stage throttling, access logs, tracing, gateway responses."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from calls import errors

from infra import rest_api
from tests.infra.conftest import Synth


def resource_paths(synth: Synth) -> dict[str, str]:
    """Logical id of each API resource (and of the root) -> its full path."""
    api_id, _ = synth.one("AWS::ApiGateway::RestApi")
    resources = synth.resources("AWS::ApiGateway::Resource")
    root = str({"Fn::GetAtt": [api_id, "RootResourceId"]})
    paths: dict[str, str] = {root: "/"}
    while len(paths) < len(resources) + 1:
        for logical_id, resource in resources.items():
            parent = resource["Properties"]["ParentId"]
            parent_key = str(parent) if "Fn::GetAtt" in parent else parent["Ref"]
            if parent_key in paths and logical_id not in paths:
                prefix = paths[parent_key].rstrip("/")
                paths[logical_id] = f"{prefix}/{resource['Properties']['PathPart']}"
    return paths


def routes(synth: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    paths = resource_paths(synth)
    found = {}
    for method in synth.resources("AWS::ApiGateway::Method").values():
        resource = method["Properties"]["ResourceId"]
        key = str(resource) if "Fn::GetAtt" in resource else resource["Ref"]
        found[(paths[key], method["Properties"]["HttpMethod"])] = method["Properties"]
    return found


def test_regional_rest_api(synth: Synth) -> None:
    _, api = synth.one("AWS::ApiGateway::RestApi")
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert api["Properties"]["Name"] == f"video-calls-api-{synth.stage}"


def test_the_api_has_one_resource_per_route_with_its_methods_options_and_any(synth: Synth) -> None:
    from calls.routes import ROUTES

    paths = list(resource_paths(synth).values())
    deployed: dict[str, set[str]] = {}
    for path, method in routes(synth):
        deployed.setdefault(path, set()).add(method)
    for path, methods in ROUTES.items():
        assert paths.count(path) == 1, path
        assert deployed[path] == {*methods, "OPTIONS", "ANY"}, path


def test_every_route_is_a_lambda_proxy_to_the_function(synth: Synth) -> None:
    function_id = synth.logical_id(synth.stack.api_function.function)
    assert set(routes(synth)) == {
        ("/api/calls", "GET"),
        ("/api/calls", "POST"),
        ("/api/calls", "OPTIONS"),
        ("/api/calls", "ANY"),
        # Every method of the call's paths reaches the function, so a wrong one is its 405
        # with Allow, and OPTIONS its preflight naming that path's methods.
        ("/api/calls/{callId}", "GET"),
        ("/api/calls/{callId}", "OPTIONS"),
        ("/api/calls/{callId}", "ANY"),
        ("/api/calls/{callId}/end", "POST"),
        ("/api/calls/{callId}/end", "OPTIONS"),
        ("/api/calls/{callId}/end", "ANY"),
        ("/api/calls/{callId}/join", "POST"),
        ("/api/calls/{callId}/join", "OPTIONS"),
        ("/api/calls/{callId}/join", "ANY"),
        ("/api/calls/{callId}/recordings", "GET"),
        ("/api/calls/{callId}/recordings", "POST"),
        ("/api/calls/{callId}/recordings", "OPTIONS"),
        ("/api/calls/{callId}/recordings", "ANY"),
        ("/api/calls/{callId}/recordings/{recordingId}/parts", "POST"),
        ("/api/calls/{callId}/recordings/{recordingId}/parts", "OPTIONS"),
        ("/api/calls/{callId}/recordings/{recordingId}/parts", "ANY"),
        ("/api/calls/{callId}/recordings/{recordingId}/complete", "POST"),
        ("/api/calls/{callId}/recordings/{recordingId}/complete", "OPTIONS"),
        ("/api/calls/{callId}/recordings/{recordingId}/complete", "ANY"),
        ("/", "ANY"),
        ("/{proxy+}", "ANY"),
    }
    for route, method in routes(synth).items():
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY", route
        assert integration["IntegrationHttpMethod"] == "POST", route
        assert function_id in json.dumps(integration["Uri"]), route
        # Credentials are the function's business (docs/behaviour.md section 1), checked in constant time.
        assert method["AuthorizationType"] == "NONE", route


def test_invoke_permissions_are_scoped_to_this_api_and_its_routes(synth: Synth) -> None:
    api_id, _ = synth.one("AWS::ApiGateway::RestApi")
    api_function = synth.logical_id(synth.stack.api_function.function)
    # The API function's permissions (the signaling function has its own, for its WebSocket API).
    permissions = [
        permission
        for permission in synth.resources("AWS::Lambda::Permission").values()
        if api_function in json.dumps(permission["Properties"]["FunctionName"])
    ]
    assert len(permissions) == len(routes(synth))
    for permission in permissions:
        properties = permission["Properties"]
        assert properties["Principal"] == "apigateway.amazonaws.com"
        assert properties["Action"] == "lambda:InvokeFunction"
        assert api_id in json.dumps(properties["SourceArn"])


def stage_properties(synth: Synth) -> dict[str, Any]:
    _, stage = synth.one("AWS::ApiGateway::Stage")
    properties: dict[str, Any] = stage["Properties"]
    return properties


def test_stage_is_named_after_the_stage_and_traced(synth: Synth) -> None:
    properties = stage_properties(synth)
    assert properties["StageName"] == synth.stage
    assert properties["TracingEnabled"] is True


def test_stage_throttling_comes_from_context(synth: Synth) -> None:
    (settings,) = stage_properties(synth)["MethodSettings"]
    assert (settings["HttpMethod"], settings["ResourcePath"]) == ("*", "/*")
    assert settings["ThrottlingRateLimit"] == float(synth.context["throttlingRateLimit"])
    assert settings["ThrottlingBurstLimit"] == int(synth.context["throttlingBurstLimit"])
    assert settings.get("DataTraceEnabled", False) is False


def test_access_logs_are_json_in_their_own_group(synth: Synth) -> None:
    access = stage_properties(synth)["AccessLogSetting"]
    access_group = synth.logical_id(synth.stack.rest_api.access_log_group)
    assert {"Ref": access_group} in access["DestinationArn"]["Fn::Join"][1]
    assert access_group != synth.logical_id(synth.stack.api_function.log_group)
    assert synth.json["Resources"][access_group]["Properties"]["RetentionInDays"] == int(
        synth.context["logRetentionDays"]
    )
    line = json.loads(access["Format"])
    assert {"requestId", "status", "httpMethod", "resourcePath", "responseLatency"} <= set(line)
    # Credentials may be in the query string or headers: neither is logged.
    assert not re.search(r"querystring|\.header|requestOverride|authorizer", access["Format"], re.IGNORECASE)


def test_stack_has_no_api_gateway_account_role(synth: Synth) -> None:
    assert synth.resources("AWS::ApiGateway::Account") == {}


GATEWAY_CASES = {
    "DEFAULT_4XX": (None, "BAD_REQUEST", None),
    "DEFAULT_5XX": (None, errors.InternalError.code, errors.InternalError.default_message),
    "THROTTLED": ("429", "TOO_MANY_REQUESTS", rest_api.THROTTLED_MESSAGE),
    "MISSING_AUTHENTICATION_TOKEN": ("404", "NOT_FOUND", errors.RouteNotFound.default_message),
    "RESOURCE_NOT_FOUND": ("404", "NOT_FOUND", errors.RouteNotFound.default_message),
    "REQUEST_TOO_LARGE": ("413", "PAYLOAD_TOO_LARGE", errors.PayloadTooLarge.default_message),
    "INTEGRATION_TIMEOUT": ("503", "SERVICE_UNAVAILABLE", errors.ServiceUnavailable.default_message),
}


def gateway_responses(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        response["Properties"]["ResponseType"]: response["Properties"]
        for response in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }


def render(template: str) -> dict[str, Any]:
    """The body API Gateway would send, with its variables filled in."""
    body = template.replace("$context.error.messageString", '"Gateway says no"').replace(
        "$context.requestId", "req-123"
    )
    rendered: dict[str, Any] = json.loads(body)
    return rendered


def test_gateway_responses_cover_the_default_families_and_the_named_cases(synth: Synth) -> None:
    assert set(gateway_responses(synth)) == set(GATEWAY_CASES)


@pytest.mark.parametrize("response_type", sorted(GATEWAY_CASES))
def test_gateway_responses_use_the_contract_envelope(synth: Synth, response_type: str) -> None:
    status, code, message = GATEWAY_CASES[response_type]
    properties = gateway_responses(synth)[response_type]
    assert properties.get("StatusCode") == status
    body = render(properties["ResponseTemplates"]["application/json"])
    assert body == {
        "ok": False,
        "error": {"code": code, "message": message or "Gateway says no", "requestId": "req-123"},
    }
    headers = properties["ResponseParameters"]
    assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'"
    assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "method.request.header.Origin"
    # The same request id as the body's, as on every answer the function writes.
    assert headers["gatewayresponse.header.X-Request-Id"] == "context.requestId"
    assert "X-Request-Id" in headers["gatewayresponse.header.Access-Control-Expose-Headers"]


@pytest.mark.parametrize("response_type", ["THROTTLED", "INTEGRATION_TIMEOUT"])
def test_retryable_gateway_answers_say_when_to_retry(synth: Synth, response_type: str) -> None:
    headers = gateway_responses(synth)[response_type]["ResponseParameters"]
    assert headers["gatewayresponse.header.Retry-After"] == "'1'"


def test_non_retryable_gateway_answers_do_not(synth: Synth) -> None:
    headers = gateway_responses(synth)["MISSING_AUTHENTICATION_TOKEN"]["ResponseParameters"]
    assert "gatewayresponse.header.Retry-After" not in headers
