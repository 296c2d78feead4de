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
from callsctl.cli import cli
from callsctl.store import AdminStore
from click.testing import CliRunner

from tests.conftest import ROOT
from tests.integration.conftest import TABLE_NAMES, LocalApi

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


def preset_from_a_file(commands: list[list[str]]) -> tuple[str, str]:
    """The preset id and the settings file of the README's one `presets put ... --file PATH`."""
    (words,) = [words for words in commands if "--file" in words]
    return words[words.index("put") + 2], words[words.index("--file") + 1]


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


def test_the_readmes_operator_commands_run_as_written(
    prepared_endpoint: str, admin: AdminStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every callsctl line of the README, with the ids it prints put in for its placeholders."""
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the repository's root
    env = {
        "DYNAMODB_LOCAL_PORT": prepared_endpoint.rsplit(":", 1)[1],
        "APPS_TABLE_NAME": TABLE_NAMES.apps,
        "CALLS_TABLE_NAME": TABLE_NAMES.calls,
        "IDEMPOTENCY_TABLE_NAME": TABLE_NAMES.idempotency,
    }
    _, commands = operator_commands()
    placeholders: dict[str, str] = {}
    for words in commands:
        args = [placeholders.get(word, word) for word in words[1:]]
        unknown = [word for word in args if re.fullmatch(r"[A-Z][A-Z_]+", word)]
        assert not unknown, f"placeholders the README never gives a value for: {unknown}"
        result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, f"{shlex.join(words)}\n{result.output}"
        if args[1:3] == ["apps", "create"]:
            fields = dict(line.split(None, 1) for line in result.stdout.splitlines() if line.strip())
            placeholders = {"APP_ID": fields["appId"].strip(), "OLD_KEY_ID": fields["keyId"].strip()}

    preset_id, settings_file = preset_from_a_file(commands)
    example = json.loads((ROOT / settings_file).read_text(encoding="utf-8"))
    assert admin.get_preset(placeholders["APP_ID"], preset_id).settings == example
    assert admin.get_app(placeholders["APP_ID"]).status == "disabled"


def test_the_readme_shows_the_preset_file_it_names() -> None:
    text = section("Operator: apps, keys and presets")
    _, settings_file = preset_from_a_file(operator_commands()[1])
    assert f"`{settings_file}`:" in text
    shown = [json.loads(block) for block in code_blocks(text, "json")]
    assert json.loads((ROOT / settings_file).read_text(encoding="utf-8")) in shown
