"""Section 7 in the template: the calls stream, the events and delivery functions, the bus, the
queues and their alarms, and what each role may do."""

from __future__ import annotations

import json
from typing import Any

from callevents import envelope, retry
from calls import tables

from infra import events as call_events
from tests.infra.conftest import Synth


def resource(synth: Synth, construct: Any) -> dict[str, Any]:
    found: dict[str, Any] = synth.json["Resources"][synth.logical_id(construct)]
    return found


def ref(synth: Synth, construct: Any) -> dict[str, str]:
    return {"Ref": synth.logical_id(construct)}


def arn(synth: Synth, construct: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(construct), "Arn"]}


def test_the_calls_table_streams_new_and_old_images_per_the_shared_schema(synth: Synth) -> None:
    properties = resource(synth, synth.stack.data.calls_table)["Properties"]
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert tables.CALLS.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert tables.create_table_request(tables.CALLS, "x")["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    for other in (
        synth.stack.data.apps_table,
        synth.stack.data.idempotency_table,
        synth.stack.data.webhooks_table,
    ):
        assert "StreamSpecification" not in resource(synth, other)["Properties"]


def test_both_functions_run_like_the_api_function_with_their_own_log_groups(synth: Synth) -> None:
    events = synth.stack.call_events
    api = resource(synth, synth.stack.api_function.function)["Properties"]
    handlers = {}
    for function, log_group in (
        (events.events_function, events.events_log_group),
        (events.delivery_function, events.delivery_log_group),
    ):
        properties = resource(synth, function)["Properties"]
        handlers[synth.logical_id(function)] = properties["Handler"]
        assert properties["Runtime"] == api["Runtime"]
        assert properties["Architectures"] == ["arm64"]
        assert properties["Layers"] == api["Layers"]  # the same pinned Powertools layer
        assert properties["Code"] != api["Code"]  # its own asset: calls/ and callevents/
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["LoggingConfig"]["LogGroup"] == ref(synth, log_group)
        assert resource(synth, log_group)["Properties"]["RetentionInDays"] == int(
            synth.context["logRetentionDays"]
        )
        variables = properties["Environment"]["Variables"]
        assert variables["WEBHOOKS_TABLE_NAME"] == ref(synth, synth.stack.data.webhooks_table)
        assert variables["DELIVERY_QUEUE_URL"] == ref(synth, events.delivery_queue)
        assert variables["JOIN_BASE_URL"] == synth.join_base_url
    assert sorted(handlers.values()) == [
        "callevents.delivery_handler.lambda_handler",
        "callevents.stream_handler.lambda_handler",
    ]
    bus_name = resource(synth, events.events_function)["Properties"]["Environment"]["Variables"][
        "EVENT_BUS_NAME"
    ]
    assert bus_name == ref(synth, events.bus)


def test_the_events_function_reads_the_stream_with_partial_failures_and_an_on_failure_queue(
    synth: Synth,
) -> None:
    events = synth.stack.call_events
    mappings = [
        mapping["Properties"]
        for mapping in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if mapping["Properties"]["FunctionName"] == ref(synth, events.events_function)
    ]
    # The calls table's stream (the call events) and the recordings table's (`recording.ready`).
    assert sorted(json.dumps(stream["EventSourceArn"]) for stream in mappings) == sorted(
        json.dumps({"Fn::GetAtt": [synth.logical_id(table), "StreamArn"]})
        for table in (synth.stack.data.calls_table, synth.stack.data.recordings_table)
    )
    for stream in mappings:
        assert stream["StartingPosition"] == "TRIM_HORIZON"
        assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert stream["BisectBatchOnFunctionError"] is True
        assert stream["MaximumRetryAttempts"] == call_events.STREAM_RETRY_ATTEMPTS
        assert stream["DestinationConfig"]["OnFailure"]["Destination"] == arn(
            synth, events.stream_failures_queue
        )


def test_the_delivery_queue_retries_per_the_schedule_then_dead_letters(synth: Synth) -> None:
    events = synth.stack.call_events
    queue = resource(synth, events.delivery_queue)["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": arn(synth, events.dead_letter_queue),
        # The documented schedule's eight attempts, written out: not the constant held to itself.
        "maxReceiveCount": 8,
    }
    assert retry.MAX_ATTEMPTS == 8
    # At least 5 attempts over at least an hour, and nothing expires before the last one.
    assert retry.MAX_ATTEMPTS >= 5
    assert retry.schedule_span_seconds() >= 3600
    assert queue["MessageRetentionPeriod"] > retry.schedule_span_seconds()
    assert max(retry.RETRY_DELAYS_SECONDS) <= retry.SQS_MAX_VISIBILITY_SECONDS
    delivery_timeout = resource(synth, events.delivery_function)["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * delivery_timeout
    (mapping,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == ref(synth, events.delivery_function)
    ]
    assert mapping["EventSourceArn"] == arn(synth, events.delivery_queue)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == call_events.DELIVERY_BATCH_SIZE


def test_every_queue_is_encrypted_and_refuses_plain_http(synth: Synth) -> None:
    queues = synth.resources("AWS::SQS::Queue")
    assert len(queues) == 4  # the events' three, and signaling's stream failures queue
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    policies = synth.resources("AWS::SQS::QueuePolicy").values()
    protected = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                protected.update(json.dumps(queue) for queue in policy["Properties"]["Queues"])
    assert len(protected) == len(queues)


def test_a_custom_bus_and_the_source_name(synth: Synth) -> None:
    (bus,) = synth.resources("AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"]
    assert call_events.EVENT_SOURCE is envelope.EVENT_SOURCE  # imported, not copied
    assert envelope.EVENT_SOURCE == "video-calls"


def statements(synth: Synth, role: Any) -> set[tuple[frozenset[str], str]]:
    role_id = synth.logical_id(role)
    documents = [
        policy["PolicyDocument"]
        for policy in synth.json["Resources"][role_id]["Properties"].get("Policies", [])
    ]
    documents += [
        policy["Properties"]["PolicyDocument"]
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]
    found = set()
    for document in documents:
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for resource_ in resources:
                found.add((frozenset(actions), json.dumps(resource_, sort_keys=True)))
    return found


def test_each_role_may_do_what_its_function_needs_and_no_more(synth: Synth) -> None:
    events = synth.stack.call_events

    def key(actions: set[str], target: Any) -> tuple[frozenset[str], str]:
        return frozenset(actions), json.dumps(target, sort_keys=True)

    xray = key({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, "*")
    webhooks = key({"dynamodb:GetItem"}, arn(synth, synth.stack.data.webhooks_table))
    stream_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.data.calls_table), "StreamArn"]}
    recordings_stream_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.data.recordings_table), "StreamArn"]}

    events_granted = statements(synth, events.events_role)
    assert events_granted == {
        # IAM minimization merges the statements without a resource.
        key({"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}, "*"),
        webhooks,
        key({"logs:CreateLogStream", "logs:PutLogEvents"}, arn(synth, events.events_log_group)),
        key({"events:PutEvents"}, arn(synth, events.bus)),
        key({"sqs:SendMessage"}, arn(synth, events.delivery_queue)),
        key({"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}, stream_arn),
        key(
            {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
            recordings_stream_arn,
        ),
        key(
            {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
            arn(synth, events.stream_failures_queue),
        ),
    }
    delivery_granted = statements(synth, events.delivery_role)
    assert delivery_granted == {
        xray,
        webhooks,
        key({"logs:CreateLogStream", "logs:PutLogEvents"}, arn(synth, events.delivery_log_group)),
        key(
            {
                "sqs:ReceiveMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueUrl",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            },
            arn(synth, events.delivery_queue),
        ),
    }
    # The API function cannot read webhooks (their secrets) at all.
    api_text = json.dumps(synth.json["Resources"][synth.logical_id(synth.stack.api_function.role)])
    assert synth.logical_id(synth.stack.data.webhooks_table) not in api_text


def test_alarms_on_dead_letters_iterator_age_and_function_errors(synth: Synth) -> None:
    events = synth.stack.call_events
    topic = {"Ref": synth.logical_id(synth.stack.monitoring.topic)}
    by_name = {
        alarm["Properties"]["AlarmName"].removeprefix(f"VideoCallsApi-{synth.stage}-"): alarm["Properties"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
    }
    expectations = {
        "webhook-dead-letters": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            events.dead_letter_queue,
        ),
        "events-stream-failures": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            events.stream_failures_queue,
        ),
        "events-iterator-age": ("AWS/Lambda", "IteratorAge", "FunctionName", events.events_function),
        "events-function-errors": ("AWS/Lambda", "Errors", "FunctionName", events.events_function),
        "delivery-function-errors": ("AWS/Lambda", "Errors", "FunctionName", events.delivery_function),
    }
    for name, (namespace, metric, dimension, construct) in expectations.items():
        alarm = by_name[name]
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric), name
        (found,) = alarm["Dimensions"]
        assert found["Name"] == dimension
        assert synth.logical_id(construct) in json.dumps(found["Value"]), name
        assert alarm["AlarmActions"] == [topic]
    assert by_name["events-iterator-age"]["Threshold"] == call_events.ITERATOR_AGE_ALARM_MS
    assert by_name["webhook-dead-letters"]["Threshold"] == 1
