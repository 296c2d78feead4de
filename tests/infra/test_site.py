"""The site's static files (infra/site.py): the layout of the bucket, what a deploy copies into it and
with which cache headers, that the distribution is cleared after, and the private bucket itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localrun import static

from infra import distribution, site
from tests.conftest import ROOT
from tests.infra.conftest import Synth

WIDGET = ROOT / "widget"


def files_under(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def expected_layout() -> dict[str, bytes]:
    layout = {f"call/{name}": data for name, data in files_under(WIDGET / "call").items()}
    layout |= {f"genesys/{name}": data for name, data in files_under(WIDGET / "genesys").items()}
    layout["widget/v1/video-calls-widget.js"] = (WIDGET / "video-calls-widget.js").read_bytes()
    return layout


def test_the_bucket_holds_the_page_the_panel_and_the_widget_script(tmp_path: Path) -> None:
    staged = site.stage_site_files(tmp_path / "site")
    assert files_under(staged) == expected_layout()
    # The local run's demo page carries the demo app's key: never deployed.
    assert not any(name.endswith("demo.html") for name in files_under(staged))


def test_editor_and_tool_leftovers_do_not_ship(tmp_path: Path) -> None:
    widget = tmp_path / "widget"
    for folder in ("call", "genesys"):
        (widget / folder).mkdir(parents=True)
        (widget / folder / "index.html").write_text("<!doctype html>")
        (widget / folder / ".index.html.swp").write_text("x")
        (widget / folder / "app.js~").write_text("x")
    (widget / "call" / "node_modules").mkdir()
    (widget / "call" / "node_modules" / "x.js").write_text("x")
    (widget / "video-calls-widget.js").write_text("//")
    staged = site.stage_site_files(tmp_path / "site", widget_dir=widget)
    assert sorted(files_under(staged)) == [
        "call/index.html",
        "genesys/index.html",
        "widget/v1/video-calls-widget.js",
    ]


def test_every_file_path_the_local_run_serves_is_in_the_bucket_at_the_same_path() -> None:
    """The local run is the deployed site's model (tools/localrun/static.py): same paths, same files."""
    layout = expected_layout()
    assert static.WIDGET_SCRIPT_PATH.lstrip("/") in layout
    assert static.GENESYS_SCRIPT_PATH.lstrip("/") in layout
    assert f"{static.GENESYS_PAGE_PATH.lstrip('/')}index.html" in layout
    for name in files_under(static.CALL_PAGE_DIR):
        assert f"{static.CALL_ASSETS_PREFIX.lstrip('/')}{name}" in layout
    # And the pages the distribution's function serves for /c/{callId} and /genesys/.
    assert distribution.CALL_PAGE.lstrip("/") in layout
    assert distribution.GENESYS_PAGE.lstrip("/") in layout


def deployment(synth: Synth) -> dict[str, Any]:
    _, found = synth.one("Custom::CDKBucketDeployment")
    properties: dict[str, Any] = found["Properties"]
    return properties


def test_a_deploy_copies_the_staged_files_into_the_site_bucket(synth: Synth) -> None:
    properties = deployment(synth)
    assert properties["DestinationBucketName"] == {"Ref": synth.logical_id(synth.stack.site.bucket)}
    assert "DestinationBucketKeyPrefix" not in properties
    (key,) = properties["SourceObjectKeys"]
    assets = json.loads((synth.outdir / f"{synth.stack.stack_name}.assets.json").read_text())
    source = assets["files"][key.removesuffix(".zip")]["source"]
    assert source["packaging"] == "zip"
    assert files_under(synth.outdir / source["path"]) == expected_layout()
    # Files removed from widget/ leave the bucket; the stack's removal takes the files along.
    assert properties["Prune"] is True
    assert properties["RetainOnDelete"] is False


def test_files_are_cached_five_minutes_by_browsers_and_a_day_by_the_distribution(synth: Synth) -> None:
    assert deployment(synth)["SystemMetadata"] == {"cache-control": "public, max-age=300, s-maxage=86400"}


def test_each_deploy_that_changes_the_files_clears_the_distribution(synth: Synth) -> None:
    properties = deployment(synth)
    assert properties["DistributionId"] == {"Ref": synth.logical_id(synth.stack.distribution.distribution)}
    assert properties["DistributionPaths"] == ["/*"]
    assert properties["WaitForDistributionInvalidation"] is True


def test_the_bucket_is_private_encrypted_and_taken_along_with_the_stack(synth: Synth) -> None:
    bucket = synth.json["Resources"][synth.logical_id(synth.stack.site.bucket)]
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in properties
    assert "AccessControl" not in properties
    # Nothing in it but files a deploy writes again: it goes with the stack, prod's too.
    assert bucket["DeletionPolicy"] == "Delete"


def test_the_deployment_function_reaches_the_two_buckets_and_invalidations_only(synth: Synth) -> None:
    role = synth.stack.site.deployment_function.node.find_child("ServiceRole")
    role_id = synth.logical_id(role)
    (policy,) = [
        each["Properties"]["PolicyDocument"]
        for each in synth.resources("AWS::IAM::Policy").values()
        if each["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    bucket_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.site.bucket), "Arn"]}
    reached = json.dumps([statement["Resource"] for statement in policy["Statement"]])
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Resource"] == "*":
            assert sorted(actions) == ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"]
        else:
            assert all(action.startswith("s3:") for action in actions)
    assert json.dumps(bucket_arn) in reached
    assert "cdk-hnb659fds-assets-" in reached
    assert synth.json["Resources"][role_id]["Properties"]["ManagedPolicyArns"] == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                ],
            ]
        }
    ]


def test_the_deployment_function_logs_with_the_stages_retention(synth: Synth) -> None:
    function = synth.json["Resources"][synth.logical_id(synth.stack.site.deployment_function)]
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = synth.json["Resources"][log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == int(synth.context["logRetentionDays"])
