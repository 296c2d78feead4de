"""Per-app rate limits at the edge (docs/behaviour.md section 8): an AWS WAF web ACL on the API's
stage, which answers a client over a limit with the API's 429 envelope before the function runs.

The API is reached through the CloudFront distribution (infra/distribution.py), so the stage sees
CloudFront's addresses, not the viewers'. The web ACL stays REGIONAL on the stage (a CLOUDFRONT-scoped
one must live in us-east-1, which a stack in another region cannot own), and:

- the distribution sends a secret header with every request to the API (ORIGIN_VERIFY_HEADER, its
  value a secret generated at the first deploy, passed to both by dynamic reference), and the web
  ACL's first rule refuses every request without it: with a web ACL, the execute-api endpoint answers
  only what came through the distribution;
- a viewer-request function of the distribution sets VIEWER_IP_HEADER to the viewer's address,
  over any value the client sent, and the per-address rule counts that header's address. Only the
  distribution can reach the stage, and it always overwrites the header: no client picks the
  address it is counted under.

Without a web ACL (both limits 0: dev by default) none of this exists and the execute-api endpoint
answers directly too (docs/deploy.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_secretsmanager as secretsmanager
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
# Set by the distribution on every request to the API: its secret (to the origin), the viewer's
# address (by its viewer-request function). Names of no standard or CloudFront header, which edge
# functions may not set (X-Real-IP, X-Forwarded-*, X-Amz-Cf-*).
ORIGIN_VERIFY_HEADER = "x-origin-verify"
VIEWER_IP_HEADER = "x-viewer-ip"
# Letters and digits: the header's value, and a WAF search string (at most 200 bytes).
ORIGIN_VERIFY_LENGTH = 48


@dataclass(frozen=True)
class EdgeRefusal:
    """A WAF custom response: an error in the API's envelope (by default its 429). WAF's bodies are
    static, so there is no request id to give; requestId names the rule instead, which points
    whoever is handed it at the web ACL's metrics rather than the access logs (the request never
    reached API Gateway's logs)."""

    key: str
    message: str
    request_id: str
    status: int = 429
    code: str = THROTTLED_CODE

    @property
    def body(self) -> str:
        error = {"code": self.code, "message": self.message, "requestId": self.request_id}
        return json.dumps({"ok": False, "error": error}, separators=(",", ":"))

    @property
    def headers(self) -> dict[str, str]:
        headers = dict(EDGE_REFUSAL_HEADERS)
        if self.status != 429:  # nothing to wait for
            del headers["Retry-After"]
            headers["Access-Control-Expose-Headers"] = "X-Request-Id"
        # Static, like the body: the id names the rule.
        return {**headers, "X-Request-Id": self.request_id}


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
# A request to the execute-api endpoint itself, where the web ACL guards the stage: not the API's
# address (nothing in the API documents it), so no code of the API's contract either.
NOT_THROUGH_THE_SITE = EdgeRefusal(
    "NotThroughTheSite",
    "Call the API at the site's address (the stack's SiteUrl), not at its API Gateway endpoint.",
    "waf-origin-check",
    status=403,
    code="FORBIDDEN",
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
        self.origin_verify_secret = self._origin_verify_secret() if config.has_web_acl else None
        self.web_acl = self._web_acl() if config.has_web_acl else None
        self.rule_names = [rule.name for rule in self._rules]

    def _origin_verify_secret(self) -> secretsmanager.Secret:
        """What the distribution proves itself with to the web ACL: generated by Secrets Manager at the
        first deploy, in neither the template nor cdk.out; both read it by dynamic reference."""
        return secretsmanager.Secret(
            self,
            "OriginVerifySecret",
            description=f"The header the distribution sends the Video Calls API ({self.config.stage}) with",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=ORIGIN_VERIFY_LENGTH, exclude_punctuation=True
            ),
            # Worthless without the stack: it goes with it, in prod too.
            removal_policy=RemovalPolicy.DESTROY,
        )

    @property
    def origin_headers(self) -> dict[str, str] | None:
        """The headers the distribution must send with every request to the API; None without a web ACL."""
        if self.origin_verify_secret is None:
            return None
        return {ORIGIN_VERIFY_HEADER: self.origin_verify_secret.secret_value.unsafe_unwrap()}

    def _web_acl(self) -> wafv2.CfnWebACL:
        config = self.config
        as_is = [wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]
        assert self.origin_headers is not None
        self._add_rule(
            "ViaDistributionOnly",
            wafv2.CfnWebACL.StatementProperty(
                not_statement=wafv2.CfnWebACL.NotStatementProperty(
                    statement=wafv2.CfnWebACL.StatementProperty(
                        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                                single_header={"Name": ORIGIN_VERIFY_HEADER}
                            ),
                            positional_constraint="EXACTLY",
                            search_string=self.origin_headers[ORIGIN_VERIFY_HEADER],
                            text_transformations=as_is,
                        )
                    )
                )
            ),
            NOT_THROUGH_THE_SITE,
        )
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
                    _rate_based(
                        wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="CUSTOM_KEYS",
                            custom_keys=[key],
                            limit=config.app_rate_limit_per_5min,
                            evaluation_window_sec=WAF_WINDOW_SECONDS,
                        )
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
                _rate_based(
                    wafv2.CfnWebACL.RateBasedStatementProperty(
                        # The viewer's address, as the distribution's function set it: the stage itself
                        # sees only CloudFront's.
                        aggregate_key_type="FORWARDED_IP",
                        forwarded_ip_config=wafv2.CfnWebACL.ForwardedIPConfigurationProperty(
                            header_name=VIEWER_IP_HEADER,
                            # Never the case through the distribution, whose function writes an address.
                            fallback_behavior="NO_MATCH",
                        ),
                        limit=config.ip_rate_limit_per_5min,
                        evaluation_window_sec=WAF_WINDOW_SECONDS,
                        scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                            not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=names_an_app)
                        ),
                    )
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
        self, name: str, statement: wafv2.CfnWebACL.StatementProperty, refusal: EdgeRefusal
    ) -> None:
        if refusal not in self._refusals:
            self._refusals.append(refusal)
        self._rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=len(self._rules),
                statement=statement,
                action=wafv2.CfnWebACL.RuleActionProperty(
                    block=wafv2.CfnWebACL.BlockActionProperty(
                        custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                            response_code=refusal.status,
                            custom_response_body_key=refusal.key,
                            response_headers=[
                                wafv2.CfnWebACL.CustomHTTPHeaderProperty(name=header, value=value)
                                for header, value in refusal.headers.items()
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
        if self.origin_verify_secret is not None:
            return [
                NagAcknowledgement(
                    self.origin_verify_secret,
                    "AwsSolutions-SMG4",
                    "The origin check's value is not rotated on a schedule: the distribution and the web ACL "
                    "read it through dynamic references resolved at deploy, so a rotated value would reach "
                    "neither until a deploy updates both, and every request between would be refused. It "
                    "keeps callers off the execute-api endpoint; it is no credential of any caller.",
                )
            ]
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


def _rate_based(statement: wafv2.CfnWebACL.RateBasedStatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(rate_based_statement=statement)
