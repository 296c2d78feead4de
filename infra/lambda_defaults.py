"""What every function of the stack is made with: the runtime, the architecture, the Powertools
layer, the functions/ asset, the stage's log retention, and one helper that makes a function with
its own log group and role from them."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import LAMBDA_RUNTIME, StackConfig
from infra.function_asset import StagedAsset, stage_function_asset
from infra.parts import NagAcknowledgement


def _cdk_runtime(name: str) -> lambda_.Runtime:
    """CDK's own constant for a runtime (python3.13: Runtime.PYTHON_3_13), which knows what that
    runtime supports (SnapStart among them)."""
    runtime: lambda_.Runtime = getattr(
        lambda_.Runtime, name.upper().replace("PYTHON", "PYTHON_").replace(".", "_")
    )
    assert runtime.name == name, f"{name} is not {runtime.name}"
    return runtime


# infra.config.LAMBDA_RUNTIME, where the choice is explained.
RUNTIME = _cdk_runtime(LAMBDA_RUNTIME)
# Pure Python (and the layer's arm64 build): arm64 is 20% cheaper per GB-second.
ARCHITECTURE = lambda_.Architecture.ARM_64

# The Powertools public layer of aws-lambda-powertools==3.37.0, the version pinned in
# pyproject.toml (a test keeps the two equal). Its ARN is not written here: CloudFormation
# reads it at deploy time from the public SSM parameter Powertools publishes for every
# release, so the layer is the pinned version by construction, in every region.
POWERTOOLS_PACKAGE_VERSION = "3.37.0"

# infra.config.LOG_RETENTION_DAYS, as CDK names them.
RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def powertools_layer_parameter(runtime: lambda_.Runtime = RUNTIME) -> str:
    """The public SSM parameter that holds the layer ARN, e.g. .../arm64/python3.13/3.37.0."""
    return f"/aws/service/powertools/python/arm64/{runtime.name}/{POWERTOOLS_PACKAGE_VERSION}"


@dataclass(frozen=True)
class PythonFunction:
    """A function as `LambdaDefaults.function` makes it, with its own log group and role."""

    function: lambda_.Function
    log_group: logs.LogGroup
    role: iam.Role

    def runtime_acknowledgements(self) -> list[NagAcknowledgement]:
        return [
            NagAcknowledgement(
                self.function,
                rule,
                f"{RUNTIME.name} rather than the newest Python is a measured choice (infra/config.py "
                "LAMBDA_RUNTIME): its init is about 20 ms faster than python3.14's on arm64, it has "
                "SnapStart and the Powertools layer, and it is supported; the tests run on it.",
            )
            for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion")
        ]


class LambdaDefaults:
    """The settings the stack's functions share, and the helper that applies them.

    A function's code is the packages of functions/ it needs (infra/function_asset.py), with their
    bytecode compiled ahead: staged once per stack and set of packages into a scratch directory
    that lives as long as this object (the CDK copies it into cdk.out as it binds the code).
    """

    def __init__(self, config: StackConfig, *, removal_policy: RemovalPolicy) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="video-calls-asset-")
        self.assets: dict[tuple[str, ...], StagedAsset] = {}
        self._code: dict[tuple[str, ...], lambda_.Code] = {}
        self.log_retention = RETENTION_DAYS[config.log_retention_days]
        self.removal_policy = removal_policy
        self._layer: lambda_.ILayerVersion | None = None

    def code(self, packages: tuple[str, ...]) -> lambda_.Code:
        """The asset of these packages of functions/, staged once for the stack."""
        if packages not in self._code:
            staged = stage_function_asset(Path(self._scratch.name) / "-".join(packages), packages=packages)
            self.assets[packages] = staged
            self._code[packages] = lambda_.Code.from_asset(str(staged.path))
        return self._code[packages]

    def powertools_layer(self, scope: Construct) -> lambda_.ILayerVersion:
        """The layer, imported once for the whole stack (an import: no resource of the template)."""
        if self._layer is None:
            stack = Stack.of(scope)
            self._layer = lambda_.LayerVersion.from_layer_version_arn(
                stack,
                "PowertoolsLayer",
                ssm.StringParameter.value_for_string_parameter(stack, powertools_layer_parameter()),
            )
        return self._layer

    def log_group(self, scope: Construct, construct_id: str) -> logs.LogGroup:
        """A log group with the stage's retention (the functions' own, and the API's access logs)."""
        return logs.LogGroup(
            scope, construct_id, retention=self.log_retention, removal_policy=self.removal_policy
        )

    def function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group_id: str,
        role_id: str,
        description: str,
        role_description: str,
        handler: str,
        packages: tuple[str, ...],
        memory_size: int,
        timeout: Duration,
        environment: Mapping[str, str],
        statements: Sequence[iam.PolicyStatement] = (),
        inline_policy: str | None = None,
        **options: Any,
    ) -> PythonFunction:
        """A traced function of the shared runtime and layer, shipping `packages` of functions/,
        logging to a log group of its own, whose role may write that log group and do what
        `statements` allow.

        The statements go in the role's inline policy named `inline_policy`, after them the log
        group's; without a name, into its default policy, after the log group's (the order each
        role was first deployed with). `options` are lambda_.Function's own (snap_start, ...).
        """
        log_group = self.log_group(scope, log_group_id)
        own_log_group = iam.PolicyStatement(
            sid="OwnLogGroup",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
        inline_policies = (
            {inline_policy: iam.PolicyDocument(statements=[*statements, own_log_group])}
            if inline_policy is not None
            else None
        )
        role = iam.Role(
            scope,
            role_id,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=role_description,
            inline_policies=inline_policies,
        )
        if inline_policy is None:
            for statement in (own_log_group, *statements):
                role.add_to_policy(statement)
        function = lambda_.Function(
            scope,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=self.code(packages),
            layers=[self.powertools_layer(scope)],
            memory_size=memory_size,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
            environment=dict(environment),
            **options,
        )
        # CDK makes the function depend on its role explicitly although Role: !GetAtt already
        # does; cfn-lint's W3005 flags that redundancy, which is CDK's and harmless.
        cfn_function = function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        return PythonFunction(function, log_group, role)
