"""What the stack is put together from: parts, constructs that group its resources without renaming
them, and the cdk-nag acknowledgements each part collects.

CDK names each resource in the template (its logical id) after its construct path, and CloudFormation
replaces a resource whose logical id changes: a table would come back empty, and an explicitly named
alarm, dashboard or web ACL would fail to create beside the one it replaces. The resources that the
parts group (infra/data.py, api_function.py, rest_api.py, edge.py, monitoring.py) were first deployed
directly in the stack, so a part is transparent: the stack gives each resource the logical id it
would have without the parts around it (`LogicalIds`, from VideoCallsStack._allocate_logical_id).
tests/infra/test_logical_ids.py holds every deployed id to a snapshot.

The events' construct (infra/events.py) is no part: its resources were deployed inside it, and their
ids already carry its name (CallEventsBus7D857237).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, CfnElement, Names, Stack, Validations
from constructs import Construct, IConstruct


@dataclass(frozen=True)
class NagAcknowledgement:
    """A cdk-nag finding accepted on the construct it concerns, with the reason."""

    scope: IConstruct
    rule: str
    reason: str


def apply_acknowledgements(acknowledgements: Sequence[NagAcknowledgement]) -> None:
    for acknowledgement in acknowledgements:
        Validations.of(acknowledgement.scope).acknowledge(
            Acknowledgment(id=acknowledgement.rule, reason=acknowledgement.reason)
        )


class Part(Construct):
    """A group of the stack's resources, transparent to their logical ids (see the module)."""

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        """Each cdk-nag finding on this part's resources that is accepted, with the reason."""
        return []


# CDK's makeUniqueId (aws-cdk-lib core/lib/private/uniqueid.ts), which Stack.allocateLogicalId
# applies to the ids of the construct path below the stack.
_HIDDEN_ID = "Default"  # left out altogether
_HIDDEN_FROM_HUMAN_ID = "Resource"  # left out of the readable part, kept in the hash
_MAX_HUMAN_LENGTH = 240
_MAX_ID_LENGTH = 255
_HASH_LENGTH = 8


def make_unique_id(components: Sequence[str]) -> str:
    components = [component for component in components if component != _HIDDEN_ID]
    if not components:
        raise ValueError("no components to make a unique id of")
    if len(components) == 1 and len(_alphanumeric(components[0])) <= _MAX_ID_LENGTH:
        return _alphanumeric(components[0])
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()
    human = "".join(
        _alphanumeric(component)
        for component in _without_dupes(components)
        if component != _HIDDEN_FROM_HUMAN_ID
    )
    return human[:_MAX_HUMAN_LENGTH] + digest[:_HASH_LENGTH].upper()


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def _without_dupes(components: Sequence[str]) -> list[str]:
    """A component that ends the one before it is left out (Bucket/Bucket/Resource: Bucket)."""
    kept: list[str] = []
    for component in components:
        if not kept or not kept[-1].endswith(component):
            kept.append(component)
    return kept


class LogicalIds:
    """Allocates each of a stack's resources the logical id it would have without the parts."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._stack_id = _alphanumeric(stack.node.id)
        # CDK asks for an element's id many times over a synth (each a call from the jsii kernel,
        # with a new Python object for the element each time): the answer is kept per path.
        self._allocated: dict[str, str] = {}
        # The unique ids CDK builds some construct ids from (below), as they are -> as they were.
        self._unique_ids: dict[str, str] = {}
        self._unique_ids_of: tuple[int, ...] = ()

    def allocate(self, element: CfnElement) -> str:
        path = element.node.path
        found = self._allocated.get(path)
        if found is not None:
            return found
        scopes = element.node.scopes
        below_stack = scopes[scopes.index(self._stack) + 1 :]
        logical_id = make_unique_id(
            [self._as_before(scope.node.id) for scope in below_stack if not isinstance(scope, Part)]
        )
        self._allocated[path] = logical_id
        return logical_id

    def _as_before(self, construct_id: str) -> str:
        """CDK names a few constructs after another construct's unique id, which is made from its
        whole path, parts included: a Lambda permission of an API method after the API
        (ApiPermission.VideoCallsApidevApiB8565AD5.GET..api.calls), a stream's event source mapping
        after its table. Such an id gets the unique id of a part's resource as it was before."""
        if self._stack_id not in construct_id:
            return construct_id  # every unique id starts with the stack's
        for now, before in self._part_unique_ids().items():
            construct_id = construct_id.replace(now, before)
        return construct_id

    def _part_unique_ids(self) -> dict[str, str]:
        parts = [child for child in self._stack.node.children if isinstance(child, Part)]
        counts = tuple(len(part.node.children) for part in parts)
        if counts != self._unique_ids_of:
            self._unique_ids_of = counts
            self._unique_ids = {}
            for part in parts:
                for child in part.node.children:
                    now = Names.node_unique_id(child.node)
                    # Names.nodeUniqueId: makeUniqueId of the path below the app.
                    before = make_unique_id(
                        [scope.node.id for scope in child.node.scopes[1:] if not isinstance(scope, Part)]
                    )
                    if now != before:
                        self._unique_ids[now] = before
        return self._unique_ids
