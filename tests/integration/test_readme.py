"""The README works as written: its sample answer is the API's, its operator commands run as typed."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import LocalApi

pytestmark = pytest.mark.integration

README = ROOT / "README.md"
CALL_TTL_SECONDS = 86_400  # the default of CALL_TTL_SECONDS, which neither the README nor the tests set


def section(title: str) -> str:
    """The README's text under the heading `title`, up to the next heading of its level or above."""
    lines = README.read_text(encoding="utf-8").splitlines(keepends=True)
    level, found, in_code = 0, [], False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        heading = None if in_code else re.match(r"(#+) (.*)", line)
        if heading and level and len(heading.group(1)) <= level:
            break
        if level:
            found.append(line)
        elif heading and heading.group(2).strip() == title:
            level = len(heading.group(1))
    assert level, f"the README has no section {title!r}"
    return "".join(found)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def shell_commands(block: str) -> list[list[str]]:
    """Each command of a shell block as words, continuation lines joined and comments dropped."""
    joined = block.replace("\\\n", " ")
    commands = []
    for line in re.split(r"\n(?=\S)", joined):  # a command's quoted text may span lines
        words = shlex.split(line, comments=True)
        if words:
            commands.append(words)
    return commands


# The sample success


def upstream_example() -> tuple[str, str, dict[str, str], str | None]:
    """The README's first curl example, as method, target, headers and body."""
    block = code_blocks(section("Try it"), "bash")[0]
    curl = next(words for words in shell_commands(block) if words[0] == "curl")
    method, headers, body, url = "GET", {}, None, ""
    words = iter(curl[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            body = next(words)
        elif not word.startswith("-"):
            url = word
    assert url.startswith("$API/"), url
    target = urlsplit(url.removeprefix("$API"))
    return method, target.path + (f"?{target.query}" if target.query else ""), headers, body


def epoch_seconds(created_at: str) -> int:
    return int(datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp())


def test_the_sample_success_is_what_the_demo_app_answers_the_upstream_example(local_api: LocalApi) -> None:
    text = section("Try it")
    assert "The upstream example answers `201` with" in text
    sample = json.loads(code_blocks(text, "json")[0])
    method, target, headers, body = upstream_example()

    result = local_api.request(method, target, headers=headers, body=body)

    assert result.status == 201, result.body
    answer = result.body
    assert sample.keys() == answer.keys()
    sample_data, data = sample["data"], answer["data"]
    assert sample_data.keys() == data.keys()
    # Ids and times differ from one call to the next; everything else must be as printed.
    uuid.UUID(sample_data["callId"])
    as_answered = json.loads(json.dumps(sample_data).replace(sample_data["callId"], data["callId"]))
    varying = ("createdAt", "expiresAt")
    assert {name: value for name, value in as_answered.items() if name not in varying} == {
        name: value for name, value in data.items() if name not in varying
    }
    for printed in (sample_data, data):
        assert printed["expiresAt"] == epoch_seconds(printed["createdAt"]) + CALL_TTL_SECONDS


# The operator's walkthrough


def operator_commands() -> tuple[list[list[str]], list[list[str]]]:
    """The operator block's setup commands (before the first callsctl) and its callsctl commands."""
    block = code_blocks(section("Operator: apps, keys and presets"), "bash")[0]
    commands = shell_commands(block)
    first = next(index for index, words in enumerate(commands) if words[0].endswith("callsctl"))
    return commands[:first], commands[first:]


def test_the_readmes_setup_puts_callsctl_on_the_path() -> None:
    """`make deps` has run (the test suite runs from its .venv); the setup lines are all a newcomer adds."""
    setup, commands = operator_commands()
    assert {words[0] for words in commands} == {commands[0][0]}
    script = "\n".join(shlex.join(words) for words in setup) + f"\ncommand -v {shlex.quote(commands[0][0])}"
    found = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},  # a fresh shell: no virtualenv active
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, f"{commands[0][0]} not found after {setup}: {found.stderr}"
    executable = (ROOT / found.stdout.strip()).resolve()
    assert executable == (ROOT / ".venv" / "bin" / "callsctl").resolve()
