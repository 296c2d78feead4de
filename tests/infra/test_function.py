"""The Lambda function: runtime, layer, asset, environment, logs and its IAM permissions."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from collections import Counter
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from calls import tables

from infra import data, lambda_defaults
from infra.config import LAMBDA_RUNTIME
from infra.function_asset import API_PACKAGES
from tests.conftest import ROOT
from tests.infra.conftest import Synth


def function_properties(synth: Synth) -> dict[str, Any]:
    # The API's function; the events and delivery functions have tests of their own (test_events.py).
    function = synth.json["Resources"][synth.logical_id(synth.stack.api_function.function)]
    properties: dict[str, Any] = function["Properties"]
    return properties


def test_runtime_is_the_chosen_python_on_arm64(synth: Synth) -> None:
    properties = function_properties(synth)
    assert properties["Runtime"] == LAMBDA_RUNTIME == "python3.13"
    assert properties["Architectures"] == ["arm64"]


def lambda_minor_version() -> str:
    return LAMBDA_RUNTIME.removeprefix("python")


def test_every_place_that_names_the_python_agrees_with_the_runtime() -> None:
    minor = lambda_minor_version()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["requires-python"] == f">={minor}"
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{minor.replace('.', '')}"
    assert pyproject["tool"]["mypy"]["python_version"] == minor
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^LAMBDA_PYTHON := {re.escape(minor)}$", makefile, flags=re.MULTILINE)
    assert lambda_defaults.RUNTIME.name == LAMBDA_RUNTIME
    assert lambda_defaults.powertools_layer_parameter().split("/")[-2] == LAMBDA_RUNTIME
    from bench.environment import LAMBDA_SERVICE_VARIABLES

    assert LAMBDA_SERVICE_VARIABLES["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{LAMBDA_RUNTIME}"
    for document in ("README.md", "docs/deploy.md"):
        text = (ROOT / document).read_text(encoding="utf-8")
        assert f"Python {minor}" in text, f"{document} does not name the Lambda's Python"
        layer_paths = set(re.findall(r"arm64/(python3\.\d+)/", text))
        assert layer_paths <= {LAMBDA_RUNTIME}, f"{document} names the layer of {sorted(layer_paths)}"


def test_the_suite_runs_on_the_lambdas_python() -> None:
    minor = lambda_minor_version()
    running = "{}.{}".format(*sys.version_info[:2])
    if running == minor:
        return
    found = subprocess.run(
        [str(ROOT / "scripts" / "find-python.sh"), minor], capture_output=True, text=True, check=True
    ).stdout.strip()
    # make deps falls back to python3 (with a warning) only on a machine without this Python.
    assert not found, f"the tests run on Python {running} but {found} is here: run make deps"
    pytest.skip(f"no Python {minor} on this machine: the suite runs on {running}")


def test_handler_is_the_calls_entry_point(synth: Synth) -> None:
    assert function_properties(synth)["Handler"] == "calls.handler.lambda_handler"


def function_asset(synth: Synth, function: Any = None) -> tuple[str, Path]:
    """A function's asset in cdk.out (the API function's by default): its hash and its directory."""
    properties = (
        function_properties(synth)
        if function is None
        else synth.resources("AWS::Lambda::Function")[synth.logical_id(function)]["Properties"]
    )
    s3_key = properties["Code"]["S3Key"]
    asset_hash = s3_key.removesuffix(".zip")
    assets = json.loads((synth.outdir / f"{synth.stack.stack_name}.assets.json").read_text())
    source = assets["files"][asset_hash]["source"]
    assert source["packaging"] == "zip"
    return asset_hash, synth.outdir / source["path"]


def test_asset_is_functions_calls_with_the_runtimes_bytecode(synth: Synth) -> None:
    _, asset = function_asset(synth)
    shipped = {path.relative_to(asset).as_posix() for path in asset.rglob("*") if path.is_file()}
    assert "calls/handler.py" in shipped
    assert "calls/tables.py" in shipped
    # The API function ships the API alone: the events and signaling code is the other functions'.
    assert all(name.startswith("calls/") for name in shipped), sorted(shipped)
    # Every module, and only the modules of functions/calls (no stale .pyc of a test run), compiled
    # by the runtime's Python: calls/x.py beside calls/__pycache__/x.cpython-313.pyc.
    sources = sorted((ROOT / "functions" / "calls").rglob("*.py"))
    tag = "cpython-" + lambda_minor_version().replace(".", "")
    modules = {path.relative_to(ROOT / "functions").as_posix() for path in sources}
    bytecode = {
        f"{PurePosixPath(name).parent}/__pycache__/{PurePosixPath(name).stem}.{tag}.pyc" for name in modules
    }
    assert shipped == modules | bytecode
    for name in sorted(bytecode):
        header = (asset / name).read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER, f"{name} is not {tag} bytecode"
        # PEP 552: flags 0b01, hash-based and unchecked, so its bytes do not depend on mtimes and
        # the import system never reads the source to check it.
        assert int.from_bytes(header[4:8], "little") == 0b01, name


def test_each_function_ships_the_packages_it_imports_and_no_other(synth: Synth) -> None:
    stack = synth.stack
    shipped_by = {
        stack.api_function.function: {"calls"},
        stack.call_events.events_function: {"calls", "callevents"},
        stack.call_events.delivery_function: {"calls", "callevents"},
        stack.signaling.function: {"calls", "signaling"},
    }
    hashes = {}
    for function, packages in shipped_by.items():
        asset_hash, asset = function_asset(synth, function)
        assert {path.name for path in asset.iterdir()} == packages, function.node.path
        hashes[frozenset(packages)] = asset_hash
    assert len(set(hashes.values())) == 3  # one asset per set of packages, staged once
    for staged in stack.lambda_defaults.assets.values():
        assert staged.modules == staged.compiled > 20


def test_the_asset_hash_is_the_same_in_every_synth(synth_dev: Synth, synth_prod: Synth) -> None:
    # Two synths, each compiling its own staging copy at its own time: the same bytes, the same hash.
    dev, prod = (synth.stack.lambda_defaults.assets[API_PACKAGES] for synth in (synth_dev, synth_prod))
    assert dev.path != prod.path
    assert function_asset(synth_dev)[0] == function_asset(synth_prod)[0]


def test_powertools_layer_is_the_public_arm64_layer_of_the_pinned_version(synth: Synth) -> None:
    layers = function_properties(synth)["Layers"]
    assert len(layers) == 1
    parameter = synth.template.to_json()["Parameters"][layers[0]["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == (
        f"/aws/service/powertools/python/arm64/python3.13/{lambda_defaults.POWERTOOLS_PACKAGE_VERSION}"
    )


def test_layer_constant_matches_the_package_pinned_in_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [pin for pin in pyproject["project"]["dependencies"] if pin.startswith("aws-lambda-powertools==")]
    assert pins == [f"aws-lambda-powertools=={lambda_defaults.POWERTOOLS_PACKAGE_VERSION}"]
    # What the tests run against is what the layer ships.
    assert version("aws-lambda-powertools") == lambda_defaults.POWERTOOLS_PACKAGE_VERSION


def test_environment_carries_every_setting_the_function_reads(synth: Synth) -> None:
    context = synth.context
    variables = function_properties(synth)["Environment"]["Variables"]
    stage = synth.stage
    assert variables == {
        "APPS_TABLE_NAME": {"Ref": synth.logical_id(synth.stack.data.apps_table)},
        "CALLS_TABLE_NAME": {"Ref": synth.logical_id(synth.stack.data.calls_table)},
        "IDEMPOTENCY_TABLE_NAME": {"Ref": synth.logical_id(synth.stack.data.idempotency_table)},
        "JOIN_BASE_URL": synth.join_base_url,
        "CALL_TTL_SECONDS": str(context["callTtlSeconds"]),
        "CACHE_TTL_SECONDS": str(context["cacheTtlSeconds"]),
        "DYNAMODB_CONNECT_TIMEOUT_SECONDS": str(context["dynamodbConnectTimeoutSeconds"]),
        "DYNAMODB_READ_TIMEOUT_SECONDS": str(context["dynamodbReadTimeoutSeconds"]),
        "DYNAMODB_MAX_ATTEMPTS": str(context["dynamodbMaxAttempts"]),
        "POWERTOOLS_SERVICE_NAME": "video-calls",
        "POWERTOOLS_METRICS_NAMESPACE": f"VideoCalls/{stage}",
        "POWERTOOLS_LOG_LEVEL": context["logLevel"],
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
        "CURSOR_SIGNING_KEY": cursor_key_reference(synth),
        "SIGNALING_TOKEN_KEY": secret_reference(synth, synth.stack.data.signaling_token_key),
        "SIGNALING_URL": variables["SIGNALING_URL"],
        "RECORDINGS_TABLE_NAME": {"Ref": synth.logical_id(synth.stack.data.recordings_table)},
        "RECORDINGS_BUCKET_NAME": {"Ref": synth.logical_id(synth.stack.recordings.bucket)},
        "RECORDING_RETENTION_DAYS": str(context.get("recordingRetentionDays", 30)),
        # The TURN source (tests/infra/test_turn.py holds their values).
        "ICE_PROVIDER": "kinesis",
        "KINESIS_SIGNALING_CHANNEL_ARNS": variables["KINESIS_SIGNALING_CHANNEL_ARNS"],
    }
    # The site's /ws (tests/infra/test_distribution.py holds its value).
    assert "wss://" in json.dumps(variables["SIGNALING_URL"])
    assert json.dumps(variables["SIGNALING_URL"]).endswith('/ws"]]}') or variables["SIGNALING_URL"].endswith(
        "/ws"
    )


def secret_reference(synth: Synth, secret: Any) -> dict[str, Any]:
    """CloudFormation's dynamic reference to a secret's whole value, resolved at deploy."""
    secret_id = synth.logical_id(secret)
    return {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"]]}


def cursor_key_reference(synth: Synth) -> dict[str, Any]:
    return secret_reference(synth, synth.stack.data.cursor_signing_key)


def test_the_cursor_signing_key_is_a_secret_generated_at_deploy(synth: Synth) -> None:
    secret_id = synth.logical_id(synth.stack.data.cursor_signing_key)
    secret = synth.resources("AWS::SecretsManager::Secret")[secret_id]
    properties = secret["Properties"]
    # Generated by Secrets Manager: no value in the template, cdk.out or the repository.
    assert properties["GenerateSecretString"] == {
        "PasswordLength": data.CURSOR_SIGNING_KEY_LENGTH,
        "ExcludePunctuation": True,
    }
    assert "SecretString" not in properties
    assert data.CURSOR_SIGNING_KEY_LENGTH == 64
    # The function gets it as CURSOR_SIGNING_KEY, by reference: every container signs alike.
    variables = function_properties(synth)["Environment"]["Variables"]
    assert variables["CURSOR_SIGNING_KEY"] == cursor_key_reference(synth)
    # Nothing else in the template refers to it: no output, no permission to read it at run time.
    mentions = [
        logical_id
        for logical_id, resource in synth.json["Resources"].items()
        if secret_id in json.dumps(resource) and logical_id != secret_id
    ]
    assert mentions == [synth.logical_id(synth.stack.api_function.function)]
    assert secret_id not in json.dumps(synth.json.get("Outputs", {}))


def test_the_generated_key_is_one_the_function_accepts(monkeypatch: Any) -> None:
    from calls.settings import ConfigurationError, get_settings

    key = "aB3" * (data.CURSOR_SIGNING_KEY_LENGTH // 3) + "x"
    assert len(key) == data.CURSOR_SIGNING_KEY_LENGTH
    monkeypatch.setenv("CURSOR_SIGNING_KEY", key)
    assert get_settings.__wrapped__().cursor_signing_key == key.encode()
    monkeypatch.setenv("CURSOR_SIGNING_KEY", key[:31])
    with pytest.raises(ConfigurationError):
        get_settings.__wrapped__()


def test_environment_names_are_the_ones_settings_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each variable the stack sets, set to a value of its own, arrives in the function's settings."""
    from calls.settings import get_settings

    given = {
        "APPS_TABLE_NAME": "t-apps",
        "CALLS_TABLE_NAME": "t-calls",
        "IDEMPOTENCY_TABLE_NAME": "t-idempotency",
        "JOIN_BASE_URL": "https://join.example",
        "CALL_TTL_SECONDS": "4321",
        "CACHE_TTL_SECONDS": "7",
        "DYNAMODB_CONNECT_TIMEOUT_SECONDS": "0.25",
        "DYNAMODB_READ_TIMEOUT_SECONDS": "0.75",
        "DYNAMODB_MAX_ATTEMPTS": "3",
        "CURSOR_SIGNING_KEY": "k" * 40,
    }
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    settings = get_settings.__wrapped__()
    assert (settings.apps_table_name, settings.calls_table_name, settings.idempotency_table_name) == (
        "t-apps",
        "t-calls",
        "t-idempotency",
    )
    assert settings.join_base_url == "https://join.example"
    assert (settings.call_ttl_seconds, settings.cache_ttl_seconds) == (4321, 7)
    assert (
        settings.dynamodb_connect_timeout_seconds,
        settings.dynamodb_read_timeout_seconds,
        settings.dynamodb_max_attempts,
    ) == (0.25, 0.75, 3)
    assert settings.cursor_signing_key == b"k" * 40


def test_memory_timeout_and_tracing_come_from_context(synth: Synth) -> None:
    properties = function_properties(synth)
    assert properties["MemorySize"] == int(synth.context["lambdaMemoryMb"])
    assert properties["Timeout"] == int(synth.context["lambdaTimeoutSeconds"])
    assert properties["TracingConfig"] == {"Mode": "Active"}


def test_function_logs_to_its_own_group_with_retention(synth: Synth) -> None:
    log_group_id = synth.logical_id(synth.stack.api_function.log_group)
    assert function_properties(synth)["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}
    log_group = synth.json["Resources"][log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == int(synth.context["logRetentionDays"])
    assert log_group["DeletionPolicy"] == ("Retain" if synth.stage == "prod" else "Delete")


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy_document["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_role_has_exactly_the_inline_permissions_of_the_issue(synth: Synth) -> None:
    role_id = synth.logical_id(synth.stack.api_function.role)
    role = synth.json["Resources"][role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    assert "ManagedPolicyArns" not in role["Properties"]
    (inline,) = role["Properties"]["Policies"]

    def arn(construct: Any) -> dict[str, Any]:
        return {"Fn::GetAtt": [synth.logical_id(construct), "Arn"]}

    def index_arn(construct: Any, index: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [arn(construct), f"/index/{index}"]]}

    # A Counter, not a set: two statements granting the same thing would be a defect too.
    granted = Counter(
        (frozenset(as_list(statement["Action"])), str(statement["Resource"]))
        for statement in statements(inline["PolicyDocument"])
        if statement["Effect"] == "Allow"
    )
    stack = synth.stack
    # Exactly what the routes call (calls.repository): the app's partition by Query; a call by
    # GetItem (read), PutItem (create), UpdateItem (end); a page of calls by Query on one of
    # the two calls indexes, never on the table or `index/*`; the Idempotency-Key records.
    assert granted == Counter(
        [
            (frozenset({"dynamodb:Query"}), str(arn(stack.data.apps_table))),
            (
                frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}),
                str(arn(stack.data.calls_table)),
            ),
            (
                frozenset({"dynamodb:Query"}),
                str(index_arn(stack.data.calls_table, tables.CALLS_BY_APP_INDEX)),
            ),
            (
                frozenset({"dynamodb:Query"}),
                str(index_arn(stack.data.calls_table, tables.CALLS_BY_CONVERSATION_INDEX)),
            ),
            (
                frozenset(
                    {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
                ),
                str(arn(stack.data.idempotency_table)),
            ),
            # Recordings: a start's Put, part URLs' and the list's Get and Query, a completion's
            # Update, a discard's Delete (the writes in transactions). The bucket's objects are
            # the default policy's (infra/recordings.py, tests/infra/test_recordings.py).
            (
                frozenset(
                    {
                        "dynamodb:GetItem",
                        "dynamodb:Query",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    }
                ),
                str(arn(stack.data.recordings_table)),
            ),
            # The join's TURN credentials: exactly these two calls, on the stack's own channels.
            (
                frozenset({"kinesisvideo:GetSignalingChannelEndpoint", "kinesisvideo:GetIceServerConfig"}),
                str([arn(channel) for channel in stack.ice.channels]),
            ),
            (
                frozenset({"logs:CreateLogStream", "logs:PutLogEvents"}),
                str(arn(stack.api_function.log_group)),
            ),
        ]
    )
    assert all(
        statement["Effect"] == "Allow" and "Condition" not in statement
        for statement in statements(inline["PolicyDocument"])
    )
    assert function_properties(synth)["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_the_function_can_neither_scan_nor_read_secrets(synth: Synth) -> None:
    policies = json.dumps(
        [role["Properties"].get("Policies", []) for role in synth.resources("AWS::IAM::Role").values()]
        + [policy["Properties"] for policy in synth.resources("AWS::IAM::Policy").values()]
    )
    assert "dynamodb:Query" in policies
    assert "dynamodb:Scan" not in policies
    assert "secretsmanager:" not in policies
    assert "/index/*" not in policies


def test_the_only_wildcard_resource_is_x_ray(synth: Synth) -> None:
    # The CDK's BucketDeployment function has wildcards of its own, confined to the site's bucket, the
    # CDK's asset bucket and invalidations (tests/infra/test_site.py).
    deployment_role = synth.logical_id(synth.stack.site.deployment_function.node.find_child("ServiceRole"))
    documents = [
        policy["PolicyDocument"]
        for role in synth.resources("AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
    ] + [
        policy["Properties"]["PolicyDocument"]
        for policy in synth.resources("AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"] != [{"Ref": deployment_role}]
    ]
    wildcard_actions = {
        action
        for document in documents
        for statement in statements(document)
        if any("*" in str(resource) for resource in as_list(statement["Resource"]))
        for action in as_list(statement["Action"])
    }
    # dynamodb:ListStreams (the stream sources'), like X-Ray's, has no resource; ManageConnections
    # names the signaling stage's @connections/* (a connection's id is known only when it connects);
    # the recordings' object actions name the key prefix `recordings/*` of their bucket, nothing wider.
    assert wildcard_actions == {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "dynamodb:ListStreams",
        "execute-api:ManageConnections",
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
    }
    object_resources = {
        json.dumps(resource, sort_keys=True)
        for document in documents
        for statement in statements(document)
        for resource in as_list(statement["Resource"])
        if any(action.startswith("s3:") for action in as_list(statement["Action"]))
    }
    bucket = synth.logical_id(synth.stack.recordings.bucket)
    assert object_resources == {
        json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/recordings/*"]]}, sort_keys=True)
    }


def test_no_action_wildcards_anywhere(synth: Synth) -> None:
    text = str(synth.json["Resources"])
    assert "dynamodb:*" not in text
    assert "'Action': '*'" not in text
