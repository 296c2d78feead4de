"""One origin (infra/distribution.py): the CloudFront distribution's behaviours, origins and policies,
its viewer-request functions run in Node against CloudFront-shaped events, the bucket that only it may
read, and the join links and the signaling socket that name it."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from infra import distribution
from infra.app import build_app
from infra.config import ConfigError
from tests.infra.conftest import CDK_CONTEXT, PROD_OVERRIDES, Synth
from tests.infra.test_config import config_with
from tests.infra.test_events import resource

# CloudFront's managed policies (their ids are fixed across accounts).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CALL_ID = "7337b8a3-0147-4292-a2eb-4d9d29945bcc"


def config_of(synth: Synth) -> dict[str, Any]:
    _, found = synth.one("AWS::CloudFront::Distribution")
    config: dict[str, Any] = found["Properties"]["DistributionConfig"]
    return config


def behaviours(synth: Synth) -> dict[str, dict[str, Any]]:
    config = config_of(synth)
    found = {behaviour["PathPattern"]: behaviour for behaviour in config["CacheBehaviors"]}
    found["default"] = config["DefaultCacheBehavior"]
    return found


def origin_of(synth: Synth, behaviour: dict[str, Any]) -> dict[str, Any]:
    (origin,) = [o for o in config_of(synth)["Origins"] if o["Id"] == behaviour["TargetOriginId"]]
    return origin


def function_code(synth: Synth, behaviour: dict[str, Any]) -> str:
    (association,) = behaviour["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    function = synth.json["Resources"][function_id]
    assert function["Type"] == "AWS::CloudFront::Function"
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["Properties"]["AutoPublish"] is True
    code: str = function["Properties"]["FunctionCode"]
    return code


def test_three_behaviours_the_api_signaling_and_the_files(synth: Synth) -> None:
    assert sorted(behaviours(synth)) == ["/api/*", "/ws", "default"]
    config = config_of(synth)
    assert len(config["Origins"]) == 3
    # A distribution's error pages would replace the API's own 4xx and 5xx bodies too.
    assert "CustomErrorResponses" not in config
    # No standard logs: they would record the join links' credentials (infra/distribution.py).
    assert "Logging" not in config


def test_the_api_goes_to_the_rest_stage_with_every_viewer_header_but_host_never_cached(synth: Synth) -> None:
    behaviour = behaviours(synth)["/api/*"]
    origin = origin_of(synth, behaviour)
    # Built from the API's id: no reference to the stage, which would close a dependency cycle.
    api_id = synth.logical_id(synth.stack.rest_api.api)
    assert origin["DomainName"] == {
        "Fn::Join": [
            "",
            [{"Ref": api_id}, ".execute-api.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}],
        ]
    }
    assert origin["OriginPath"] == f"/{synth.stage}"
    assert origin["CustomOriginConfig"] == {
        "OriginProtocolPolicy": "https-only",
        "OriginSSLProtocols": ["TLSv1.2"],
    }
    assert behaviour["CachePolicyId"] == CACHING_DISABLED
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert sorted(behaviour["AllowedMethods"]) == sorted(
        ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
    )
    # A redirected POST would arrive as a GET: plain http is refused instead.
    assert behaviour["ViewerProtocolPolicy"] == "https-only"


def test_signaling_goes_to_the_websocket_api_never_cached(synth: Synth) -> None:
    behaviour = behaviours(synth)["/ws"]
    origin = origin_of(synth, behaviour)
    api_id = synth.logical_id(synth.stack.signaling.api)
    assert origin["DomainName"] == {
        "Fn::Join": [
            "",
            [{"Ref": api_id}, ".execute-api.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}],
        ]
    }
    # The function rewrites /ws to the stage's path; an origin path would come before it.
    assert "OriginPath" not in origin
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # The token travels in the query, the handshake in Sec-WebSocket-* headers: all forwarded.
    assert behaviour["CachePolicyId"] == CACHING_DISABLED
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert sorted(behaviour["AllowedMethods"]) == ["GET", "HEAD"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"


def test_everything_else_is_the_bucket_through_origin_access_control_cached(synth: Synth) -> None:
    behaviour = behaviours(synth)["default"]
    origin = origin_of(synth, behaviour)
    bucket_id = synth.logical_id(synth.stack.site.bucket)
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac_id = origin["OriginAccessControlId"]["Fn::GetAtt"][0]
    oac = synth.json["Resources"][oac_id]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    assert behaviour["CachePolicyId"] == CACHING_OPTIMIZED
    # No origin request policy: the query string (a join link's credentials) never reaches S3.
    assert "OriginRequestPolicyId" not in behaviour
    assert sorted(behaviour["AllowedMethods"]) == ["GET", "HEAD"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["Compress"] is True


def test_only_this_distribution_may_read_the_bucket(synth: Synth) -> None:
    bucket_id = synth.logical_id(synth.stack.site.bucket)
    (policy,) = [
        each["Properties"]["PolicyDocument"]
        for each in synth.resources("AWS::S3::BucketPolicy").values()
        if each["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    allows = [statement for statement in policy["Statement"] if statement["Effect"] == "Allow"]
    (read,) = allows
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    assert read["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]}
    distribution_id = synth.logical_id(synth.stack.distribution.distribution)
    assert read["Condition"] == {
        "StringEquals": {
            "AWS:SourceArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":cloudfront::",
                        {"Ref": "AWS::AccountId"},
                        ":distribution/",
                        {"Ref": distribution_id},
                    ],
                ]
            }
        }
    }
    (deny,) = [statement for statement in policy["Statement"] if statement["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_files_are_served_with_hsts_nosniff_and_no_referrer_but_may_be_framed(synth: Synth) -> None:
    policy_id = behaviours(synth)["default"]["ResponseHeadersPolicyId"]["Ref"]
    config = synth.json["Resources"][policy_id]["Properties"]["ResponseHeadersPolicyConfig"]
    headers = config["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 365 * 24 * 3600
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["ReferrerPolicy"] == {"Override": True, "ReferrerPolicy": "no-referrer"}
    # Genesys Cloud shows the panel in a frame of its own origin.
    assert "FrameOptions" not in headers


# The viewer-request functions, run by Node on CloudFront's event shape.

NODE = shutil.which("node")


def run_function(code: str, uri: str, query: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The function's answer to a viewer request (a request to pass on, or a response)."""
    assert NODE, "node runs the CDK; it is needed here too"
    event = {
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": extra.get("viewer_ip", "198.51.100.7")},
        "request": {
            "method": extra.get("method", "GET"),
            "uri": uri,
            "querystring": query or {},
            "headers": extra.get("headers", {"host": {"value": "d111111abcdef8.cloudfront.net"}}),
            "cookies": {},
        },
    }
    script = (
        code
        + "\nconst event = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        + "Promise.resolve(handler(event)).then((answer) => process.stdout.write(JSON.stringify(answer)));\n"
    )
    done = subprocess.run(
        [NODE, "-e", script], input=json.dumps(event), capture_output=True, text=True, timeout=30, check=True
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


@pytest.mark.parametrize(
    ("uri", "served"),
    [
        (f"/c/{CALL_ID}", "/call/index.html"),
        ("/c/anything-else", "/call/index.html"),
        ("/genesys/", "/genesys/index.html"),
        # Everything else is the file of that name (or S3's 403 for none).
        ("/call/app.js", "/call/app.js"),
        ("/genesys/genesys.js", "/genesys/genesys.js"),
        ("/widget/v1/video-calls-widget.js", "/widget/v1/video-calls-widget.js"),
        ("/c/", "/c/"),
        (f"/c/{CALL_ID}/more", f"/c/{CALL_ID}/more"),
        ("/", "/"),
    ],
)
def test_the_site_function_serves_the_pages_at_their_paths(synth_dev: Synth, uri: str, served: str) -> None:
    code = function_code(synth_dev, behaviours(synth_dev)["default"])
    query = {"role": {"value": "agent"}, "hostKey": {"value": "G_hIptd2bt9O"}}
    answer = run_function(code, uri, query)
    assert answer["uri"] == served
    # The link's query goes on as it came (the page reads it; S3 never sees it: no origin policy).
    assert answer["querystring"] == query


def test_the_genesys_panel_without_its_slash_is_redirected_with_its_query(synth_dev: Synth) -> None:
    code = function_code(synth_dev, behaviours(synth_dev)["default"])
    query = {
        "conversationId": {"value": "abc"},
        "gcLangTag": {"value": "en-us"},
        "flag": {"value": ""},
        "appId": {"value": "a", "multiValue": [{"value": "a"}, {"value": "b"}]},
    }
    answer = run_function(code, "/genesys", query)
    assert answer["statusCode"] == 301
    assert (
        answer["headers"]["location"]["value"]
        == "/genesys/?conversationId=abc&gcLangTag=en-us&flag&appId=a&appId=b"
    )
    assert run_function(code, "/genesys")["headers"]["location"]["value"] == "/genesys/"


def test_the_signaling_function_connects_ws_to_the_stage_keeping_the_token(synth: Synth) -> None:
    code = function_code(synth, behaviours(synth)["/ws"])
    query = {"token": {"value": "v1.abc.def"}}
    headers = {"host": {"value": "x"}, "sec-websocket-key": {"value": "dGhlIHNhbXBsZSBub25jZQ=="}}
    answer = run_function(code, "/ws", query, headers=headers)
    # API Gateway takes a WebSocket connection on the stage's own path, nothing below it.
    assert answer["uri"] == f"/{synth.stage}"
    assert answer["querystring"] == query
    assert answer["headers"] == headers


# The URLs that name the site


def test_join_links_and_the_socket_name_the_distribution_by_default(synth_dev: Synth) -> None:
    variables = resource(synth_dev, synth_dev.stack.api_function.function)["Properties"]["Environment"][
        "Variables"
    ]
    distribution_id = synth_dev.logical_id(synth_dev.stack.distribution.distribution)
    host = {"Fn::GetAtt": [distribution_id, "DomainName"]}
    assert variables["JOIN_BASE_URL"] == {"Fn::Join": ["", ["https://", host]]}
    assert variables["SIGNALING_URL"] == {"Fn::Join": ["", ["wss://", host, "/ws"]]}
    outputs = synth_dev.json["Outputs"]
    assert outputs["SiteUrl"]["Value"] == outputs["JoinBaseUrl"]["Value"] == variables["JOIN_BASE_URL"]
    assert outputs["SignalingUrl"]["Value"] == variables["SIGNALING_URL"]
    assert outputs["DistributionDomainName"]["Value"] == host


def test_a_custom_domain_is_the_sites_host_with_its_certificate_and_tls_1_2(synth_prod: Synth) -> None:
    config = config_of(synth_prod)
    assert config["Aliases"] == [PROD_OVERRIDES["domainName"]]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": PROD_OVERRIDES["certificateArn"],
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    variables = resource(synth_prod, synth_prod.stack.api_function.function)["Properties"]["Environment"][
        "Variables"
    ]
    assert variables["SIGNALING_URL"] == "wss://video.example.com/ws"
    # prod's context names another base for the links: it wins over the site's origin.
    assert variables["JOIN_BASE_URL"] == "https://calls.example.com"
    assert synth_prod.json["Outputs"]["SiteUrl"]["Value"] == "https://video.example.com"


def test_with_a_custom_domain_and_no_join_base_url_the_links_name_the_domain() -> None:
    _, stack = build_app(
        {
            **CDK_CONTEXT,
            "domainName": "Video.Example.com.",
            "certificateArn": PROD_OVERRIDES["certificateArn"],
        }
    )  # built, not synthesized: the URLs are known at construction
    assert stack.join_base_url == "https://video.example.com"
    assert stack.api_function.environment["JOIN_BASE_URL"] == "https://video.example.com"
    assert stack.api_function.environment["SIGNALING_URL"] == "wss://video.example.com/ws"


def test_cfr4_is_acknowledged_only_without_a_custom_domain(synth_dev: Synth, synth_prod: Synth) -> None:
    assert "AwsSolutions-CFR4" in {a.rule for a in synth_dev.stack.nag_acknowledgements()}
    assert "AwsSolutions-CFR4" not in {a.rule for a in synth_prod.stack.nag_acknowledgements()}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"domainName": "video.example.com"}, "domainName and certificateArn go together"),
        ({"certificateArn": PROD_OVERRIDES["certificateArn"]}, "domainName and certificateArn go together"),
        (
            {"domainName": "https://video.example.com", "certificateArn": PROD_OVERRIDES["certificateArn"]},
            "domainName must be a host name",
        ),
        (
            {
                "domainName": "video.example.com",
                "certificateArn": "arn:aws:acm:eu-central-1:123456789012:certificate/0a1b2c3d",
            },
            "ACM certificate in us-east-1",
        ),
        ({"joinBaseUrl": "http://video.example.com"}, "joinBaseUrl must be an https URL or empty"),
    ],
)
def test_invalid_site_configuration_is_refused_with_a_reason(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_with(**overrides)


def test_the_functions_code_is_the_modules(synth: Synth) -> None:
    """What the template deploys is what this module says (and what the tests above ran)."""
    assert function_code(synth, behaviours(synth)["default"]) == distribution.site_request_code()
    assert function_code(synth, behaviours(synth)["/ws"]) == distribution.signaling_request_code(synth.stage)
    assert function_code(synth, behaviours(synth)["/api/*"]) == distribution.api_request_code()
