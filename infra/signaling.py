"""Signaling on AWS (docs/behaviour.md section 9.4, docs/signaling.md): the WebSocket API the call
pages connect to, the one function behind its authorizer and every route, and the calls table's
stream as that function's second source, so that every committed end reaches the pages.

- Route selection is `$request.body.action`: `hello`, `signal` and `ping` have routes of their
  own, anything else goes to `$default` (which answers INVALID_MESSAGE).
- The `$connect` route has a REQUEST authorizer on the `token` query parameter (the join's
  single-use token); API Gateway never caches a WebSocket authorizer's answer, which a single-use
  token needs. Every later event of the connection carries the authorizer's call and role.
- The function posts to connections through the stage's management API, and may only do that:
  `execute-api:ManageConnections` on this API's stage.
- The calls stream's records reach the function only when they end a call (an update to `ended`,
  or a removal of a call that had not ended), filtered by the event source mapping itself.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigatewayv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from calls import tables
from constructs import Construct

from infra.config import StackConfig, function_environment
from infra.data import SIGNALING_TABLE_OPERATIONS, Data
from infra.function_asset import SIGNALING_PACKAGES
from infra.lambda_defaults import LambdaDefaults
from infra.monitoring import ALARM_PERIOD, alarm, message_waiting_alarm
from infra.parts import NagAcknowledgement

SIGNALING_HANDLER = "signaling.handler.lambda_handler"
# The message routes; anything else API Gateway sends to $default (docs/asyncapi.yaml).
MESSAGE_ROUTES = ("hello", "signal", "ping")
TOKEN_QUERY_PARAMETER = "token"  # noqa: S105 - the parameter's name, not a token
MEMORY_MB = 512
# A route's work is a read and a post, each bounded under two seconds with its retries.
TIMEOUT = Duration.seconds(10)
STREAM_BATCH_SIZE = 100
STREAM_RETRY_ATTEMPTS = 3
# The calls table is read by two stream consumers, the events function and this one: DynamoDB's
# recommended most per shard. An end must reach the pages within seconds, so from the newest.
STREAM_START = lambda_.StartingPosition.LATEST
# Handshakes refused (bad, used or expired tokens) are the clients' doing; this many in five minutes
# is more than pages reconnecting, and worth a look.
CLIENT_ERROR_ALARM_THRESHOLD = 50

# The stream records that end a call: its status set to ended, or the call removed before it ended.
ENDED_CALL_FILTERS = (
    {
        "eventName": lambda_.FilterRule.is_equal("MODIFY"),
        "dynamodb": {
            "NewImage": {"status": {"S": lambda_.FilterRule.is_equal("ended")}},
            "OldImage": {"status": {"S": lambda_.FilterRule.is_equal("created")}},
        },
    },
    {
        "eventName": lambda_.FilterRule.is_equal("REMOVE"),
        "dynamodb": {"OldImage": {"status": {"S": lambda_.FilterRule.is_equal("created")}}},
    },
)

# JSON access log lines of the WebSocket stage. No query string: the token travels there.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTimeEpoch",
        "ip": "$context.identity.sourceIp",
        "eventType": "$context.eventType",
        "routeKey": "$context.routeKey",
        "connectionId": "$context.connectionId",
        "status": "$context.status",
        "authorizerError": "$context.authorizer.error",
        "integrationError": "$context.integration.error",
        "integrationLatency": "$context.integration.latency",
        "errorMessage": "$context.error.message",
    },
    separators=(",", ":"),
)


class Signaling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        data: Data,
        defaults: LambdaDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.api = apigatewayv2.WebSocketApi(
            self,
            "Api",
            api_name=f"video-calls-signaling-{config.stage}",
            description="Video Calls signaling: the call pages' WebSocket (protocol version 1)",
            route_selection_expression="$request.body.action",
        )
        self.stage_name = config.stage
        region, stack = Stack.of(self).region, Stack.of(self)
        self.callback_url = (
            f"https://{self.api.api_id}.execute-api.{region}.{stack.url_suffix}/{self.stage_name}"
        )
        # The API's own endpoint; the join answer names the distribution's /ws in front of it.
        self.url = f"wss://{self.api.api_id}.execute-api.{region}.{stack.url_suffix}/{self.stage_name}"

        # The API function's settings this function shares (calls.settings), and its own.
        shared = {
            name: value
            for name, value in function_environment(
                config,
                apps_table=data.apps_table.table_name,
                calls_table=data.calls_table.table_name,
                idempotency_table=data.idempotency_table.table_name,
            ).items()
            if name.startswith(("DYNAMODB_", "POWERTOOLS_", "PYDANTIC_"))
            or name == tables.CALLS.name_variable
        }
        made = defaults.function(
            self,
            "Function",
            log_group_id="FunctionLogs",
            role_id="FunctionRole",
            description="Video Calls signaling: the WebSocket authorizer, its routes, and ended calls",
            role_description="The signaling function: its connections, the calls it checks, its stage's "
            "connections and its log group",
            handler=SIGNALING_HANDLER,
            packages=SIGNALING_PACKAGES,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                **shared,
                tables.CONNECTIONS.name_variable: data.connections_table.table_name,
                # A {{resolve:secretsmanager:...}} dynamic reference: see Data._signaling_token_key.
                "SIGNALING_TOKEN_KEY": data.signaling_token_key.secret_value.unsafe_unwrap(),
                "SIGNALING_CALLBACK_URL": self.callback_url,
            },
            statements=[
                iam.PolicyStatement(
                    sid=f"{purpose.capitalize()}Table",
                    actions=[f"dynamodb:{operation}" for operation in operations],
                    resources=[data.tables[purpose].table_arn],
                )
                for purpose, operations in SIGNALING_TABLE_OPERATIONS.items()
            ],
        )
        self._made = made
        self.function, self.log_group, self.role = made.function, made.log_group, made.role

        integration = integrations.WebSocketLambdaIntegration("Integration", self.function)
        self.authorizer = authorizers.WebSocketLambdaAuthorizer(
            "TokenAuthorizer",
            self.function,
            identity_source=[f"route.request.querystring.{TOKEN_QUERY_PARAMETER}"],
        )
        self.api.add_route("$connect", integration=integration, authorizer=self.authorizer)
        self.api.add_route("$disconnect", integration=integration)
        self.api.add_route("$default", integration=integration)
        for route in MESSAGE_ROUTES:
            self.api.add_route(route, integration=integration)

        self.access_log_group = defaults.log_group(self, "AccessLogs")
        self.stage = apigatewayv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=self.stage_name,
            auto_deploy=True,
            throttle=apigatewayv2.ThrottleSettings(
                rate_limit=config.throttling_rate_limit, burst_limit=config.throttling_burst_limit
            ),
        )
        cfn_stage = self.stage.node.default_child
        assert isinstance(cfn_stage, apigatewayv2.CfnStage)
        cfn_stage.access_log_settings = apigatewayv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_log_group.log_group_arn, format=ACCESS_LOG_FORMAT
        )
        self.stage.grant_management_api_access(self.function)

        self.stream_failures_queue = sqs.Queue(
            self,
            "StreamFailuresQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=defaults.removal_policy,
        )
        self.function.add_event_source(
            sources.DynamoEventSource(
                data.calls_table,
                starting_position=STREAM_START,
                batch_size=STREAM_BATCH_SIZE,
                bisect_batch_on_error=True,
                retry_attempts=STREAM_RETRY_ATTEMPTS,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.stream_failures_queue),
                filters=[lambda_.FilterCriteria.filter(pattern) for pattern in ENDED_CALL_FILTERS],
            )
        )
        self.alarms = self._alarms()

    def _alarms(self) -> list[cloudwatch.Alarm]:
        def api_metric(name: str) -> cloudwatch.IMetric:
            return self.api.metric(
                name,
                dimensions_map={"ApiId": self.api.api_id, "Stage": self.stage_name},
                period=ALARM_PERIOD,
                statistic="Sum",
            )

        return [
            alarm(
                self,
                "FunctionErrorsAlarm",
                name="signaling-function-errors",
                description="The signaling function failed (crash or timeout): pages may miss messages",
                metric=self.function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
            ),
            alarm(
                self,
                "ServerErrorsAlarm",
                name="signaling-5xx",
                description="The WebSocket API failed to reach its function, or the function to answer",
                metric=cloudwatch.MathExpression(
                    expression="integration + execution",
                    using_metrics={
                        "integration": api_metric("IntegrationError"),
                        "execution": api_metric("ExecutionError"),
                    },
                    label="5xx",
                    period=ALARM_PERIOD,
                ),
                threshold=1,
            ),
            alarm(
                self,
                "ClientErrorsAlarm",
                name="signaling-4xx",
                description=f"At least {CLIENT_ERROR_ALARM_THRESHOLD} refused WebSocket requests (bad, "
                "used or expired tokens) in five minutes",
                metric=api_metric("ClientError"),
                threshold=CLIENT_ERROR_ALARM_THRESHOLD,
            ),
            message_waiting_alarm(
                self,
                "StreamFailuresAlarm",
                name="signaling-stream-failures",
                description="Ended calls the signaling function gave up on: their pages were not told",
                queue=self.stream_failures_queue,
            ),
        ]

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        found = self._made.runtime_acknowledgements()
        found.append(
            NagAcknowledgement(
                self.function,
                "Serverless-LambdaDLQ",
                "API Gateway invokes the function synchronously (the authorizer and every route), and "
                "the stream's event source mapping has its own on-failure queue; no invocation is "
                "asynchronous, so a function dead-letter queue would receive nothing.",
            )
        )
        for route in self.api.node.children:
            if isinstance(route, apigatewayv2.WebSocketRoute) and route.node.id != "$connect-Route":
                found.append(
                    NagAcknowledgement(
                        route,
                        "AwsSolutions-APIG4",
                        "A WebSocket API authorizes the connection, on $connect (the join's single-use "
                        "token); every later message of that connection carries the authorizer's call "
                        "and role, and API Gateway allows no authorizer on other routes.",
                    )
                )
        found.append(
            NagAcknowledgement(
                self.stream_failures_queue,
                "Serverless-SQSRedrivePolicy",
                "This queue is the stream event source's on-failure destination: the end of the line, "
                "read by an operator (alarmed on its depth).",
            )
        )
        found.append(
            NagAcknowledgement(
                self.stream_failures_queue,
                "AwsSolutions-SQS3",
                "This queue is a dead-letter queue, of the stream event source mapping rather than of "
                "another queue (which is all cdk-nag recognises); an alarm fires on its first message.",
            )
        )
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        assert default_policy is not None
        stack = Stack.of(self)
        api_logical_id = stack.resolve(stack.get_logical_id(self.api.node.default_child))  # type: ignore[arg-type]
        connections = (
            f"arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<{api_logical_id}>/"
            f"{self.stage_name}/*/@connections/*"
        )
        found.append(
            NagAcknowledgement(
                default_policy,
                f"AwsSolutions-IAM5[Resource::{connections}]",
                "execute-api:ManageConnections on this API's stage's @connections/*: a connection's id is "
                "known only when a page connects, so the resource names the stage's connections, any "
                "method (post, close, read), and nothing of any other API or stage.",
            )
        )
        found.append(
            NagAcknowledgement(
                default_policy,
                "AwsSolutions-IAM5[Resource::*]",
                "xray:PutTraceSegments and xray:PutTelemetryRecords (added by active tracing) and "
                "dynamodb:ListStreams (added by the stream event source) support no resource-level "
                "permissions; AWS documents Resource * as the only value. ManageConnections is on this "
                "API's stage's @connections only.",
            )
        )
        return found
