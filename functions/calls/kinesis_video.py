"""The Kinesis Video Streams calls behind managed TURN (calls.ice), and nothing else of that
service: made lazily, on the first join that needs fresh TURN credentials."""

from __future__ import annotations

from typing import Any


class KinesisVideoSignaling:
    """The Kinesis Video Streams calls behind managed TURN (calls.ice): the channel's HTTPS
    endpoint, then GetIceServerConfig on it. Short timeouts: a slow answer costs the page its
    TURN servers, never the join."""

    def __init__(self, region: str):
        from botocore.config import Config

        self._region = region
        self._config = Config(
            connect_timeout=0.5, read_timeout=1, retries={"total_max_attempts": 2, "mode": "standard"}
        )
        self._control: Any = None

    def https_endpoint(self, channel_arn: str) -> str:
        from botocore.session import get_session

        if self._control is None:
            self._control = get_session().create_client(
                "kinesisvideo", region_name=self._region, config=self._config
            )
        answer = self._control.get_signaling_channel_endpoint(
            ChannelARN=channel_arn,
            SingleMasterChannelEndpointConfiguration={"Protocols": ["HTTPS"], "Role": "VIEWER"},
        )
        endpoint: str = next(
            found["ResourceEndpoint"]
            for found in answer["ResourceEndpointList"]
            if found.get("Protocol") == "HTTPS"
        )
        return endpoint

    def ice_server_config(self, channel_arn: str, endpoint: str) -> list[dict[str, Any]]:
        from botocore.session import get_session

        signaling: Any = get_session().create_client(
            "kinesis-video-signaling", region_name=self._region, endpoint_url=endpoint, config=self._config
        )
        answer = signaling.get_ice_server_config(ChannelARN=channel_arn, Service="TURN")
        servers: list[dict[str, Any]] = answer["IceServerList"]
        return servers
