"""The environment of the measured processes: what the deployed Lambda sees, pointed at DynamoDB Local.

Both sides of every comparison get exactly this environment, and nothing inherited from the shell
(no AWS_PROFILE, no ~/.aws, no PYTHON* variables of the developer's).
"""

from __future__ import annotations

import json
import os
import sysconfig
from pathlib import Path
from typing import Any

from callsctl.store import TableNames

from bench.machine import REPO_ROOT
from infra.config import LAMBDA_RUNTIME

TABLE_NAMES = TableNames(
    apps="bench-apps", calls="bench-calls", idempotency="bench-idempotency", connections="bench-connections"
)
REGION = "us-east-1"

BENCH_CURSOR_SIGNING_KEY = "bench" * 12 + "0123"
BENCH_JOIN_BASE_URL = "https://d111111abcdef8.cloudfront.net"

# Measured processes run with `python -S`: no .pth files, so no editable-install finder (tens of
# milliseconds that Lambda never pays); the libraries come from these directories instead, after
# the function's own code, as Lambda orders /var/task before the layer and the runtime.
LIBRARY_PATHS = tuple(dict.fromkeys((sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])))
PYTHON_FLAGS = ("-S",)


class _CdkJsonContext:
    """cdk.json's context, read the way the stack reads it, without importing the CDK."""

    def __init__(self, path: Path):
        self._context: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["context"]

    def try_get_context(self, key: str) -> Any:
        return self._context.get(key)


def stack_variables() -> dict[str, str]:
    """The function's environment as infra/ builds it (infra.config), at the default stage's values from
    cdk.json, so that the bench measures what deploys; table names are the bench's."""
    from infra.config import function_environment, load_config

    config = load_config(_CdkJsonContext(REPO_ROOT / "cdk.json"))
    return {
        **function_environment(
            config,
            apps_table=TABLE_NAMES.apps,
            calls_table=TABLE_NAMES.calls,
            idempotency_table=TABLE_NAMES.idempotency,
        ),
        # infra/api_function.py adds the site's origin, unknown until deployed: a CloudFront-like host.
        "JOIN_BASE_URL": config.join_base_url or BENCH_JOIN_BASE_URL,
        # infra/data.py adds the cursor key from Secrets Manager (64 letters and digits); without
        # one the function would make a random key of its own at each cold start.
        "CURSOR_SIGNING_KEY": BENCH_CURSOR_SIGNING_KEY,
        # Set by the Lambda service itself, from the function's configuration.
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.lambda_memory_mb),
    }


# What the Lambda service sets for every Python function, besides the memory size above.
LAMBDA_SERVICE_VARIABLES = {
    "AWS_EXECUTION_ENV": f"AWS_Lambda_{LAMBDA_RUNTIME}",
    "AWS_LAMBDA_FUNCTION_NAME": "video-calls-bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    # DynamoDB Local takes any credentials; Lambda hands the role's as these three variables.
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    # /var/task is read-only in Lambda: the function's own modules are compiled at every cold start.
    "PYTHONDONTWRITEBYTECODE": "1",
}


def lambda_environment(endpoint_url: str, task_root: Path, home: Path) -> dict[str, str]:
    """The environment of a measured process; `task_root` holds the unpacked asset, like /var/task."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LAMBDA_TASK_ROOT": str(task_root),
        "PYTHONPATH": os.pathsep.join((str(task_root), *LIBRARY_PATHS)),
        **LAMBDA_SERVICE_VARIABLES,
        **stack_variables(),
        "DYNAMODB_ENDPOINT_URL": endpoint_url,
    }


def reported_environment(environment: dict[str, str]) -> dict[str, str]:
    """The environment as results.json records it: no paths of this machine, no credentials."""
    hidden = {"PATH", "HOME", "LAMBDA_TASK_ROOT", "PYTHONPATH", "AWS_ACCESS_KEY_ID", "CURSOR_SIGNING_KEY"}
    hidden |= {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    return {name: value for name, value in sorted(environment.items()) if name not in hidden}
