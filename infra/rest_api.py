"""The REST API: a resource for each route of calls.routes, every one of them a Lambda proxy to the
API function, the stage's throttling and JSON access logs, and API Gateway's own answers in the
API's error envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from calls import errors
from calls.routes import ROUTES
from constructs import Construct

from infra.config import StackConfig
from infra.lambda_defaults import LambdaDefaults
from infra.parts import NagAcknowledgement, Part

# Gateway-only answers: the function never sees these requests, so they have no domain error.
THROTTLED_CODE, THROTTLED_MESSAGE = "TOO_MANY_REQUESTS", "Too many requests. Retry shortly."
BAD_REQUEST_CODE = "BAD_REQUEST"


@dataclass(frozen=True)
class GatewayAnswer:
    """One of API Gateway's own responses, rewritten into the API's error envelope."""

    name: str
    response_type: apigateway.ResponseType
    status: int | None  # None keeps the status API Gateway chose
    code: str
    message: str | None  # None passes on API Gateway's own message
    retry_after: int | None = None

    @property
    def template(self) -> str:
        message = json.dumps(self.message) if self.message is not None else "$context.error.messageString"
        return (
            f'{{"ok": false, "error": {{"code": "{self.code}", "message": {message}, '
            f'"requestId": "$context.requestId"}}}}'
        )


def _from_error(
    name: str, response_type: apigateway.ResponseType, error: type[errors.ApiError]
) -> GatewayAnswer:
    return GatewayAnswer(
        name, response_type, error.status, error.code, error.default_message, error.retry_after
    )


GATEWAY_ANSWERS = (
    GatewayAnswer("Default4xx", apigateway.ResponseType.DEFAULT_4_XX, None, BAD_REQUEST_CODE, None),
    GatewayAnswer(
        "Default5xx",
        apigateway.ResponseType.DEFAULT_5_XX,
        None,
        errors.InternalError.code,
        errors.InternalError.default_message,
    ),
    GatewayAnswer("Throttled", apigateway.ResponseType.THROTTLED, 429, THROTTLED_CODE, THROTTLED_MESSAGE, 1),
    # A path with no route is API Gateway's 403 "Missing Authentication Token"; it is a 404.
    _from_error("MissingRoute", apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, errors.RouteNotFound),
    _from_error("ResourceNotFound", apigateway.ResponseType.RESOURCE_NOT_FOUND, errors.RouteNotFound),
    _from_error("RequestTooLarge", apigateway.ResponseType.REQUEST_TOO_LARGE, errors.PayloadTooLarge),
    # The function outran the gateway's 29 s: the same answer as a slow database.
    _from_error("IntegrationTimeout", apigateway.ResponseType.INTEGRATION_TIMEOUT, errors.ServiceUnavailable),
)

# JSON access log lines. No query string and no headers: credentials may travel there.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "requestTime": "$context.requestTimeEpoch",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "path": "$context.path",
        "protocol": "$context.protocol",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "integrationError": "$context.integration.error",
        "errorResponseType": "$context.error.responseType",
        "errorMessage": "$context.error.message",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)


class RestApi(Part):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        defaults: LambdaDefaults,
    ) -> None:
        """The API and its stage; `route_to` sends its routes to the function. Two steps, because the
        function's environment names the distribution in front of this API (infra/distribution.py),
        which needs the API's id first."""
        super().__init__(scope, construct_id)
        self.access_log_group = defaults.log_group(self, "ApiAccessLogs")
        self.api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"video-calls-api-{config.stage}",
            description="Video Calls API: /api/calls and /api/calls/{callId}",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            fail_on_warnings=True,
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage,
                throttling_rate_limit=config.throttling_rate_limit,
                throttling_burst_limit=config.throttling_burst_limit,
                tracing_enabled=True,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigateway.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
            ),
        )
        # RestApi adds an "Endpoint..." output of its own; the stack's ApiUrl is the stable one.
        self.api.node.try_remove_child("Endpoint")
        self._gateway_responses()

    def route_to(self, handler: lambda_.IFunction) -> None:
        """Every route of calls.routes, and every other path and method, to `handler`."""
        # The handler answers everything itself (404, 405, CORS preflight), so every route
        # goes to it and even a wrong path or method gets the API's error envelope: each path
        # has its own methods, OPTIONS, and ANY for the rest (the handler's 405 with Allow).
        # Explicit resources rather than the catch-all below: the access logs' resourcePath
        # names the route (/api/calls/{callId}), and no request depends on how API Gateway
        # would match a path under /api/calls that has no resource of its own.
        integration = apigateway.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
        for path, methods in ROUTES.items():
            resource = self.api.root.resource_for_path(path)
            for method in (*methods, "OPTIONS", "ANY"):
                resource.add_method(method, integration)
        self.api.root.add_method("ANY", integration)
        self.api.root.add_proxy(default_integration=integration, any_method=True)

    def _gateway_responses(self) -> None:
        """API Gateway's own answers (throttling, unknown route, timeouts) in the API's error envelope."""
        for answer in GATEWAY_ANSWERS:
            headers = {
                "Cache-Control": "'no-store'",
                # The request id of the body, as on every answer the function writes.
                "X-Request-Id": "context.requestId",
                # Let a browser read the error: the body holds nothing app-specific.
                "Access-Control-Allow-Origin": "method.request.header.Origin",
                "Access-Control-Expose-Headers": "'X-Request-Id, Retry-After'",
                "Vary": "'Origin'",
            }
            if answer.retry_after is not None:
                headers["Retry-After"] = f"'{answer.retry_after}'"
            self.api.add_gateway_response(
                answer.name,
                type=answer.response_type,
                status_code=str(answer.status) if answer.status is not None else None,
                response_headers=headers,
                templates={"application/json": answer.template},
            )

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        api = self.api
        found = [
            NagAcknowledgement(
                api,
                "AwsSolutions-APIG2",
                "The function validates every request itself: docs/behaviour.md parses bodies sent as "
                "text/plain and answers field errors as 422 VALIDATION_ERROR with details, which a request "
                "validator (400, JSON content type only) cannot do.",
            )
        ]
        found += [
            NagAcknowledgement(
                api.root,
                rule,
                "Callers are browser widgets identified by appId + widgetKey (docs/behaviour.md "
                "section 1), checked by the function against SHA-256 digests in the apps table; there "
                "are no IAM or Cognito users, and the specified order is size, JSON, then credentials, "
                "which an authorizer would change. OPTIONS preflight must stay unauthenticated in any case.",
            )
            for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4")
        ]
        found.append(
            NagAcknowledgement(
                api.deployment_stage,
                "AwsSolutions-APIG6",
                "Execution logging needs the account-wide API Gateway CloudWatch role, a per-region "
                "singleton this stack must not own; JSON access logs record status, latency, integration "
                "status and the gateway's error message for every request, and the function logs each "
                "request.",
            )
        )
        return found
