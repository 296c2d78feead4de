"""The stack of one stage: its parts put together (infra/parts.py says what a part is)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from aws_cdk import CfnElement, CfnOutput, RemovalPolicy, Stack
from calls.routes import CALLS
from constructs import Construct

from infra.api_function import ApiFunction
from infra.config import StackConfig
from infra.data import Data
from infra.distribution import Distribution
from infra.edge import Edge
from infra.events import CallEvents
from infra.ice import IceServers
from infra.lambda_defaults import LambdaDefaults
from infra.monitoring import Monitoring
from infra.parts import LogicalIds, NagAcknowledgement, Part, apply_acknowledgements
from infra.recordings import Recordings
from infra.rest_api import RestApi
from infra.signaling import Signaling
from infra.site import Site


class VideoCallsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        # Prod keeps its tables, logs and queues when the stack goes; a dev stack takes them along.
        removal_policy = RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY

        self.data = Data(self, "Data", config=config, removal_policy=removal_policy)
        self.lambda_defaults = LambdaDefaults(config, removal_policy=removal_policy)
        self.signaling = Signaling(
            self, "Signaling", config=config, data=self.data, defaults=self.lambda_defaults
        )
        self.rest_api = RestApi(self, "RestApi", config=config, defaults=self.lambda_defaults)
        self.edge = Edge(self, "Edge", config=config, stage=self.rest_api.api.deployment_stage)
        self.site = Site(self, "Site", config=config, defaults=self.lambda_defaults)
        self.distribution = Distribution(
            self,
            "Distribution",
            config=config,
            site=self.site,
            rest_api_id=self.rest_api.api.rest_api_id,
            websocket_api_id=self.signaling.api.api_id,
            stage_name=config.stage,
            origin_headers=self.edge.origin_headers,
        )
        self.ice = IceServers(self, "Ice", config=config)
        self.api_function = ApiFunction(
            self,
            "ApiFunction",
            config=config,
            data=self.data,
            defaults=self.lambda_defaults,
            join_base_url=self.join_base_url,
            signaling_url=self.distribution.signaling_url,
            ice=self.ice,
        )
        self.recordings = Recordings(
            self,
            "Recordings",
            config=config,
            table=self.data.recordings_table,
            page_origin=self.join_base_url,
        )
        self.recordings.grant_api(self.api_function.function)
        # Signaling completes what the agent's page left when its socket or the call ends.
        self.recordings.grant_signaling(self.signaling.function)
        self.call_events = CallEvents(
            self,
            "CallEvents",
            config=config,
            data=self.data,
            api_environment=self.api_function.environment,
            defaults=self.lambda_defaults,
        )
        self.rest_api.route_to(self.api_function.invoked)
        self.site.publish(self.distribution.distribution)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            data=self.data,
            api_function=self.api_function,
            rest_api=self.rest_api,
            edge=self.edge,
            other_alarms=[*self.call_events.alarms, *self.signaling.alarms],
        )
        self._outputs()
        self._acknowledge_nag_findings()

    @property
    def join_base_url(self) -> str:
        """The join links' base: cdk.json's joinBaseUrl, else the site's own origin."""
        return self.config.join_base_url or self.distribution.url

    def _outputs(self) -> None:
        # Stable keys: the operator CLI (`callsctl --stack`) reads the table names and the join
        # links' base from these.
        data, events, api, site = self.data, self.call_events, self.rest_api.api, self.distribution
        outputs = {
            "SiteUrl": (site.url, "The one origin of the call page, the API and signaling"),
            "DistributionDomainName": (
                site.distribution.distribution_domain_name,
                "The CloudFront distribution's own host: a custom domain's DNS record points here",
            ),
            "ApiUrl": (api.url, "The API stage's own endpoint (execute-api), behind the distribution"),
            "CreateCallUrl": (f"{site.url}{CALLS}", "POST here to create a call"),
            "AppsTableName": (data.apps_table.table_name, "DynamoDB table of apps and presets"),
            "CallsTableName": (data.calls_table.table_name, "DynamoDB table of created calls"),
            "IdempotencyTableName": (
                data.idempotency_table.table_name,
                "DynamoDB table of Idempotency-Key records",
            ),
            "WebhooksTableName": (data.webhooks_table.table_name, "DynamoDB table of webhook endpoints"),
            "RecordingsTableName": (data.recordings_table.table_name, "DynamoDB table of call recordings"),
            "RecordingsBucketName": (self.recordings.bucket.bucket_name, "S3 bucket of call recordings"),
            "EventBusName": (events.bus.event_bus_name, "EventBridge bus of call events"),
            "DeliveryDeadLetterQueueUrl": (
                events.dead_letter_queue.queue_url,
                "Webhook deliveries that failed every attempt",
            ),
            "JoinBaseUrl": (self.join_base_url, "Base of the join links (JOIN_BASE_URL)"),
            "SignalingUrl": (site.signaling_url, "The call pages' WebSocket (SIGNALING_URL)"),
            "ConnectionsTableName": (
                data.connections_table.table_name,
                "DynamoDB table of signaling connections",
            ),
            "AlarmTopicArn": (self.monitoring.topic.topic_arn, "SNS topic the alarms notify"),
            "DashboardName": (self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard of this stage"),
        }
        for key, (value, description) in outputs.items():
            CfnOutput(self, key, value=value, description=description)

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        """Each cdk-nag finding this stack accepts, collected from the construct it concerns."""
        owners: list[Part | CallEvents | Signaling | Site | Distribution] = [
            child for child in self.node.children if isinstance(child, Part)
        ]
        owners += [self.call_events, self.signaling, self.site, self.distribution]
        return [found for owner in owners for found in owner.nag_acknowledgements()]

    def _acknowledge_nag_findings(self) -> None:
        apply_acknowledgements(self.nag_acknowledgements())

    @cached_property
    def _logical_ids(self) -> LogicalIds:
        return LogicalIds(self)

    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        # The parts are transparent to logical ids, so every resource keeps the id it was deployed
        # with (infra/parts.py).
        return self._logical_ids.allocate(cfn_element)
