"""Per-app rate limits at the edge (docs/behaviour.md section 8): AWS WAF on the stage where the limits
are set (prod by default), answering over a limit with the API's 429 envelope and Retry-After."""

from __future__ import annotations

import json
from typing import Any

import pytest
from calls.responses import ErrorEnvelope
from pydantic import TypeAdapter

from infra import edge, rest_api
from infra.config import load_config
from tests.conftest import ROOT
from tests.infra.conftest import CDK_CONTEXT, Synth
from tests.infra.test_config import FakeNode

ORIGIN_RULE = "ViaDistributionOnly"  # tests/infra/test_origin_check.py
APP_RULES = ("AppRateByHeader", "AppRateByQuery")
IP_RULE = "IpRateWithoutAppId"


def web_acl(synth: Synth) -> dict[str, Any]:
    _, acl = synth.one("AWS::WAFv2::WebACL")
    properties: dict[str, Any] = acl["Properties"]
    return properties


def rules(synth: Synth) -> dict[str, dict[str, Any]]:
    return {rule["Name"]: rule for rule in web_acl(synth)["Rules"]}


def test_prod_limits_apps_by_default_and_dev_does_not() -> None:
    """A web ACL costs about $5 a month plus $1 per rule and $0.60 per million requests: prod, which
    serves tenants that share one stage throttle, pays it; dev stacks get none."""
    dev = load_config(FakeNode(CDK_CONTEXT))
    prod = load_config(FakeNode({**CDK_CONTEXT, "stage": "prod"}))
    assert (dev.app_rate_limit_per_5min, dev.ip_rate_limit_per_5min, dev.has_web_acl) == (0, 0, False)
    assert (prod.app_rate_limit_per_5min, prod.ip_rate_limit_per_5min, prod.has_web_acl) == (3000, 1500, True)


def test_without_limits_there_is_no_web_acl_and_apig3_is_acknowledged(synth_dev: Synth) -> None:
    assert synth_dev.stack.edge.web_acl is None
    assert synth_dev.resources("AWS::WAFv2::WebACL") == {}
    assert synth_dev.resources("AWS::WAFv2::WebACLAssociation") == {}
    assert "AwsSolutions-APIG3" in {a.rule for a in synth_dev.stack.nag_acknowledgements()}


def test_with_limits_the_web_acl_guards_this_stage_and_apig3_needs_no_acknowledgement(
    synth_prod: Synth,
) -> None:
    acl_id, _ = synth_prod.one("AWS::WAFv2::WebACL")
    (association,) = synth_prod.resources("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    stage_arn = json.dumps(association["Properties"]["ResourceArn"])
    api_id, _ = synth_prod.one("AWS::ApiGateway::RestApi")
    stage_id, _ = synth_prod.one("AWS::ApiGateway::Stage")
    assert json.dumps({"Ref": api_id}) in stage_arn
    assert json.dumps({"Ref": stage_id}) in stage_arn
    assert ":apigateway:" in stage_arn
    assert "/stages/" in stage_arn
    assert "AwsSolutions-APIG3" not in {a.rule for a in synth_prod.stack.nag_acknowledgements()}
    # cdk-nag found nothing to acknowledge there: the synth itself would have failed otherwise.
    assert not any(
        violation["ruleName"] == "AwsSolutions-APIG3"
        for plugin in synth_prod.validation_report["pluginReports"]
        for violation in plugin["violations"]
    )


def test_the_web_acl_lets_everything_else_through(synth_prod: Synth) -> None:
    properties = web_acl(synth_prod)
    assert properties["Scope"] == "REGIONAL"
    assert properties["DefaultAction"] == {"Allow": {}}
    # First, what did not come through the distribution; then the limits.
    assert [rule["Name"] for rule in properties["Rules"]] == [ORIGIN_RULE, *APP_RULES, IP_RULE]
    assert [rule["Priority"] for rule in properties["Rules"]] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        (
            "AppRateByHeader",
            {"Header": {"Name": "x-app-id", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}},
        ),
        (
            "AppRateByQuery",
            {"QueryArgument": {"Name": "appId", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}},
        ),
    ],
)
def test_apps_are_counted_by_the_app_id_in_the_header_and_in_the_query(
    synth_prod: Synth, rule: str, key: dict[str, Any]
) -> None:
    statement = rules(synth_prod)[rule]["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "CUSTOM_KEYS"
    assert statement["CustomKeys"] == [key]
    assert statement["Limit"] == int(synth_prod.context["appRateLimitPer5Min"])
    assert statement["EvaluationWindowSec"] == 300
    assert "ScopeDownStatement" not in statement


def test_requests_naming_no_app_outside_the_body_are_counted_per_viewer_address(synth_prod: Synth) -> None:
    statement = rules(synth_prod)[IP_RULE]["Statement"]["RateBasedStatement"]
    # The stage sees CloudFront's addresses: the viewer's is in the header the distribution sets.
    assert statement["AggregateKeyType"] == "FORWARDED_IP"
    assert statement["ForwardedIPConfig"] == {
        "HeaderName": edge.VIEWER_IP_HEADER,
        "FallbackBehavior": "NO_MATCH",
    }
    assert statement["Limit"] == int(synth_prod.context["ipRateLimitPer5Min"])
    assert statement["EvaluationWindowSec"] == 300
    either = statement["ScopeDownStatement"]["NotStatement"]["Statement"]["OrStatement"]["Statements"]
    present = [s["SizeConstraintStatement"] for s in either]
    assert [p["FieldToMatch"] for p in present] == [
        {"SingleHeader": {"Name": "x-app-id"}},
        {"SingleQueryArgument": {"Name": "appId"}},
    ]
    assert all((p["ComparisonOperator"], p["Size"]) == ("GT", 0) for p in present)


@pytest.mark.parametrize("rule", [*APP_RULES, IP_RULE])
def test_over_a_limit_the_answer_is_the_contracts_429(synth_prod: Synth, rule: str) -> None:
    response = rules(synth_prod)[rule]["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    headers = {header["Name"]: header["Value"] for header in response["ResponseHeaders"]}
    body = web_acl(synth_prod)["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert headers == {
        "Retry-After": str(edge.WAF_RETRY_AFTER_SECONDS),
        "Cache-Control": "no-store",
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "Retry-After, X-Request-Id",
        # WAF's answers are static: the id names the limit, the same in the header as in the body.
        "X-Request-Id": json.loads(body["Content"])["error"]["requestId"],
    }
    assert body["ContentType"] == "APPLICATION_JSON"
    envelope = json.loads(body["Content"])
    TypeAdapter(ErrorEnvelope).validate_python(envelope)  # the shape the OpenAPI document gives every error
    assert envelope["ok"] is False
    # The same code as API Gateway's own throttling: a client handles both 429s alike.
    assert envelope["error"]["code"] == rest_api.THROTTLED_CODE == "TOO_MANY_REQUESTS"
    assert set(envelope["error"]) == {"code", "message", "requestId"}
    assert envelope["error"]["requestId"].startswith("waf-")


def test_the_dashboard_shows_what_each_rule_refused(synth_prod: Synth, synth_dev: Synth) -> None:
    _, dashboard = synth_prod.one("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "BlockedRequests" in body
    for rule in (*APP_RULES, IP_RULE):
        assert rule in body
    _, dev_dashboard = synth_dev.one("AWS::CloudWatch::Dashboard")
    assert "BlockedRequests" not in json.dumps(dev_dashboard["Properties"]["DashboardBody"])


@pytest.mark.parametrize(
    ("app_limit", "ip_limit", "expected"),
    [("500", "0", [ORIGIN_RULE, *APP_RULES]), ("0", "200", [ORIGIN_RULE, IP_RULE]), ("0", "0", [])],
)
def test_each_limit_set_to_0_drops_its_rules(app_limit: str, ip_limit: str, expected: list[str]) -> None:
    from infra.app import build_app

    context = {**CDK_CONTEXT, "appRateLimitPer5Min": app_limit, "ipRateLimitPer5Min": ip_limit}
    _, stack = build_app(context)  # built, not synthesized: the rules are known at construction
    assert stack.edge.rule_names == expected
    assert (stack.edge.web_acl is None) == (expected == [])


def test_the_api_document_describes_the_edges_429() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    response = document["components"]["responses"]["TooManyRequests"]
    assert "Retry-After" in response["headers"]
    code = response["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]
    assert code["properties"]["code"]["enum"] == [rest_api.THROTTLED_CODE]
    for refusal in (edge.APP_RATE_LIMITED, edge.IP_RATE_LIMITED):
        assert refusal.request_id in response["description"], "run make openapi"
