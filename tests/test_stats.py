import math

import pytest

from pipeline.stats import Z_95, format_rate, rate_interval, wilson_interval


@pytest.mark.parametrize("successes,n", [(0, 25), (1, 25), (4, 25), (11, 25), (20, 25), (25, 25), (3, 4), (57, 100)])
def test_wilson_endpoints_solve_the_score_equation(successes, n):
    """The Wilson interval is {p0 : |p_hat - p0| <= z sqrt(p0 (1 - p0) / n)}: each endpoint strictly inside (0, 1)
    meets it with equality, and the observed rate lies inside."""
    p_hat = successes / n
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= p_hat <= high <= 1.0
    for p0 in (low, high):
        if 0.0 < p0 < 1.0:
            assert abs(p_hat - p0) == pytest.approx(Z_95 * math.sqrt(p0 * (1 - p0) / n), rel=1e-9)


def test_wilson_known_values_and_limits():
    # statsmodels.stats.proportion.proportion_confint(4, 25, method="wilson") = (0.06403, 0.34654)
    assert wilson_interval(4, 25) == pytest.approx((0.0640345, 0.3465362), abs=1e-6)
    assert wilson_interval(0, 25)[0] == 0.0 and wilson_interval(25, 25)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert rate_interval(0.44, 25) == wilson_interval(11, 25)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_format_rate():
    assert format_rate(0.44, 25) == "0.44 [0.27, 0.63] n=25"
    assert format_rate(0.015, 200) == "0.015 [0.005, 0.043] n=200"  # 3 of 200, not rounded to 0.01
    assert format_rate(None, 25) == "-" and format_rate(float("nan"), 25) == "-"
    assert format_rate(0.5, None) == "0.50"
