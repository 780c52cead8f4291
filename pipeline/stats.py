"""Confidence intervals for success rates.

A success rate from n episodes is a binomial proportion; with n = 25 it moves in steps of 0.04 and a single
seed's 0.16 vs 0.44 may or may not differ. Every rate the pipeline reports carries its 95% Wilson score interval
(Wilson 1927; Brown, Cai & DasGupta 2001 recommend it over the normal approximation for small n and rates near 0
or 1). The closed form is four lines, so it is written here rather than importing statsmodels for
`proportion_confint(method="wilson")`, which it matches (tests/test_stats.py).
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # standard normal quantile at 0.975


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """95% (by default) Wilson score interval (low, high) for `successes` out of `n`; (0, 1) for n = 0."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if successes == 0 else centre - half  # exact at the ends, where rounding would leave 1e-17
    high = 1.0 if successes == n else centre + half
    return low, high


def rate_interval(rate: float, n: int) -> tuple[float, float]:
    """Wilson interval of a rate measured on n episodes (rate * n is rounded back to a count of successes)."""
    return wilson_interval(int(round(rate * n)), n)


def format_rate(rate: float | None, n: int | None) -> str:
    """'0.44 [0.27, 0.63] n=25' for tables; '-' where nothing was measured (None or NaN).

    Three decimals past 100 episodes, so that a rate of 200 episodes (steps of 0.005) reads as it was counted.
    """
    if rate is None or rate != rate:
        return "-"
    if not n:
        return f"{rate:.2f}"
    digits = 3 if n > 100 else 2
    low, high = rate_interval(rate, n)
    return f"{rate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}] n={n}"
