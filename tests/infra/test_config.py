"""The tunables: defaults in cdk.json, validation in infra.config, documentation in docs/deploy.md."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.config import CONTEXT_KEYS, LOG_RETENTION_DAYS, ConfigError, load_config
from infra.lambda_defaults import RETENTION_DAYS
from tests.conftest import ROOT
from tests.infra.conftest import CDK_CONTEXT


class FakeNode:
    def __init__(self, context: dict[str, Any]):
        self.context = context

    def try_get_context(self, key: str) -> Any:
        return self.context.get(key)


def config_with(**overrides: Any) -> Any:
    return load_config(FakeNode({**CDK_CONTEXT, **overrides}))


def test_cdk_json_holds_a_default_for_every_tunable_and_no_stray_one() -> None:
    tunables = {key for key in CDK_CONTEXT if not key.startswith("@")}
    assert tunables == set(CONTEXT_KEYS)


def test_defaults_are_the_documented_ones() -> None:
    config = load_config(FakeNode(CDK_CONTEXT))
    assert config.stage == "dev"
    assert config.stack_name == "VideoCallsApi-dev"
    # The join links' base: the site's own origin, known once the distribution exists.
    assert config.join_base_url is None
    assert (config.domain_name, config.certificate_arn) == (None, None)
    assert (config.ice_provider, config.kinesis_turn_channels) == ("kinesis", 2)
    assert (config.turn_urls, config.turn_secret_arn) == ((), None)
    assert config.call_ttl_seconds == 86_400
    assert config.cache_ttl_seconds == 30
    assert (config.throttling_rate_limit, config.throttling_burst_limit) == (50, 100)
    assert (config.lambda_memory_mb, config.lambda_timeout_seconds) == (1024, 20)
    assert config.log_level == "INFO"
    assert config.log_retention_days == 30
    assert config.alarm_email is None
    assert config.latency_p99_alarm_ms == 2000
    assert not config.is_production
    assert (config.snap_start, config.provisioned_concurrency) == (False, 0)
    assert not config.publishes_versions


def test_every_tunable_is_documented_in_the_deploy_guide_with_its_default() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for key in CONTEXT_KEYS:
        row = re.search(rf"^\| `{key}` \| ([^|]*) \|", guide, flags=re.MULTILINE)
        assert row, f"docs/deploy.md has no table row for {key}"
        value = CDK_CONTEXT[key]
        if isinstance(value, dict):  # one default per stage, written "dev 0, prod 3000"
            defaults = [f"{stage} {stage_value}" for stage, stage_value in value.items()]
        else:
            defaults = [json.dumps(value) if isinstance(value, bool) else str(value) or "(empty)"]
        for default in defaults:
            assert default in row.group(1), f"docs/deploy.md gives {row.group(1)!r} as {key}'s default"


def test_command_line_strings_are_converted() -> None:
    config = config_with(stage="prod", callTtlSeconds="3600", cacheTtlSeconds="2.5", alarmEmail="a@b.c")
    assert config.is_production
    assert config.stack_name == "VideoCallsApi-prod"
    assert config.call_ttl_seconds == 3600
    assert config.cache_ttl_seconds == 2.5
    assert config.alarm_email == "a@b.c"


@pytest.mark.parametrize(
    ("given", "expected"), [("true", True), ("False", False), (True, True), (False, False)]
)
def test_snap_start_is_a_flag_from_json_or_the_command_line(given: Any, expected: bool) -> None:
    config = config_with(snapStart=given)
    assert config.snap_start is expected
    assert config.publishes_versions is expected


def test_provisioned_concurrency_publishes_versions() -> None:
    config = config_with(provisionedConcurrency="2")
    assert config.provisioned_concurrency == 2
    assert config.publishes_versions


def test_a_key_may_give_one_value_per_stage_and_the_command_line_one_for_all() -> None:
    per_stage = {"appRateLimitPer5Min": {"dev": 100, "prod": 5000}}
    assert config_with(**per_stage).app_rate_limit_per_5min == 100
    assert config_with(**per_stage, stage="prod").app_rate_limit_per_5min == 5000
    assert config_with(stage="prod", appRateLimitPer5Min="250").app_rate_limit_per_5min == 250


def test_join_base_url_loses_its_trailing_slash() -> None:
    assert config_with(joinBaseUrl="https://x.example/").join_base_url == "https://x.example"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stage": "staging"}, "stage must be one of dev, prod"),
        ({"joinBaseUrl": "http://insecure.example"}, "https URL"),
        ({"callTtlSeconds": "59"}, "callTtlSeconds must be at least 60"),
        ({"callTtlSeconds": "1.5e3x"}, "callTtlSeconds must be a number"),
        ({"lambdaMemoryMb": "100"}, "lambdaMemoryMb must be between 128 and 10240"),
        ({"lambdaTimeoutSeconds": "30"}, "lambdaTimeoutSeconds must be between 1 and 29"),
        ({"throttlingBurstLimit": "2.5"}, "throttlingBurstLimit must be a whole number"),
        ({"logRetentionDays": "31"}, "logRetentionDays must be one of"),
        ({"logLevel": "TRACE"}, "logLevel must be one of"),
        ({"alarmEmail": "not-an-address"}, "alarmEmail must be an email address"),
        ({"snapStart": "yes"}, "snapStart must be true or false"),
        ({"provisionedConcurrency": "-1"}, "provisionedConcurrency must be at least 0"),
        ({"provisionedConcurrency": "1.5"}, "provisionedConcurrency must be a whole number"),
        ({"snapStart": "true", "provisionedConcurrency": "2"}, "cannot both be on"),
        ({"appRateLimitPer5Min": "5"}, "appRateLimitPer5Min must be 0 .* or at least 10"),
        ({"ipRateLimitPer5Min": "-1"}, "ipRateLimitPer5Min must be between 0 and"),
        ({"appRateLimitPer5Min": "3e9"}, "appRateLimitPer5Min must be between 0 and 2000000000"),
        (
            {"stage": "prod", "ipRateLimitPer5Min": {"dev": 10}},
            "ipRateLimitPer5Min gives values for dev but not for prod",
        ),
        (
            {"lambdaTimeoutSeconds": "29", "dynamodbMaxAttempts": "3"},
            r"must exceed a request's worst case .*, 30 s",
        ),
    ],
)
def test_invalid_values_are_refused_with_a_reason(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_with(**overrides)


def test_a_missing_key_names_cdk_json() -> None:
    context = {key: value for key, value in CDK_CONTEXT.items() if key != "lambdaMemoryMb"}
    with pytest.raises(ConfigError, match=r"'lambdaMemoryMb' is missing: cdk\.json"):
        load_config(FakeNode(context))


def test_every_accepted_retention_has_a_cdk_name() -> None:
    assert tuple(RETENTION_DAYS) == LOG_RETENTION_DAYS


def test_dynamodb_defaults_match_the_functions_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from calls.settings import get_settings

    for name in (
        "DYNAMODB_CONNECT_TIMEOUT_SECONDS",
        "DYNAMODB_READ_TIMEOUT_SECONDS",
        "DYNAMODB_MAX_ATTEMPTS",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    function = get_settings()
    stack = load_config(FakeNode(CDK_CONTEXT))
    assert (
        stack.dynamodb_connect_timeout_seconds,
        stack.dynamodb_read_timeout_seconds,
        stack.dynamodb_max_attempts,
    ) == (
        function.dynamodb_connect_timeout_seconds,
        function.dynamodb_read_timeout_seconds,
        function.dynamodb_max_attempts,
    )
