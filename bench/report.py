"""Issue 6's budgets, their verdicts, and the table printed beside them; pure functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Comparison = Literal["<=", "<", "=="]
FigurePath = tuple[str, ...]


@dataclass(frozen=True)
class Budget:
    name: str
    paths: tuple[FigurePath, ...]  # every figure named here must hold the limit
    comparison: Comparison
    limit: float
    shown_limit: str

    def holds(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.comparison == "<=":
            return value <= self.limit
        if self.comparison == "<":
            return value < self.limit
        return value == self.limit


@dataclass(frozen=True)
class Verdict:
    name: str
    values: tuple[float, ...]
    limit: str
    passed: bool


def _per_call_budget(name: str, series: str, *more: FigurePath) -> Budget:
    per_call = ("warm", series, "project", "requests_per_call")
    return Budget(name, ((*per_call, "min"), (*per_call, "max"), *more), "==", 1, "exactly 1")


_REPEAT_JOINS = ("warm", "join", "repeat_join_requests")


# Issue 6's budgets as issue 13 decided them (cold wall time 1.5x, from 1.25x), issue 10's read and
# issue 11's join: a join again is its GetItem alone (the measured series, a guest's, and a second
# join of each role), a role's first join at most that and the conditional write that stamps it.
BUDGETS = (
    Budget("cold wall-time ratio", (("cold", "ratios", "wall"),), "<=", 1.5, "<= 1.50"),
    Budget("cold peak-RSS ratio", (("cold", "ratios", "peak_rss"),), "<=", 1.3, "<= 1.30"),
    Budget("cold DynamoDB requests", (("cold", "project", "requests", "max"),), "<=", 2, "<= 2"),
    _per_call_budget("warm create DynamoDB requests per call", "create"),
    Budget("warm create p50 ratio", (("warm", "create", "ratios", "p50"),), "<=", 1.25, "<= 1.25"),
    _per_call_budget("warm read DynamoDB requests per call", "read"),
    Budget("warm read p50 ratio", (("warm", "read", "ratios", "p50"),), "<=", 1.25, "<= 1.25"),
    _per_call_budget(
        "warm join DynamoDB requests per call", "join", (*_REPEAT_JOINS, "min"), (*_REPEAT_JOINS, "max")
    ),
    Budget(
        "warm first join DynamoDB requests",
        (("warm", "join", "first_join_requests", "max"),),
        "<=",
        2,
        "<= 2",
    ),
    Budget("warm join p50 ratio", (("warm", "join", "ratios", "p50"),), "<=", 1.25, "<= 1.25"),
    Budget("HTTP errors", (("http", "errors"),), "==", 0, "0"),
    # Issue 6's 100 KB holds the code itself, zipped as sources. The zip as shipped adds the
    # sources' bytecode (about 115 KB zipped), which takes 10-13 ms off every cold start for a
    # download Lambda makes once per environment; it gets a budget of its own.
    Budget("asset zip size, sources", (("asset", "source_zip_bytes"),), "<", 100_000, "< 100 KB"),
    Budget("asset zip size, as shipped", (("asset", "zip_bytes"),), "<", 250_000, "< 250 KB"),
)


def _exactly(name: str, per_call: FigurePath, count: int) -> Budget:
    return Budget(name, ((*per_call, "min"), (*per_call, "max")), "==", count, f"exactly {count}")


_RELAY = ("signaling", "relay", "project")
_CONNECT = ("signaling", "connect", "project")

# The signaling function's (docs/signaling.md): a warm relay is one read of the call's partition and
# one post; a connection's handshake (the authorizer, then $connect) the call read and the token's
# one-time write, then the connection's write and the call read again that closes the race with an
# end. Its latency ratios are the API routes' own.
SIGNALING_BUDGETS = (
    _exactly("warm relay DynamoDB requests per signal", (*_RELAY, "requests_per_call"), 1),
    _exactly("warm relay posts per signal", (*_RELAY, "posts_per_call"), 1),
    Budget("warm relay p50 ratio", (("signaling", "relay", "ratios", "p50"),), "<=", 1.25, "<= 1.25"),
    _exactly("warm connect DynamoDB requests", (*_CONNECT, "requests_per_call"), 4),
    Budget("warm connect p50 ratio", (("signaling", "connect", "ratios", "p50"),), "<=", 1.25, "<= 1.25"),
)


def figure(results: Mapping[str, Any], path: FigurePath) -> Any:
    value: Any = results
    for key in path:
        value = value[key]
    return value


def evaluate(results: Mapping[str, Any], budgets: Sequence[Budget] = BUDGETS) -> list[Verdict]:
    """One verdict per budget; a figure that is missing fails its budget rather than passing it."""
    verdicts = []
    for budget in budgets:
        try:
            values = tuple(float(figure(results, path)) for path in budget.paths)
        except (KeyError, TypeError):
            values = (math.nan,)
        passed = all(budget.holds(value) for value in values)
        verdicts.append(Verdict(budget.name, values, budget.shown_limit, passed))
    return verdicts


# The table


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell: the first left-aligned, the others right-aligned.

    A row of one cell is a section title and spans the table.
    """
    widths = [len(cell) for cell in header]
    for row in rows:
        if len(row) == 1:
            continue
        if len(row) != len(header):
            raise ValueError(f"row {row!r} has {len(row)} cells, the header {len(header)}")
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *others = cells
        rest = [cell.rjust(width) for cell, width in zip(others, widths[1:], strict=True)]
        padded = [first.ljust(widths[0]), *rest]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    out = [line(header), rule]
    for row in rows:
        out.append(row[0] if len(row) == 1 else line(row))
    return "\n".join(out)


def milliseconds(value: float) -> str:
    return f"{value:.1f} ms" if value >= 100 else f"{value:.2f} ms"


def megabytes(value: float) -> str:
    return f"{value:.1f} MB"


def kilobytes(value: float) -> str:
    return f"{value / 1000:.1f} KB"


def times(value: float) -> str:
    return f"{value:.2f}x"


def _count_range(low: float, high: float) -> str:
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


HEADER = ("figure", "project", "floor", "ratio", "budget", "result")


def table_rows(results: Mapping[str, Any], verdicts: Sequence[Verdict]) -> list[tuple[str, ...]]:
    by_name = {verdict.name: verdict for verdict in verdicts}

    def judged(name: str) -> tuple[str, str]:
        verdict = by_name.get(name)
        if verdict is None:
            return "", ""
        return verdict.limit, "PASS" if verdict.passed else "FAIL"

    rows: list[tuple[str, ...]] = []
    cold = results.get("cold")
    if cold:
        project, floor, ratios = cold["project"], cold["floor"], cold["ratios"]
        runs = project["wall_ms"]["n"]
        rows.append((f"Cold start: fresh processes, median of {runs} each, interleaved",))
        rows.append(
            (
                "  wall time, spawn to exit",
                milliseconds(project["wall_ms"]["p50"]),
                milliseconds(floor["wall_ms"]["p50"]),
                times(ratios["wall"]),
                *judged("cold wall-time ratio"),
            )
        )
        compare = cold.get("compare")
        if compare:
            rows.append(
                (
                    f"  wall time, {results.get('compared_functions', 'compared asset')}",
                    milliseconds(compare["wall_ms"]["p50"]),
                    milliseconds(floor["wall_ms"]["p50"]),
                    times(compare["ratios"]["wall"]),
                    "",
                    "",
                )
            )
        for phase, label in (
            ("startup", "interpreter start"),
            ("imports", "imports"),
            ("client", "DynamoDB client"),
            ("event", "the event / the requests"),
            ("exit", "report and exit"),
        ):
            rows.append(
                (
                    f"    {label}",
                    milliseconds(project["phases_ms"][phase]),
                    milliseconds(floor["phases_ms"][phase]),
                    "",
                    "",
                    "",
                )
            )
        rows.append(
            (
                "  CPU time, user + system",
                milliseconds(project["cpu_ms"]["p50"]),
                milliseconds(floor["cpu_ms"]["p50"]),
                times(ratios["cpu"]),
                "",
                "",
            )
        )
        if compare:
            # Less moved by other work on the machine than wall time.
            rows.append(
                (
                    f"  CPU time, {results.get('compared_functions', 'compared asset')}",
                    milliseconds(compare["cpu_ms"]["p50"]),
                    milliseconds(floor["cpu_ms"]["p50"]),
                    times(compare["ratios"]["cpu"]),
                    "",
                    "",
                )
            )
        rows.append(
            (
                "  peak RSS",
                megabytes(project["peak_rss_mb"]["p50"]),
                megabytes(floor["peak_rss_mb"]["p50"]),
                times(ratios["peak_rss"]),
                *judged("cold peak-RSS ratio"),
            )
        )
        rows.append(
            (
                "  DynamoDB requests",
                _count_range(project["requests"]["min"], project["requests"]["max"]),
                _count_range(floor["requests"]["min"], floor["requests"]["max"]),
                "",
                *judged("cold DynamoDB requests"),
            )
        )
    warm = results.get("warm")
    if warm:
        for series, title, floor_name in (
            ("create", "POST /api/calls", "PutItem"),
            ("read", "GET /api/calls/{callId}", "GetItem"),
            ("join", "POST /api/calls/{callId}/join, a guest again", "GetItem"),
        ):
            if series in warm:
                rows.extend(_warm_rows(warm, series, title, floor_name, judged))
        first_joins = warm.get("join", {}).get("first_join_requests")
        if first_joins:
            rows.append(
                (
                    "  DynamoDB requests, each role's first join",
                    _count_range(first_joins["min"], first_joins["max"]),
                    "",
                    "",
                    *judged("warm first join DynamoDB requests"),
                )
            )
    signaling = results.get("signaling")
    if signaling:
        rows.extend(_signaling_rows(signaling, judged))
    load = results.get("http")
    if load:
        clients, requests = load["clients"], load["requests"]
        rows.append((f"Local HTTP server: {clients} keep-alive clients, {requests} requests",))
        rows.append(("  throughput", f"{load['throughput_rps']:.0f} req/s", "", "", "", ""))
        latency = load["latency_ms"]
        for name in ("p50", "p99"):
            rows.append((f"  {name}", milliseconds(latency[name]) if latency else "-", "", "", "", ""))
        rows.append(("  errors", str(load["errors"]), "", "", *judged("HTTP errors")))
    asset = results.get("asset")
    if asset:
        compiled = asset.get("compiled_modules", 0)
        shipped = (
            f"{asset['files']} files, {compiled} modules with bytecode"
            if compiled
            else f"{asset['files']} files"
        )
        rows.append((f"Asset: functions/ as shipped, {shipped}",))
        rows.append(
            ("  zipped", kilobytes(asset["zip_bytes"]), "", "", *judged("asset zip size, as shipped"))
        )
        if "source_zip_bytes" in asset:
            rows.append(
                (
                    "  zipped, sources only",
                    kilobytes(asset["source_zip_bytes"]),
                    "",
                    "",
                    *judged("asset zip size, sources"),
                )
            )
        rows.append(("  raw", kilobytes(asset["raw_bytes"]), "", "", "", ""))
    return rows


def _warm_rows(
    warm: Mapping[str, Any],
    series: str,
    title: str,
    floor_name: str,
    judged: Callable[[str], tuple[str, str]],
) -> list[tuple[str, ...]]:
    figures = warm[series]
    project, floor, ratios = figures["project"], figures["floor"], figures["ratios"]
    rows: list[tuple[str, ...]] = [
        (f"Warm {title}: {warm['calls']} events in one process vs bare {floor_name}, interleaved",)
    ]
    for name in ("p50", "p95", "p99"):
        rows.append(
            (
                f"  {name}",
                milliseconds(project["latency_ms"][name]),
                milliseconds(floor["latency_ms"][name]),
                times(ratios[name]),
                *(judged(f"warm {series} p50 ratio") if name == "p50" else ("", "")),
            )
        )
    rows.append(
        (
            "  DynamoDB requests per call",
            _count_range(project["requests_per_call"]["min"], project["requests_per_call"]["max"]),
            _count_range(floor["requests_per_call"]["min"], floor["requests_per_call"]["max"]),
            "",
            *judged(f"warm {series} DynamoDB requests per call"),
        )
    )
    return rows


def _signaling_rows(
    signaling: Mapping[str, Any], judged: Callable[[str], tuple[str, str]]
) -> list[tuple[str, ...]]:
    calls = signaling["calls"]
    rows: list[tuple[str, ...]] = []
    for series, title, budget_prefix, requests_budget in (
        (
            "relay",
            f"Warm signal (relay): {calls} events in one process vs a bare Query and post, interleaved",
            "warm relay",
            "warm relay DynamoDB requests per signal",
        ),
        (
            "connect",
            f"Warm connect (authorizer + $connect): {calls} handshakes vs their 4 bare requests, interleaved",
            "warm connect",
            "warm connect DynamoDB requests",
        ),
    ):
        figures = signaling[series]
        project, floor, ratios = figures["project"], figures["floor"], figures["ratios"]
        rows.append((title,))
        for name in ("p50", "p95", "p99"):
            rows.append(
                (
                    f"  {name}",
                    milliseconds(project["latency_ms"][name]),
                    milliseconds(floor["latency_ms"][name]),
                    times(ratios[name]),
                    *(judged(f"{budget_prefix} p50 ratio") if name == "p50" else ("", "")),
                )
            )
        posts_budget = "warm relay posts per signal" if series == "relay" else ""
        for label, key, budget in (
            ("  DynamoDB requests per event", "requests_per_call", requests_budget),
            ("  posts per event", "posts_per_call", posts_budget),
        ):
            rows.append(
                (
                    label,
                    _count_range(project[key]["min"], project[key]["max"]),
                    _count_range(floor[key]["min"], floor[key]["max"]),
                    "",
                    *judged(budget),
                )
            )
    return rows


def render(results: Mapping[str, Any], verdicts: Sequence[Verdict]) -> str:
    passed = sum(verdict.passed for verdict in verdicts)
    summary = f"{passed} of {len(verdicts)} budgets hold"
    failed = [verdict.name for verdict in verdicts if not verdict.passed]
    if failed:
        summary += f"; failing: {', '.join(failed)}"
    return f"{format_table(HEADER, table_rows(results, verdicts))}\n\n{summary}"
