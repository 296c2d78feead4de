"""The API function: the one function behind every route of the REST API (it creates, reads,
lists, ends and joins calls), its role, and the live alias that SnapStart and provisioned
concurrency need."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import StackConfig, function_environment
from infra.data import INDEX_OPERATIONS, TABLE_OPERATIONS, Data
from infra.function_asset import API_PACKAGES
from infra.ice import IceServers
from infra.lambda_defaults import LambdaDefaults
from infra.parts import NagAcknowledgement, Part

FUNCTION_HANDLER = "calls.handler.lambda_handler"
# The alias the API invokes when the stack publishes versions (SnapStart, provisioned concurrency).
LIVE_ALIAS = "live"


class ApiFunction(Part):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        data: Data,
        defaults: LambdaDefaults,
        join_base_url: str,
        signaling_url: str,
        ice: IceServers,
    ) -> None:
        """`join_base_url` and `signaling_url`: the site's origin and its /ws (infra/distribution.py),
        unless cdk.json's joinBaseUrl names another base for the links."""
        super().__init__(scope, construct_id)
        self.config = config
        self.environment = {
            **function_environment(
                config,
                apps_table=data.apps_table.table_name,
                calls_table=data.calls_table.table_name,
                idempotency_table=data.idempotency_table.table_name,
            ),
            # {{resolve:secretsmanager:...}} dynamic references: see Data._cursor_signing_key.
            "CURSOR_SIGNING_KEY": data.cursor_signing_key.secret_value.unsafe_unwrap(),
            "SIGNALING_TOKEN_KEY": data.signaling_token_key.secret_value.unsafe_unwrap(),
            "JOIN_BASE_URL": join_base_url,
            # The socket the join answer names: the distribution's /ws in front of infra/signaling.py.
            "SIGNALING_URL": signaling_url,
            # The join answer's STUN and TURN servers (infra/ice.py).
            **ice.environment,
        }
        made = defaults.function(
            self,
            # The id the function was first deployed with, when it only created calls. It stays: a new
            # logical id would make CloudFormation replace the function with another of another name.
            "CreateCallFunction",
            log_group_id="FunctionLogs",
            role_id="FunctionRole",
            description="The Video Calls API: creates, reads, lists, ends and joins calls",
            role_description=(
                "The API function (creates, reads, lists, ends and joins calls): its own tables and "
                "log group, nothing else"
            ),
            handler=FUNCTION_HANDLER,
            packages=API_PACKAGES,
            # 1024 MB (cdk.json), from `make bench`: a cold process peaks near 57 MB and a warm one
            # near 68 MB, so memory is never the limit, but Lambda sizes CPU by memory (one vCPU
            # at 1,769 MB). A warm call spends ~1.9 ms of CPU and a cold start ~0.4 s; at 512 MB
            # (~0.29 vCPU) they stretch to ~6.5 ms and over a second, at 1024 MB to ~3.3 ms and
            # ~0.7 s, for about $0.03 more per million calls. Check Init Duration after deploying.
            memory_size=config.lambda_memory_mb,
            timeout=Duration.seconds(config.lambda_timeout_seconds),
            environment=self.environment,
            statements=[*self._table_statements(data), *ice.statements],
            # Its name from the days of the create-call function; renaming it rewrites the role.
            inline_policy="CreateCall",
            # snapStart (cdk.json): Lambda runs init when a version is published and resumes new
            # environments from its snapshot (calls/snapstart.py builds the clients before it).
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if config.snap_start else None,
            # A replaced version is deleted: a SnapStart version's snapshot is billed while it exists.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY),
        )
        self._made = made
        self.function, self.log_group, self.role = made.function, made.log_group, made.role
        self.live_alias = self._live_alias()

    @staticmethod
    def _table_statements(data: Data) -> list[iam.PolicyStatement]:
        on_tables = [
            iam.PolicyStatement(
                sid=f"{purpose.capitalize()}Table",
                actions=[f"dynamodb:{operation}" for operation in operations],
                resources=[data.tables[purpose].table_arn],
            )
            for purpose, operations in TABLE_OPERATIONS.items()
        ]
        on_indexes = [
            iam.PolicyStatement(
                sid=f"{purpose.capitalize()}{index[0].upper()}{index[1:]}Index",
                actions=[f"dynamodb:{operation}" for operation in operations],
                resources=[f"{data.tables[purpose].table_arn}/index/{index}"],
            )
            for purpose, indexes in INDEX_OPERATIONS.items()
            for index, operations in indexes.items()
        ]
        return [*on_tables, *on_indexes]

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
    def invoked(self) -> lambda_.IFunction:
        """What API Gateway invokes: the live alias when versions are published, else the function."""
        return self.live_alias if self.live_alias is not None else self.function

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        found = self._made.runtime_acknowledgements()
        if self.config.snap_start:
            found.append(
                NagAcknowledgement(
                    self.function,
                    "@aws-cdk/aws-lambda:snapStartRequirePublish",
                    "CDK warns that SnapStart applies to published versions only; this stack publishes "
                    f"one (the function's current version) and the API invokes it through the {LIVE_ALIAS!r} "
                    "alias, never $LATEST.",
                )
            )
        found.append(
            NagAcknowledgement(
                self.function,
                "Serverless-LambdaDLQ",
                "API Gateway invokes the function synchronously and returns its errors to the caller; a "
                "dead-letter queue only receives failed asynchronous invocations, of which there are none.",
            )
        )
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        assert default_policy is not None, "tracing adds the X-Ray statement to the role's DefaultPolicy"
        found.append(
            NagAcknowledgement(
                default_policy,
                "AwsSolutions-IAM5[Resource::*]",
                "xray:PutTraceSegments and xray:PutTelemetryRecords (added by active tracing) support no "
                "resource-level permissions; AWS documents Resource * as the only value.",
            )
        )
        return found
