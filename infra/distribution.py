"""One origin for the page, the API and signaling (docs/behaviour.md section 9.1): a CloudFront
distribution in front of the site's bucket, the REST API and the WebSocket API, as upstream serves
`/api/calls` and `/c/{callId}` from one host.

| path       | origin                         | cached                  | viewer-request function        |
|------------|--------------------------------|-------------------------|--------------------------------|
| `/api/*`   | the REST API, `/{stage}`       | never                   | the viewer's address, as the   |
|            |                                |                         | header WAF counts (infra/edge) |
| `/ws`      | the WebSocket API              | never                   | `/ws` becomes `/{stage}`       |
| default    | the site's bucket (OAC)        | a day (files: 5 min in  | `/c/{callId}` is the call page,|
|            |                                | browsers)               | `/genesys/` the panel          |

The API origins are built from the APIs' ids, not their URLs or stage objects: the API function's
environment names this distribution (JOIN_BASE_URL, SIGNALING_URL), and a reference to the REST
stage would close a cycle (stage -> deployment -> methods -> function -> distribution).

The API's viewer headers all reach it but Host (API Gateway answers only its own name): credentials,
Origin, Idempotency-Key, the query string. The WebSocket's too: the token in the query, the
Sec-WebSocket-* headers of the handshake. Nothing of theirs is ever cached, and every API answer says
`Cache-Control: no-store` besides. No custom error pages: they would replace the API's own 4xx and 5xx
bodies too, a distribution's error responses applying to all its origins.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from constructs import Construct

from infra.config import StackConfig
from infra.edge import VIEWER_IP_HEADER
from infra.parts import NagAcknowledgement
from infra.site import Site

API_PATH_PATTERN = "/api/*"
SIGNALING_PATH = "/ws"
CALL_PAGE = "/call/index.html"
GENESYS_PAGE = "/genesys/index.html"

# The default behaviour's pages, as the local run serves them (tools/localrun/static.py): one call page
# for every /c/{callId}, the Genesys panel at /genesys/ (and /genesys, redirected: the panel loads its
# script by a relative path, which needs the slash).
SITE_REQUEST_CODE = r"""
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (/^\/c\/[^\/]+$/.test(uri)) {
    request.uri = '__CALL_PAGE__';
    return request;
  }
  if (uri === '/genesys/') {
    request.uri = '__GENESYS_PAGE__';
    return request;
  }
  if (uri === '/genesys') {
    return {
      statusCode: 301,
      statusDescription: 'Moved Permanently',
      headers: { location: { value: '/genesys/' + queryString(request.querystring) } }
    };
  }
  return request;
}

function queryString(querystring) {
  var parts = [];
  for (var name in querystring) {
    var parameter = querystring[name];
    var values = parameter.multiValue ? parameter.multiValue : [parameter];
    for (var i = 0; i < values.length; i++) {
      parts.push(values[i].value === '' ? name : name + '=' + values[i].value);
    }
  }
  return parts.length ? '?' + parts.join('&') : '';
}
"""

# The viewer's address, for WAF's per-address count (infra/edge.py): set here, over any value the
# client sent, so that no client can choose the address it is counted under.
API_REQUEST_CODE = r"""
function handler(event) {
  var request = event.request;
  request.headers['__VIEWER_IP_HEADER__'] = { value: event.viewer.ip };
  return request;
}
"""

# API Gateway accepts a WebSocket connection on the stage's own path, `/{stage}`, and nothing below it:
# /ws becomes that path (the query, with the token, stays as it is).
SIGNALING_REQUEST_CODE = r"""
function handler(event) {
  var request = event.request;
  request.uri = '__STAGE_PATH__';
  return request;
}
"""


def site_request_code() -> str:
    return SITE_REQUEST_CODE.replace("__CALL_PAGE__", CALL_PAGE).replace("__GENESYS_PAGE__", GENESYS_PAGE)


def api_request_code() -> str:
    return API_REQUEST_CODE.replace("__VIEWER_IP_HEADER__", VIEWER_IP_HEADER)


def signaling_request_code(stage_name: str) -> str:
    return SIGNALING_REQUEST_CODE.replace("__STAGE_PATH__", f"/{stage_name}")


def execute_api_domain(scope: Construct, api_id: str) -> str:
    """`{apiId}.execute-api.{region}.{urlSuffix}`: an API's own host, from its id alone."""
    stack = Stack.of(scope)
    return f"{api_id}.execute-api.{stack.region}.{stack.url_suffix}"


class Distribution(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        site: Site,
        rest_api_id: str,
        websocket_api_id: str,
        stage_name: str,
        origin_headers: dict[str, str] | None = None,
    ) -> None:
        """`origin_headers`: sent to the REST API with every request (infra/edge.py's origin check)."""
        super().__init__(scope, construct_id)
        self.config = config

        def function(construct_id: str, code: str, comment: str) -> cloudfront.FunctionAssociation:
            made = cloudfront.Function(
                self,
                construct_id,
                code=cloudfront.FunctionCode.from_inline(code),
                runtime=cloudfront.FunctionRuntime.JS_2_0,
                comment=comment,
            )
            return cloudfront.FunctionAssociation(
                function=made, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
            )

        self.site_requests = function(
            "SiteRequests", site_request_code(), "/c/{callId} is the call page, /genesys/ the panel"
        )
        self.api_requests = function(
            "ApiRequests", api_request_code(), "The viewer's address, for the web ACL's per-address limit"
        )
        self.signaling_requests = function(
            "SignalingRequests", signaling_request_code(stage_name), "/ws is the WebSocket API's stage"
        )

        self.api_origin = origins.HttpOrigin(
            execute_api_domain(self, rest_api_id),
            origin_path=f"/{stage_name}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            custom_headers=origin_headers,
        )
        self.signaling_origin = origins.HttpOrigin(
            execute_api_domain(self, websocket_api_id),
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        )
        self.site_origin = origins.S3BucketOrigin.with_origin_access_control(site.bucket)

        never_cached = {
            "cache_policy": cloudfront.CachePolicy.CACHING_DISABLED,
            "origin_request_policy": cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            # Over plain http a redirected POST would arrive as a GET: refuse it instead.
            "viewer_protocol_policy": cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        }
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
            if config.certificate_arn
            else None
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Video Calls ({config.stage}): the call page, the API and signaling on one origin",
            default_behavior=cloudfront.BehaviorOptions(
                origin=self.site_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                compress=True,
                function_associations=[self.site_requests],
                response_headers_policy=self._site_headers(),
            ),
            additional_behaviors={
                API_PATH_PATTERN: cloudfront.BehaviorOptions(
                    origin=self.api_origin,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    function_associations=[self.api_requests],
                    **never_cached,  # type: ignore[arg-type]
                ),
                SIGNALING_PATH: cloudfront.BehaviorOptions(
                    origin=self.signaling_origin,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    function_associations=[self.signaling_requests],
                    **never_cached,  # type: ignore[arg-type]
                ),
            },
            domain_names=[config.domain_name] if config.domain_name else None,
            certificate=certificate,
            minimum_protocol_version=(
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate is not None else None
            ),
            http_version=cloudfront.HttpVersion.HTTP2,
        )
        self.host = config.domain_name or self.distribution.distribution_domain_name
        # The site's origin: the join links' base unless joinBaseUrl names another.
        self.url = f"https://{self.host}"
        self.signaling_url = f"wss://{self.host}{SIGNALING_PATH}"

    def _site_headers(self) -> cloudfront.ResponseHeadersPolicy:
        """What the static files are served with besides their own headers. No X-Frame-Options: Genesys
        Cloud shows the panel in a frame of its own origin."""
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SiteHeaders",
            comment="The call page, the Genesys panel and the widget script",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=False, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                # The agent's link carries a credential: no page of the site names it to another site.
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        distribution = self.distribution
        found = [
            NagAcknowledgement(
                distribution,
                "AwsSolutions-CFR1",
                "No geo restriction: the call page and the API serve the callers of every app, wherever "
                "their customers and agents are; which countries to refuse is not this service's choice.",
            ),
            NagAcknowledgement(
                distribution,
                "AwsSolutions-CFR2",
                "No web ACL on the distribution: a CLOUDFRONT-scoped web ACL must be created in us-east-1, "
                "which a stack in another region cannot own. The rate limits stay on the REST stage's "
                "regional web ACL (infra/edge.py), which counts the viewer's address the distribution "
                "hands it; the static files are public, and signaling takes only single-use tokens.",
            ),
            NagAcknowledgement(
                distribution,
                "AwsSolutions-CFR3",
                "No standard logs: they record every request's query string, and the join links (host "
                "keys, widget keys) and the Genesys panel's address carry credentials there. The API's "
                "JSON access logs, which hold no query string, record every API request.",
            ),
        ]
        if self.config.domain_name is None:
            found.append(
                NagAcknowledgement(
                    distribution,
                    "AwsSolutions-CFR4",
                    "Without a custom domain the distribution serves CloudFront's own *.cloudfront.net "
                    "certificate, whose minimum protocol CloudFront fixes and no stack can raise; with "
                    "domainName and certificateArn the distribution requires TLSv1.2_2021.",
                )
            )
        return found
