"""cdk-nag (AwsSolutions + Serverless) and cfn-lint on the synthesized templates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.app import build_app
from infra.parts import NagAcknowledgement
from infra.stack import VideoCallsStack
from tests.infra.conftest import CDK_CONTEXT, OPTION_OVERRIDES, PROD_OVERRIDES, Synth

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


# The contexts whose acknowledgements differ: prod (alarm email, stage defaults), SnapStart.
UNACKNOWLEDGED_CONTEXTS: dict[str, dict[str, Any]] = {
    "dev": CDK_CONTEXT,
    "prod": {**CDK_CONTEXT, **PROD_OVERRIDES},
    "snapstart": {**CDK_CONTEXT, **OPTION_OVERRIDES["snapstart"]},
}


@pytest.fixture(scope="module", params=sorted(UNACKNOWLEDGED_CONTEXTS))
def unacknowledged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[NagAcknowledgement]]:
    """The stack synthesized with no acknowledgement applied: what cdk-nag finds on its own."""
    outdir = tmp_path_factory.mktemp(f"cdk-unacknowledged-{request.param}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(VideoCallsStack, "_acknowledge_nag_findings", lambda self: None)
        app, stack = build_app(dict(UNACKNOWLEDGED_CONTEXTS[request.param]), outdir=str(outdir))
        with pytest.raises(RuntimeError, match="ValidationFailed"):
            app.synth()
    return outdir, stack.nag_acknowledgements()


def findings(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (plugin["pluginName"], violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


def test_synth_leaves_no_unacknowledged_finding(every_synth: Synth) -> None:
    # An unacknowledged finding (warnings too) would have failed the synth in the fixture.
    assert findings(every_synth.validation_report) == set()


def test_both_packs_run_and_an_unacknowledged_finding_fails_the_synth(
    unacknowledged: tuple[Path, list[NagAcknowledgement]],
) -> None:
    outdir, _ = unacknowledged
    report = json.loads((outdir / "validation-report.json").read_text())
    conclusions = {plugin["pluginName"]: plugin["conclusion"] for plugin in report["pluginReports"]}
    assert conclusions["AwsSolutions"] == conclusions["Serverless"] == "failure"
    # CDK's own warnings (annotations) are reported beside the two packs, and acknowledged the same way.
    assert set(conclusions) <= {"AwsSolutions", "Serverless", "Construct Annotations"}


def test_each_acknowledgement_matches_a_real_finding_and_covers_all(
    unacknowledged: tuple[Path, list[NagAcknowledgement]],
) -> None:
    outdir, acknowledgements = unacknowledged
    found = findings(json.loads((outdir / "validation-report.json").read_text()))

    def covers(acknowledgement: NagAcknowledgement, rule: str, path: str) -> bool:
        scope = acknowledgement.scope.node.path
        same_rule = acknowledgement.rule == rule.removeprefix("Annotation::")
        return same_rule and (path == scope or path.startswith(scope + "/"))

    uncovered = {
        (rule, path) for _, rule, path in found if not any(covers(a, rule, path) for a in acknowledgements)
    }
    assert uncovered == set()
    stale = [a.rule for a in acknowledgements if not any(covers(a, rule, path) for _, rule, path in found)]
    assert stale == [], "acknowledgements of findings that no longer occur"


def test_acknowledgements_name_their_rule_and_resource_and_give_a_reason(every_synth: Synth) -> None:
    recorded = {
        (path.lstrip("/"), rule.removeprefix("Annotation::")): reason
        for path, entries in every_synth.metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    expected = {(a.scope.node.path, a.rule): a.reason for a in every_synth.stack.nag_acknowledgements()}
    assert recorded == expected
    for (path, rule), reason in recorded.items():
        assert path != every_synth.stack.stack_name, f"{rule} is acknowledged for the whole stack"
        assert len(reason) >= 80, f"{rule} on {path}: the reason is too thin to review"


def cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CFN_LINT), "--format", "parseable", str(template)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cfn_lint_is_clean_on_the_template(every_synth: Synth, tmp_path: Path) -> None:
    template = tmp_path / f"{every_synth.stack.stack_name}.template.json"
    template.write_text(json.dumps(every_synth.json), encoding="utf-8")
    result = cfn_lint(template)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_ignores_only_what_cdk_generates(every_synth: Synth) -> None:
    ignored = {
        logical_id: resource["Metadata"]["cfn-lint"]["config"]["ignore_checks"]
        for logical_id, resource in every_synth.json["Resources"].items()
        if "cfn-lint" in resource.get("Metadata", {})
    }
    # W3005: CDK's explicit DependsOn on the function's role, already implied by Role: !GetAtt.
    functions = (
        every_synth.stack.api_function.function,
        every_synth.stack.call_events.events_function,
        every_synth.stack.call_events.delivery_function,
        every_synth.stack.signaling.function,
    )
    expected = {every_synth.logical_id(function): ["W3005"] for function in functions}
    # The same redundancy in the CDK's own BucketDeployment function (infra/site.py).
    expected[every_synth.logical_id(every_synth.stack.site.deployment_function)] = ["W3005"]
    assert ignored == expected


def test_cfn_lint_does_fail_a_broken_template(tmp_path: Path) -> None:
    broken = {
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {"BillingMode": "ON_A_WHIM", "KeySchema": []},
            }
        }
    }
    template = tmp_path / "broken.template.json"
    template.write_text(json.dumps(broken), encoding="utf-8")
    assert cfn_lint(template).returncode != 0
