"""A deployed stack must update in place: every resource keeps its logical id and type, and every
table its properties, or CloudFormation would replace it (a table replaced is a table emptied; an
explicitly named alarm, dashboard or web ACL would not even create, its name being taken).

logical_ids.json was written from the stack as it stood before infra/ was split into constructs, for
each stage and each deployment option. New resources may come; none of these may go or change.
Rewrite it (`python -m tests.infra.test_logical_ids --write`) only for a change that means to
replace a resource, and say so in the commit.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnElement, Names, Stack
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from infra.parts import LogicalIds, Part, make_unique_id
from tests.infra.conftest import CDK_CONTEXT, OPTION_OVERRIDES, PROD_OVERRIDES, Synth, synthesize

SNAPSHOT = Path(__file__).with_name("logical_ids.json")
# The variants snapshotted: the conftest fixture of each (prod carries the web ACL and the alarm
# email's subscription, the options the published version and the live alias).
VARIANTS = ("dev", "prod", *sorted(OPTION_OVERRIDES))
CONTEXTS: dict[str, dict[str, Any]] = {
    "dev": CDK_CONTEXT,
    "prod": {**CDK_CONTEXT, **PROD_OVERRIDES},
    **{name: {**CDK_CONTEXT, **overrides} for name, overrides in OPTION_OVERRIDES.items()},
}
# Resources that CDK names after a hash of their content, on purpose: a new API deployment for each
# change of the API, a new version for each change of the function (its code included). Their ids
# are compared without that hash.
CONTENT_HASHED = {"AWS::ApiGateway::Deployment", "AWS::Lambda::Version"}
CONTENT_HASH = re.compile(r"[0-9a-f]{32}$")


def stable_id(logical_id: str, resource_type: str) -> str:
    return CONTENT_HASH.sub("", logical_id) if resource_type in CONTENT_HASHED else logical_id


def snapshot(template: dict[str, Any]) -> dict[str, Any]:
    resources = template["Resources"]
    return {
        "resources": {
            stable_id(logical_id, resource["Type"]): resource["Type"]
            for logical_id, resource in sorted(resources.items())
        },
        "outputs": sorted(template.get("Outputs", {})),
        "tables": {
            logical_id: {
                key: resource.get(key) for key in ("Properties", "DeletionPolicy", "UpdateReplacePolicy")
            }
            for logical_id, resource in sorted(resources.items())
            if resource["Type"] == "AWS::DynamoDB::Table"
        },
    }


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert sorted(data) == sorted(VARIANTS)
    return data


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> tuple[str, Synth]:
    found: Synth = request.getfixturevalue(f"synth_{request.param}")
    return request.param, found


def test_every_deployed_resource_keeps_its_logical_id_and_type(
    variant: tuple[str, Synth], recorded: dict[str, Any]
) -> None:
    name, synth = variant
    now = snapshot(synth.json)["resources"]
    before = recorded[name]["resources"]
    gone = {logical_id: kind for logical_id, kind in before.items() if logical_id not in now}
    assert gone == {}, f"{name}: these resources would be replaced (or deleted)"
    changed = {
        logical_id: (kind, now[logical_id]) for logical_id, kind in before.items() if now[logical_id] != kind
    }
    assert changed == {}


def test_every_output_key_stays(variant: tuple[str, Synth], recorded: dict[str, Any]) -> None:
    name, synth = variant
    assert set(recorded[name]["outputs"]) <= set(snapshot(synth.json)["outputs"])


def test_every_table_keeps_its_properties(variant: tuple[str, Synth], recorded: dict[str, Any]) -> None:
    name, synth = variant
    now = snapshot(synth.json)["tables"]
    for logical_id, table in recorded[name]["tables"].items():
        assert now.get(logical_id) == table, f"{name}: table {logical_id} changed"


def test_make_unique_id_is_cdks(synth_dev: Synth) -> None:
    """Names.nodeUniqueId is CDK's makeUniqueId of the path below the app: the same on every path."""
    constructs = synth_dev.stack.node.find_all()
    assert len(constructs) > 150
    for construct in constructs:
        components = [scope.node.id for scope in construct.node.scopes[1:]]
        assert make_unique_id(components) == Names.node_unique_id(construct.node), construct.node.path


class ComposedStack(Stack):
    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        return LogicalIds(self).allocate(cfn_element)


def resource_ids(stack: Stack) -> list[str]:
    return sorted(Template.from_stack(stack).to_json()["Resources"])


def test_a_part_is_transparent_to_logical_ids_even_where_cdk_names_after_a_unique_id() -> None:
    plain = Stack(App(), "Stack")
    topic = sns.Topic(plain, "Topic")
    # As a Lambda permission of an API method is named after the API.
    sns.Topic(plain, f"After.{Names.node_unique_id(topic.node)}")

    composed = ComposedStack(App(), "Stack")
    part = Part(composed, "Group")
    topic = sns.Topic(part, "Topic")
    sns.Topic(Part(composed, "Other"), f"After.{Names.node_unique_id(topic.node)}")

    assert resource_ids(composed) == resource_ids(plain)


def test_two_parts_cannot_give_two_resources_one_logical_id() -> None:
    stack = ComposedStack(App(), "Stack")
    sns.Topic(Part(stack, "One"), "Topic")
    sns.Topic(Part(stack, "Two"), "Topic")
    # CDK refuses a template with two resources of one logical id.
    with pytest.raises(RuntimeError, match="already contains 'TopicBFC7AF6E'"):
        Template.from_stack(stack)


def write_snapshot() -> None:
    found = {}
    for name in VARIANTS:
        with tempfile.TemporaryDirectory() as outdir:
            found[name] = snapshot(synthesize(dict(CONTEXTS[name]), Path(outdir)).json)
    SNAPSHOT.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    write_snapshot()
