"""docs/asyncapi.yaml: a valid AsyncAPI 3 document (by the AsyncAPI Initiative's own parser,
@asyncapi/parser, run offline by scripts/validate-asyncapi.cjs), and true to the code: every message
signaling.messages builds, and every frame it accepts, matches the document's schema for it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from calls.signaling_tokens import TOKEN_LIFETIME_SECONDS
from signaling import messages
from signaling.messages import MAX_FRAME_BYTES, Peer

from tests.conftest import ROOT

DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
VALIDATOR = ROOT / "scripts" / "validate-asyncapi.cjs"


def run_parser(path: Path) -> tuple[int, list[str]]:
    assert (ROOT / "node_modules" / "@asyncapi" / "parser").is_dir(), "npm ci installs @asyncapi/parser"
    completed = subprocess.run(
        ["node", str(VALIDATOR), str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return completed.returncode, (completed.stdout + completed.stderr).strip().splitlines()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def test_the_asyncapi_parser_finds_the_document_valid() -> None:
    code, lines = run_parser(DOCUMENT)
    assert code == 0, "\n".join(lines)
    assert not [line for line in lines if line.startswith(("error:", "warning:"))], "\n".join(lines)
    summary = json.loads(lines[-1])
    assert summary["valid"] is True
    assert summary["version"].startswith("3.")
    assert summary["channels"] == ["/ws"]
    assert set(summary["operations"].values()) == {"send", "receive"}
    assert set(summary["messages"]) == {
        "hello",
        "signal",
        "ping",
        "ready",
        "peer-joined",
        "peer-left",
        "pong",
        "call-ended",
        "replaced",
        "error",
    }


def test_the_parser_refuses_a_broken_document(tmp_path: Path, document: dict[str, Any]) -> None:
    """The check can fail: an operation on a channel the document does not have."""
    broken = json.loads(json.dumps(document))
    broken["operations"]["receiveHello"]["channel"] = {"$ref": "#/channels/nowhere"}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    code, lines = run_parser(path)
    assert code == 1, "\n".join(lines)
    assert json.loads(lines[-1]) == {"valid": False, "errors": json.loads(lines[-1])["errors"]}
    assert any(line.startswith("error:") for line in lines)


def test_it_is_version_1_at_ws_with_the_token_in_the_query(document: dict[str, Any]) -> None:
    assert document["asyncapi"].startswith("3.0")
    assert document["info"]["version"] == "1"
    channel = document["channels"]["signaling"]
    assert channel["address"] == "/ws"
    query = channel["bindings"]["ws"]["query"]
    assert query["required"] == ["token"]
    description = document["info"]["description"]
    assert f"{MAX_FRAME_BYTES:,}" in description
    assert f"{TOKEN_LIFETIME_SECONDS} seconds" in description
    for refusal in ("401", "403", "1009", "replaced", "call-ended"):
        assert refusal in description


def validator(document: dict[str, Any], schema_name: str) -> Any:
    """A validator of one component schema, its references resolved within the document."""
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    return jsonschema_rs.Draft7Validator(root)


def payload_schema(document: dict[str, Any], message: str) -> str:
    reference: str = document["components"]["messages"][message]["payload"]["$ref"]
    return reference.rsplit("/", 1)[-1]


SERVER_MESSAGES = {
    "ready": [messages.ready("agent", None), messages.ready("guest", Peer("agent", "Sarah (Support)"))],
    "peerJoined": [messages.peer_joined(Peer("guest", "Jürgen"))],
    "peerLeft": [messages.peer_left("agent")],
    "relayedSignal": [
        messages.signal("agent", {"type": "offer", "sdp": "v=0\r\n"}),
        messages.signal("guest", {"type": "candidate", "candidate": None}),
    ],
    "pong": [messages.PONG],
    "callEnded": [messages.CALL_ENDED],
    "replaced": [messages.REPLACED],
    "error": [
        messages.NOT_READY_ERROR,
        messages.PEER_NOT_CONNECTED_ERROR,
        messages.refusal(messages.InvalidMessage()),
        messages.refusal(messages.MessageTooLarge()),
    ],
}


@pytest.mark.parametrize("message", sorted(SERVER_MESSAGES))
def test_every_server_message_the_code_builds_is_the_documented_one(
    document: dict[str, Any], message: str
) -> None:
    schema_name = payload_schema(document, message)
    check = validator(document, schema_name)
    documented = set(document["components"]["schemas"][schema_name]["properties"])
    for raw in SERVER_MESSAGES[message]:
        built = json.loads(raw)
        check.validate(built)
        assert set(built) == documented, message


def test_every_server_message_has_a_case_above(document: dict[str, Any]) -> None:
    sent = {
        name
        for operation in document["operations"].values()
        if operation["action"] == "send"
        for name in (ref["$ref"].rsplit("/", 1)[-1] for ref in operation["messages"])
    }
    replies = {
        ref["$ref"].rsplit("/", 1)[-1]
        for operation in document["operations"].values()
        for ref in operation.get("reply", {}).get("messages", [])
    }
    assert sent | replies == set(SERVER_MESSAGES)


def test_the_documented_error_codes_are_the_codes(document: dict[str, Any]) -> None:
    codes = document["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
    assert set(codes) == set(messages.ERROR_CODES)


@pytest.mark.parametrize("message", ["hello", "signal", "ping"])
def test_the_client_examples_are_valid_and_accepted(document: dict[str, Any], message: str) -> None:
    definition = document["components"]["messages"][message]
    check = validator(document, payload_schema(document, message))
    assert definition["examples"]
    for example in definition["examples"]:
        check.validate(example["payload"])
        parsed = messages.parse_frame(json.dumps(example["payload"]))
        assert type(parsed).__name__.lower() == message


@pytest.mark.parametrize("message", sorted(SERVER_MESSAGES))
def test_the_server_examples_are_valid(document: dict[str, Any], message: str) -> None:
    check = validator(document, payload_schema(document, message))
    for example in document["components"]["messages"][message]["examples"]:
        check.validate(example["payload"])


@pytest.mark.parametrize(
    "frame",
    [
        {"action": "hello"},
        {"action": "hello", "displayName": ""},
        {"action": "hello", "displayName": "n" * 101},
        {"action": "hello", "displayName": 7},
        {"action": "signal"},
        {"action": "signal", "data": "offer"},
        {"action": "signal", "data": None},
        {"action": "dance"},
    ],
)
def test_what_the_schema_refuses_the_server_refuses(document: dict[str, Any], frame: dict[str, Any]) -> None:
    schemas = [validator(document, name) for name in ("Hello", "Signal", "Ping")]
    assert not any(schema.is_valid(frame) for schema in schemas)
    with pytest.raises(messages.InvalidMessage):
        messages.parse_frame(json.dumps(frame))
