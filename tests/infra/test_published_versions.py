"""SnapStart and provisioned concurrency: off by default; either one publishes a version behind the
live alias, and the API invokes that alias."""

from __future__ import annotations

import json
from typing import Any

from infra.api_function import LIVE_ALIAS
from tests.infra.conftest import Synth
from tests.infra.test_api import routes


def function_properties(synth: Synth) -> dict[str, Any]:
    # The API's function: SnapStart and provisioned concurrency are options of the API only.
    function = synth.json["Resources"][synth.logical_id(synth.stack.api_function.function)]
    properties: dict[str, Any] = function["Properties"]
    return properties


def test_by_default_the_api_invokes_the_function_itself(synth: Synth) -> None:
    assert synth.stack.api_function.live_alias is None
    assert synth.resources("AWS::Lambda::Version") == {}
    assert synth.resources("AWS::Lambda::Alias") == {}
    assert "SnapStart" not in function_properties(synth)


def test_a_published_version_stands_behind_the_live_alias(synth_option: Synth) -> None:
    function_id = synth_option.logical_id(synth_option.stack.api_function.function)
    version_id, version = synth_option.one("AWS::Lambda::Version")
    assert version["Properties"]["FunctionName"] == {"Ref": function_id}
    # Replaced versions are deleted: a SnapStart version's snapshot is billed while it exists.
    assert version["DeletionPolicy"] == "Delete"
    _, alias = synth_option.one("AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == LIVE_ALIAS
    assert alias["Properties"]["FunctionName"] == {"Ref": function_id}
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}


def test_every_route_and_every_invoke_permission_is_the_alias(synth_option: Synth) -> None:
    alias_id, _ = synth_option.one("AWS::Lambda::Alias")
    function_id = synth_option.logical_id(synth_option.stack.api_function.function)
    found = routes(synth_option)
    assert found
    for route, method in found.items():
        uri = json.dumps(method["Integration"]["Uri"])
        assert json.dumps({"Ref": alias_id}) in uri, route
        assert function_id not in uri, f"{route} invokes the function's $LATEST, not the alias"
    # The API's permissions (the signaling function has its own, for its WebSocket API).
    signaling_id = synth_option.logical_id(synth_option.stack.signaling.function)
    permissions = [
        permission
        for permission in synth_option.resources("AWS::Lambda::Permission").values()
        if signaling_id not in json.dumps(permission["Properties"]["FunctionName"])
    ]
    assert len(permissions) == len(found)
    for permission in permissions:
        assert permission["Properties"]["FunctionName"] == {"Ref": alias_id}


def test_snapstart_snapshots_published_versions_without_provisioned_concurrency(
    synth_snapstart: Synth,
) -> None:
    assert function_properties(synth_snapstart)["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    _, alias = synth_snapstart.one("AWS::Lambda::Alias")
    assert "ProvisionedConcurrencyConfig" not in alias["Properties"]


def test_provisioned_concurrency_is_on_the_alias_without_snapstart(synth_provisioned: Synth) -> None:
    _, alias = synth_provisioned.one("AWS::Lambda::Alias")
    assert alias["Properties"]["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": int(synth_provisioned.context["provisionedConcurrency"])
    }
    assert "SnapStart" not in function_properties(synth_provisioned)


def dashboard_body(synth: Synth) -> str:
    _, dashboard = synth.one("AWS::CloudWatch::Dashboard")
    return json.dumps(dashboard["Properties"]["DashboardBody"])


def test_the_dashboard_shows_provisioned_concurrency_spillover_only_when_provisioned(
    synth_provisioned: Synth, synth_snapstart: Synth, synth_dev: Synth
) -> None:
    body = dashboard_body(synth_provisioned)
    assert "ProvisionedConcurrencySpilloverInvocations" in body
    assert "ProvisionedConcurrencyUtilization" in body
    # The alias's metrics: FunctionName and Resource (function:alias) dimensions.
    assert f":{LIVE_ALIAS}" in body
    for other in (synth_snapstart, synth_dev):
        assert "ProvisionedConcurrency" not in dashboard_body(other)


def test_function_alarms_still_watch_every_version(synth_option: Synth) -> None:
    """FunctionName alone aggregates all versions and aliases, so the alarms see the alias's calls."""
    function_id = synth_option.logical_id(synth_option.stack.api_function.function)
    alarms = [
        alarm["Properties"]
        for alarm in synth_option.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/Lambda"
        # The API function's; the events functions' alarms are tests/infra/test_events.py's.
        and {"Name": "FunctionName", "Value": {"Ref": function_id}}
        in alarm["Properties"].get("Dimensions", [])
    ]
    assert {alarm["MetricName"] for alarm in alarms} == {"Errors", "Throttles"}
    for alarm in alarms:
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
