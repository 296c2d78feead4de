"""The recordings bucket in the template (infra/recordings.py): private, encrypted, TLS only, not
versioned, kept `recordingRetentionDays`, incomplete uploads gone after a day, CORS for the join
links' origin; and each function's grants on `recordings/*` only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from infra.config import ConfigError, load_config
from infra.recordings import Recordings
from tests.infra.conftest import CDK_CONTEXT, Synth


def bucket(synth: Synth) -> dict[str, Any]:
    found: dict[str, Any] = synth.json["Resources"][synth.logical_id(synth.stack.recordings.bucket)]
    return found


def test_the_bucket_is_private_encrypted_unversioned_and_retained(synth: Synth) -> None:
    properties = bucket(synth)["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert "VersioningConfiguration" not in properties
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket(synth)["DeletionPolicy"] == "Retain"


def test_the_bucket_refuses_every_request_without_tls(synth: Synth) -> None:
    bucket_id = synth.logical_id(synth.stack.recordings.bucket)
    (policy,) = [
        resource["Properties"]
        for resource in synth.resources("AWS::S3::BucketPolicy").values()
        if resource["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_recordings_expire_after_the_retention_and_unfinished_uploads_after_a_day(synth: Synth) -> None:
    rules = {rule["Id"]: rule for rule in bucket(synth)["Properties"]["LifecycleConfiguration"]["Rules"]}
    days = int(synth.context.get("recordingRetentionDays", 30))
    assert rules["ExpireRecordings"] == {
        "Id": "ExpireRecordings",
        "Prefix": "recordings/",
        "ExpirationInDays": days,
        "Status": "Enabled",
    }
    assert rules["AbortIncompleteUploads"] == {
        "Id": "AbortIncompleteUploads",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "Status": "Enabled",
    }


def test_cors_lets_the_join_links_origin_put_parts_and_read_their_etag(synth: Synth) -> None:
    (rule,) = bucket(synth)["Properties"]["CorsConfiguration"]["CorsRules"]
    # The join links' base: cdk.json's joinBaseUrl, else the site's own origin (the distribution).
    assert rule["AllowedOrigins"] == [synth.join_base_url]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD", "PUT"]
    assert rule["ExposedHeaders"] == ["ETag"]


def object_grants(synth: Synth, role: Any) -> list[dict[str, Any]]:
    role_id = synth.logical_id(role)
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(action).startswith("s3:") for action in _list(statement["Action"]))
    ]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_api_function_may_touch_recording_objects_only(synth: Synth) -> None:
    (statement,) = object_grants(synth, synth.stack.api_function.role)
    assert sorted(statement["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
    ]
    bucket_id = synth.logical_id(synth.stack.recordings.bucket)
    assert statement["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/recordings/*"]]}
    variables = synth.json["Resources"][synth.logical_id(synth.stack.api_function.function)]["Properties"][
        "Environment"
    ]["Variables"]
    assert variables["RECORDINGS_BUCKET_NAME"] == {"Ref": bucket_id}


def test_no_other_function_may_touch_the_bucket(synth: Synth) -> None:
    bucket_id = synth.logical_id(synth.stack.recordings.bucket)
    events = synth.stack.call_events
    for role in (events.events_role, events.delivery_role):
        assert object_grants(synth, role) == []
    mentions = {
        logical_id
        for logical_id, resource in synth.json["Resources"].items()
        if resource["Type"] == "AWS::IAM::Policy" and bucket_id in json.dumps(resource)
    }
    # The API function's policy and the signaling function's (completing what a page left).
    assert mentions == {
        synth.logical_id(synth.stack.api_function.role.node.find_child("DefaultPolicy")),
        synth.logical_id(synth.stack.signaling.role.node.find_child("DefaultPolicy")),
    }


def test_grant_signaling_gives_a_function_the_objects_and_the_table() -> None:
    """The lead's signaling construct calls this; here on a stand-in function."""
    app = App()
    stack = Stack(app, "Probe")
    table = dynamodb.Table(
        stack, "Table", partition_key=dynamodb.Attribute(name="callId", type=dynamodb.AttributeType.STRING)
    )
    config = load_config(_Context(CDK_CONTEXT))
    recordings = Recordings(
        stack, "Recordings", config=config, table=table, page_origin="https://video.example"
    )
    function = lambda_.Function(
        stack,
        "Signaling",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="signaling.handler.lambda_handler",
        code=lambda_.Code.from_inline("x = 1"),
    )
    recordings.grant_signaling(function)
    template = Template.from_stack(stack).to_json()
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert sorted(statements["RecordingObjects"]["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
    ]
    assert statements["RecordingObjects"]["Resource"]["Fn::Join"][1][1] == "/recordings/*"
    assert sorted(statements["RecordingsTable"]["Action"]) == [
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ]
    (lambda_function,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    variables = lambda_function["Properties"]["Environment"]["Variables"]
    assert set(variables) == {"RECORDINGS_TABLE_NAME", "RECORDINGS_BUCKET_NAME", "RECORDING_RETENTION_DAYS"}


class _Context:
    def __init__(self, values: dict[str, Any]):
        self._values = values

    def try_get_context(self, key: str) -> Any:
        return self._values.get(key)


@pytest.mark.parametrize("days", ["0", "3651", "1.5", "soon"])
def test_retention_must_be_whole_days_within_bounds(days: str) -> None:
    with pytest.raises(ConfigError, match="recordingRetentionDays"):
        load_config(_Context({**CDK_CONTEXT, "recordingRetentionDays": days}))
