"""The environment of the measured processes: what the deployed Lambda sees, pointed at DynamoDB Local.

Both sides of every comparison get exactly this environment, and nothing inherited from the shell
(no AWS_PROFILE, no ~/.aws, no PYTHON* variables of the developer's).
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from callsctl.store import TableNames

TABLE_NAMES = TableNames(apps="bench-apps", calls="bench-calls", idempotency="bench-idempotency")
REGION = "us-east-1"
MEMORY_SIZE_MB = 512

# What the stack sets on the function (Powertools and the function's own settings at their
# deployed values), then what the Lambda service itself sets for a Python function.
STACK_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME": "video-calls",
    "POWERTOOLS_METRICS_NAMESPACE": "VideoCalls",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "CACHE_TTL_SECONDS": "30",
    "CALL_TTL_SECONDS": "86400",
    "JOIN_BASE_URL": "https://video.apifycloud.io",
}
LAMBDA_SERVICE_VARIABLES = {
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_NAME": "video-calls-bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_SIZE_MB),
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


# Measured processes run with `python -S`: no .pth files, so no editable-install finder (tens of
# milliseconds that Lambda never pays); the libraries come from these directories instead, after
# the function's own code, as Lambda orders /var/task before the layer and the runtime.
LIBRARY_PATHS = tuple(dict.fromkeys((sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])))
PYTHON_FLAGS = ("-S",)


def lambda_environment(endpoint_url: str, task_root: Path, home: Path) -> dict[str, str]:
    """The environment of a measured process; `task_root` holds the unpacked asset, like /var/task."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LAMBDA_TASK_ROOT": str(task_root),
        "PYTHONPATH": os.pathsep.join((str(task_root), *LIBRARY_PATHS)),
        **LAMBDA_SERVICE_VARIABLES,
        **STACK_VARIABLES,
        "APPS_TABLE_NAME": TABLE_NAMES.apps,
        "CALLS_TABLE_NAME": TABLE_NAMES.calls,
        "IDEMPOTENCY_TABLE_NAME": TABLE_NAMES.idempotency,
        "DYNAMODB_ENDPOINT_URL": endpoint_url,
    }


def reported_environment(environment: dict[str, str]) -> dict[str, str]:
    """The environment as results.json records it: no paths of this machine, no credentials."""
    hidden = {"PATH", "HOME", "LAMBDA_TASK_ROOT", "PYTHONPATH", "AWS_ACCESS_KEY_ID"}
    hidden |= {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    return {name: value for name, value in sorted(environment.items()) if name not in hidden}
