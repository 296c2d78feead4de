"""TURN in the template (infra/ice.py): the Kinesis Video signaling channels by default, the API
function's exact grants on them and its ICE_* variables; the TURN REST shared secret by configuration;
and the environment the stack sets, read by functions/calls/ice.py as the join reads it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from calls import ice

from infra.config import ConfigError
from infra.ice import CHANNEL_ACTIONS, stun_urls_of
from tests.infra.conftest import CDK_CONTEXT, Synth, synthesize
from tests.infra.test_config import config_with
from tests.infra.test_events import resource

TURN_SECRET_ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:video-calls/turn-AbCdEf"
TURN_REST: dict[str, Any] = {
    "iceProvider": "turn-rest",
    "turnUrls": ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"],
    "turnSecretArn": TURN_SECRET_ARN,
}


@pytest.fixture(scope="module")
def synth_turn_rest(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize({**CDK_CONTEXT, **TURN_REST}, tmp_path_factory.mktemp("cdk-turn-rest"))


@pytest.fixture(scope="module")
def synth_no_turn(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize({**CDK_CONTEXT, "iceProvider": "none"}, tmp_path_factory.mktemp("cdk-no-turn"))


def api_variables(synth: Synth) -> dict[str, Any]:
    variables: dict[str, Any] = resource(synth, synth.stack.api_function.function)["Properties"][
        "Environment"
    ]["Variables"]
    return variables


def role_statements(synth: Synth, role: Any) -> list[dict[str, Any]]:
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
    return [statement for document in documents for statement in document["Statement"]]


def kinesis_statements(synth: Synth) -> list[dict[str, Any]]:
    """Every statement of any policy in the template that names a Kinesis Video action."""
    found = []
    for each in synth.json["Resources"].values():
        text = json.dumps(each.get("Properties", {}))
        if "kinesisvideo:" in text:
            found.append(each)
    return found


def test_the_stack_creates_the_signaling_channels_for_turn(synth: Synth) -> None:
    """Two by default (dev); prod's context asks for three."""
    count = int(synth.context["kinesisTurnChannels"])
    assert count == (2 if synth.stage == "dev" else 3)
    channels = synth.resources("AWS::KinesisVideo::SignalingChannel")
    assert len(channels) == count == len(synth.stack.ice.channels)
    names = sorted(channel["Properties"]["Name"] for channel in channels.values())
    assert names == [f"VideoCallsApi-{synth.stage}-turn-{number}" for number in range(1, count + 1)]
    assert {channel["Properties"]["Type"] for channel in channels.values()} == {"SINGLE_MASTER"}


def test_the_api_function_is_told_kinesis_and_every_channel(synth: Synth) -> None:
    variables = api_variables(synth)
    assert variables["ICE_PROVIDER"] == "kinesis"
    arns: list[Any] = []
    for channel in synth.stack.ice.channels:
        arns += [",", {"Fn::GetAtt": [synth.logical_id(channel), "Arn"]}]
    assert variables["KINESIS_SIGNALING_CHANNEL_ARNS"] == {"Fn::Join": ["", arns[1:]]}
    assert "TURN_SHARED_SECRET" not in variables


def test_only_the_api_function_may_call_exactly_the_two_turn_actions_on_those_channels(synth: Synth) -> None:
    granted = [
        statement
        for statement in role_statements(synth, synth.stack.api_function.role)
        if any(str(action).startswith("kinesisvideo:") for action in statement["Action"])
    ]
    assert len(granted) == 1
    (statement,) = granted
    assert (
        sorted(statement["Action"])
        == sorted(CHANNEL_ACTIONS)
        == [
            "kinesisvideo:GetIceServerConfig",
            "kinesisvideo:GetSignalingChannelEndpoint",
        ]
    )
    assert statement["Effect"] == "Allow"
    assert "Condition" not in statement
    assert statement["Resource"] == [
        {"Fn::GetAtt": [synth.logical_id(channel), "Arn"]} for channel in synth.stack.ice.channels
    ]
    # Nothing else in the stack mentions Kinesis Video actions: no other role, no wildcard.
    policies_with_kinesis = [
        each for each in kinesis_statements(synth) if each["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy")
    ]
    assert [each["Type"] for each in policies_with_kinesis] == ["AWS::IAM::Role"]
    assert "kinesisvideo:*" not in json.dumps(synth.json)


def resolved(value: Any, substitutions: dict[str, str]) -> str:
    """A variable's CloudFormation value with its references replaced, as Lambda would see it."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolved(part, substitutions) for part in parts)
    key = json.dumps(value, sort_keys=True)
    assert key in substitutions, f"no value given for {key}"
    return substitutions[key]


def test_the_join_builds_kinesis_turn_from_the_environment_the_stack_sets(synth_dev: Synth) -> None:
    """calls.ice, the module the join's wiring uses (calls.wiring.get_join_call), takes the template's
    variables as they are and builds the Kinesis source over both channels."""
    channel_arns = {
        json.dumps({"Fn::GetAtt": [synth_dev.logical_id(channel), "Arn"]}, sort_keys=True): (
            f"arn:aws:kinesisvideo:eu-central-1:123456789012:channel/turn-{number}/1700000000000"
        )
        for number, channel in enumerate(synth_dev.stack.ice.channels, start=1)
    }
    variables = api_variables(synth_dev)
    environ = {
        name: resolved(variables[name], channel_arns)
        for name in ("ICE_PROVIDER", "KINESIS_SIGNALING_CHANNEL_ARNS")
    }
    environ["AWS_REGION"] = "eu-central-1"  # set by Lambda itself
    settings = ice.ice_settings(environ)
    assert settings.provider == ice.KINESIS
    assert settings.kinesis_channel_arns == tuple(channel_arns.values())

    class Signaling:
        def https_endpoint(self, channel_arn: str) -> str:
            assert channel_arn in channel_arns.values()
            return "https://r-1.kinesisvideo.eu-central-1.amazonaws.com"

        def ice_server_config(self, channel_arn: str, endpoint: str) -> list[dict[str, Any]]:
            return [
                {"Uris": ["turn:t.example:443?transport=udp"], "Username": "u", "Password": "p", "Ttl": 300}
            ]

    servers = ice.ice_servers_from(settings, kinesis=Signaling)("call-1", "guest")
    assert servers == [
        {"urls": ["stun:stun.kinesisvideo.eu-central-1.amazonaws.com:443"]},
        {"urls": ["turn:t.example:443?transport=udp"], "username": "u", "credential": "p"},
    ]


def test_turn_rest_takes_the_urls_and_the_secret_by_dynamic_reference(synth_turn_rest: Synth) -> None:
    assert synth_turn_rest.resources("AWS::KinesisVideo::SignalingChannel") == {}
    assert kinesis_statements(synth_turn_rest) == []
    variables = api_variables(synth_turn_rest)
    assert variables["ICE_PROVIDER"] == "turn-rest"
    assert variables["TURN_URLS"] == ",".join(TURN_REST["turnUrls"])
    # Resolved by CloudFormation at deploy: the value is in neither the template nor cdk.out.
    assert (
        variables["TURN_SHARED_SECRET"] == f"{{{{resolve:secretsmanager:{TURN_SECRET_ARN}:SecretString:::}}}}"
    )
    # The TURN server's own STUN, from its turn: URL.
    assert json.loads(variables["ICE_SERVERS"]) == [{"urls": ["stun:turn.example.com:3478"]}]
    assert "KINESIS_SIGNALING_CHANNEL_ARNS" not in variables
    # The secret is read at deploy by CloudFormation, never at run time: no permission on it.
    assert "secretsmanager:GetSecretValue" not in json.dumps(
        role_statements(synth_turn_rest, synth_turn_rest.stack.api_function.role)
    )


def test_the_join_builds_turn_rest_credentials_from_the_environment_the_stack_sets(
    synth_turn_rest: Synth,
) -> None:
    variables = api_variables(synth_turn_rest)
    environ = {name: variables[name] for name in ("ICE_PROVIDER", "TURN_URLS", "ICE_SERVERS")}
    environ["TURN_SHARED_SECRET"] = "s" * 32  # what CloudFormation resolves the reference to
    settings = ice.ice_settings(environ)
    assert settings.provider == ice.TURN_REST
    servers = ice.ice_servers_from(settings, kinesis=lambda: pytest.fail("no Kinesis for turn-rest"))(
        "call-1", "agent"
    )
    stun, turn = servers
    assert stun == {"urls": ["stun:turn.example.com:3478"]}
    assert turn["urls"] == TURN_REST["turnUrls"]
    assert re.fullmatch(r"\d+:call-1-agent", turn["username"])


def test_none_gives_stun_only_and_no_channels(synth_no_turn: Synth) -> None:
    assert synth_no_turn.resources("AWS::KinesisVideo::SignalingChannel") == {}
    assert kinesis_statements(synth_no_turn) == []
    variables = api_variables(synth_no_turn)
    assert variables["ICE_PROVIDER"] == "static"
    servers = resolved(variables["ICE_SERVERS"], {json.dumps({"Ref": "AWS::Region"}): "eu-central-1"})
    settings = ice.ice_settings({"ICE_PROVIDER": "static", "ICE_SERVERS": servers})
    assert settings.static_servers == ({"urls": ["stun:stun.kinesisvideo.eu-central-1.amazonaws.com:443"]},)


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        (("turn:a.example:3478?transport=udp", "turn:a.example:3478?transport=tcp"), ["stun:a.example:3478"]),
        (("turns:a.example:5349?transport=tcp",), []),
        (("turn:a.example", "turn:b.example:3479"), ["stun:a.example", "stun:b.example:3479"]),
    ],
)
def test_stun_urls_are_the_turn_servers_own(urls: tuple[str, ...], expected: list[str]) -> None:
    assert stun_urls_of(urls) == expected


def test_turn_urls_may_be_given_on_the_command_line() -> None:
    config = config_with(
        iceProvider="turn-rest",
        turnUrls="turn:a.example:3478, turns:a.example:5349",
        turnSecretArn=TURN_SECRET_ARN,
    )
    assert config.turn_urls == ("turn:a.example:3478", "turns:a.example:5349")
    as_json = config_with(
        iceProvider="turn-rest", turnUrls='["turn:a.example"]', turnSecretArn=TURN_SECRET_ARN
    )
    assert as_json.turn_urls == ("turn:a.example",)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"iceProvider": "coturn"}, "iceProvider must be one of kinesis, turn-rest, none"),
        ({"kinesisTurnChannels": "0"}, "kinesisTurnChannels must be between 1 and 10"),
        ({"kinesisTurnChannels": "11"}, "kinesisTurnChannels must be between 1 and 10"),
        ({"iceProvider": "turn-rest", "turnSecretArn": TURN_SECRET_ARN}, "turn-rest needs turnUrls"),
        (
            {"iceProvider": "turn-rest", "turnUrls": ["stun:a.example"], "turnSecretArn": TURN_SECRET_ARN},
            "turnUrls must be turn: or turns: URLs",
        ),
        ({"iceProvider": "turn-rest", "turnUrls": ["turn:a.example"]}, "turn-rest needs turnSecretArn"),
        (
            {"iceProvider": "turn-rest", "turnUrls": ["turn:a.example"], "turnSecretArn": "my-secret"},
            "turn-rest needs turnSecretArn",
        ),
        ({"turnUrls": ["turn:a.example"]}, "configure iceProvider turn-rest, not kinesis"),
        (
            {"iceProvider": "none", "turnSecretArn": TURN_SECRET_ARN},
            "configure iceProvider turn-rest, not none",
        ),
        ({"turnUrls": "[not json"}, "turnUrls must be a list of strings"),
        ({"turnUrls": [3478]}, "turnUrls must be a list of strings"),
    ],
)
def test_invalid_ice_configuration_is_refused_with_a_reason(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_with(**overrides)


def test_the_turn_rest_template_passes_cfn_lint(synth_turn_rest: Synth, tmp_path: Path) -> None:
    from tests.infra.test_checks import cfn_lint

    template = tmp_path / "turn-rest.template.json"
    template.write_text(json.dumps(synth_turn_rest.json), encoding="utf-8")
    result = cfn_lint(template)
    assert result.returncode == 0, result.stdout + result.stderr
