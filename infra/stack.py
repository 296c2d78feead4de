"""Everything the create-call API runs on: tables, function, REST API, alarms, dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aws_cdk import CfnElement, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_wafv2 as wafv2
from calls import errors, tables
from calls.routes import CALLS, ROUTES
from constructs import Construct, IConstruct

from infra.config import StackConfig, function_environment, metrics_namespace
from infra.events import EVENTS_TABLE_OPERATIONS, CallEvents
from infra.lambda_defaults import LambdaDefaults
from infra.parts import LogicalIds, NagAcknowledgement, apply_acknowledgements

FUNCTION_HANDLER = "calls.handler.lambda_handler"
# The alias the API invokes when the stack publishes versions (SnapStart, provisioned concurrency).
LIVE_ALIAS = "live"


# Gateway-only answers: the function never sees these requests, so they have no domain error.
THROTTLED_CODE, THROTTLED_MESSAGE = "TOO_MANY_REQUESTS", "Too many requests. Retry shortly."
BAD_REQUEST_CODE = "BAD_REQUEST"

# Per-app rate limits at the edge (contract section 8): AWS WAF counts requests per app id, from
# the X-App-Id header and from the appId query parameter (WAF matches header names in any case),
# over WAF_WINDOW_SECONDS, before the function runs.
APP_ID_HEADER, APP_ID_QUERY_PARAMETER = "x-app-id", "appId"
WAF_WINDOW_SECONDS = 300  # the context keys' "per 5 min"
# A client over a limit is refused until its count over the last five minutes falls back under
# it: one second (API Gateway throttling's hint) would only spend more of the count.
WAF_RETRY_AFTER_SECONDS = 60


@dataclass(frozen=True)
class EdgeRefusal:
    """A WAF custom response body: the contract's 429 in its envelope. WAF's bodies are static, so
    there is no request id to give; requestId names the limit instead, which points whoever is
    handed it at the web ACL's metrics rather than the access logs (the request never reached
    API Gateway's logs)."""

    key: str
    message: str
    request_id: str

    @property
    def body(self) -> str:
        error = {"code": THROTTLED_CODE, "message": self.message, "requestId": self.request_id}
        return json.dumps({"ok": False, "error": error}, separators=(",", ":"))


APP_RATE_LIMITED = EdgeRefusal(
    "AppRateLimited",
    "Too many requests for this app. Retry after Retry-After seconds.",
    "waf-app-rate-limit",
)
IP_RATE_LIMITED = EdgeRefusal(
    "IpRateLimited",
    "Too many requests from this address. Retry after Retry-After seconds.",
    "waf-ip-rate-limit",
)
EDGE_REFUSAL_HEADERS = {
    "Retry-After": str(WAF_RETRY_AFTER_SECONDS),
    "Cache-Control": "no-store",
    # WAF cannot echo the Origin as the gateway responses do; the body holds nothing app-specific.
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Retry-After",
}

ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}

# The DynamoDB operations the function calls on each table itself (calls.repository): its IAM
# actions there. No Scan anywhere, and no Query on the calls table itself.
TABLE_OPERATIONS = {
    tables.APPS.purpose: ("Query",),  # the app and its presets, one partition
    tables.CALLS.purpose: ("GetItem", "PutItem", "UpdateItem"),  # read, create, end and join
    tables.IDEMPOTENCY.purpose: ("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
}
# The operations it calls on indexes, granted on each named index only (never `index/*`):
# the listing's one Query a page, by app or by conversation.
INDEX_OPERATIONS = {
    tables.CALLS.purpose: {
        tables.CALLS_BY_APP_INDEX: ("Query",),
        tables.CALLS_BY_CONVERSATION_INDEX: ("Query",),
    },
}


def alarmed_operations(purpose: str) -> tuple[str, ...]:
    """A table's operations whose throttling is alarmed on: those the API function (on the
    table and its indexes: DynamoDB counts an index's throttled Query under the table's name)
    and the events functions (infra/events.py) may call."""
    on_indexes = [operation for ops in INDEX_OPERATIONS.get(purpose, {}).values() for operation in ops]
    return tuple(
        dict.fromkeys(
            (*TABLE_OPERATIONS.get(purpose, ()), *on_indexes, *EVENTS_TABLE_OPERATIONS.get(purpose, ()))
        )
    )


# Characters of the generated cursor signing key (letters and digits: about 380 bits).
CURSOR_SIGNING_KEY_LENGTH = 64

ALARM_PERIOD = Duration.minutes(5)
# API 5xx includes the handler's deliberate 503s (DynamoDB throttling); a handful in five
# minutes is noise, more is an incident.
API_5XX_ALARM_THRESHOLD = 5


def _key(attribute: tables.KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=attribute.name, type=ATTRIBUTE_TYPES[attribute.type])


@dataclass(frozen=True)
class GatewayAnswer:
    """One of API Gateway's own responses, rewritten into the contract's error envelope."""

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


class VideoCallsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.removal_policy = RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY

        self.tables = {schema.purpose: self._table(schema) for schema in tables.ALL_TABLES}
        self.apps_table = self.tables[tables.APPS.purpose]
        self.calls_table = self.tables[tables.CALLS.purpose]
        self.idempotency_table = self.tables[tables.IDEMPOTENCY.purpose]
        self.webhooks_table = self.tables[tables.WEBHOOKS.purpose]

        self.cursor_signing_key = self._cursor_signing_key()
        self.lambda_defaults = LambdaDefaults(config, removal_policy=self.removal_policy)
        self.function = self._function()
        self.live_alias = self._live_alias()
        self.call_events = self._call_events()
        self.api = self._api()
        self.web_acl = self._web_acl()
        self.alarm_topic = self._alarm_topic()
        self.alarms = self._alarms()
        self.dashboard = self._dashboard()
        self._outputs()
        self._acknowledge_nag_findings()

    # --- DynamoDB -----------------------------------------------------------------------------

    def _table(self, schema: tables.TableSchema) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"{schema.purpose.capitalize()}Table",
            partition_key=_key(schema.partition_key),
            sort_key=_key(schema.sort_key) if schema.sort_key else None,
            time_to_live_attribute=schema.ttl_attribute,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=self.config.is_production,
            removal_policy=self.removal_policy,
            stream=dynamodb.StreamViewType[schema.stream_view_type] if schema.stream_view_type else None,
        )
        for index in schema.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_key(index.partition_key),
                sort_key=_key(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    # --- Secrets ------------------------------------------------------------------------------

    def _cursor_signing_key(self) -> secretsmanager.Secret:
        """The key list cursors are signed with, generated by Secrets Manager at the first deploy.

        One key for every container of the function: without it each container would sign with
        a random key of its own and a cursor would fail on the next container that served the
        list. It reaches the function as CURSOR_SIGNING_KEY through a CloudFormation dynamic
        reference, resolved at deploy: neither the template nor cdk.out hold it, and reading it
        costs no request, no code and no IAM permission at run time. The price is that it sits
        in the function's configuration (encrypted at rest with KMS, readable by whoever may
        call lambda:GetFunctionConfiguration), acceptable for this key: a forged cursor could
        only move within the caller's own calls, because the app and the conversation of a
        listing come from the authenticated request, never from the cursor.
        """
        return secretsmanager.Secret(
            self,
            "CursorSigningKey",
            description=f"Signs the list cursors of the Video Calls API ({self.config.stage})",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=CURSOR_SIGNING_KEY_LENGTH, exclude_punctuation=True
            ),
            # Worthless without the stack: it goes with it, in prod too.
            removal_policy=RemovalPolicy.DESTROY,
        )

    # --- Lambda -------------------------------------------------------------------------------

    def _function(self) -> lambda_.Function:
        config = self.config
        made = self.lambda_defaults.function(
            self,
            "CreateCallFunction",
            log_group_id="FunctionLogs",
            role_id="FunctionRole",
            description="The Video Calls API: creates, reads, lists, ends and joins calls",
            role_description="The create-call function: its own tables and log group, nothing else",
            handler=FUNCTION_HANDLER,
            # 1024 MB (cdk.json), from `make bench`: a cold process peaks near 57 MB and a warm one
            # near 68 MB, so memory is never the limit, but Lambda sizes CPU by memory (one vCPU
            # at 1,769 MB). A warm call spends ~1.9 ms of CPU and a cold start ~0.4 s; at 512 MB
            # (~0.29 vCPU) they stretch to ~6.5 ms and over a second, at 1024 MB to ~3.3 ms and
            # ~0.7 s, for about $0.03 more per million calls. Check Init Duration after deploying.
            memory_size=config.lambda_memory_mb,
            timeout=Duration.seconds(config.lambda_timeout_seconds),
            environment=self._function_environment(),
            statements=self._table_statements(),
            inline_policy="CreateCall",
            # snapStart (cdk.json): Lambda runs init when a version is published and resumes new
            # environments from its snapshot (calls/snapstart.py builds the clients before it).
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if config.snap_start else None,
            # A replaced version is deleted: a SnapStart version's snapshot is billed while it exists.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY),
        )
        self.made_function = made
        self.function_log_group, self.function_role = made.log_group, made.role
        return made.function

    def _live_alias(self) -> lambda_.Alias | None:
        """With SnapStart or provisioned concurrency, the API invokes this alias of the newest
        published version (both work on versions only, never on $LATEST); otherwise none."""
        config = self.config
        if not config.publishes_versions:
            return None
        return lambda_.Alias(
            self,
            "LiveAlias",
            alias_name=LIVE_ALIAS,
            version=self.function.current_version,
            description="The version the API invokes",
            provisioned_concurrent_executions=config.provisioned_concurrency or None,
        )

    @property
    def invoked_function(self) -> lambda_.IFunction:
        """What API Gateway invokes: the live alias when versions are published, else the function."""
        return self.live_alias if self.live_alias is not None else self.function

    def _table_statements(self) -> list[iam.PolicyStatement]:
        on_tables = [
            iam.PolicyStatement(
                sid=f"{purpose.capitalize()}Table",
                actions=[f"dynamodb:{operation}" for operation in operations],
                resources=[self.tables[purpose].table_arn],
            )
            for purpose, operations in TABLE_OPERATIONS.items()
        ]
        on_indexes = [
            iam.PolicyStatement(
                sid=f"{purpose.capitalize()}{index[0].upper()}{index[1:]}Index",
                actions=[f"dynamodb:{operation}" for operation in operations],
                resources=[f"{self.tables[purpose].table_arn}/index/{index}"],
            )
            for purpose, indexes in INDEX_OPERATIONS.items()
            for index, operations in indexes.items()
        ]
        return [*on_tables, *on_indexes]

    def _function_environment(self) -> dict[str, str]:
        return {
            **function_environment(
                self.config,
                apps_table=self.apps_table.table_name,
                calls_table=self.calls_table.table_name,
                idempotency_table=self.idempotency_table.table_name,
            ),
            # A {{resolve:secretsmanager:...}} dynamic reference: see _cursor_signing_key.
            "CURSOR_SIGNING_KEY": self.cursor_signing_key.secret_value.unsafe_unwrap(),
        }

    def _call_events(self) -> CallEvents:
        """Section 7: the calls stream's events to the bus and the webhooks (infra/events.py)."""
        return CallEvents(
            self,
            "CallEvents",
            config=self.config,
            calls_table=self.calls_table,
            webhooks_table=self.webhooks_table,
            api_environment=self._function_environment(),
            defaults=self.lambda_defaults,
        )

    @property
    def metrics_namespace(self) -> str:
        return metrics_namespace(self.config)

    # --- API Gateway --------------------------------------------------------------------------

    def _api(self) -> apigateway.RestApi:
        config = self.config
        self.access_log_group = self.lambda_defaults.log_group(self, "ApiAccessLogs")
        api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"video-calls-api-{config.stage}",
            description="Video Calls API (contract: /api/calls and /api/calls/{callId})",
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
        # RestApi adds an "Endpoint..." output of its own; ApiUrl below is the stable one.
        api.node.try_remove_child("Endpoint")

        # The handler answers everything itself (404, 405, CORS preflight), so every route
        # goes to it and even a wrong path or method gets the contract's envelope: each path
        # has its own methods, OPTIONS, and ANY for the rest (the handler's 405 with Allow).
        # Explicit resources rather than the catch-all below: the access logs' resourcePath
        # names the route (/api/calls/{callId}), and no request depends on how API Gateway
        # would match a path under /api/calls that has no resource of its own.
        integration = apigateway.LambdaIntegration(self.invoked_function, proxy=True, allow_test_invoke=False)
        for path, methods in ROUTES.items():
            resource = api.root.resource_for_path(path)
            for method in (*methods, "OPTIONS", "ANY"):
                resource.add_method(method, integration)
        api.root.add_method("ANY", integration)
        api.root.add_proxy(default_integration=integration, any_method=True)

        self._gateway_responses(api)
        return api

    def _gateway_responses(self, api: apigateway.RestApi) -> None:
        """API Gateway's own answers (throttling, unknown route, timeouts) in the contract's envelope."""
        for answer in GATEWAY_ANSWERS:
            headers = {
                "Cache-Control": "'no-store'",
                # Let a browser read the error: the body holds nothing app-specific.
                "Access-Control-Allow-Origin": "method.request.header.Origin",
                "Vary": "'Origin'",
            }
            if answer.retry_after is not None:
                headers["Retry-After"] = f"'{answer.retry_after}'"
            api.add_gateway_response(
                answer.name,
                type=answer.response_type,
                status_code=str(answer.status) if answer.status is not None else None,
                response_headers=headers,
                templates={"application/json": answer.template},
            )

    # --- Rate limits at the edge ---------------------------------------------------------------

    def _web_acl(self) -> wafv2.CfnWebACL | None:
        """AWS WAF on the stage with the rate limits of cdk.json (none where both are 0).

        Two rules count requests per app id, one per place a request can name it: WAF aggregates
        on one request component at a time, and a request without that component is not counted
        by that rule. Requests naming no app id outside the body (credentials in the body, CORS
        preflights, stray paths) are counted per source IP instead. App ids are public (they sit in
        widget pages), so the per-app count is a fairness cap between apps, not authentication:
        a caller can spend another app's allowance by naming it, and can dodge the per-app rules
        with made-up ids, which the stage throttle still bounds and the function answers 401.
        """
        config = self.config
        self.web_acl_rule_names: list[str] = []
        if not config.has_web_acl:
            return None
        rules: list[wafv2.CfnWebACL.RuleProperty] = []
        refusals: list[EdgeRefusal] = []

        def add_rule(
            name: str, statement: wafv2.CfnWebACL.RateBasedStatementProperty, refusal: EdgeRefusal
        ) -> None:
            if refusal not in refusals:
                refusals.append(refusal)
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=name,
                    priority=len(rules),
                    statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=statement),
                    action=wafv2.CfnWebACL.RuleActionProperty(
                        block=wafv2.CfnWebACL.BlockActionProperty(
                            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                                response_code=429,
                                custom_response_body_key=refusal.key,
                                response_headers=[
                                    wafv2.CfnWebACL.CustomHTTPHeaderProperty(name=header, value=value)
                                    for header, value in EDGE_REFUSAL_HEADERS.items()
                                ],
                            )
                        )
                    ),
                    visibility_config=self._waf_visibility(name),
                )
            )

        as_is = [wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]
        if config.app_rate_limit_per_5min:
            by_header = wafv2.CfnWebACL.RateBasedStatementCustomKeyProperty(
                header=wafv2.CfnWebACL.RateLimitHeaderProperty(name=APP_ID_HEADER, text_transformations=as_is)
            )
            by_query = wafv2.CfnWebACL.RateBasedStatementCustomKeyProperty(
                query_argument=wafv2.CfnWebACL.RateLimitQueryArgumentProperty(
                    name=APP_ID_QUERY_PARAMETER, text_transformations=as_is
                )
            )
            for name, key in (("AppRateByHeader", by_header), ("AppRateByQuery", by_query)):
                add_rule(
                    name,
                    wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="CUSTOM_KEYS",
                        custom_keys=[key],
                        limit=config.app_rate_limit_per_5min,
                        evaluation_window_sec=WAF_WINDOW_SECONDS,
                    ),
                    APP_RATE_LIMITED,
                )
        if config.ip_rate_limit_per_5min:

            def present(field: wafv2.CfnWebACL.FieldToMatchProperty) -> wafv2.CfnWebACL.StatementProperty:
                return wafv2.CfnWebACL.StatementProperty(
                    size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                        field_to_match=field, comparison_operator="GT", size=0, text_transformations=as_is
                    )
                )

            names_an_app = wafv2.CfnWebACL.StatementProperty(
                or_statement=wafv2.CfnWebACL.OrStatementProperty(
                    statements=[
                        present(wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": APP_ID_HEADER})),
                        present(
                            wafv2.CfnWebACL.FieldToMatchProperty(
                                single_query_argument={"Name": APP_ID_QUERY_PARAMETER}
                            )
                        ),
                    ]
                )
            )
            add_rule(
                "IpRateWithoutAppId",
                wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=config.ip_rate_limit_per_5min,
                    evaluation_window_sec=WAF_WINDOW_SECONDS,
                    scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                        not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=names_an_app)
                    ),
                ),
                IP_RATE_LIMITED,
            )

        self.web_acl_rule_names = [rule.name for rule in rules]
        web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.stack_name}-rate-limits",
            description="Per-app and per-IP rate limits of the Video Calls API stage, contract section 8",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=rules,
            custom_response_bodies={
                refusal.key: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=refusal.body
                )
                for refusal in refusals
            },
            visibility_config=self._waf_visibility("all"),
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=web_acl.attr_arn,
        )
        return web_acl

    def _waf_visibility(self, name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True,
            metric_name=f"{self.config.stack_name}-{name}",
            # Off: WAF keeps sampled requests with their headers and query string, unredacted,
            # and those carry widget keys and host keys (contract: credentials never stored).
            sampled_requests_enabled=False,
        )

    # --- Operations ---------------------------------------------------------------------------

    def _alarm_topic(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"Video Calls API ({self.config.stage}) alarms",
            enforce_ssl=True,
        )
        self.alarm_subscription = (
            topic.add_subscription(subscriptions.EmailSubscription(self.config.alarm_email))
            if self.config.alarm_email
            else None
        )
        return topic

    def _alarms(self) -> list[cloudwatch.Alarm]:
        prefix = self.config.stack_name
        alarms = [
            cloudwatch.Alarm(
                self,
                "FunctionErrorsAlarm",
                alarm_name=f"{prefix}-function-errors",
                alarm_description="The create-call function failed (crash or timeout), not a handled error",
                metric=self.function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "FunctionThrottlesAlarm",
                alarm_name=f"{prefix}-function-throttles",
                alarm_description="Lambda refused invocations: the account's concurrency is exhausted",
                metric=self.function.metric_throttles(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "Api5xxAlarm",
                alarm_name=f"{prefix}-api-5xx",
                alarm_description=f"At least {API_5XX_ALARM_THRESHOLD} 5xx answers in five minutes",
                metric=self.api.metric_server_error(period=ALARM_PERIOD, statistic="Sum"),
                threshold=API_5XX_ALARM_THRESHOLD,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "ApiLatencyP99Alarm",
                alarm_name=f"{prefix}-api-latency-p99",
                alarm_description=(
                    f"p99 latency above {self.config.latency_p99_alarm_ms} ms "
                    "in two of three 5-minute periods"
                ),
                metric=self.api.metric_latency(period=ALARM_PERIOD, statistic="p99"),
                threshold=self.config.latency_p99_alarm_ms,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        for purpose, table in self.tables.items():
            name = purpose.capitalize()
            alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{name}TableThrottlesAlarm",
                    alarm_name=f"{prefix}-{purpose}-table-throttled-requests",
                    alarm_description=f"DynamoDB throttled requests to the {purpose} table",
                    metric=self._throttled_requests(purpose, table, ALARM_PERIOD),
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        alarms.extend(self.call_events.alarms)
        action = cloudwatch_actions.SnsAction(self.alarm_topic)
        for alarm in alarms:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        return alarms

    def _throttled_requests(
        self, purpose: str, table: dynamodb.Table, period: Duration
    ) -> cloudwatch.IMetric:
        """ThrottledRequests summed over the table's operations, with metric ids unique across tables."""
        per_operation = {
            f"{purpose}{operation.lower()}": table.metric(
                "ThrottledRequests",
                dimensions_map={"TableName": table.table_name, "Operation": operation},
                statistic="Sum",
                period=period,
            )
            for operation in alarmed_operations(purpose)
        }
        return cloudwatch.MathExpression(
            expression=" + ".join(per_operation),
            using_metrics=per_operation,
            label=f"{purpose} table",
            period=period,
        )

    def _custom_metric_total(self, metric_name: str, label: str, period: Duration) -> cloudwatch.IMetric:
        """The handler's own metric summed over whatever dimensions Powertools gave it."""
        return cloudwatch.MathExpression(
            expression=(
                f"SUM(SEARCH('{{{self.metrics_namespace}}} MetricName=\"{metric_name}\"', "
                f"'Sum', {int(period.to_seconds())}))"
            ),
            label=label,
            period=period,
        )

    def _dashboard(self) -> cloudwatch.Dashboard:
        api, function = self.api, self.function
        period = Duration.minutes(1)
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self.config.stack_name)
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    api.metric_count(period=period, statistic="Sum", label="requests"),
                    api.metric_client_error(period=period, statistic="Sum", label="4xx"),
                    api.metric_server_error(period=period, statistic="Sum", label="5xx"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="API latency (ms)",
                left=[
                    api.metric_latency(period=period, statistic="p50", label="p50"),
                    api.metric_latency(period=period, statistic="p99", label="p99"),
                    api.metric_integration_latency(period=period, statistic="p99", label="integration p99"),
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=self.config.latency_p99_alarm_ms, label="p99 alarm")
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Calls created and refused",
                left=[
                    self._custom_metric_total("CallCreated", "created", period),
                    self._custom_metric_total("CallFailed", "refused (all codes)", period),
                ],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function invocations, errors, throttles",
                left=[
                    function.metric_invocations(period=period, statistic="Sum", label="invocations"),
                    function.metric_errors(period=period, statistic="Sum", label="errors"),
                    function.metric_throttles(period=period, statistic="Sum", label="throttles"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function duration (ms)",
                left=[
                    function.metric_duration(period=period, statistic="p50", label="p50"),
                    function.metric_duration(period=period, statistic="p99", label="p99"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="DynamoDB throttled requests",
                left=[
                    self._throttled_requests(purpose, table, period) for purpose, table in self.tables.items()
                ],
                width=8,
            ),
        )
        if self.web_acl is not None:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Refused at the edge: 429 by rate-limit rule",
                    left=[
                        cloudwatch.Metric(
                            namespace="AWS/WAFV2",
                            metric_name="BlockedRequests",
                            dimensions_map={
                                "WebACL": str(self.web_acl.name),
                                "Region": self.region,
                                "Rule": rule,
                            },
                            period=period,
                            statistic="Sum",
                            label=rule,
                        )
                        for rule in self.web_acl_rule_names
                    ],
                    width=24,
                )
            )
        if self.live_alias is not None and self.config.provisioned_concurrency:
            # Whether the provisioned environments are sized right: spillover invocations run on
            # demand (and may start cold); utilization near 1 means the next burst spills over.
            alias = self.live_alias
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Provisioned concurrency",
                    left=[
                        alias.metric(
                            "ProvisionedConcurrencySpilloverInvocations",
                            period=period,
                            statistic="Sum",
                            label="spillover invocations",
                        )
                    ],
                    right=[
                        alias.metric(
                            "ProvisionedConcurrencyUtilization",
                            period=period,
                            statistic="Maximum",
                            label="utilization (max)",
                        )
                    ],
                    width=24,
                )
            )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        return dashboard

    # --- Outputs and checks -------------------------------------------------------------------

    def _outputs(self) -> None:
        # Stable keys: the operator CLI (`callsctl --stack`) reads the table names and the join
        # links' base from these.
        outputs = {
            "ApiUrl": (self.api.url, "Base URL of the API stage"),
            "CreateCallUrl": (self.api.url_for_path(CALLS), "POST here to create a call"),
            "AppsTableName": (self.apps_table.table_name, "DynamoDB table of apps and presets"),
            "CallsTableName": (self.calls_table.table_name, "DynamoDB table of created calls"),
            "IdempotencyTableName": (
                self.idempotency_table.table_name,
                "DynamoDB table of Idempotency-Key records",
            ),
            "WebhooksTableName": (self.webhooks_table.table_name, "DynamoDB table of webhook endpoints"),
            "EventBusName": (self.call_events.bus.event_bus_name, "EventBridge bus of call events"),
            "DeliveryDeadLetterQueueUrl": (
                self.call_events.dead_letter_queue.queue_url,
                "Webhook deliveries that failed every attempt",
            ),
            "JoinBaseUrl": (self.config.join_base_url, "Base of the join links (JOIN_BASE_URL)"),
            "AlarmTopicArn": (self.alarm_topic.topic_arn, "SNS topic the alarms notify"),
            "DashboardName": (self.dashboard.dashboard_name, "CloudWatch dashboard of this stage"),
        }
        for key, (value, description) in outputs.items():
            CfnOutput(self, key, value=value, description=description)

    def _acknowledge_nag_findings(self) -> None:
        apply_acknowledgements(self.nag_acknowledgements())

    @cached_property
    def _logical_ids(self) -> LogicalIds:
        return LogicalIds(self)

    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        # Parts are transparent to logical ids, so every resource keeps the id it was deployed
        # with (infra/parts.py).
        return self._logical_ids.allocate(cfn_element)

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        """Each cdk-nag finding this stack accepts, on the construct it concerns, with the reason."""
        acknowledgements: list[NagAcknowledgement] = []

        def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
            acknowledgements.append(NagAcknowledgement(scope, rule, reason))

        api = self.api
        acknowledge(
            api,
            "AwsSolutions-APIG2",
            "The function validates every request itself: the contract parses bodies sent as text/plain "
            "and answers field errors as 422 VALIDATION_ERROR with details, which a request validator "
            "(400, JSON content type only) cannot do.",
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                api.root,
                rule,
                "Callers are browser widgets identified by appId + widgetKey (contract section 1), checked "
                "by the function against SHA-256 digests in the apps table; there are no IAM or Cognito "
                "users, and the contract fixes the order size, JSON, then credentials, which an "
                "authorizer would change. OPTIONS preflight must stay unauthenticated in any case.",
            )
        if self.web_acl is None:
            acknowledge(
                api.deployment_stage,
                "AwsSolutions-APIG3",
                "No WAF web ACL on this stage: both rate limits (appRateLimitPer5Min, ipRateLimitPer5Min) "
                "are 0, as they are by default outside prod, where a web ACL's monthly fee buys nothing; "
                "the stage is throttled (throttlingRateLimit/BurstLimit) and every call needs an app's "
                "credentials.",
            )
        acknowledge(
            api.deployment_stage,
            "AwsSolutions-APIG6",
            "Execution logging needs the account-wide API Gateway CloudWatch role, a per-region singleton "
            "this stack must not own; JSON access logs record status, latency, integration status and "
            "the gateway's error message for every request, and the function logs each request.",
        )
        acknowledgements += self.made_function.runtime_acknowledgements()
        if self.config.snap_start:
            acknowledge(
                self.function,
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "CDK warns that SnapStart applies to published versions only; this stack publishes one "
                f"(the function's current version) and the API invokes it through the {LIVE_ALIAS!r} alias, "
                "never $LATEST.",
            )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "API Gateway invokes the function synchronously and returns its errors to the caller; a "
            "dead-letter queue only receives failed asynchronous invocations, of which there are none.",
        )
        if self.alarm_subscription is not None:
            acknowledge(
                self.alarm_subscription,
                "Serverless-SNSRedrivePolicy",
                "The only subscription is the operator's alarm email; an undeliverable alarm email would "
                "sit in a dead-letter queue nobody reads, while the alarm itself stays in ALARM state "
                "on the dashboard and in CloudWatch until resolved.",
            )
        acknowledge(
            self.cursor_signing_key,
            "AwsSolutions-SMG4",
            "The cursor signing key is not rotated on a schedule: it only signs list cursors, which "
            "cannot reach outside the caller's own calls (the app and conversation come from the "
            "authenticated request), a new key ends every listing in progress with 400 "
            "INVALID_CURSOR, and the function reads it through a dynamic reference resolved at deploy, "
            "so a rotated value would reach it only at the next deploy that updates the function.",
        )
        default_policy = self.function_role.node.try_find_child("DefaultPolicy")
        assert default_policy is not None, "tracing adds the X-Ray statement to the role's DefaultPolicy"
        acknowledge(
            default_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "xray:PutTraceSegments and xray:PutTelemetryRecords (added by active tracing) support no "
            "resource-level permissions; AWS documents Resource * as the only value.",
        )
        return [*acknowledgements, *self.call_events.nag_acknowledgements()]


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
