"""Schemathesis against the local server over loopback, from the committed docs/openapi.json.

Every default check of schemathesis runs on every response, with valid demo credentials (in the
headers, then in the query string) and with broken ones. Generation is derandomized, so a run is
reproducible and a failure is the same failure on the next run.

Two adjustments, each explained where it is made (and in the README's "Fuzzing"):
- positive_data_acceptance also accepts 422, because two 422s answer schema-valid requests by
  design: PRESET_NOT_FOUND (whether a preset exists is data, not shape) and IDEMPOTENCY_KEY_REUSED
  (whether a key was used before is history, not shape). `only_state_dependent_422` then fails any
  other 422 to a schema-valid request, so the check loses nothing else.
- The undeclared-method probe sends only methods API Gateway can forward to the function: TRACE
  and QUERY never reach it in the deployed API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY, DISABLED_APP_ID, DISABLED_WIDGET_KEY
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES

from tests.conftest import ROOT
from tests.services import LocalApi

pytestmark = pytest.mark.integration

SPEC_PATH = ROOT / "docs" / "openapi.json"
MIN_REQUESTS_PER_RUN = 500
# The methods of an API Gateway REST API's ANY method, less those the document declares.
UNDECLARED_METHODS_API_GATEWAY_FORWARDS = ["get", "put", "patch", "delete"]
OPERATIONS = ("POST /api/calls", "OPTIONS /api/calls")
STATE_DEPENDENT_422_CODES = frozenset({"PRESET_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"})


def load_schema(credentials: dict[str, str] | None) -> schemathesis.BaseSchema:
    """The committed document, with these credentials for its security schemes (None: generated ones).

    Credentials given here are schemathesis' own auth: its ignored_auth check then knows them as
    valid and probes the API without them and with invalid ones.
    """
    config: dict[str, Any] = {
        "generation": {
            "deterministic": True,
            "database": "none",
            "max-examples": 50,
            # With credentials given, no others generated for the other security alternative.
            "with-security-parameters": credentials is None,
        },
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "422"],
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
    method="POST", path="/api/calls"
)
BROKEN_CREDENTIALS: dict[str, tuple[dict[str, str] | None, int, str]] = {
    # name: (credentials, the status and code of every request that gets past the body checks)
    "wrong-widget-key": (header_credentials(DEMO_APP_ID, "not-the-key"), 401, "UNAUTHORIZED"),
    "unknown-app": (header_credentials("no-such-app", DEMO_WIDGET_KEY), 401, "UNAUTHORIZED"),
    "disabled-app": (header_credentials(DISABLED_APP_ID, DISABLED_WIDGET_KEY), 403, "APP_DISABLED"),
    # Schemathesis fills the security parameters with values of its own (or leaves them out).
    "generated": (None, 401, "UNAUTHORIZED"),
}
broken_schemas = {
    name: load_schema(credentials).include(method="POST", path="/api/calls")
    for name, (credentials, _, _) in BROKEN_CREDENTIALS.items()
}
# Refused before credentials are looked at (contract: size, then JSON, then credentials).
BODY_REFUSALS = {400: {"INVALID_JSON", "INVALID_BODY"}, 413: {"PAYLOAD_TOO_LARGE"}}


def only_state_dependent_422(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 422 to a schema-valid request is allowed only for what a schema cannot know."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    code = response.json()["error"]["code"]
    assert code in STATE_DEPENDENT_422_CODES, (
        f"schema-valid request answered 422 {code}: the document and the validation disagree"
    )
    return True


# Generated requests each fuzz test must send; together at least MIN_REQUESTS_PER_RUN.
MIN_REQUESTS_PER_TEST = {
    "test_with_valid_credentials_in_headers[POST /api/calls]": 150,
    "test_with_valid_credentials_in_headers[OPTIONS /api/calls]": 40,
    "test_with_valid_credentials_in_query": 150,
    "test_with_broken_credentials": 150,  # for each kind of broken credentials
}


def minimum_requests(node_name: str) -> int:
    return next(minimum for prefix, minimum in MIN_REQUESTS_PER_TEST.items() if node_name.startswith(prefix))


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
        minimum_requests("test_with_valid_credentials_in_query"),
        *(minimum_requests("test_with_broken_credentials") for _ in BROKEN_CREDENTIALS),
    ]
    assert sum(per_test) >= MIN_REQUESTS_PER_RUN


def test_the_fuzz_tests_cover_every_documented_operation() -> None:
    schema.validate()
    assert {result.ok().label for result in schema.get_all_operations()} == set(OPERATIONS)


@schema.parametrize()
@COUNTED
def test_with_valid_credentials_in_headers(case: Any, local_api: LocalApi, sent: Sent) -> None:
    with sent.request():
        case.call_and_validate(base_url=local_api.base_url, additional_checks=[only_state_dependent_422])


@query_schema.parametrize()
@COUNTED
def test_with_valid_credentials_in_query(case: Any, local_api: LocalApi, sent: Sent) -> None:
    with sent.request():
        case.call_and_validate(base_url=local_api.base_url, additional_checks=[only_state_dependent_422])


@schemathesis.pytest.parametrize(**broken_schemas)
@COUNTED
def test_with_broken_credentials(
    case: Any, local_api: LocalApi, sent: Sent, request: pytest.FixtureRequest
) -> None:
    kind = request.node.name.split("[")[1].rstrip("]")  # test_with_broken_credentials[kind][operation]
    _, status, code = BROKEN_CREDENTIALS[kind]
    expected = {status: {code}, **BODY_REFUSALS}
    with sent.request():
        response = case.call_and_validate(
            base_url=local_api.base_url, additional_checks=[only_state_dependent_422]
        )

        if response.request.method == "POST":  # not the probes of undeclared methods (405)
            assert response.status_code in expected, response.text
            assert response.json()["error"]["code"] in expected[response.status_code]
