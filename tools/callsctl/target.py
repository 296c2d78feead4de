"""Which tables `callsctl` works on: the local run's, an endpoint's, a stack's or the environment's."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from calls.settings import Settings, get_settings

from callsctl.store import AdminStore, RecordingsBucket, StoreError, TableNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# The stack's outputs that name its tables (infra/ declares them).
STACK_OUTPUTS = {
    "apps": "AppsTableName",
    "calls": "CallsTableName",
    "idempotency": "IdempotencyTableName",
    "webhooks": "WebhooksTableName",
    "recordings": "RecordingsTableName",
}
# The recordings bucket (`calls recordings --download`).
RECORDINGS_BUCKET_OUTPUT = "RecordingsBucketName"
# The function's JOIN_BASE_URL, for the guest links `calls` commands show.
JOIN_BASE_URL_OUTPUT = "JoinBaseUrl"
# Variables that say "the tables are configured here", as the Lambda reads them.
ENVIRONMENT_TARGET_VARIABLES = ("APPS_TABLE_NAME", "CALLS_TABLE_NAME", "DYNAMODB_ENDPOINT_URL")
LOCAL_REGION = "us-east-1"


class TargetError(StoreError):
    """The target cannot be reached or read (stack missing, no region, no credentials...)."""


class TargetUsageError(ValueError):
    """The options do not name one target: a usage error."""


class ConflictingTargets(TargetUsageError):
    pass


class NoTarget(TargetUsageError):
    """No target option given and none configured in the environment."""


@dataclass(frozen=True)
class Target:
    """Where the tables are. `endpoint_url` None means AWS itself."""

    description: str
    endpoint_url: str | None = None
    stack: str | None = None
    region: str | None = None
    profile: str | None = None
    unreachable_hint: str = ""
    # The base of the guest links `calls` commands show, where the target says (the local run).
    join_base_url: str | None = None
    # The local run's S3 server (recordings), where the target says.
    s3_endpoint_url: str | None = None

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None


@dataclass(frozen=True)
class TargetOptions:
    """The global options as given on the command line."""

    local: bool = False
    endpoint_url: str | None = None
    stack: str | None = None
    region: str | None = None
    profile: str | None = None


def choose_target(options: TargetOptions, environ: Mapping[str, str]) -> Target:
    """The target the options (or, failing them, the environment) name; at most one option may be given."""
    local, endpoint_url, stack = options.local, options.endpoint_url, options.stack
    region, profile = options.region, options.profile
    chosen = [
        name
        for name, given in (("--local", local), ("--endpoint-url", endpoint_url), ("--stack", stack))
        if given
    ]
    if len(chosen) > 1:
        raise ConflictingTargets(f"choose one target: {' or '.join(chosen)}")
    if local:
        return local_target(environ, region, profile)
    if endpoint_url:
        return Target(f"DynamoDB at {endpoint_url}", endpoint_url, region=region, profile=profile)
    if stack:
        return Target(f"stack {stack}", stack=stack, region=region, profile=profile)
    if any(environ.get(name, "").strip() for name in ENVIRONMENT_TARGET_VARIABLES):
        configured = environ.get("DYNAMODB_ENDPOINT_URL", "").strip() or None
        where = f"DynamoDB at {configured}" if configured else "AWS"
        return Target(
            f"the tables named by the environment on {where}", configured, region=region, profile=profile
        )
    raise NoTarget(
        "no target: pass --local, --endpoint-url URL or --stack NAME, "
        "or set APPS_TABLE_NAME and CALLS_TABLE_NAME"
    )


def local_target(environ: Mapping[str, str], region: str | None, profile: str | None) -> Target:
    """The running `make run`'s DynamoDB, as its run file (.local/run.json) says; DYNAMODB_LOCAL_PORT
    names another port, and without either it is DynamoDB Local's default, 8000."""
    from localrun.runfile import local_dir, read_local_run

    port = environ.get("DYNAMODB_LOCAL_PORT", "").strip()
    running = None if port else read_local_run(local_dir(environ))
    url = running.dynamodb_endpoint if running is not None else f"http://127.0.0.1:{port or '8000'}"
    return Target(
        f"the local run's DynamoDB at {url}",
        url,
        region=region,
        profile=profile,
        unreachable_hint=" (is `make run` running?)",
        join_base_url=running.join_base_url if running is not None else None,
        s3_endpoint_url=running.s3_endpoint if running is not None else None,
    )


def environment_settings() -> Settings:
    """The Lambda's configuration as this environment gives it, read afresh (not the cached copy)."""
    return get_settings.__wrapped__()


def table_names_from_environment() -> TableNames:
    return TableNames.from_environment()


def table_names_from_stack(cloudformation: Any, stack: str) -> TableNames:
    """Table names from the stack's outputs."""
    return table_names_from_outputs(stack, stack_outputs(cloudformation, stack))


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The stack's outputs by key."""
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        # CloudFormation reports a missing stack only as a ValidationError with this text.
        if "does not exist" in message:
            raise TargetError(f"stack {stack!r} not found in {cloudformation.meta.region_name}") from None
        raise
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def table_names_from_outputs(stack: str, outputs: Mapping[str, str]) -> TableNames:
    missing = [key for key in (STACK_OUTPUTS["apps"], STACK_OUTPUTS["calls"]) if key not in outputs]
    if missing:
        raise TargetError(f"stack {stack!r} has no output {', '.join(missing)}; is it this project's stack?")
    return TableNames(
        apps=outputs[STACK_OUTPUTS["apps"]],
        calls=outputs[STACK_OUTPUTS["calls"]],
        idempotency=outputs.get(STACK_OUTPUTS["idempotency"], ""),
        webhooks=outputs.get(STACK_OUTPUTS["webhooks"], ""),
        recordings=outputs.get(STACK_OUTPUTS["recordings"], ""),
    )


def aws_session(target: Target, environ: Mapping[str, str]) -> Any:
    """A boto3 session for the target: its profile and region; dummy credentials for local endpoints."""
    import boto3

    options: dict[str, Any] = {}
    if target.profile:
        options["profile_name"] = target.profile
    if target.region:
        options["region_name"] = target.region
    if target.is_local:
        # DynamoDB Local accepts any credentials, but botocore wants some, and a region.
        if not target.profile and not environ.get("AWS_ACCESS_KEY_ID"):
            options["aws_access_key_id"] = "local"
            options["aws_secret_access_key"] = "local"  # noqa: S105 - not a secret
        if not target.region and not (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")):
            options["region_name"] = LOCAL_REGION
    return boto3.Session(**options)


def open_store(target: Target, environ: Mapping[str, str] | None = None) -> AdminStore:
    """An AdminStore on the target's tables, with short timeouts and bounded retries."""
    from botocore.config import Config

    environ = os.environ if environ is None else environ
    session = aws_session(target, environ)
    config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
    if target.stack:
        outputs = stack_outputs(session.client("cloudformation", config=config), target.stack)
        names = table_names_from_outputs(target.stack, outputs)
        # A stack deployed before the output existed: the environment's (or the default) base.
        join_base_url = outputs.get(JOIN_BASE_URL_OUTPUT) or environment_settings().join_base_url
        bucket_name = outputs.get(RECORDINGS_BUCKET_OUTPUT) or environment_settings().recordings_bucket_name
        s3_endpoint = None
    else:
        names = table_names_from_environment()
        join_base_url = target.join_base_url or environment_settings().join_base_url
        bucket_name = environment_settings().recordings_bucket_name
        s3_endpoint = target.s3_endpoint_url or environment_settings().s3_endpoint_url
    client = cast(
        "DynamoDBClient", session.client("dynamodb", endpoint_url=target.endpoint_url, config=config)
    )
    s3_config = Config(
        connect_timeout=3,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
        signature_version="s3v4",
        s3={"addressing_style": "path" if s3_endpoint else "virtual"},
    )
    bucket = RecordingsBucket(
        bucket_name, s3_endpoint, lambda: session.client("s3", endpoint_url=s3_endpoint, config=s3_config)
    )
    return AdminStore(client, names, join_base_url, bucket)
