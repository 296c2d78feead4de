"""The benchmark harness end to end in a tiny run: every figure is produced and the request counts hold.

Timings of so small a run mean nothing, and none is asserted; the request counts are exact.
Needs Java for DynamoDB Local, like the integration tests.
"""

from __future__ import annotations

import math
import shutil
from typing import Any

import pytest

from bench.harness import Options, run
from bench.report import BUDGETS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("java") is None, reason="DynamoDB Local needs Java"),
]

TINY = Options(cold_runs=1, warm_calls=20, http_requests=16, http_clients=8, server_warmup_requests=0)


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    figures, _verdicts = run(TINY, progress=lambda _message: None)
    return figures


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_a_cold_start_makes_one_read_and_one_write(results: dict[str, Any]) -> None:
    for side in ("project", "floor"):
        requests = results["cold"][side]["requests"]
        assert (requests["min"], requests["max"]) == (2, 2)
        assert requests["by_operation"] == {"Query": 1, "PutItem": 1}


def test_a_warm_call_makes_exactly_one_request(results: dict[str, Any]) -> None:
    create, read = results["warm"]["create"], results["warm"]["read"]
    assert create["first_call_requests"] == 2  # the app's Query, then the PutItem
    assert read["first_call_requests"] == 1  # the app is cached: the GetItem alone
    for series in (create, read):
        for side in ("project", "floor"):
            assert series[side]["requests_per_call"] == {"min": 1, "max": 1, "mean": 1.0}


def test_a_join_again_is_one_read_and_a_first_join_adds_the_stamp(results: dict[str, Any]) -> None:
    join = results["warm"]["join"]
    assert join["first_call_requests"] == 2  # the read's call, joined by its guest: GetItem, UpdateItem
    first, again = join["first_join_requests"], join["repeat_join_requests"]
    for role in ("guest", "agent"):  # the agent's app comes from the cache the creates filled
        assert first["by_role"][role] == {"min": 2, "max": 2, "mean": 2.0}
        assert again["by_role"][role] == {"min": 1, "max": 1, "mean": 1.0}
    for side in ("project", "floor"):
        assert join[side]["requests_per_call"] == {"min": 1, "max": 1, "mean": 1.0}
    for budget in results["budgets"]:
        if "join" in budget["name"] and "requests" in budget["name"]:
            assert budget["passed"], budget


def test_the_floor_is_a_stock_client_and_a_create_loads_no_other_route(results: dict[str, Any]) -> None:
    cold = results["cold"]
    assert cold["floor_client"].startswith("stock")
    assert cold["project_client_config"]["retries"]["total_max_attempts"] == 2
    assert cold["project_client_config"]["parameter_validation"] is False
    assert "calls.create" in cold["project_modules"]
    # The asset ships every module's bytecode, and the create loaded each of its modules from it.
    assert results["asset"]["compiled_modules"] >= cold["project_bytecode_modules"] > 0
    assert cold["project_bytecode_modules"] == len(cold["project_modules"])
    other_routes = {"calls.read", "calls.listing", "calls.end", "calls.cursor", "calls.join"}
    assert not other_routes & set(cold["project_modules"])


def test_every_figure_is_produced(results: dict[str, Any]) -> None:
    cold, warm, load = results["cold"], results["warm"], results["http"]
    for side in ("project", "floor"):
        assert _positive(cold[side]["wall_ms"]["p50"])
        assert _positive(cold[side]["cpu_ms"]["p50"])
        assert _positive(cold[side]["peak_rss_mb"]["p50"])
        for series in ("create", "read", "join"):
            assert warm[series][side]["latency_ms"]["n"] == TINY.warm_calls
            assert _positive(warm[series][side]["latency_ms"]["p99"])
    assert all(_positive(value) for value in cold["ratios"].values())
    for series in ("create", "read", "join"):
        assert all(_positive(value) for value in warm[series]["ratios"].values())
    assert (load["completed"], load["errors"], load["statuses"]) == (16, 0, {"201": 16})
    assert _positive(load["throughput_rps"])
    assert 0 < results["asset"]["zip_bytes"] < results["asset"]["raw_bytes"]
    assert [budget["name"] for budget in results["budgets"]] == [budget.name for budget in BUDGETS]
    assert results["machine"]["cores"] >= 1
    assert results["git"]["commit"]


def test_a_warm_relay_is_one_query_and_one_post_and_a_connect_four_requests(results: dict[str, Any]) -> None:
    signaling = results["signaling"]
    relay, connect = signaling["relay"], signaling["connect"]
    for side in ("project", "floor"):
        assert relay[side]["requests_per_call"] == {"min": 1, "max": 1, "mean": 1.0}
        assert relay[side]["posts_per_call"] == {"min": 1, "max": 1, "mean": 1.0}
        assert connect[side]["requests_per_call"] == {"min": 4, "max": 4, "mean": 4.0}
        assert connect[side]["posts_per_call"] == {"min": 0, "max": 0, "mean": 0.0}
        for series in (relay, connect):
            assert series[side]["latency_ms"]["n"] == TINY.warm_calls
            assert _positive(series[side]["latency_ms"]["p50"])
    budgets = {budget["name"]: budget for budget in results["signaling_budgets"]}
    for name in ("warm relay DynamoDB requests per signal", "warm relay posts per signal"):
        assert budgets[name]["passed"], budgets[name]
    assert budgets["warm connect DynamoDB requests"]["passed"]
