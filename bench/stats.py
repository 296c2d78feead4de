"""Order statistics of timing samples; pure functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict


class Summary(TypedDict):
    n: int
    min: float
    p25: float
    p50: float
    p75: float
    p95: float
    p99: float
    max: float
    mean: float


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated linearly between the two nearest ranks.

    The same definition as numpy's default and `statistics.quantiles(method="inclusive")`.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0 and 100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def summarize(values: Sequence[float]) -> Summary:
    return Summary(
        n=len(values),
        min=min(values),
        p25=percentile(values, 25),
        p50=percentile(values, 50),
        p75=percentile(values, 75),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        max=max(values),
        mean=sum(values) / len(values),
    )


def ratio(value: float, floor: float) -> float:
    """How many times the floor a figure is; infinite when the floor is zero and the figure is not."""
    if floor == 0:
        return math.inf if value else 1.0
    return value / floor


def spread(summary: Summary) -> float:
    """Interquartile range over the median: how noisy a series was (0.05 is quiet, 0.3 is not)."""
    return ratio(summary["p75"] - summary["p25"], summary["p50"])
