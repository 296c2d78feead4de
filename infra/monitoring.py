"""Operations: the alarm topic, the alarms on the API, its function and the tables (every alarm of
the stack is made by `alarm`, the events' too), and the stage's dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.api_function import ApiFunction
from infra.config import StackConfig, metrics_namespace
from infra.data import Data, alarmed_operations
from infra.edge import Edge
from infra.parts import NagAcknowledgement, Part
from infra.rest_api import RestApi

# The period of every alarm's metric.
ALARM_PERIOD = Duration.minutes(5)
# The dashboard's, finer.
DASHBOARD_PERIOD = Duration.minutes(1)
AT_OR_OVER = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
# API 5xx includes the handler's deliberate 503s (DynamoDB throttling); a handful in five
# minutes is noise, more is an incident.
API_5XX_ALARM_THRESHOLD = 5


def alarm(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    comparison: cloudwatch.ComparisonOperator = AT_OR_OVER,
) -> cloudwatch.Alarm:
    """An alarm named `<stack name>-<name>`, quiet while its metric has no data. By default it fires
    on one period at or over the threshold. Monitoring sends every alarm to the alarm topic."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=f"{Stack.of(scope).stack_name}-{name}",
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def message_waiting_alarm(
    scope: Construct, construct_id: str, *, name: str, description: str, queue: sqs.IQueue
) -> cloudwatch.Alarm:
    """An alarm on the first message left in a queue of failures (a dead-letter or stream-failure
    queue): every message there is work given up on."""
    return alarm(
        scope,
        construct_id,
        name=name,
        description=description,
        metric=queue.metric_approximate_number_of_messages_visible(period=ALARM_PERIOD, statistic="Maximum"),
        threshold=1,
    )


class Monitoring(Part):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        data: Data,
        api_function: ApiFunction,
        rest_api: RestApi,
        edge: Edge,
        other_alarms: Sequence[cloudwatch.Alarm],
    ) -> None:
        """`other_alarms`: those of other constructs (the events'), which notify the topic too."""
        super().__init__(scope, construct_id)
        self.config = config
        self.data = data
        self.api_function = api_function
        self.api = rest_api.api
        self.edge = edge
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"Video Calls API ({config.stage}) alarms",
            enforce_ssl=True,
        )
        self.subscription = (
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
            if config.alarm_email
            else None
        )
        self.alarms = [*self._alarms(), *other_alarms]
        action = cloudwatch_actions.SnsAction(self.topic)
        for each in self.alarms:
            each.add_alarm_action(action)
            each.add_ok_action(action)
        self.dashboard = self._dashboard()

    def _alarms(self) -> list[cloudwatch.Alarm]:
        function = self.api_function.function
        alarms = [
            alarm(
                self,
                "FunctionErrorsAlarm",
                name="function-errors",
                description="The API function failed (crash or timeout), not a handled error",
                metric=function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
            ),
            alarm(
                self,
                "FunctionThrottlesAlarm",
                name="function-throttles",
                description="Lambda refused invocations: the account's concurrency is exhausted",
                metric=function.metric_throttles(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
            ),
            alarm(
                self,
                "Api5xxAlarm",
                name="api-5xx",
                description=f"At least {API_5XX_ALARM_THRESHOLD} 5xx answers in five minutes",
                metric=self.api.metric_server_error(period=ALARM_PERIOD, statistic="Sum"),
                threshold=API_5XX_ALARM_THRESHOLD,
            ),
            alarm(
                self,
                "ApiLatencyP99Alarm",
                name="api-latency-p99",
                description=(
                    f"p99 latency above {self.config.latency_p99_alarm_ms} ms "
                    "in two of three 5-minute periods"
                ),
                metric=self.api.metric_latency(period=ALARM_PERIOD, statistic="p99"),
                threshold=self.config.latency_p99_alarm_ms,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
        ]
        alarms += [
            alarm(
                self,
                f"{purpose.capitalize()}TableThrottlesAlarm",
                name=f"{purpose}-table-throttled-requests",
                description=f"DynamoDB throttled requests to the {purpose} table",
                metric=_throttled_requests(purpose, table, ALARM_PERIOD),
                threshold=1,
            )
            for purpose, table in self.data.tables.items()
        ]
        return alarms

    def _custom_metric_total(self, metric_name: str, label: str, period: Duration) -> cloudwatch.IMetric:
        """The handler's own metric summed over whatever dimensions Powertools gave it."""
        return cloudwatch.MathExpression(
            expression=(
                f"SUM(SEARCH('{{{metrics_namespace(self.config)}}} MetricName=\"{metric_name}\"', "
                f"'Sum', {int(period.to_seconds())}))"
            ),
            label=label,
            period=period,
        )

    def _dashboard(self) -> cloudwatch.Dashboard:
        api, function, period = self.api, self.api_function.function, DASHBOARD_PERIOD
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
                    _throttled_requests(purpose, table, period) for purpose, table in self.data.tables.items()
                ],
                width=8,
            ),
        )
        web_acl = self.edge.web_acl
        if web_acl is not None:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Refused at the edge, by rule: 429 over a limit, 403 not through the site",
                    left=[
                        cloudwatch.Metric(
                            namespace="AWS/WAFV2",
                            metric_name="BlockedRequests",
                            dimensions_map={
                                "WebACL": str(web_acl.name),
                                "Region": Stack.of(self).region,
                                "Rule": rule,
                            },
                            period=period,
                            statistic="Sum",
                            label=rule,
                        )
                        for rule in self.edge.rule_names
                    ],
                    width=24,
                )
            )
        alias = self.api_function.live_alias
        if alias is not None and self.config.provisioned_concurrency:
            # Whether the provisioned environments are sized right: spillover invocations run on
            # demand (and may start cold); utilization near 1 means the next burst spills over.
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

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        if self.subscription is None:
            return []
        return [
            NagAcknowledgement(
                self.subscription,
                "Serverless-SNSRedrivePolicy",
                "The only subscription is the operator's alarm email; an undeliverable alarm email would "
                "sit in a dead-letter queue nobody reads, while the alarm itself stays in ALARM state "
                "on the dashboard and in CloudWatch until resolved.",
            )
        ]


def _throttled_requests(purpose: str, table: dynamodb.Table, period: Duration) -> cloudwatch.IMetric:
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
