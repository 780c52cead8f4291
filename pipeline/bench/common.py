"""Helpers shared by the benchmarks: medians and a plain-text table."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    """Median of `repeats` measurements (each a rate, higher is better)."""
    return statistics.median(measure() for _ in range(max(1, repeats)))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in header]] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
