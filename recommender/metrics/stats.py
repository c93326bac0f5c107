"""Click-through statistics: Wilson intervals, the two-proportion z-test and a verdict in plain words.

Pure Python (math.erfc), so the web tier can use it without loading SciPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the two-sided 95 % quantile of the standard normal
SIGNIFICANCE = 0.05
MIN_IMPRESSIONS_PER_ARM = 100  # below this the normal approximation of the z-test is not trusted
MIN_CLICKS_TOTAL = 10

NOT_ENOUGH_DATA = "not enough data yet"
CHALLENGER_BETTER = "challenger better at 95%"
CONTROL_BETTER = "control better at 95%"
NO_DIFFERENCE = "no significant difference"


@dataclass(frozen=True)
class Rate:
    """Clicks out of impressions, with its 95 % Wilson interval."""

    clicks: int
    impressions: int

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Clicks on panels whose beacon never loaded can outnumber impressions: the interval is then capped."""
        return wilson_interval(min(self.clicks, self.impressions), self.impressions)

    def as_dict(self) -> dict:
        low, high = self.interval
        return {"impressions": self.impressions, "clicks": self.clicks, "ctr": self.ctr,
                "ci_low": low, "ci_high": high}


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval: sensible at 0 and at 100 %, unlike the normal approximation."""
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be from 0 to trials ({trials}), got {successes}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: rounding must not exclude p̂
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def normal_two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


def two_proportion_z(clicks_a: int, n_a: int, clicks_b: int, n_b: int) -> tuple[float, float]:
    """(z, two-sided p) of the pooled two-proportion z-test of b against a; (0, 1) when undefined."""
    if n_a <= 0 or n_b <= 0:
        return 0.0, 1.0
    pooled = (clicks_a + clicks_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return 0.0, 1.0
    z = (clicks_b / n_b - clicks_a / n_a) / spread
    return z, normal_two_sided_p(z)


def verdict(control: Rate, challenger: Rate) -> tuple[float | None, str]:
    """(p value, what it means) for an experiment's two arms."""
    if (min(control.impressions, challenger.impressions) < MIN_IMPRESSIONS_PER_ARM
            or control.clicks + challenger.clicks < MIN_CLICKS_TOTAL):
        return None, NOT_ENOUGH_DATA
    z, p = two_proportion_z(control.clicks, control.impressions, challenger.clicks, challenger.impressions)
    if p >= SIGNIFICANCE:
        return p, NO_DIFFERENCE
    return p, CHALLENGER_BETTER if z > 0 else CONTROL_BETTER
