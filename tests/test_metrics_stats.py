"""The statistics and arm assignment behind panel metrics, checked against SciPy and a hand formula."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from recommender.metrics.arms import CHALLENGER, CONTROL, assign_arm
from recommender.metrics.stats import (
    CHALLENGER_BETTER,
    CONTROL_BETTER,
    NO_DIFFERENCE,
    NOT_ENOUGH_DATA,
    Rate,
    two_proportion_z,
    verdict,
    wilson_interval,
)


def wilson_by_hand(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson interval as the roots of (p̂ - p)² = z² p (1 - p) / n, solved as a quadratic in p."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    p_hat = k / n
    a = 1 + z * z / n
    b = -(2 * p_hat + z * z / n)
    c = p_hat * p_hat
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


@pytest.mark.parametrize("k,n", [(0, 10), (1, 10), (5, 10), (10, 10), (37, 1000), (512, 1024), (3, 70_000)])
def test_wilson_interval_matches_the_quadratic_roots(k, n):
    low, high = wilson_interval(k, n)
    expected = wilson_by_hand(k, n)
    assert low == pytest.approx(expected[0], abs=1e-12)
    assert high == pytest.approx(expected[1], abs=1e-12)
    assert 0 <= low <= k / n <= high <= 1


def test_wilson_interval_refuses_more_successes_than_trials_and_is_wide_open_without_trials():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)
    assert Rate(5, 3).interval == wilson_interval(3, 3), "clicks on panels whose beacon never loaded are capped"


@pytest.mark.parametrize("c1,n1,c2,n2", [(30, 1000, 45, 1000), (120, 2000, 100, 2000), (5, 50, 9, 60),
                                         (200, 10_000, 260, 9_000)])
def test_two_proportion_z_matches_scipy(c1, n1, c2, n2):
    """Same pooled z as by hand, and the p value SciPy's normal gives for it."""
    pooled = (c1 + c2) / (n1 + n2)
    z_expected = (c2 / n2 - c1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z, p = two_proportion_z(c1, n1, c2, n2)
    assert z == pytest.approx(z_expected, rel=1e-12)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z_expected)), rel=1e-9)


def test_two_proportion_z_matches_scipys_chi_square_test():
    """The two-sided z-test is the 2x2 chi-square test without continuity correction."""
    c1, n1, c2, n2 = 130, 2400, 170, 2300
    _, p = two_proportion_z(c1, n1, c2, n2)
    chi2 = stats.chi2_contingency([[c1, n1 - c1], [c2, n2 - c2]], correction=False)
    assert p == pytest.approx(chi2.pvalue, rel=1e-9)


def test_verdicts():
    assert verdict(Rate(3, 50), Rate(9, 50)) == (None, NOT_ENOUGH_DATA)
    assert verdict(Rate(100, 5000), Rate(180, 5000))[1] == CHALLENGER_BETTER
    assert verdict(Rate(180, 5000), Rate(100, 5000))[1] == CONTROL_BETTER
    p, said = verdict(Rate(100, 5000), Rate(104, 5000))
    assert said == NO_DIFFERENCE and p > 0.05


@pytest.mark.parametrize("share", [0.5, 0.2])
def test_arms_split_within_binomial_bounds_and_stick(share):
    visitors = [f"visitor-{random.Random(7).random()}-{i}" for i in range(200)]
    arms = [assign_arm(v, "exp1", share) for v in visitors]
    challengers = arms.count(CHALLENGER)
    low, high = stats.binom.interval(0.999, 200, share)
    assert low <= challengers <= high, f"{challengers} of 200 for a share of {share}"
    assert arms == [assign_arm(v, "exp1", share) for v in visitors], "the same visitor always gets the same arm"
    assert assign_arm(None, "exp1", share) == CONTROL
    others = [assign_arm(v, "exp2", share) for v in visitors]
    assert others != arms, "a new experiment reshuffles visitors"
