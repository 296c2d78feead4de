"""The events and webhooks of docs/behaviour.md section 7 on AWS: the calls and recordings tables'
streams -> the events function -> the event bus and the delivery queue -> the delivery function ->
the webhook endpoints; a dead-letter queue for what could not be delivered after the whole retry schedule,
and alarms on everything that can stall or lose events."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from callevents import retry
from callevents.envelope import EVENT_SOURCE
from calls import tables
from constructs import Construct

from infra.config import StackConfig
from infra.data import EVENTS_TABLE_OPERATIONS, Data
from infra.function_asset import EVENTS_PACKAGES
from infra.lambda_defaults import LambdaDefaults, PythonFunction
from infra.monitoring import ALARM_PERIOD, alarm, message_waiting_alarm
from infra.parts import NagAcknowledgement

EVENTS_HANDLER = "callevents.stream_handler.lambda_handler"
DELIVERY_HANDLER = "callevents.delivery_handler.lambda_handler"
# The API function's variables that the events and delivery functions share (all DYNAMODB_* too).
SHARED_VARIABLES = (
    "JOIN_BASE_URL",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_LOG_LEVEL",
    "PYDANTIC_DISABLE_PLUGINS",
)

MEMORY_MB = 256
EVENTS_TIMEOUT = Duration.seconds(60)
# A batch's deliveries run concurrently, each POST bounded by 10 s, so a minute is ample.
DELIVERY_TIMEOUT = Duration.seconds(60)
# AWS's advice for a queue feeding Lambda: at least six times the function's timeout.
DELIVERY_VISIBILITY = Duration.seconds(6 * 60)
# Longer than the whole retry schedule (~27.6 h), so nothing expires before its last attempt.
DELIVERY_RETENTION = Duration.days(4)
DEAD_LETTER_RETENTION = Duration.days(14)
STREAM_BATCH_SIZE = 100
STREAM_RETRY_ATTEMPTS = 10
DELIVERY_BATCH_SIZE = 10
# The stream's events are minutes late at this age: something is stuck.
ITERATOR_AGE_ALARM_MS = 5 * 60 * 1000


class CallEvents(Construct):
    """A construct of its own rather than a part (infra/parts.py): its resources were deployed inside
    it, so their logical ids carry its id (CallEventsBus7D857237), which it must keep."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        data: Data,
        api_environment: Mapping[str, str],
        defaults: LambdaDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        removal_policy = defaults.removal_policy
        self.bus = events.EventBus(self, "Bus", description=f"Video call events (source {EVENT_SOURCE})")

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeliveryDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            removal_policy=removal_policy,
        )
        self.delivery_queue = sqs.Queue(
            self,
            "DeliveryQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=DELIVERY_VISIBILITY,
            retention_period=DELIVERY_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=retry.MAX_ATTEMPTS, queue=self.dead_letter_queue
            ),
            removal_policy=removal_policy,
        )
        # Stream batches the events function could not process after its retries: their
        # shard and sequence numbers, to replay from the stream (kept 24 h) by hand.
        self.stream_failures_queue = sqs.Queue(
            self,
            "StreamFailuresQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            removal_policy=removal_policy,
        )

        shared = {
            name: value
            for name, value in api_environment.items()
            if name in SHARED_VARIABLES or name.startswith("DYNAMODB_")
        }
        webhooks_table = data.webhooks_table
        read_webhooks = iam.PolicyStatement(
            sid="WebhookEndpoints",
            actions=[
                f"dynamodb:{operation}" for operation in EVENTS_TABLE_OPERATIONS[tables.WEBHOOKS.purpose]
            ],
            resources=[webhooks_table.table_arn],
        )

        def function(
            name: str, handler: str, description: str, timeout: Duration, variables: dict[str, str]
        ) -> PythonFunction:
            return defaults.function(
                self,
                f"{name}Function",
                log_group_id=f"{name}Logs",
                role_id=f"{name}Role",
                description=description,
                role_description=f"The {name.lower()} function: its own log group, and what section 7 needs",
                handler=handler,
                packages=EVENTS_PACKAGES,
                memory_size=MEMORY_MB,
                timeout=timeout,
                environment={**shared, tables.WEBHOOKS.name_variable: webhooks_table.table_name, **variables},
                statements=[read_webhooks],
            )

        events_made = function(
            "Events",
            EVENTS_HANDLER,
            "Turns each change of the calls table into its events: to the bus and the delivery queue",
            EVENTS_TIMEOUT,
            {"EVENT_BUS_NAME": self.bus.event_bus_name, "DELIVERY_QUEUE_URL": self.delivery_queue.queue_url},
        )
        self.events_function, self.events_log_group, self.events_role = (
            events_made.function,
            events_made.log_group,
            events_made.role,
        )
        self.events_role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishEvents", actions=["events:PutEvents"], resources=[self.bus.event_bus_arn]
            )
        )
        self.events_role.add_to_policy(
            iam.PolicyStatement(
                sid="QueueDeliveries", actions=["sqs:SendMessage"], resources=[self.delivery_queue.queue_arn]
            )
        )
        # The calls table's stream gives the call events; the recordings table's `recording.ready`.
        for table in (data.calls_table, data.recordings_table):
            self.events_function.add_event_source(
                sources.DynamoEventSource(
                    table,
                    starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                    batch_size=STREAM_BATCH_SIZE,
                    bisect_batch_on_error=True,
                    retry_attempts=STREAM_RETRY_ATTEMPTS,
                    report_batch_item_failures=True,
                    on_failure=sources.SqsDlq(self.stream_failures_queue),
                )
            )

        delivery_made = function(
            "Delivery",
            DELIVERY_HANDLER,
            "Delivers one webhook per queue message, signed per Standard Webhooks; retries by schedule",
            DELIVERY_TIMEOUT,
            {"DELIVERY_QUEUE_URL": self.delivery_queue.queue_url},
        )
        self.delivery_function, self.delivery_log_group, self.delivery_role = (
            delivery_made.function,
            delivery_made.log_group,
            delivery_made.role,
        )
        self._made = (events_made, delivery_made)
        self.delivery_function.add_event_source(
            sources.SqsEventSource(
                self.delivery_queue, batch_size=DELIVERY_BATCH_SIZE, report_batch_item_failures=True
            )
        )

        self.alarms = self._alarms()

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        """Each cdk-nag finding on these resources that is accepted, with the reason."""
        found = [
            acknowledgement for made in self._made for acknowledgement in made.runtime_acknowledgements()
        ]
        for function in (self.events_function, self.delivery_function):
            found.append(
                NagAcknowledgement(
                    function,
                    "Serverless-LambdaDLQ",
                    "The function is invoked by an event source mapping, never asynchronously, so a function "
                    "dead-letter queue would receive nothing: failed stream batches go to the mapping's "
                    "on-failure queue, failed deliveries to the delivery queue's redrive dead-letter queue.",
                )
            )
        for role, extra in (
            (self.events_role, " and dynamodb:ListStreams (added by the stream event source), which"),
            (self.delivery_role, ", which"),
        ):
            policy = role.node.try_find_child("DefaultPolicy")
            assert policy is not None, "tracing and the event sources add the role's DefaultPolicy"
            found.append(
                NagAcknowledgement(
                    policy,
                    "AwsSolutions-IAM5[Resource::*]",
                    "xray:PutTraceSegments and xray:PutTelemetryRecords (added by active tracing)"
                    f"{extra} support no resource-level permissions; AWS documents Resource * as the only "
                    "value. Every other statement names its table, stream, queue or bus.",
                )
            )
        for queue, what in (
            (self.dead_letter_queue, "the delivery queue's dead-letter queue"),
            (self.stream_failures_queue, "the stream event source's on-failure destination"),
        ):
            found.append(
                NagAcknowledgement(
                    queue,
                    "Serverless-SQSRedrivePolicy",
                    f"This queue is {what}: the end of the line, read by an operator (alarmed on its depth). "
                    "A dead-letter queue of a dead-letter queue would only hide the messages further.",
                )
            )
        found.append(
            NagAcknowledgement(
                self.stream_failures_queue,
                "AwsSolutions-SQS3",
                "This queue is a dead-letter queue, of the stream event source mapping rather than of "
                "another queue (which is all cdk-nag recognises): it receives the records the events "
                "function gave up on, and an alarm fires on its first message.",
            )
        )
        mapping = next(
            child
            for child in self.delivery_function.node.children
            if isinstance(child, lambda_.EventSourceMapping)
        )
        found.append(
            NagAcknowledgement(
                mapping,
                "Serverless-LambdaEventSourceMappingDestination",
                "SQS event source mappings take no on-failure destination (only streams and Kafka do); a "
                "message that fails every attempt of the retry schedule moves to the queue's redrive "
                "dead-letter queue (maxReceiveCount), whose depth is alarmed.",
            )
        )
        return found

    def _alarms(self) -> list[cloudwatch.Alarm]:
        return [
            message_waiting_alarm(
                self,
                "DeliveryDeadLettersAlarm",
                name="webhook-dead-letters",
                description=(
                    "Webhook deliveries failed every attempt of the retry schedule: in the dead-letter queue"
                ),
                queue=self.dead_letter_queue,
            ),
            message_waiting_alarm(
                self,
                "StreamFailuresAlarm",
                name="events-stream-failures",
                description="Calls-table stream records the events function gave up on: events not sent",
                queue=self.stream_failures_queue,
            ),
            alarm(
                self,
                "EventsIteratorAgeAlarm",
                name="events-iterator-age",
                description=(
                    f"The events function is {ITERATOR_AGE_ALARM_MS // 60000}+ minutes behind the calls "
                    "stream"
                ),
                metric=self.events_function.metric("IteratorAge", period=ALARM_PERIOD, statistic="Maximum"),
                threshold=ITERATOR_AGE_ALARM_MS,
            ),
            alarm(
                self,
                "EventsErrorsAlarm",
                name="events-function-errors",
                description=(
                    "The events function failed (crash, timeout, bus or queue refused); the stream retries"
                ),
                metric=self.events_function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
            ),
            alarm(
                self,
                "DeliveryErrorsAlarm",
                name="delivery-function-errors",
                description="The delivery function failed (crash or timeout), not a receiver's refusal",
                metric=self.delivery_function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
            ),
        ]
