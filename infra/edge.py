"""Per-app rate limits at the edge (docs/behaviour.md section 8): an AWS WAF web ACL on the API's
stage, which answers a client over a limit with the API's 429 envelope before the function runs."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import StackConfig
from infra.parts import NagAcknowledgement, Part
from infra.rest_api import THROTTLED_CODE

# AWS WAF counts requests per app id, from the X-App-Id header and from the appId query parameter
# (WAF matches header names in any case), over WAF_WINDOW_SECONDS.
APP_ID_HEADER, APP_ID_QUERY_PARAMETER = "x-app-id", "appId"
WAF_WINDOW_SECONDS = 300  # the context keys' "per 5 min"
# A client over a limit is refused until its count over the last five minutes falls back under
# it: one second (API Gateway throttling's hint) would only spend more of the count.
WAF_RETRY_AFTER_SECONDS = 60


@dataclass(frozen=True)
class EdgeRefusal:
    """A WAF custom response body: the API's 429 in its envelope. WAF's bodies are static, so
    there is no request id to give; requestId names the limit instead, which points whoever is
    handed it at the web ACL's metrics rather than the access logs (the request never reached
    API Gateway's logs)."""

    key: str
    message: str
    request_id: str

    @property
    def body(self) -> str:
        error = {"code": THROTTLED_CODE, "message": self.message, "requestId": self.request_id}
        return json.dumps({"ok": False, "error": error}, separators=(",", ":"))


APP_RATE_LIMITED = EdgeRefusal(
    "AppRateLimited",
    "Too many requests for this app. Retry after Retry-After seconds.",
    "waf-app-rate-limit",
)
IP_RATE_LIMITED = EdgeRefusal(
    "IpRateLimited",
    "Too many requests from this address. Retry after Retry-After seconds.",
    "waf-ip-rate-limit",
)
EDGE_REFUSAL_HEADERS = {
    "Retry-After": str(WAF_RETRY_AFTER_SECONDS),
    "Cache-Control": "no-store",
    # WAF cannot echo the Origin as the gateway responses do; the body holds nothing app-specific.
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Retry-After, X-Request-Id",
}


class Edge(Part):
    """AWS WAF on the stage with the rate limits of cdk.json (no web ACL where both are 0).

    Two rules count requests per app id, one per place a request can name it: WAF aggregates
    on one request component at a time, and a request without that component is not counted
    by that rule. Requests naming no app id outside the body (credentials in the body, CORS
    preflights, stray paths) are counted per source IP instead. App ids are public (they sit in
    widget pages), so the per-app count is a fairness cap between apps, not authentication:
    a caller can spend another app's allowance by naming it, and can dodge the per-app rules
    with made-up ids, which the stage throttle still bounds and the function answers 401.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, stage: apigateway.Stage
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.stage = stage
        self._rules: list[wafv2.CfnWebACL.RuleProperty] = []
        self._refusals: list[EdgeRefusal] = []
        self.web_acl = self._web_acl() if config.has_web_acl else None
        self.rule_names = [rule.name for rule in self._rules]

    def _web_acl(self) -> wafv2.CfnWebACL:
        config = self.config
        as_is = [wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]
        if config.app_rate_limit_per_5min:
            by_header = wafv2.CfnWebACL.RateBasedStatementCustomKeyProperty(
                header=wafv2.CfnWebACL.RateLimitHeaderProperty(name=APP_ID_HEADER, text_transformations=as_is)
            )
            by_query = wafv2.CfnWebACL.RateBasedStatementCustomKeyProperty(
                query_argument=wafv2.CfnWebACL.RateLimitQueryArgumentProperty(
                    name=APP_ID_QUERY_PARAMETER, text_transformations=as_is
                )
            )
            for name, key in (("AppRateByHeader", by_header), ("AppRateByQuery", by_query)):
                self._add_rule(
                    name,
                    wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="CUSTOM_KEYS",
                        custom_keys=[key],
                        limit=config.app_rate_limit_per_5min,
                        evaluation_window_sec=WAF_WINDOW_SECONDS,
                    ),
                    APP_RATE_LIMITED,
                )
        if config.ip_rate_limit_per_5min:

            def present(field: wafv2.CfnWebACL.FieldToMatchProperty) -> wafv2.CfnWebACL.StatementProperty:
                return wafv2.CfnWebACL.StatementProperty(
                    size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                        field_to_match=field, comparison_operator="GT", size=0, text_transformations=as_is
                    )
                )

            names_an_app = wafv2.CfnWebACL.StatementProperty(
                or_statement=wafv2.CfnWebACL.OrStatementProperty(
                    statements=[
                        present(wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": APP_ID_HEADER})),
                        present(
                            wafv2.CfnWebACL.FieldToMatchProperty(
                                single_query_argument={"Name": APP_ID_QUERY_PARAMETER}
                            )
                        ),
                    ]
                )
            )
            self._add_rule(
                "IpRateWithoutAppId",
                wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=config.ip_rate_limit_per_5min,
                    evaluation_window_sec=WAF_WINDOW_SECONDS,
                    scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                        not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=names_an_app)
                    ),
                ),
                IP_RATE_LIMITED,
            )

        web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.stack_name}-rate-limits",
            description="Per-app and per-IP rate limits of the Video Calls API stage",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=self._rules,
            custom_response_bodies={
                refusal.key: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=refusal.body
                )
                for refusal in self._refusals
            },
            visibility_config=self._visibility("all"),
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.stage.stage_arn,
            web_acl_arn=web_acl.attr_arn,
        )
        return web_acl

    def _add_rule(
        self, name: str, statement: wafv2.CfnWebACL.RateBasedStatementProperty, refusal: EdgeRefusal
    ) -> None:
        if refusal not in self._refusals:
            self._refusals.append(refusal)
        self._rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=len(self._rules),
                statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=statement),
                action=wafv2.CfnWebACL.RuleActionProperty(
                    block=wafv2.CfnWebACL.BlockActionProperty(
                        custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                            response_code=429,
                            custom_response_body_key=refusal.key,
                            response_headers=[
                                wafv2.CfnWebACL.CustomHTTPHeaderProperty(name=header, value=value)
                                for header, value in {
                                    **EDGE_REFUSAL_HEADERS,
                                    # Static, like the body: the id names the limit (EdgeRefusal).
                                    "X-Request-Id": refusal.request_id,
                                }.items()
                            ],
                        )
                    )
                ),
                visibility_config=self._visibility(name),
            )
        )

    def _visibility(self, name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True,
            metric_name=f"{self.config.stack_name}-{name}",
            # Off: WAF keeps sampled requests with their headers and query string, unredacted,
            # and those carry widget keys and host keys (docs/behaviour.md: credentials never stored).
            sampled_requests_enabled=False,
        )

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        if self.web_acl is not None:
            return []
        return [
            NagAcknowledgement(
                self.stage,
                "AwsSolutions-APIG3",
                "No WAF web ACL on this stage: both rate limits (appRateLimitPer5Min, ipRateLimitPer5Min) "
                "are 0, as they are by default outside prod, where a web ACL's monthly fee buys nothing; "
                "the stage is throttled (throttlingRateLimit/BurstLimit) and every call needs an app's "
                "credentials.",
            )
        ]
