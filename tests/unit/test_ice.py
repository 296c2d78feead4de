"""The ICE servers of the join answer: Kinesis Video's managed TURN (with botocore's Stubber: moto
has no signaling-channel API), the TURN REST API's shared secret, and static servers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from botocore.stub import Stubber
from calls import ice
from calls.kinesis_video import KinesisVideoSignaling

CHANNELS = (
    "arn:aws:kinesisvideo:eu-central-1:123456789012:channel/video-calls-turn-1/1700000000001",
    "arn:aws:kinesisvideo:eu-central-1:123456789012:channel/video-calls-turn-2/1700000000002",
)
ENDPOINT = "https://r-1234abcd.kinesisvideo.eu-central-1.amazonaws.com"
TURN = {
    "Uris": [
        "turn:1-2-3-4.t-1234.kinesisvideo.eu-central-1.amazonaws.com:443?transport=udp",
        "turns:1-2-3-4.t-1234.kinesisvideo.eu-central-1.amazonaws.com:443?transport=tcp",
    ],
    "Username": "1700000300:djE6YXJuOmF3cw",
    "Password": "c2VjcmV0cGFzc3dvcmQ",
    "Ttl": 300,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSignaling:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    def https_endpoint(self, channel_arn: str) -> str:
        self.calls.append(("endpoint", channel_arn))
        return ENDPOINT

    def ice_server_config(self, channel_arn: str, endpoint: str) -> list[dict[str, Any]]:
        self.calls.append(("ice", channel_arn))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return list(answer)


def kinesis(signaling: FakeSignaling, clock: Clock) -> ice.KinesisTurnServers:
    return ice.KinesisTurnServers(
        CHANNELS, signaling, "eu-central-1", clock=clock, choose=lambda arns: arns[0]
    )


def test_kinesis_gives_its_stun_and_turn_with_credentials_in_rtc_shape() -> None:
    servers = kinesis(FakeSignaling([[TURN]]), Clock())("call-1", "guest")
    assert servers == [
        {"urls": ["stun:stun.kinesisvideo.eu-central-1.amazonaws.com:443"]},
        {"urls": TURN["Uris"], "username": TURN["Username"], "credential": TURN["Password"]},
    ]


def test_kinesis_credentials_are_cached_while_a_minute_of_their_300_s_remains() -> None:
    clock, signaling = Clock(), FakeSignaling([[TURN], [{**TURN, "Username": "second"}]])
    servers = kinesis(signaling, clock)
    first = servers("call-1", "agent")
    clock.now += 300 - ice.KINESIS_MIN_REMAINING_SECONDS - 1
    assert servers("call-2", "guest") == first
    assert [kind for kind, _ in signaling.calls] == ["endpoint", "ice"]
    clock.now += 2  # under a minute left: fetched afresh, the endpoint kept
    assert servers("call-3", "guest")[1]["username"] == "second"
    assert [kind for kind, _ in signaling.calls] == ["endpoint", "ice", "ice"]


def test_kinesis_spreads_its_fetches_over_the_channels() -> None:
    clock, signaling = Clock(), FakeSignaling([[TURN]] * 4)
    chosen = iter([CHANNELS[0], CHANNELS[1], CHANNELS[0], CHANNELS[1]])
    servers = ice.KinesisTurnServers(
        CHANNELS, signaling, "eu-central-1", clock=clock, choose=lambda arns: next(chosen)
    )
    for _ in range(4):
        servers("call", "guest")
        clock.now += 300
    assert {arn for kind, arn in signaling.calls if kind == "ice"} == set(CHANNELS)


def test_a_failing_kinesis_gives_stun_alone_and_the_join_goes_on() -> None:
    clock, signaling = Clock(), FakeSignaling([RuntimeError("ThrottlingException"), [TURN]])
    servers = kinesis(signaling, clock)
    assert servers("call-1", "guest") == [{"urls": ["stun:stun.kinesisvideo.eu-central-1.amazonaws.com:443"]}]
    assert len(servers("call-1", "guest")) == 2  # the next join tries again


def test_the_kinesis_adapter_asks_for_the_https_endpoint_then_the_ice_config() -> None:
    adapter = KinesisVideoSignaling("eu-central-1")
    control = adapter._control = (
        __import__("botocore.session")
        .session.get_session()
        .create_client("kinesisvideo", region_name="eu-central-1")
    )
    with Stubber(control) as stub:
        stub.add_response(
            "get_signaling_channel_endpoint",
            {
                "ResourceEndpointList": [
                    {"Protocol": "WSS", "ResourceEndpoint": "wss://x"},
                    {"Protocol": "HTTPS", "ResourceEndpoint": ENDPOINT},
                ]
            },
            {
                "ChannelARN": CHANNELS[0],
                "SingleMasterChannelEndpointConfiguration": {"Protocols": ["HTTPS"], "Role": "VIEWER"},
            },
        )
        assert adapter.https_endpoint(CHANNELS[0]) == ENDPOINT
        stub.assert_no_pending_responses()


def test_the_kinesis_adapter_reads_get_ice_server_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session

    made: list[Stubber] = []
    real_create = botocore.session.Session.create_client

    def create_client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        client = real_create(self, service, *args, **kwargs)
        assert service == "kinesis-video-signaling"
        assert kwargs["endpoint_url"] == ENDPOINT
        stub = Stubber(client)
        stub.add_response(
            "get_ice_server_config",
            {"IceServerList": [TURN]},
            {"ChannelARN": CHANNELS[0], "Service": "TURN"},
        )
        stub.activate()
        made.append(stub)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    assert KinesisVideoSignaling("eu-central-1").ice_server_config(CHANNELS[0], ENDPOINT) == [TURN]
    made[0].assert_no_pending_responses()


# The TURN REST API's shared secret


def test_turn_rest_credentials_are_what_coturn_use_auth_secret_checks() -> None:
    secret = b"a-shared-secret-of-the-turn-server"
    servers = ice.TurnRestServers(
        ("turn:turn.example.com:3478", "turns:turn.example.com:5349"),
        secret,
        ttl_seconds=3600,
        stun=({"urls": ["stun:stun.example.com:3478"]},),
        clock=lambda: 1_800_000_000.4,
    )
    stun, turn = servers("2b7a9f1e-3c4d-4e5f-8a6b-7c8d9e0f1a2b", "agent")
    assert stun == {"urls": ["stun:stun.example.com:3478"]}
    assert turn["urls"] == ["turn:turn.example.com:3478", "turns:turn.example.com:5349"]
    assert turn["username"] == "1800003600:2b7a9f1e-3c4d-4e5f-8a6b-7c8d9e0f1a2b-agent"
    expected = base64.b64encode(hmac.new(secret, turn["username"].encode(), hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected


# Configuration


def test_the_default_is_static_and_empty() -> None:
    settings = ice.ice_settings({})
    assert settings.provider == ice.STATIC
    assert (
        ice.ice_servers_from(settings, kinesis=lambda: pytest.fail("no Kinesis for static"))("c", "guest")
        == []
    )


@pytest.mark.parametrize(
    ("environ", "mentioned"),
    [
        ({"ICE_PROVIDER": "coturn"}, "ICE_PROVIDER"),
        ({"ICE_PROVIDER": "kinesis", "AWS_REGION": "eu-central-1"}, "KINESIS_SIGNALING_CHANNEL_ARNS"),
        ({"ICE_PROVIDER": "turn-rest", "TURN_SHARED_SECRET": "x" * 32}, "TURN_URLS"),
        (
            {"ICE_PROVIDER": "turn-rest", "TURN_URLS": "stun:x:3478", "TURN_SHARED_SECRET": "x" * 32},
            "TURN_URLS",
        ),
        ({"ICE_PROVIDER": "turn-rest", "TURN_URLS": "turn:x:3478", "TURN_SHARED_SECRET": "short"}, "SECRET"),
        ({"ICE_SERVERS": "{not json"}, "ICE_SERVERS"),
        ({"ICE_SERVERS": '[{"urls": ["http://x"]}]'}, "ICE_SERVERS"),
        ({"ICE_SERVERS": '[{"urls": []}]'}, "ICE_SERVERS"),
        ({"TURN_TTL_SECONDS": "100000"}, "TURN_TTL_SECONDS"),
    ],
)
def test_bad_configuration_is_refused_at_once_naming_the_variable(
    environ: dict[str, str], mentioned: str
) -> None:
    with pytest.raises(ice.IceConfigurationError, match=mentioned):
        ice.ice_settings(environ)


def test_static_servers_are_handed_out_as_configured() -> None:
    settings = ice.ice_settings({"ICE_SERVERS": '[{"urls": "stun:stun.example.com:3478"}]'})
    servers = ice.ice_servers_from(settings, kinesis=lambda: pytest.fail("unused"))
    assert servers("c", "guest") == [{"urls": "stun:stun.example.com:3478"}]


def test_kinesis_settings_build_the_kinesis_source() -> None:
    settings = ice.ice_settings(
        {
            "ICE_PROVIDER": "kinesis",
            "KINESIS_SIGNALING_CHANNEL_ARNS": ",".join(CHANNELS),
            "AWS_REGION": "eu-central-1",
        }
    )
    built = ice.ice_servers_from(settings, kinesis=lambda: FakeSignaling([[TURN]]))
    assert isinstance(built, ice.KinesisTurnServers)
    assert built.channel_arns == CHANNELS
