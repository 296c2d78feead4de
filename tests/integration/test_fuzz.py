"""Schemathesis against the local server over loopback, from the committed docs/openapi.json.

Every default check of schemathesis runs on every response of every operation, with valid demo
credentials (in the headers, then in the query string) and with broken ones; then the stateful
phase follows the document's links (create -> get, end and join; get <-> end) with a fresh app's
credentials. Generation is derandomized, so a run is reproducible and a failure is the same
failure on the next run.

Two adjustments, each explained where it is made (and in the README's "Fuzzing"):
- positive_data_acceptance also accepts 400, 410 and 422, because these answers to schema-valid
  requests depend on state, not shape: PRESET_NOT_FOUND (whether a preset exists is data),
  IDEMPOTENCY_KEY_REUSED (whether a key was used before is history), INVALID_CURSOR (whether
  this API issued a cursor is history) and a join's CALL_ENDED / CALL_EXPIRED (whether the call
  is over is history). `only_state_dependent_refusals` then fails any other 400, 410 or 422 to a
  schema-valid request, so the check loses nothing else.
- The undeclared-method probe sends only methods API Gateway can forward to the function: TRACE
  and QUERY never reach it in the deployed API.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY, DISABLED_APP_ID, DISABLED_WIDGET_KEY
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES

from tests.conftest import ROOT
from tests.services import LocalApi, TestApp

pytestmark = pytest.mark.integration

SPEC_PATH = ROOT / "docs" / "openapi.json"
MIN_REQUESTS_PER_RUN = 500
# The methods of an API Gateway REST API's ANY method (less HEAD, whose answer has no body to
# check); schemathesis probes each path with those the document does not declare there.
UNDECLARED_METHODS_API_GATEWAY_FORWARDS = ["get", "put", "post", "patch", "delete"]
CALL_OPERATIONS = (
    "POST /api/calls",
    "GET /api/calls",
    "GET /api/calls/{callId}",
    "POST /api/calls/{callId}/end",
)
# The recording routes: the app's credentials (or the call's host key, which the fuzz never has).
RECORDING_OPERATIONS = (
    "POST /api/calls/{callId}/recordings",
    "GET /api/calls/{callId}/recordings",
    "POST /api/calls/{callId}/recordings/{recordingId}/parts",
    "POST /api/calls/{callId}/recordings/{recordingId}/complete",
)
JOIN = "POST /api/calls/{callId}/join"
PREFLIGHTS = (
    "OPTIONS /api/calls",
    "OPTIONS /api/calls/{callId}",
    "OPTIONS /api/calls/{callId}/end",
    "OPTIONS /api/calls/{callId}/join",
    "OPTIONS /api/calls/{callId}/recordings",
    "OPTIONS /api/calls/{callId}/recordings/{recordingId}/parts",
    "OPTIONS /api/calls/{callId}/recordings/{recordingId}/complete",
)
OPERATIONS = (*CALL_OPERATIONS, *RECORDING_OPERATIONS, JOIN, *PREFLIGHTS)
# The operations that need credentials: the document's "Calls" and "Recordings" tags. A guest
# joins without any.
CREDENTIAL_TAGS = "^(Calls|Recordings)$"
JOIN_TAG = "Join"
# Schema-valid requests that only stored state can refuse, by status.
STATE_DEPENDENT_REFUSALS = {
    400: frozenset({"INVALID_CURSOR"}),
    410: frozenset({"CALL_ENDED", "CALL_EXPIRED"}),
    422: frozenset({"PRESET_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"}),
}


def load_schema(
    credentials: dict[str, str] | None, *, max_examples: int = 50, stateful: bool = False
) -> schemathesis.BaseSchema:
    """The committed document, with these credentials for its security schemes (None: generated ones).

    Credentials given here are schemathesis' own auth: its ignored_auth check then knows them as
    valid and probes the API without them and with invalid ones.
    """
    config: dict[str, Any] = {
        "generation": {
            "deterministic": True,
            "database": "none",
            "max-examples": max_examples,
            # With credentials given, no others generated for the other security alternative. Not for
            # the state machine: with it off, schemathesis 4.32.5 starts every scenario with endCall and
            # never creates a call; there the given credentials overwrite the generated headers anyway.
            "with-security-parameters": credentials is None or stateful,
        },
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": [
                    *POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
                    *(str(status) for status in STATE_DEPENDENT_REFUSALS),
                ],
            },
        },
        "phases": {"coverage": {"unexpected-methods": UNDECLARED_METHODS_API_GATEWAY_FORWARDS}},
    }
    if credentials is not None:
        config["auth"] = {"openapi": {scheme: {"api_key": value} for scheme, value in credentials.items()}}
    return schemathesis.openapi.from_path(SPEC_PATH, config=schemathesis.Config.from_dict(config))


def header_credentials(app_id: str, widget_key: str) -> dict[str, str]:
    return {"appIdHeader": app_id, "widgetKeyHeader": widget_key}


schema = load_schema(header_credentials(DEMO_APP_ID, DEMO_WIDGET_KEY))
query_schema = load_schema({"appIdQuery": DEMO_APP_ID, "widgetKeyQuery": DEMO_WIDGET_KEY}).include(
    tag_regex=CREDENTIAL_TAGS
)
BROKEN_CREDENTIALS: dict[str, tuple[dict[str, str] | None, int, str]] = {
    # name: (credentials, the status and code of every request that gets past the body checks)
    "wrong-widget-key": (header_credentials(DEMO_APP_ID, "not-the-key"), 401, "UNAUTHORIZED"),
    "unknown-app": (header_credentials("no-such-app", DEMO_WIDGET_KEY), 401, "UNAUTHORIZED"),
    "disabled-app": (header_credentials(DISABLED_APP_ID, DISABLED_WIDGET_KEY), 403, "APP_DISABLED"),
    # Schemathesis fills the security parameters with values of its own (or leaves them out).
    "generated": (None, 401, "UNAUTHORIZED"),
}
# Fewer examples each: past the body checks every one of them must answer the same 401 or 403.
BROKEN_MAX_EXAMPLES = 15
broken_schemas = {
    name: load_schema(credentials, max_examples=BROKEN_MAX_EXAMPLES).include(tag_regex=CREDENTIAL_TAGS)
    for name, (credentials, _, _) in BROKEN_CREDENTIALS.items()
}
# Refused before credentials are looked at, on the routes that read a body (docs/behaviour.md: size, then
# JSON, then credentials).
BODY_REFUSALS = {400: {"INVALID_JSON", "INVALID_BODY"}, 413: {"PAYLOAD_TOO_LARGE"}}


def only_state_dependent_refusals(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 400 or 422 to a schema-valid request is allowed only for what a schema cannot know."""
    meta = case.meta
    refusable = STATE_DEPENDENT_REFUSALS.get(response.status_code)
    if meta is None or not meta.generation.mode.is_positive or refusable is None:
        return None
    code = response.json()["error"]["code"]
    assert code in refusable, (
        f"schema-valid request answered {response.status_code} {code}: "
        "the document and the validation disagree"
    )
    return True


# Generated requests each fuzz test must send; together at least MIN_REQUESTS_PER_RUN.
# With valid credentials: each operation, in the headers and (the operations with credentials) in the query.
MIN_VALID_REQUESTS = {
    "POST /api/calls": 150,
    "GET /api/calls": 90,
    "GET /api/calls/{callId}": 50,
    "POST /api/calls/{callId}/end": 55,
    JOIN: 55,
    **dict.fromkeys(RECORDING_OPERATIONS, 25),
    **dict.fromkeys(PREFLIGHTS, 40),
}
MIN_REQUESTS_PER_TEST = {
    "test_with_valid_credentials_in_headers": MIN_VALID_REQUESTS,
    "test_with_valid_credentials_in_query": MIN_VALID_REQUESTS,
    # For each kind of broken credentials; create keeps its share, which its body checks need.
    "test_with_broken_credentials": {
        "POST /api/calls": 150,
        "GET /api/calls": 60,
        "GET /api/calls/{callId}": 20,
        "POST /api/calls/{callId}/end": 25,
        **dict.fromkeys(RECORDING_OPERATIONS, 10),
    },
}


def minimum_requests(node_name: str) -> int:
    """The share of a test item named `test[...][operation label]`."""
    test, *parameters = node_name.split("[")
    return MIN_REQUESTS_PER_TEST[test][parameters[-1].rstrip("]")]


class Sent:
    """The requests one fuzz test generated, and whether one of them failed."""

    def __init__(self) -> None:
        self.count = 0
        self.failed = False

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        self.count += 1
        try:
            yield
        except BaseException:
            self.failed = True
            raise


# `sent` lives as long as one test, across the requests it generates: that is its purpose.
COUNTED = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def sent(request: pytest.FixtureRequest) -> Iterator[Sent]:
    """Fails a fuzz test that passed on fewer requests than its share (a failure stops generation)."""
    sent = Sent()
    yield sent
    minimum = minimum_requests(request.node.name)
    assert sent.failed or sent.count >= minimum, (
        f"{request.node.name} generated {sent.count} requests, fewer than {minimum}: raise max-examples"
    )


def test_the_fuzz_tests_send_at_least_500_requests_per_run() -> None:
    per_test = [
        *(minimum_requests(f"test_with_valid_credentials_in_headers[{label}]") for label in OPERATIONS),
        *(minimum_requests(f"test_with_valid_credentials_in_query[{label}]") for label in CALL_OPERATIONS),
        *(
            minimum_requests(f"test_with_broken_credentials[{kind}][{label}]")
            for kind in BROKEN_CREDENTIALS
            for label in CALL_OPERATIONS
        ),
    ]
    assert sum(per_test) >= MIN_REQUESTS_PER_RUN


def labels(fuzzed: schemathesis.BaseSchema) -> set[str]:
    return {result.ok().label for result in fuzzed.get_all_operations()}


def test_the_fuzz_tests_cover_every_documented_operation() -> None:
    schema.validate()
    assert labels(schema) == set(OPERATIONS)
    # Every operation with credentials, with credentials in the query and with broken ones.
    assert labels(query_schema) == {*CALL_OPERATIONS, *RECORDING_OPERATIONS}
    for broken in broken_schemas.values():
        assert labels(broken) == {*CALL_OPERATIONS, *RECORDING_OPERATIONS}


@schema.parametrize()
@COUNTED
def test_with_valid_credentials_in_headers(case: Any, local_api: LocalApi, sent: Sent) -> None:
    with sent.request():
        case.call_and_validate(base_url=local_api.base_url, additional_checks=[only_state_dependent_refusals])


@query_schema.parametrize()
@COUNTED
def test_with_valid_credentials_in_query(case: Any, local_api: LocalApi, sent: Sent) -> None:
    with sent.request():
        case.call_and_validate(base_url=local_api.base_url, additional_checks=[only_state_dependent_refusals])


@schemathesis.pytest.parametrize(**broken_schemas)
@COUNTED
def test_with_broken_credentials(
    case: Any, local_api: LocalApi, sent: Sent, request: pytest.FixtureRequest
) -> None:
    kind = request.node.name.split("[")[1].rstrip("]")  # test_with_broken_credentials[kind][operation]
    _, status, code = BROKEN_CREDENTIALS[kind]
    expected = {status: {code}}
    if case.operation.method.upper() == "POST":
        expected.update(BODY_REFUSALS)
    with sent.request():
        response = case.call_and_validate(
            base_url=local_api.base_url, additional_checks=[only_state_dependent_refusals]
        )

        # Not the probes of undeclared methods (405): every request to an operation.
        if response.request.method == case.operation.method.upper():
            assert response.status_code in expected, response.text
            assert response.json()["error"]["code"] in expected[response.status_code]


# The stateful phase: scenarios that follow the document's links, so reads and ends meet real calls.

STATEFUL_SCENARIOS = 30
STATEFUL_STEPS = 8
STATEFUL_SEED = 10


def test_the_stateful_phase_follows_the_links_from_create_to_get_end_and_join(
    local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    # An app of its own: scenarios also end calls they find by listing.
    app = make_app()
    credentials = header_credentials(app.app_id, app.widget_key)
    workflow_schema = load_schema(credentials, stateful=True).include(tag=["Calls", JOIN_TAG])
    # (source operation, target operation, inferred by schemathesis?), status: each step a link led to.
    followed: Counter[tuple[tuple[str, str, bool], int]] = Counter()

    class Workflow(workflow_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": local_api.base_url}

        def step(self, input: Any) -> Any:
            output = super().step(input)
            if input.transition is not None and input.is_applied:
                source = self.recorder.cases[input.transition.parent_id].value.operation.label
                link = (source, input.case.operation.label, input.transition.is_inferred)
                followed[link, output.response.status_code] += 1
            return output

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            checks = [only_state_dependent_refusals, *(additional_checks or [])]
            super().validate_response(response, case, additional_checks=checks, **kwargs)

    # Seeded as schemathesis' own stateful phase seeds its suites, so every run is the same run.
    Workflow.rule_order_seed = STATEFUL_SEED
    hypothesis.seed(STATEFUL_SEED)(Workflow).run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            database=None,
            deadline=None,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )

    # A random callId is a 404: a 200 to get or end means a link of the document carried a created
    # call's id (schemathesis infers links of its own too, but none from create to end).
    create, read, end = CALL_OPERATIONS[0], CALL_OPERATIONS[2], CALL_OPERATIONS[3]
    assert followed[(create, read, False), 200] > 0, followed
    assert followed[(create, end, False), 200] > 0, followed
    assert followed[(create, JOIN, False), 200] > 0, followed
    assert followed[(read, end, False), 200] + followed[(end, read, False), 200] > 0, followed
    # And no link led to a call that was not there.
    assert not [link for link, status in followed if status == 404], followed
