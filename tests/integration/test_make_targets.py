"""The Makefile's local-run verbs as a developer types them: `make help`, `make invoke` with a wrong
file, and `make smoke` against the local run."""

from __future__ import annotations

import os
import subprocess

import pytest
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY

from tests.conftest import ROOT
from tests.services import LocalApi

pytestmark = pytest.mark.integration


def make(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(
        ["make", "-s", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_make_help_prints_no_make_or_shell_syntax() -> None:
    """It printed `$${PORT:-3000}` as it stands in the Makefile."""
    shown = make("help")

    assert shown.returncode == 0, shown.stderr
    assert "$" not in shown.stdout
    run_line = next(line for line in shown.stdout.splitlines() if line.strip().startswith("make run "))
    assert "http://127.0.0.1:3000" in run_line


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ("events/nope.json", "no such event file: events/nope.json"),
        ("README.md", "README.md is not JSON"),
    ],
)
def test_make_invoke_with_a_wrong_file_is_one_line_and_exit_2(event: str, says: str) -> None:
    invoked = make("invoke", f"EVENT={event}")

    assert invoked.returncode == 2
    assert "Traceback" not in invoked.stderr
    ours = [line for line in invoked.stderr.splitlines() if not line.startswith("make:")]
    assert len(ours) == 1, invoked.stderr
    assert ours[0].startswith(f"make invoke: {says}")


def test_make_smoke_passes_against_the_local_run(local_api: LocalApi) -> None:
    smoke = make(
        "smoke",
        f"URL={local_api.base_url}",
        f"APP_ID={DEMO_APP_ID}",
        f"WIDGET_KEY={DEMO_WIDGET_KEY}",
        timeout=300,
    )

    assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-2000:]
    assert " passed" in smoke.stdout
    assert "skipped" not in smoke.stdout.splitlines()[-1]
