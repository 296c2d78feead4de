"""One in-process synth per stage, shared by every infra test of the session (a synth takes ~10 s)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

# jsii prints a banner on every import under Node 20; the Makefile silences it the same way.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import CfnElement
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stack import VideoCallsStack

CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]

# prod is synthesized with every tunable moved off its default, so a test that finds the
# value in the template proves the stack reads the context rather than a constant. (The
# options that are off on every stage, snapStart and provisionedConcurrency, have variants
# of their own below.)
PROD_OVERRIDES: dict[str, Any] = {
    "stage": "prod",
    "joinBaseUrl": "https://calls.example.com/",
    "domainName": "video.example.com",
    "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    "kinesisTurnChannels": "3",
    "callTtlSeconds": "3600",  # strings, as `-c key=value` passes them
    "cacheTtlSeconds": "12.5",
    "throttlingRateLimit": "25",
    "throttlingBurstLimit": "40",
    "lambdaMemoryMb": "2048",
    "lambdaTimeoutSeconds": "25",
    "dynamodbConnectTimeoutSeconds": "0.25",
    "dynamodbReadTimeoutSeconds": "0.75",
    "dynamodbMaxAttempts": "3",
    "logLevel": "WARNING",
    "logRetentionDays": "365",
    "alarmEmail": "ops@example.com",
    "latencyP99AlarmMs": "1500",
    "appRateLimitPer5Min": "2000",
    "ipRateLimitPer5Min": "800",
    "recordingRetentionDays": "90",
}


@dataclass
class Synth:
    stage: str
    context: dict[str, Any]
    stack: VideoCallsStack
    outdir: Path
    template: Template

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.template.to_json()
        return data

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id(self, construct: Any) -> str:
        """The logical id of a resource: an L1 itself, or an L2's own resource."""
        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        return str(self.stack.resolve(element.logical_id))

    @property
    def site_url(self) -> Any:
        """The distribution's origin as the template gives it: the custom domain, else CloudFront's."""
        if self.context.get("domainName"):
            return f"https://{self.context['domainName']}"
        distribution_id = self.logical_id(self.stack.distribution.distribution)
        return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]}

    @property
    def join_base_url(self) -> Any:
        """JOIN_BASE_URL as the template gives it: cdk.json's joinBaseUrl, else the site's origin."""
        return str(self.context["joinBaseUrl"]).rstrip("/") or self.site_url

    @property
    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report

    @property
    def metadata(self) -> dict[str, list[dict[str, Any]]]:
        path = self.outdir / f"{self.stack.stack_name}.metadata.json"
        data: dict[str, list[dict[str, Any]]] = json.loads(path.read_text())
        return data


def synthesize(context: dict[str, Any], outdir: Path) -> Synth:
    app, stack = build_app(context, outdir=str(outdir))
    assembly = app.synth()
    template = Template.from_json(assembly.get_stack_by_name(stack.stack_name).template)
    return Synth(str(context["stage"]), context, stack, outdir, template)


@pytest.fixture(scope="session")
def synth_dev(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(dict(CDK_CONTEXT), tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def synth_prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize({**CDK_CONTEXT, **PROD_OVERRIDES}, tmp_path_factory.mktemp("cdk-prod"))


@pytest.fixture(scope="session", params=["dev", "prod"])
def synth(request: pytest.FixtureRequest) -> Synth:
    found: Synth = request.getfixturevalue(f"synth_{request.param}")
    return found


# The deployment options that are off by default, each turned on over the dev stage's context.
OPTION_OVERRIDES: dict[str, dict[str, Any]] = {
    "snapstart": {"snapStart": "true"},
    "provisioned": {"provisionedConcurrency": "3"},
}


def synthesize_option(name: str, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize({**CDK_CONTEXT, **OPTION_OVERRIDES[name]}, tmp_path_factory.mktemp(f"cdk-{name}"))


@pytest.fixture(scope="session")
def synth_snapstart(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize_option("snapstart", tmp_path_factory)


@pytest.fixture(scope="session")
def synth_provisioned(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize_option("provisioned", tmp_path_factory)


@pytest.fixture(scope="session", params=sorted(OPTION_OVERRIDES))
def synth_option(request: pytest.FixtureRequest) -> Synth:
    found: Synth = request.getfixturevalue(f"synth_{request.param}")
    return found


@pytest.fixture(scope="session", params=["dev", "prod", *sorted(OPTION_OVERRIDES)])
def every_synth(request: pytest.FixtureRequest) -> Synth:
    """Each stage and each option: what cdk-nag and cfn-lint must find clean."""
    found: Synth = request.getfixturevalue(f"synth_{request.param}")
    return found
