"""The web ACL behind the distribution (infra/edge.py): where it exists, the REST stage answers only
what came through the distribution (its secret header), and the per-address limit counts the viewer's
address, which the distribution's function writes over anything the client sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from calls.responses import ErrorEnvelope
from pydantic import TypeAdapter

from infra import distribution, edge
from tests.infra.conftest import Synth
from tests.infra.test_distribution import behaviours, function_code, origin_of, run_function
from tests.infra.test_rate_limits import ORIGIN_RULE, rules, web_acl

# Headers CloudFront's edge functions may not set (CloudFront's "Restrictions on all edge functions"),
# or that CloudFront sets itself and a client could also send.
RESERVED_PREFIXES = ("x-amz-cf-", "x-amzn-", "x-edge-", "x-accel-", "x-forwarded-", "cloudfront-")
RESERVED = ("x-real-ip", "x-cache", "via", "host", "true-client-ip")


def secret_reference(synth: Synth) -> dict[str, Any]:
    secret = synth.stack.edge.origin_verify_secret
    assert secret is not None
    return {
        "Fn::Join": [
            "",
            ["{{resolve:secretsmanager:", {"Ref": synth.logical_id(secret)}, ":SecretString:::}}"],
        ]
    }


def test_the_origin_check_value_is_generated_at_deploy(synth_prod: Synth) -> None:
    secret = synth_prod.stack.edge.origin_verify_secret
    assert secret is not None
    found = synth_prod.json["Resources"][synth_prod.logical_id(secret)]
    assert found["Properties"]["GenerateSecretString"] == {
        "PasswordLength": edge.ORIGIN_VERIFY_LENGTH,
        "ExcludePunctuation": True,
    }
    assert "SecretString" not in found["Properties"]
    # A WAF search string holds at most 200 bytes.
    assert edge.ORIGIN_VERIFY_LENGTH <= 200


def test_the_distribution_sends_it_to_the_api_and_nowhere_else(synth_prod: Synth) -> None:
    found = behaviours(synth_prod)
    api_origin = origin_of(synth_prod, found["/api/*"])
    assert api_origin["OriginCustomHeaders"] == [
        {"HeaderName": edge.ORIGIN_VERIFY_HEADER, "HeaderValue": secret_reference(synth_prod)}
    ]
    for other in ("/ws", "default"):
        assert "OriginCustomHeaders" not in origin_of(synth_prod, found[other])
    # Only the distribution and the web ACL know it: no output, no role, no function.
    secret_id = synth_prod.logical_id(synth_prod.stack.edge.origin_verify_secret)
    mentions = sorted(
        each["Type"]
        for logical_id, each in synth_prod.json["Resources"].items()
        if secret_id in json.dumps(each) and logical_id != secret_id
    )
    assert mentions == ["AWS::CloudFront::Distribution", "AWS::WAFv2::WebACL"]
    assert secret_id not in json.dumps(synth_prod.json["Outputs"])


def test_the_first_rule_refuses_whatever_lacks_it(synth_prod: Synth) -> None:
    rule = rules(synth_prod)[ORIGIN_RULE]
    assert rule["Priority"] == 0
    match = rule["Statement"]["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert match == {
        "FieldToMatch": {"SingleHeader": {"Name": edge.ORIGIN_VERIFY_HEADER}},
        "PositionalConstraint": "EXACTLY",
        "SearchString": secret_reference(synth_prod),
        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
    }
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 403
    headers = {header["Name"]: header["Value"] for header in response["ResponseHeaders"]}
    assert "Retry-After" not in headers
    assert headers["Cache-Control"] == "no-store"
    body = web_acl(synth_prod)["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    envelope = json.loads(body["Content"])
    TypeAdapter(ErrorEnvelope).validate_python(envelope)
    assert envelope["error"]["requestId"] == headers["X-Request-Id"] == "waf-origin-check"
    assert "SiteUrl" in envelope["error"]["message"]


def test_the_per_address_rule_counts_the_header_the_distribution_sets(synth_prod: Synth) -> None:
    statement = rules(synth_prod)["IpRateWithoutAppId"]["Statement"]["RateBasedStatement"]
    assert statement["ForwardedIPConfig"]["HeaderName"] == edge.VIEWER_IP_HEADER
    code = function_code(synth_prod, behaviours(synth_prod)["/api/*"])
    assert f"request.headers['{edge.VIEWER_IP_HEADER}']" in code


@pytest.mark.parametrize("viewer_ip", ["198.51.100.7", "2001:db8::1"])
def test_the_function_writes_the_viewers_address_over_whatever_the_client_sent(
    synth_dev: Synth, viewer_ip: str
) -> None:
    code = function_code(synth_dev, behaviours(synth_dev)["/api/*"])
    sent = {
        "host": {"value": "d111111abcdef8.cloudfront.net"},
        "x-app-id": {"value": "demo-app"},
        # A client naming another address, once and twice.
        edge.VIEWER_IP_HEADER: {
            "value": "203.0.113.1",
            "multiValue": [{"value": "203.0.113.1"}, {"value": "203.0.113.2"}],
        },
    }
    answer = run_function(
        code, "/api/calls", {"appId": {"value": "demo-app"}}, headers=sent, viewer_ip=viewer_ip
    )
    assert answer["headers"][edge.VIEWER_IP_HEADER] == {"value": viewer_ip}
    assert answer["headers"]["x-app-id"] == {"value": "demo-app"}
    assert answer["uri"] == "/api/calls"
    assert answer["querystring"] == {"appId": {"value": "demo-app"}}
    # And when the client sent none.
    plain = run_function(code, "/api/calls", headers={"host": {"value": "x"}}, viewer_ip=viewer_ip)
    assert plain["headers"][edge.VIEWER_IP_HEADER] == {"value": viewer_ip}


def test_the_headers_are_ones_an_edge_function_may_set_and_no_client_is_trusted_with() -> None:
    for name in (edge.VIEWER_IP_HEADER, edge.ORIGIN_VERIFY_HEADER):
        assert name == name.lower()  # CloudFront Functions name headers in lower case
        assert not name.startswith(RESERVED_PREFIXES)
        assert name not in RESERVED


def test_without_a_web_acl_there_is_no_origin_check(synth_dev: Synth) -> None:
    """dev: no limits, no web ACL, so the execute-api endpoint answers directly too (docs/deploy.md)."""
    assert synth_dev.stack.edge.origin_verify_secret is None
    assert synth_dev.stack.edge.origin_headers is None
    assert "OriginCustomHeaders" not in origin_of(synth_dev, behaviours(synth_dev)["/api/*"])
    assert synth_dev.resources("AWS::WAFv2::WebACL") == {}
    # The routing is the same as prod's: the function still writes the viewer's address.
    assert function_code(synth_dev, behaviours(synth_dev)["/api/*"]) == distribution.api_request_code()
