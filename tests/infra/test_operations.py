"""Alarms, their topic, the dashboard, the outputs and the stack's own settings."""

from __future__ import annotations

import json
from typing import Any

from calls import tables

from infra.data import (
    EVENTS_TABLE_OPERATIONS,
    SIGNALING_TABLE_OPERATIONS,
    TABLE_OPERATIONS,
    alarmed_operations,
)
from tests.infra.conftest import Synth

OUTPUT_KEYS = {
    "SiteUrl",
    "DistributionDomainName",
    "ApiUrl",
    "CreateCallUrl",
    "AppsTableName",
    "CallsTableName",
    "IdempotencyTableName",
    "JoinBaseUrl",
    "AlarmTopicArn",
    "DashboardName",
    "WebhooksTableName",
    "EventBusName",
    "DeliveryDeadLetterQueueUrl",
    "SignalingUrl",
    "ConnectionsTableName",
    "RecordingsTableName",
    "RecordingsBucketName",
}


def alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def alarm(synth: Synth, suffix: str) -> dict[str, Any]:
    return alarms(synth)[f"VideoCallsApi-{synth.stage}-{suffix}"]


def test_the_issues_alarms_exist_and_notify_the_topic(synth: Synth) -> None:
    topic_id = synth.logical_id(synth.stack.monitoring.topic)
    assert set(alarms(synth)) == {
        f"VideoCallsApi-{synth.stage}-{suffix}"
        for suffix in (
            "function-errors",
            "function-throttles",
            "api-5xx",
            "api-latency-p99",
            *(f"{schema.purpose}-table-throttled-requests" for schema in tables.ALL_TABLES),
            # Section 7's (tests/infra/test_events.py looks at each).
            "webhook-dead-letters",
            "events-stream-failures",
            "events-iterator-age",
            "events-function-errors",
            "delivery-function-errors",
            # Signaling's (tests/infra/test_signaling.py looks at each).
            "signaling-function-errors",
            "signaling-5xx",
            "signaling-4xx",
            "signaling-stream-failures",
        )
    }
    for properties in alarms(synth).values():
        assert properties["AlarmActions"] == [{"Ref": topic_id}]
        assert properties["OKActions"] == [{"Ref": topic_id}]
        assert properties["TreatMissingData"] == "notBreaching"


def test_function_alarms_watch_this_function(synth: Synth) -> None:
    function_id = synth.logical_id(synth.stack.api_function.function)
    for suffix, metric in (("function-errors", "Errors"), ("function-throttles", "Throttles")):
        properties = alarm(synth, suffix)
        assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Lambda", metric)
        assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
        assert properties["Threshold"] == 1


def test_api_alarms_watch_5xx_and_p99_latency(synth: Synth) -> None:
    server_errors = alarm(synth, "api-5xx")
    assert (server_errors["Namespace"], server_errors["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    latency = alarm(synth, "api-latency-p99")
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("Latency", "p99")
    assert latency["Threshold"] == int(synth.context["latencyP99AlarmMs"])


def test_each_table_has_a_throttled_requests_alarm_over_its_operations(synth: Synth) -> None:
    for schema in tables.ALL_TABLES:
        table_id = synth.logical_id(synth.stack.data.tables[schema.purpose])
        metrics = alarm(synth, f"{schema.purpose}-table-throttled-requests")["Metrics"]
        stats = [metric["MetricStat"]["Metric"] for metric in metrics if "MetricStat" in metric]
        assert {stat["MetricName"] for stat in stats} == {"ThrottledRequests"}
        operations = set()
        for stat in stats:
            dimensions = {d["Name"]: d["Value"] for d in stat["Dimensions"]}
            assert dimensions["TableName"] == {"Ref": table_id}
            operations.add(dimensions["Operation"])
        assert operations == set(alarmed_operations(schema.purpose))


def test_alarm_operations_are_the_granted_ones() -> None:
    assert set(TABLE_OPERATIONS) | set(EVENTS_TABLE_OPERATIONS) | set(SIGNALING_TABLE_OPERATIONS) == {
        schema.purpose for schema in tables.ALL_TABLES
    }
    assert alarmed_operations(tables.CONNECTIONS.purpose) == SIGNALING_TABLE_OPERATIONS["connections"]
    # The listing's Query on the calls indexes is granted on the indexes, alarmed on the table.
    assert alarmed_operations(tables.CALLS.purpose) == ("GetItem", "PutItem", "UpdateItem", "Query")
    assert alarmed_operations(tables.APPS.purpose) == ("Query",)


def test_topic_requires_tls_and_subscribes_the_email_only_when_given(
    synth_dev: Synth, synth_prod: Synth
) -> None:
    for synth in (synth_dev, synth_prod):
        (policy,) = synth.resources("AWS::SNS::TopicPolicy").values()
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert denies
        assert denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert synth_dev.resources("AWS::SNS::Subscription") == {}
    (subscription,) = synth_prod.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == synth_prod.context["alarmEmail"]


def test_dashboard_shows_the_alarmed_figures(synth: Synth) -> None:
    _, dashboard = synth.one("AWS::CloudWatch::Dashboard")
    assert dashboard["Properties"]["DashboardName"] == f"VideoCallsApi-{synth.stage}"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for figure in (
        "5XXError",
        "Latency",
        "Errors",
        "Throttles",
        "Duration",
        "ThrottledRequests",
        "CallCreated",
    ):
        assert figure in body, figure
    assert "alarm" in body  # the alarm status widget


def test_outputs_have_stable_keys(synth: Synth) -> None:
    outputs = synth.json["Outputs"]
    assert set(outputs) == OUTPUT_KEYS
    stack = synth.stack
    assert outputs["AppsTableName"]["Value"] == {"Ref": synth.logical_id(stack.data.apps_table)}
    assert outputs["CallsTableName"]["Value"] == {"Ref": synth.logical_id(stack.data.calls_table)}
    assert outputs["IdempotencyTableName"]["Value"] == {"Ref": synth.logical_id(stack.data.idempotency_table)}
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": synth.logical_id(stack.monitoring.topic)}
    # The function's own JOIN_BASE_URL: what `callsctl --stack` builds guest links with.
    function = synth.json["Resources"][synth.logical_id(stack.api_function.function)]
    join_base_url = function["Properties"]["Environment"]["Variables"]["JOIN_BASE_URL"]
    assert outputs["JoinBaseUrl"]["Value"] == join_base_url == synth.join_base_url
    assert outputs["SiteUrl"]["Value"] == synth.site_url


def test_urls_point_at_the_stage_and_the_create_call_route(synth: Synth) -> None:
    outputs = synth.json["Outputs"]
    api_url = json.dumps(outputs["ApiUrl"]["Value"])
    api_id, _ = synth.one("AWS::ApiGateway::RestApi")
    stage_id, stage = synth.one("AWS::ApiGateway::Stage")
    assert stage["Properties"]["StageName"] == synth.stage
    assert api_id in api_url
    assert json.dumps({"Ref": stage_id}) in api_url
    # Clients create calls on the site's origin, through the distribution.
    site_url = synth.site_url
    create_url = outputs["CreateCallUrl"]["Value"]
    if isinstance(site_url, str):
        assert create_url == f"{site_url}/api/calls"
    else:
        assert create_url == {"Fn::Join": ["", [*site_url["Fn::Join"][1], "/api/calls"]]}


def test_stack_name_carries_the_stage_and_prod_is_termination_protected(
    synth_dev: Synth, synth_prod: Synth
) -> None:
    assert synth_dev.stack.stack_name == "VideoCallsApi-dev"
    assert synth_prod.stack.stack_name == "VideoCallsApi-prod"
    assert synth_dev.stack.termination_protection is False
    assert synth_prod.stack.termination_protection is True


def test_resources_are_tagged_with_project_and_stage(synth: Synth) -> None:
    function = synth.json["Resources"][synth.logical_id(synth.stack.api_function.function)]
    tags = {tag["Key"]: tag["Value"] for tag in function["Properties"]["Tags"]}
    assert tags == {"project": "video-calls-api", "stage": synth.stage}
