"""The stack's tunables, read once from CDK context and validated.

Their defaults live in cdk.json (the one place a reader looks for them) and any of them
can be overridden for one run with `-c key=value`; docs/deploy.md describes each key.
Values given on the command line arrive as strings, so every reader here converts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from calls import tables
from calls.settings import worst_case_request_seconds

# The function's Python, chosen from measurements rather than "newest": maxday/lambda-perf's 2026
# figures put python3.13's init about 20 ms ahead of python3.14's on arm64, and both have SnapStart
# and a Powertools layer. The suite runs on the same minor version (make deps, pyproject.toml's
# requires-python); tests/infra/test_function.py keeps every place that names it in step.
LAMBDA_RUNTIME = "python3.13"

STAGES = ("dev", "prod")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The finite retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

CONTEXT_KEYS = (
    "stage",
    "joinBaseUrl",
    "domainName",
    "certificateArn",
    "callTtlSeconds",
    "cacheTtlSeconds",
    "throttlingRateLimit",
    "throttlingBurstLimit",
    "lambdaMemoryMb",
    "lambdaTimeoutSeconds",
    "dynamodbConnectTimeoutSeconds",
    "dynamodbReadTimeoutSeconds",
    "dynamodbMaxAttempts",
    "logLevel",
    "logRetentionDays",
    "alarmEmail",
    "latencyP99AlarmMs",
    "snapStart",
    "provisionedConcurrency",
    "appRateLimitPer5Min",
    "ipRateLimitPer5Min",
    "recordingRetentionDays",
    "iceProvider",
    "kinesisTurnChannels",
    "turnUrls",
    "turnSecretArn",
)
# Where the join answer's TURN servers come from (infra/ice.py, functions/calls/ice.py): Kinesis Video
# Streams' managed TURN on channels the stack creates, a TURN server of the operator's that takes the
# TURN REST API's shared secret (coturn use-auth-secret), or no TURN at all (STUN only).
ICE_PROVIDERS = ("kinesis", "turn-rest", "none")
# Channels the Kinesis Video TURN fetches are spread over; each container fetches about every four
# minutes, so a few channels carry any realistic load (docs/deploy.md, TURN).
KINESIS_TURN_CHANNELS_RANGE = (1, 10)
# CloudFront takes a custom domain's certificate from ACM in us-east-1 only, whatever the stack's region.
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[A-Za-z0-9-]+$")
_DOMAIN_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")
# AWS WAF's bounds for a rate-based rule's limit (requests per evaluation window).
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)


class ConfigError(ValueError):
    pass


class ContextSource(Protocol):
    def try_get_context(self, key: str) -> Any: ...


class _StageContext:
    """A key's value may be one per stage, `{"dev": 0, "prod": 3000}`: this stage's is the value.
    `-c key=value` gives one plain value, which then applies to whichever stage is synthesized."""

    def __init__(self, node: ContextSource, stage: str):
        self._node = node
        self._stage = stage

    def try_get_context(self, key: str) -> Any:
        value = self._node.try_get_context(key)
        if isinstance(value, dict):
            if self._stage not in value:
                raise ConfigError(
                    f"{key} gives values for {', '.join(sorted(value))} but not for {self._stage}"
                )
            return value[self._stage]
        return value


@dataclass(frozen=True)
class StackConfig:
    stage: str
    # None: the site's own origin, the distribution's (or the custom domain's) https URL.
    join_base_url: str | None
    # A custom domain for the distribution, with its ACM certificate (us-east-1); None: CloudFront's.
    domain_name: str | None
    certificate_arn: str | None
    call_ttl_seconds: int
    cache_ttl_seconds: float
    throttling_rate_limit: float
    throttling_burst_limit: int
    lambda_memory_mb: int
    lambda_timeout_seconds: int
    dynamodb_connect_timeout_seconds: float
    dynamodb_read_timeout_seconds: float
    dynamodb_max_attempts: int
    log_level: str
    log_retention_days: int
    alarm_email: str | None
    latency_p99_alarm_ms: int
    snap_start: bool
    provisioned_concurrency: int
    app_rate_limit_per_5min: int
    ip_rate_limit_per_5min: int
    ice_provider: str
    kinesis_turn_channels: int
    turn_urls: tuple[str, ...]
    turn_secret_arn: str | None
    # Days a recording is kept (the bucket's lifecycle rule, the recordings table's TTL).
    recording_retention_days: int = 30

    @property
    def is_production(self) -> bool:
        return self.stage == "prod"

    @property
    def has_web_acl(self) -> bool:
        """A WAF web ACL on the stage exists for the rate limits, when either is set."""
        return self.app_rate_limit_per_5min > 0 or self.ip_rate_limit_per_5min > 0

    @property
    def publishes_versions(self) -> bool:
        """SnapStart and provisioned concurrency both work on a published version behind an alias."""
        return self.snap_start or self.provisioned_concurrency > 0

    @property
    def stack_name(self) -> str:
        return f"VideoCallsApi-{self.stage}"


def _raw(node: ContextSource, key: str) -> Any:
    value = node.try_get_context(key)
    if value is None:
        raise ConfigError(f"context key {key!r} is missing: cdk.json holds its default")
    return value


def _text(node: ContextSource, key: str) -> str:
    return str(_raw(node, key)).strip()


def _number(node: ContextSource, key: str, *, minimum: float, maximum: float | None = None) -> float:
    raw = _raw(node, key)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = (
            f"between {_plain(minimum)} and {_plain(maximum)}"
            if maximum is not None
            else f"at least {_plain(minimum)}"
        )
        raise ConfigError(f"{key} must be {bounds}, got {raw!r}")
    return value


def _plain(value: float) -> str:
    """2000000000, not 2e+09."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _integer(node: ContextSource, key: str, *, minimum: int, maximum: int | None = None) -> int:
    value = _number(node, key, minimum=minimum, maximum=maximum)
    if not value.is_integer():
        raise ConfigError(f"{key} must be a whole number, got {_raw(node, key)!r}")
    return int(value)


def _flag(node: ContextSource, key: str) -> bool:
    raw = _raw(node, key)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in ("true", "false"):
        raise ConfigError(f"{key} must be true or false, got {raw!r}")
    return text == "true"


def _rate_limit(node: ContextSource, key: str) -> int:
    value = _integer(node, key, minimum=0, maximum=WAF_RATE_LIMIT_RANGE[1])
    if 0 < value < WAF_RATE_LIMIT_RANGE[0]:
        raise ConfigError(
            f"{key} must be 0 (no such rule) or at least {WAF_RATE_LIMIT_RANGE[0]}, WAF's lowest"
        )
    return value


def _choice(node: ContextSource, key: str, choices: tuple[str, ...]) -> str:
    value = _text(node, key)
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _text_list(node: ContextSource, key: str) -> tuple[str, ...]:
    """A JSON list in cdk.json; on the command line, a JSON list or comma-separated words."""
    raw = _raw(node, key)
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except ValueError:
                raise ConfigError(f"{key} must be a list of strings, got {text!r}") from None
        else:
            raw = [word for word in (part.strip() for part in text.split(",")) if word]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ConfigError(f"{key} must be a list of strings, got {raw!r}")
    return tuple(item.strip() for item in raw if item.strip())


def _custom_domain(node: ContextSource) -> tuple[str | None, str | None]:
    domain_name = _text(node, "domainName").lower().rstrip(".")
    certificate_arn = _text(node, "certificateArn")
    if bool(domain_name) != bool(certificate_arn):
        raise ConfigError(
            "domainName and certificateArn go together: a custom domain needs its certificate, and a "
            "certificate is only used for a custom domain"
        )
    if not domain_name:
        return None, None
    if not _DOMAIN_NAME.match(domain_name):
        raise ConfigError(f"domainName must be a host name such as video.example.com, got {domain_name!r}")
    if not _CERTIFICATE_ARN.match(certificate_arn):
        raise ConfigError(
            "certificateArn must be the ARN of an ACM certificate in us-east-1 (CloudFront takes its "
            f"certificates from there only), got {certificate_arn!r}"
        )
    return domain_name, certificate_arn


def _ice(node: ContextSource) -> dict[str, Any]:
    provider = _choice(node, "iceProvider", ICE_PROVIDERS)
    turn_urls = _text_list(node, "turnUrls")
    turn_secret_arn = _text(node, "turnSecretArn")
    if provider != "turn-rest" and (turn_urls or turn_secret_arn):
        raise ConfigError(
            f"turnUrls and turnSecretArn configure iceProvider turn-rest, not {provider}: set "
            "iceProvider=turn-rest or leave them empty"
        )
    if provider == "turn-rest":
        if not turn_urls:
            raise ConfigError("iceProvider turn-rest needs turnUrls, the TURN server's turn: or turns: URLs")
        wrong = [url for url in turn_urls if not url.startswith(("turn:", "turns:"))]
        if wrong:
            raise ConfigError(f"turnUrls must be turn: or turns: URLs, got {wrong[0]!r}")
        if not _SECRET_ARN.match(turn_secret_arn):
            raise ConfigError(
                "iceProvider turn-rest needs turnSecretArn, the ARN of the Secrets Manager secret that "
                f"holds the TURN server's shared secret, got {turn_secret_arn!r}"
            )
    low, high = KINESIS_TURN_CHANNELS_RANGE
    return {
        "ice_provider": provider,
        "kinesis_turn_channels": _integer(node, "kinesisTurnChannels", minimum=low, maximum=high),
        "turn_urls": turn_urls,
        "turn_secret_arn": turn_secret_arn or None,
    }


def load_config(context: ContextSource) -> StackConfig:
    stage = _choice(context, "stage", STAGES)
    node = _StageContext(context, stage)
    join_base_url = _text(node, "joinBaseUrl").rstrip("/")
    if join_base_url and not join_base_url.startswith("https://"):
        raise ConfigError(
            f"joinBaseUrl must be an https URL or empty (the site's own), got {join_base_url!r}"
        )
    domain_name, certificate_arn = _custom_domain(node)

    retention = _integer(node, "logRetentionDays", minimum=1)
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError(f"logRetentionDays must be one of {LOG_RETENTION_DAYS}, got {retention}")

    alarm_email = _text(node, "alarmEmail")
    if alarm_email and "@" not in alarm_email:
        raise ConfigError(f"alarmEmail must be an email address or empty, got {alarm_email!r}")

    config = StackConfig(
        stage=stage,
        join_base_url=join_base_url or None,
        domain_name=domain_name,
        certificate_arn=certificate_arn,
        # The same lower bound the Lambda's settings enforce: a call must live at least a minute.
        call_ttl_seconds=_integer(node, "callTtlSeconds", minimum=60),
        cache_ttl_seconds=_number(node, "cacheTtlSeconds", minimum=0),
        throttling_rate_limit=_number(node, "throttlingRateLimit", minimum=1),
        throttling_burst_limit=_integer(node, "throttlingBurstLimit", minimum=1),
        lambda_memory_mb=_integer(node, "lambdaMemoryMb", minimum=128, maximum=10_240),
        # API Gateway gives up on an integration after 29 s: a longer function would only
        # turn a clean 503 into the gateway's 504.
        lambda_timeout_seconds=_integer(node, "lambdaTimeoutSeconds", minimum=1, maximum=29),
        dynamodb_connect_timeout_seconds=_number(node, "dynamodbConnectTimeoutSeconds", minimum=0.05),
        dynamodb_read_timeout_seconds=_number(node, "dynamodbReadTimeoutSeconds", minimum=0.05),
        dynamodb_max_attempts=_integer(node, "dynamodbMaxAttempts", minimum=1, maximum=10),
        log_level=_choice(node, "logLevel", LOG_LEVELS),
        log_retention_days=retention,
        alarm_email=alarm_email or None,
        latency_p99_alarm_ms=_integer(node, "latencyP99AlarmMs", minimum=1),
        snap_start=_flag(node, "snapStart"),
        provisioned_concurrency=_integer(node, "provisionedConcurrency", minimum=0),
        app_rate_limit_per_5min=_rate_limit(node, "appRateLimitPer5Min"),
        ip_rate_limit_per_5min=_rate_limit(node, "ipRateLimitPer5Min"),
        # S3 expires objects after a whole number of days, one at least; ten years is past any use.
        recording_retention_days=_integer(node, "recordingRetentionDays", minimum=1, maximum=3650),
        **_ice(node),
    )
    if config.snap_start and config.provisioned_concurrency:
        raise ConfigError(
            "snapStart and provisionedConcurrency cannot both be on: Lambda does not run provisioned "
            "concurrency on SnapStart versions; choose one (README, Performance)"
        )
    # A request's DynamoDB calls with all their retries must fit in the function's time, so
    # a slow database ends in the handler's 503 rather than a Lambda timeout.
    worst = worst_case_request_seconds(
        config.dynamodb_connect_timeout_seconds,
        config.dynamodb_read_timeout_seconds,
        config.dynamodb_max_attempts,
    )
    if worst >= config.lambda_timeout_seconds:
        raise ConfigError(
            f"lambdaTimeoutSeconds ({config.lambda_timeout_seconds}) must exceed a request's worst case "
            f"with these DynamoDB timeouts and attempts, {worst:g} s"
        )
    return config


SERVICE_NAME = "video-calls"


def metrics_namespace(config: StackConfig) -> str:
    # One namespace per stage, so dev traffic never shows on prod's dashboard.
    return f"VideoCalls/{config.stage}"


def function_environment(
    config: StackConfig, *, apps_table: str, calls_table: str, idempotency_table: str
) -> dict[str, str]:
    """The function's environment, but for the URLs that name the deployed site (infra/api_function.py
    adds JOIN_BASE_URL and SIGNALING_URL); the benchmark runs the handler with the same one."""
    return {
        tables.APPS.name_variable: apps_table,
        tables.CALLS.name_variable: calls_table,
        tables.IDEMPOTENCY.name_variable: idempotency_table,
        "CALL_TTL_SECONDS": str(config.call_ttl_seconds),
        "CACHE_TTL_SECONDS": f"{config.cache_ttl_seconds:g}",
        "DYNAMODB_CONNECT_TIMEOUT_SECONDS": f"{config.dynamodb_connect_timeout_seconds:g}",
        "DYNAMODB_READ_TIMEOUT_SECONDS": f"{config.dynamodb_read_timeout_seconds:g}",
        "DYNAMODB_MAX_ATTEMPTS": str(config.dynamodb_max_attempts),
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace(config),
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        # The function uses no pydantic plugins: skip their entry-point scan on every cold start.
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }
