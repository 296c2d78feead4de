"""The benchmark's pure helpers: order statistics, budget verdicts, the printed table, the asset."""

from __future__ import annotations

import math
import statistics
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bench.asset import build_asset_zip, shipped_files
from bench.machine import UnknownRevision, export_functions
from bench.report import (
    BUDGETS,
    HEADER,
    SIGNALING_BUDGETS,
    Budget,
    evaluate,
    format_table,
    render,
    table_rows,
)
from bench.stats import median, percentile, ratio, spread, summarize
from infra.function_asset import runtime_cache_tag, stage_function_asset


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 0) == 1
    assert percentile([4, 1, 3, 2], 100) == 4
    assert percentile([10, 20], 25) == 12.5
    assert percentile([7], 99) == 7


def test_percentile_agrees_with_the_standard_library() -> None:
    values = [0.3, 1.7, 2.2, 2.9, 3.1, 4.8, 5.5, 7.0, 9.4, 12.6, 13.0]
    cut_points = statistics.quantiles(values, n=100, method="inclusive")
    for q in (1, 25, 50, 75, 95, 99):
        assert percentile(values, q) == pytest.approx(cut_points[q - 1])
    assert median(values) == statistics.median(values)


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_refuses_a_rank_outside_0_to_100(q: float) -> None:
    with pytest.raises(ValueError, match="within 0 and 100"):
        percentile([1, 2], q)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_summary_ratio_and_spread() -> None:
    summary = summarize([4, 1, 3, 2, 5])
    assert (summary["n"], summary["min"], summary["p50"], summary["max"], summary["mean"]) == (5, 1, 3, 5, 3)
    assert spread(summary) == pytest.approx((4 - 2) / 3)
    assert ratio(3, 2) == 1.5
    assert ratio(0, 0) == 1.0
    assert ratio(1, 0) == math.inf


def _results(**overrides: float) -> dict[str, object]:
    figures = {
        "wall": 1.1,
        "peak_rss": 1.2,
        "cold_requests": 2,
        "warm_min": 1,
        "warm_max": 1,
        "warm_p50": 1.1,
        "read_min": 1,
        "read_max": 1,
        "read_p50": 1.1,
        "join_min": 1,
        "join_max": 1,
        "join_again_min": 1,
        "join_again_max": 1,
        "join_first_max": 2,
        "join_p50": 1.1,
        "errors": 0,
        "zip_bytes": 20_000,
        "source_zip_bytes": 10_000,
    }
    figures.update(overrides)
    latency = {"n": 3, "p50": 2.0, "p95": 3.0, "p99": 4.0}
    return {
        "cold": {
            "project": {
                "wall_ms": {"n": 7, "p50": 330.0},
                "cpu_ms": {"p50": 300.0},
                "peak_rss_mb": {"p50": 60.0},
                "requests": {"min": 2, "max": figures["cold_requests"]},
                "phases_ms": dict.fromkeys(("startup", "imports", "client", "event", "exit"), 1.0),
            },
            "floor": {
                "wall_ms": {"n": 7, "p50": 300.0},
                "cpu_ms": {"p50": 270.0},
                "peak_rss_mb": {"p50": 50.0},
                "requests": {"min": 2, "max": 2},
                "phases_ms": dict.fromkeys(("startup", "imports", "client", "event", "exit"), 1.0),
            },
            "ratios": {"wall": figures["wall"], "cpu": 1.11, "peak_rss": figures["peak_rss"]},
        },
        "warm": {
            "calls": 1000,
            "create": {
                "project": {
                    "latency_ms": latency,
                    "requests_per_call": {"min": figures["warm_min"], "max": figures["warm_max"]},
                },
                "floor": {"latency_ms": latency, "requests_per_call": {"min": 1, "max": 1}},
                "ratios": {"p50": figures["warm_p50"], "p95": 1.0, "p99": 1.0},
            },
            "read": {
                "project": {
                    "latency_ms": latency,
                    "requests_per_call": {"min": figures["read_min"], "max": figures["read_max"]},
                },
                "floor": {"latency_ms": latency, "requests_per_call": {"min": 1, "max": 1}},
                "ratios": {"p50": figures["read_p50"], "p95": 1.0, "p99": 1.0},
            },
            "join": {
                "project": {
                    "latency_ms": latency,
                    "requests_per_call": {"min": figures["join_min"], "max": figures["join_max"]},
                },
                "floor": {"latency_ms": latency, "requests_per_call": {"min": 1, "max": 1}},
                "ratios": {"p50": figures["join_p50"], "p95": 1.0, "p99": 1.0},
                "first_join_requests": {"min": 2, "max": figures["join_first_max"]},
                "repeat_join_requests": {"min": figures["join_again_min"], "max": figures["join_again_max"]},
            },
        },
        "http": {
            "clients": 8,
            "requests": 400,
            "throughput_rps": 321.4,
            "latency_ms": latency,
            "errors": figures["errors"],
        },
        "asset": {
            "files": 10,
            "raw_bytes": 50_000,
            "zip_bytes": figures["zip_bytes"],
            "source_zip_bytes": figures["source_zip_bytes"],
        },
    }


def test_every_budget_holds_on_good_figures() -> None:
    verdicts = evaluate(_results())
    assert [verdict.name for verdict in verdicts] == [budget.name for budget in BUDGETS]
    assert all(verdict.passed for verdict in verdicts)


@pytest.mark.parametrize(
    ("override", "failing"),
    [
        ({"wall": 1.5001}, "cold wall-time ratio"),
        ({"peak_rss": 1.31}, "cold peak-RSS ratio"),
        ({"cold_requests": 3}, "cold DynamoDB requests"),
        ({"warm_max": 2}, "warm create DynamoDB requests per call"),
        ({"warm_min": 0}, "warm create DynamoDB requests per call"),
        ({"warm_p50": 1.2501}, "warm create p50 ratio"),
        ({"read_max": 2}, "warm read DynamoDB requests per call"),
        ({"read_min": 0}, "warm read DynamoDB requests per call"),
        ({"read_p50": 1.2501}, "warm read p50 ratio"),
        ({"join_max": 2}, "warm join DynamoDB requests per call"),
        ({"join_min": 0}, "warm join DynamoDB requests per call"),
        ({"join_again_max": 2}, "warm join DynamoDB requests per call"),
        ({"join_again_min": 0}, "warm join DynamoDB requests per call"),
        ({"join_first_max": 3}, "warm first join DynamoDB requests"),
        ({"join_p50": 1.2501}, "warm join p50 ratio"),
        ({"errors": 1}, "HTTP errors"),
        ({"zip_bytes": 250_000}, "asset zip size, as shipped"),
        ({"source_zip_bytes": 100_000}, "asset zip size, sources"),
    ],
)
def test_a_figure_past_its_limit_fails_exactly_its_budget(override: dict[str, float], failing: str) -> None:
    verdicts = evaluate(_results(**override))
    assert [verdict.name for verdict in verdicts if not verdict.passed] == [failing]


def test_limits_are_inclusive_where_the_issue_says_at_most() -> None:
    at_limits = _results(wall=1.5, peak_rss=1.3, warm_p50=1.25, read_p50=1.25, join_p50=1.25)
    verdicts = {verdict.name: verdict for verdict in evaluate(at_limits)}
    assert verdicts["cold wall-time ratio"].passed
    assert verdicts["cold peak-RSS ratio"].passed
    assert verdicts["warm create p50 ratio"].passed
    assert verdicts["warm read p50 ratio"].passed
    assert verdicts["warm join p50 ratio"].passed


def test_the_budgets_are_issue_13s_and_issue_11s() -> None:
    limits = {budget.name: (budget.comparison, budget.limit) for budget in BUDGETS}
    assert limits == {
        "cold wall-time ratio": ("<=", 1.5),
        "cold peak-RSS ratio": ("<=", 1.3),
        "cold DynamoDB requests": ("<=", 2),
        "warm create DynamoDB requests per call": ("==", 1),
        "warm create p50 ratio": ("<=", 1.25),
        "warm read DynamoDB requests per call": ("==", 1),
        "warm read p50 ratio": ("<=", 1.25),
        "warm join DynamoDB requests per call": ("==", 1),
        "warm first join DynamoDB requests": ("<=", 2),
        "warm join p50 ratio": ("<=", 1.25),
        "HTTP errors": ("==", 0),
        "asset zip size, sources": ("<", 100_000),
        "asset zip size, as shipped": ("<", 250_000),
    }


def test_a_missing_figure_fails_its_budget() -> None:
    results = _results()
    del results["http"]
    verdicts = {verdict.name: verdict for verdict in evaluate(results)}
    assert not verdicts["HTTP errors"].passed
    assert math.isnan(verdicts["HTTP errors"].values[0])


def test_a_nan_figure_never_holds() -> None:
    assert not Budget("x", (("a",),), "<=", 1, "<= 1").holds(math.nan)


def test_format_table_aligns_columns_and_spans_section_titles() -> None:
    table = format_table(("name", "value"), [("a section title wider than the table",), ("  x", "1.5 ms")])
    assert table.splitlines() == [
        "name   value",
        "----  ------",
        "a section title wider than the table",
        "  x   1.5 ms",
    ]


def test_format_table_refuses_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="cells"):
        format_table(("a", "b"), [("1", "2", "3")])


def test_the_printed_table_shows_each_budget_beside_its_figure() -> None:
    results = _results(wall=1.6, read_p50=1.3)
    verdicts = evaluate(results)
    table = table_rows(results, verdicts)
    rows = {row[0].strip(): row for row in table if len(row) == len(HEADER)}
    assert rows["wall time, spawn to exit"][1:] == ("330.0 ms", "300.0 ms", "1.60x", "<= 1.50", "FAIL")
    assert rows["peak RSS"][3:] == ("1.20x", "<= 1.30", "PASS")
    assert rows["zipped"][1] == "20.0 KB"
    assert rows["zipped, sources only"][1:] == ("10.0 KB", "", "", "< 100 KB", "PASS")
    assert rows["errors"][4:] == ("0", "PASS")
    # The create's rows, then the read's, then the join's, each under its title.
    titles = [row[0] for row in table if len(row) == 1]
    assert titles[1:4] == [
        "Warm POST /api/calls: 1000 events in one process vs bare PutItem, interleaved",
        "Warm GET /api/calls/{callId}: 1000 events in one process vs bare GetItem, interleaved",
        "Warm POST /api/calls/{callId}/join, a guest again: 1000 events in one process vs bare GetItem, "
        "interleaved",
    ]
    p50s = [row[3:] for row in table if row[0] == "  p50" and len(row) == len(HEADER) and row[4]]
    assert p50s == [("1.10x", "<= 1.25", "PASS"), ("1.30x", "<= 1.25", "FAIL"), ("1.10x", "<= 1.25", "PASS")]
    per_call = [row[1:] for row in table if row[0] == "  DynamoDB requests per call"]
    assert per_call == [("1", "1", "", "exactly 1", "PASS")] * 3
    assert rows["DynamoDB requests, each role's first join"][1:] == ("2", "", "", "<= 2", "PASS")
    assert render(results, verdicts).endswith(
        "11 of 13 budgets hold; failing: cold wall-time ratio, warm read p50 ratio"
    )


def test_a_compared_asset_gets_its_own_cold_row_without_a_budget() -> None:
    results = _results()
    cold: Any = results["cold"]
    cold["compare"] = {
        "wall_ms": {"p50": 390.0},
        "cpu_ms": {"p50": 324.0},
        "ratios": {"wall": 1.3, "cpu": 1.2},
    }
    results["compared_functions"] = "functions/ at 0ec4940"
    rows = {row[0].strip(): row for row in table_rows(results, evaluate(results))}
    assert rows["wall time, functions/ at 0ec4940"][1:] == ("390.0 ms", "300.0 ms", "1.30x", "", "")
    assert rows["CPU time, functions/ at 0ec4940"][1:] == ("324.0 ms", "270.0 ms", "1.20x", "", "")


def test_the_asset_is_the_stacks_staging_of_functions_zipped(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    (root / "calls" / "__pycache__").mkdir(parents=True)
    (root / "calls" / "handler.py").write_text("x = 1\n")
    (root / "calls" / "stale.pyc").write_bytes(b"\0")
    (root / "calls" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    # Another function's package: not the API function's asset.
    (root / "signaling").mkdir()
    (root / "signaling" / "handler.py").write_text("y = 2\n")

    size = build_asset_zip(tmp_path / "asset.zip", root)
    # What infra/function_asset.py stages for the stack: the source and its runtime bytecode.
    tag = runtime_cache_tag()
    staged = stage_function_asset(tmp_path / "staged", root, packages=("calls",))
    assert shipped_files(staged.path) == [
        Path(f"calls/__pycache__/handler.{tag}.pyc"),
        Path("calls/handler.py"),
    ]
    with zipfile.ZipFile(tmp_path / "asset.zip") as archive:
        assert archive.namelist() == [f"calls/__pycache__/handler.{tag}.pyc", "calls/handler.py"]
        for name in archive.namelist():
            assert archive.read(name) == (staged.path / name).read_bytes()
    assert (size.files, size.compiled_modules) == (2, 1)
    assert size.raw_bytes == sum(path.stat().st_size for path in staged.path.rglob("*") if path.is_file())
    assert size.zip_bytes == (tmp_path / "asset.zip").stat().st_size

    sources = build_asset_zip(tmp_path / "sources.zip", root, bytecode=False)
    assert (sources.files, sources.raw_bytes, sources.compiled_modules) == (1, 6, 0)
    with zipfile.ZipFile(tmp_path / "sources.zip") as archive:
        assert archive.namelist() == ["calls/handler.py"]


def test_functions_at_a_revision_are_exported_for_comparison(tmp_path: Path) -> None:
    directory, commit = export_functions("HEAD", tmp_path)
    assert directory == tmp_path / "functions"
    assert (directory / "calls" / "handler.py").is_file()
    assert len(commit) == 40
    with pytest.raises(UnknownRevision, match="names no commit"):
        export_functions("no-such-revision", tmp_path / "other")


# The signaling function's figures (bench/children/signaling.py)


def _signaling(**overrides: float) -> dict[str, Any]:
    figures = {
        "relay_min": 1,
        "relay_max": 1,
        "relay_posts_min": 1,
        "relay_posts_max": 1,
        "relay_p50": 1.1,
        "connect_min": 4,
        "connect_max": 4,
        "connect_p50": 1.2,
    }
    figures.update(overrides)
    latency = {"n": 3, "p50": 2.0, "p95": 3.0, "p99": 4.0}

    def series(kind: str, requests: int, posts: int) -> dict[str, Any]:
        return {
            "project": {
                "latency_ms": latency,
                "requests_per_call": {"min": figures[f"{kind}_min"], "max": figures[f"{kind}_max"]},
                "posts_per_call": {
                    "min": figures.get(f"{kind}_posts_min", 0),
                    "max": figures.get(f"{kind}_posts_max", 0),
                },
            },
            "floor": {
                "latency_ms": latency,
                "requests_per_call": {"min": requests, "max": requests},
                "posts_per_call": {"min": posts, "max": posts},
            },
            "ratios": {"p50": figures[f"{kind}_p50"], "p95": 1.0, "p99": 1.0},
        }

    return {"calls": 1000, "relay": series("relay", 1, 1), "connect": series("connect", 4, 0)}


def test_the_signaling_budgets_hold_on_good_figures() -> None:
    verdicts = evaluate({"signaling": _signaling()}, SIGNALING_BUDGETS)
    assert [verdict.name for verdict in verdicts] == [
        "warm relay DynamoDB requests per signal",
        "warm relay posts per signal",
        "warm relay p50 ratio",
        "warm connect DynamoDB requests",
        "warm connect p50 ratio",
    ]
    assert all(verdict.passed for verdict in verdicts)


@pytest.mark.parametrize(
    ("override", "failing"),
    [
        ({"relay_max": 2}, "warm relay DynamoDB requests per signal"),
        ({"relay_min": 0}, "warm relay DynamoDB requests per signal"),
        ({"relay_posts_max": 2}, "warm relay posts per signal"),
        ({"relay_posts_min": 0}, "warm relay posts per signal"),
        ({"relay_p50": 1.2501}, "warm relay p50 ratio"),
        ({"connect_max": 5}, "warm connect DynamoDB requests"),
        ({"connect_min": 3}, "warm connect DynamoDB requests"),
        ({"connect_p50": 1.2501}, "warm connect p50 ratio"),
    ],
)
def test_a_signaling_figure_past_its_limit_fails_exactly_its_budget(
    override: dict[str, float], failing: str
) -> None:
    verdicts = evaluate({"signaling": _signaling(**override)}, SIGNALING_BUDGETS)
    assert [verdict.name for verdict in verdicts if not verdict.passed] == [failing]


def test_without_signaling_figures_every_signaling_budget_fails() -> None:
    assert not any(verdict.passed for verdict in evaluate(_results(), SIGNALING_BUDGETS))


def test_the_signaling_rows_follow_the_warm_routes_with_their_budgets() -> None:
    results = {**_results(), "signaling": _signaling(relay_p50=1.3)}
    verdicts = [*evaluate(results), *evaluate(results, SIGNALING_BUDGETS)]
    table = table_rows(results, verdicts)
    titles = [row[0] for row in table if len(row) == 1]
    assert titles[4:6] == [
        "Warm signal (relay): 1000 events in one process vs a bare Query and post, interleaved",
        "Warm connect (authorizer + $connect): 1000 handshakes vs their 4 bare requests, interleaved",
    ]
    start = table.index((titles[4],))
    relay, connect = table[start + 1 : start + 6], table[start + 7 : start + 12]
    assert relay[0][3:] == ("1.30x", "<= 1.25", "FAIL")
    assert relay[3][1:] == ("1", "1", "", "exactly 1", "PASS")
    assert relay[4][1:] == ("1", "1", "", "exactly 1", "PASS")
    assert connect[0][3:] == ("1.20x", "<= 1.25", "PASS")
    assert connect[3][1:] == ("4", "4", "", "exactly 4", "PASS")
    assert connect[4][1:] == ("0", "0", "", "", "")
    assert render(results, verdicts).endswith("17 of 18 budgets hold; failing: warm relay p50 ratio")
