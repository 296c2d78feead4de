"""TURN for the call pages (docs/behaviour.md section 9.3): what the API function needs to put STUN and
TURN servers with expiring credentials in every join answer (functions/calls/ice.py reads it).

Roughly one call in five connects no media without a relay (callers behind symmetric NATs and strict
firewalls), so by default the stack hands out TURN. cdk.json's `iceProvider` picks the source:

- `kinesis` (default): Amazon Kinesis Video Streams' managed TURN. The stack creates
  `kinesisTurnChannels` signaling channels, used for nothing but `GetIceServerConfig`; the function
  may call exactly GetSignalingChannelEndpoint and GetIceServerConfig on them. The call's quota is per
  channel: each container caches the credentials it fetched within their lifetime and spreads its
  fetches over the channels.
- `turn-rest`: a TURN server of the operator's that takes the TURN REST API's shared secret (coturn
  `use-auth-secret`): `turnUrls`, and `turnSecretArn`, an existing Secrets Manager secret whose value
  is the shared secret, which reaches the function as TURN_SHARED_SECRET through a dynamic reference
  (resolved at deploy, like the stack's own keys: no permission and no request at run time).
- `none`: no TURN; STUN only, Kinesis Video's STUN server of the region (it needs no channel and no
  credential).
"""

from __future__ import annotations

import json

from aws_cdk import SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisvideo as kinesisvideo
from constructs import Construct

from infra.config import StackConfig

# What the function calls on a channel (calls.kinesis_video.KinesisVideoSignaling), and nothing else.
CHANNEL_ACTIONS = ("kinesisvideo:GetSignalingChannelEndpoint", "kinesisvideo:GetIceServerConfig")
# functions/calls/ice.py's names for the sources.
KINESIS, TURN_REST, STATIC = "kinesis", "turn-rest", "static"


def kinesis_stun_url(region: str) -> str:
    """Kinesis Video's STUN server of the region, as functions/calls/ice.py's kinesis_stun names it."""
    return f"stun:stun.kinesisvideo.{region}.amazonaws.com:443"


def stun_urls_of(turn_urls: tuple[str, ...]) -> list[str]:
    """The STUN addresses of a TURN server's turn: URLs: a TURN server answers STUN on the same
    listener (coturn does unless started with no-stun). turns: URLs have no STUN counterpart that
    browsers use, and the transport parameter is TURN's only."""
    found: list[str] = []
    for url in turn_urls:
        scheme, _, rest = url.partition(":")
        if scheme != "turn":
            continue
        stun = f"stun:{rest.split('?', 1)[0]}"
        if stun not in found:
            found.append(stun)
    return found


class IceServers(Construct):
    """The TURN source of cdk.json, as the API function's environment and permissions."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.channels: list[kinesisvideo.CfnSignalingChannel] = []
        self.statements: list[iam.PolicyStatement] = []
        if config.ice_provider == "kinesis":
            self.environment = self._kinesis()
        elif config.ice_provider == "turn-rest":
            self.environment = self._turn_rest()
        else:
            region = Stack.of(self).region
            self.environment = {
                "ICE_PROVIDER": STATIC,
                "ICE_SERVERS": json.dumps([{"urls": [kinesis_stun_url(region)]}]),
            }

    def _kinesis(self) -> dict[str, str]:
        stack_name = Stack.of(self).stack_name
        self.channels = [
            kinesisvideo.CfnSignalingChannel(
                self,
                f"TurnChannel{number}",
                # Named for whoever finds it in the console; the stack's name keeps it unique.
                name=f"{stack_name}-turn-{number}",
                type="SINGLE_MASTER",
            )
            for number in range(1, self.config.kinesis_turn_channels + 1)
        ]
        arns = [channel.attr_arn for channel in self.channels]
        self.statements = [
            iam.PolicyStatement(sid="TurnChannels", actions=list(CHANNEL_ACTIONS), resources=arns)
        ]
        return {"ICE_PROVIDER": KINESIS, "KINESIS_SIGNALING_CHANNEL_ARNS": ",".join(arns)}

    def _turn_rest(self) -> dict[str, str]:
        config = self.config
        assert config.turn_secret_arn is not None  # infra.config requires it for turn-rest
        environment = {
            "ICE_PROVIDER": TURN_REST,
            "TURN_URLS": ",".join(config.turn_urls),
            # {{resolve:secretsmanager:<arn>:SecretString:::}}: the secret's whole value.
            "TURN_SHARED_SECRET": SecretValue.secrets_manager(config.turn_secret_arn).unsafe_unwrap(),
        }
        stun = stun_urls_of(config.turn_urls)
        if stun:
            environment["ICE_SERVERS"] = json.dumps([{"urls": stun}])
        return environment
