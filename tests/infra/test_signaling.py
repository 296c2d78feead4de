"""Signaling in the template (docs/behaviour.md section 9.4): the WebSocket API, its routes and
authorizer, the one function behind them, what that function may do, the calls stream's ended
calls, and the alarms."""

from __future__ import annotations

import json
from typing import Any

from calls import tables

from infra import signaling
from tests.infra.conftest import Synth
from tests.infra.test_events import ref, resource


def routes(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in synth.resources("AWS::ApiGatewayV2::Route").values()
    }


def test_the_websocket_api_selects_routes_by_action(synth: Synth) -> None:
    _, api = synth.one("AWS::ApiGatewayV2::Api")
    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert api["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    assert set(routes(synth)) == {"$connect", "$disconnect", "$default", "hello", "signal", "ping"}


def test_every_route_goes_to_the_one_signaling_function(synth: Synth) -> None:
    function_id = synth.logical_id(synth.stack.signaling.function)
    integrations = synth.resources("AWS::ApiGatewayV2::Integration")
    for route_key, route in routes(synth).items():
        integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
        uri = json.dumps(integrations[integration_id]["Properties"]["IntegrationUri"])
        assert function_id in uri, route_key
    assert resource(synth, synth.stack.signaling.function)["Properties"]["Handler"] == (
        "signaling.handler.lambda_handler"
    )


def test_only_connect_is_authorized_by_the_token_in_its_query(synth: Synth) -> None:
    (authorizer_id, authorizer), *others = synth.resources("AWS::ApiGatewayV2::Authorizer").items()
    assert others == []
    properties = authorizer["Properties"]
    assert properties["AuthorizerType"] == "REQUEST"
    assert properties["IdentitySource"] == ["route.request.querystring.token"]
    assert synth.logical_id(synth.stack.signaling.function) in json.dumps(properties["AuthorizerUri"])
    for route_key, route in routes(synth).items():
        if route_key == "$connect":
            assert route["AuthorizationType"] == "CUSTOM"
            assert route["AuthorizerId"] == {"Ref": authorizer_id}
        else:
            assert route.get("AuthorizationType", "NONE") == "NONE", route_key


def test_the_stage_is_throttled_and_logs_without_the_query(synth: Synth) -> None:
    _, stage = synth.one("AWS::ApiGatewayV2::Stage")
    properties = stage["Properties"]
    assert properties["StageName"] == synth.stage
    assert properties["AutoDeploy"] is True
    assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"] == float(
        synth.context["throttlingRateLimit"]
    )
    log_format = properties["AccessLogSettings"]["Format"]
    # The token travels in the query string: no access log line may hold it.
    assert "querystring" not in log_format.lower()
    assert "$context.requestId" in log_format
    assert properties["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": [synth.logical_id(synth.stack.signaling.access_log_group), "Arn"]
    }


def statements_of(synth: Synth, role: Any) -> list[dict[str, Any]]:
    role_id = synth.logical_id(role)
    found = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def test_the_function_may_post_to_this_stages_connections_only(synth: Synth) -> None:
    api_id = synth.logical_id(synth.stack.signaling.api)
    statements = statements_of(synth, synth.stack.signaling.role)
    (manage,) = [s for s in statements if s["Action"] == "execute-api:ManageConnections"]
    resource_text = json.dumps(manage["Resource"])
    assert api_id in resource_text
    assert f"/{synth.stage}/*/@connections/*" in resource_text


def test_the_function_calls_exactly_its_table_operations(synth: Synth) -> None:
    statements = statements_of(synth, synth.stack.signaling.role)
    data = synth.stack.data
    by_table = {
        json.dumps(statement["Resource"]): sorted(
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for statement in statements
        if str(statement.get("Sid", "")).endswith("Table")
    }
    assert by_table == {
        json.dumps({"Fn::GetAtt": [synth.logical_id(data.connections_table), "Arn"]}): sorted(
            f"dynamodb:{operation}"
            for operation in ("PutItem", "UpdateItem", "Query", "GetItem", "DeleteItem")
        ),
        json.dumps({"Fn::GetAtt": [synth.logical_id(data.calls_table), "Arn"]}): ["dynamodb:GetItem"],
        # Completing what an agent's page left (infra/recordings.py).
        json.dumps({"Fn::GetAtt": [synth.logical_id(data.recordings_table), "Arn"]}): sorted(
            f"dynamodb:{operation}" for operation in ("GetItem", "Query", "UpdateItem", "DeleteItem")
        ),
    }


def test_the_function_completes_recordings_on_their_objects_only(synth: Synth) -> None:
    statements = statements_of(synth, synth.stack.signaling.role)
    bucket = synth.logical_id(synth.stack.recordings.bucket)
    (objects,) = [s for s in statements if s.get("Sid") == "RecordingObjects"]
    assert objects["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/recordings/*"]]}
    variables = resource(synth, synth.stack.signaling.function)["Properties"]["Environment"]["Variables"]
    assert variables["RECORDINGS_BUCKET_NAME"] == ref(synth, synth.stack.recordings.bucket)
    assert variables["RECORDINGS_TABLE_NAME"] == ref(synth, synth.stack.data.recordings_table)


def test_the_connections_table_is_the_shared_schemas(synth: Synth) -> None:
    properties = resource(synth, synth.stack.data.connections_table)["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "callId", "KeyType": "HASH"},
        {"AttributeName": "role", "KeyType": "RANGE"},
    ]
    assert properties["TimeToLiveSpecification"] == {
        "AttributeName": tables.CONNECTIONS.ttl_attribute,
        "Enabled": True,
    }


def test_the_function_hears_of_every_ended_call_from_the_calls_stream(synth: Synth) -> None:
    function_id = synth.logical_id(synth.stack.signaling.function)
    (mapping,) = [
        mapping["Properties"]
        for mapping in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if mapping["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert mapping["EventSourceArn"] == {
        "Fn::GetAtt": [synth.logical_id(synth.stack.data.calls_table), "StreamArn"]
    }
    assert mapping["StartingPosition"] == "LATEST"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [synth.logical_id(synth.stack.signaling.stream_failures_queue), "Arn"]
    }
    patterns = [json.loads(item["Pattern"]) for item in mapping["FilterCriteria"]["Filters"]]
    assert patterns == [
        {
            "eventName": ["MODIFY"],
            "dynamodb": {
                "NewImage": {"status": {"S": ["ended"]}},
                "OldImage": {"status": {"S": ["created"]}},
            },
        },
        {"eventName": ["REMOVE"], "dynamodb": {"OldImage": {"status": {"S": ["created"]}}}},
    ]


def test_the_function_knows_its_tables_its_management_endpoint_and_the_token_key(synth: Synth) -> None:
    variables = resource(synth, synth.stack.signaling.function)["Properties"]["Environment"]["Variables"]
    data = synth.stack.data
    assert variables["CONNECTIONS_TABLE_NAME"] == ref(synth, data.connections_table)
    assert variables["CALLS_TABLE_NAME"] == ref(synth, data.calls_table)
    callback = json.dumps(variables["SIGNALING_CALLBACK_URL"])
    assert callback.startswith('{"Fn::Join"')
    assert synth.logical_id(synth.stack.signaling.api) in callback
    assert f"/{synth.stage}" in callback
    api_variables = resource(synth, synth.stack.api_function.function)["Properties"]["Environment"][
        "Variables"
    ]
    # One key: the join signs with it, the authorizer checks with it.
    assert variables["SIGNALING_TOKEN_KEY"] == api_variables["SIGNALING_TOKEN_KEY"]
    assert "{{resolve:secretsmanager:" in json.dumps(variables["SIGNALING_TOKEN_KEY"])


def test_the_alarms_watch_the_function_the_api_and_the_stream_failures(synth: Synth) -> None:
    alarms = {
        properties["AlarmName"]: properties
        for properties in (a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values())
    }
    prefix = f"VideoCallsApi-{synth.stage}-signaling-"
    assert alarms[prefix + "function-errors"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": ref(synth, synth.stack.signaling.function)}
    ]
    five_xx = json.dumps(alarms[prefix + "5xx"]["Metrics"])
    assert "IntegrationError" in five_xx
    assert "ExecutionError" in five_xx
    assert alarms[prefix + "4xx"]["MetricName"] == "ClientError"
    assert alarms[prefix + "4xx"]["Threshold"] == signaling.CLIENT_ERROR_ALARM_THRESHOLD
    assert alarms[prefix + "stream-failures"]["Threshold"] == 1
