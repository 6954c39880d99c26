"""What a tensor can detect: the smallest relative std error that the std test finds with 90% power.

A PASS means "no evidence against the law", which says nothing when the tensor is too small to hold any:
``check --shape 2,2`` passes with a std CI of [0.50, 5.97]. So every tested tensor also reports
``detectable``: the smallest delta such that a std off by a factor 1 + delta AND one off by 1 - delta are
each rejected by the std test with probability >= 0.9 at the test's own level (docs/statistics.md §10).

The power comes from the std test's own law (``battery.std_test``):

* normal null: T = sum x^2 / std0^2 is chi-square(n) under the null and r^2 chi-square(n) when the true std
  is r * std0; the two-sided test rejects outside [c_lo, c_hi], so
  power(r) = P(chi2_n > c_hi / r^2) + P(chi2_n < c_lo / r^2), solved for r by bisection (it is monotone
  on each side of 1);
* uniform and truncated normal: the kurtosis-aware z = (S/(n std0^2) - 1) / se with se = sqrt((kappa-1)/n);
  with the true std r * std0 the statistic is r^2 (1 + se Z), so power 0.9 upwards needs
  r^2 = (1 + z_c se) / (1 - z_p se), downwards r^2 = (1 - z_c se) / (1 + z_p se), with z_c the two-sided
  critical value and z_p = 1.2816 the 90% quantile. (The other tail adds < level/2 and is left out, which
  errs on the side of a larger ``detectable``.)

``math.inf`` means no std error of that direction is ever detected (e.g. a 4-element uniform tensor).
"""

from __future__ import annotations

import functools
import math

from ..theory.limits import DEFAULT_MAX_DETECTABLE
from .laws import Law

__all__ = ["DEFAULT_MAX_DETECTABLE", "POWER", "detectable_error"]

#: The power at which ``detectable`` is defined.
POWER = 0.9
_BISECTIONS = 80


def _z(p_upper: float) -> float:
    from scipy.special import ndtri

    return float(-ndtri(p_upper))


def _normal_power(n: int, level: float, r: float) -> float:
    from scipy.special import chdtr, chdtrc, chdtri

    c_hi = float(chdtri(n, level / 2))
    c_lo = float(chdtri(n, 1 - level / 2))
    return float(chdtrc(n, c_hi / r**2)) + float(chdtr(n, c_lo / r**2))


@functools.lru_cache(maxsize=256)
def _bisect_ratio(n: int, level: float, power: float, upwards: bool) -> float:
    """The ratio r (> 1 upwards, < 1 downwards) where the chi-square test's power reaches ``power``.

    Cached: a checkpoint's tensors share a few sizes, and each answer costs ~50 chi-square quantiles."""
    if upwards:
        lo, hi = 1.0, 2.0
        while _normal_power(n, level, hi) < power:
            hi *= 2.0
            if hi > 1e150:
                return math.inf
    else:
        lo, hi = 0.0, 1.0  # power(0+) = 1: the lower tail catches every positive c_lo
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        reached = _normal_power(n, level, mid) >= power
        if upwards:
            lo, hi = (lo, mid) if reached else (mid, hi)
        else:
            lo, hi = (mid, hi) if reached else (lo, mid)
    return hi if upwards else lo


def detectable_error(law: Law, n: int, level: float, power: float = POWER) -> float:
    """The smallest relative std error detected both ways with probability ``power`` at ``level``.

    ``level`` is the std test's own level in the battery: alpha / k for k tests (Bonferroni).
    """
    if n < 1:
        return math.inf
    if law.distribution == "normal":
        up = _bisect_ratio(n, level, power, upwards=True) - 1.0
        down = 1.0 - _bisect_ratio(n, level, power, upwards=False)
        return max(up, down)
    se = math.sqrt((law.kurtosis - 1.0) / n)
    zc, zp = _z(level / 2), _z(1 - power)
    up = math.sqrt((1 + zc * se) / (1 - zp * se)) - 1.0 if zp * se < 1 else math.inf
    down = 1.0 - math.sqrt((1 - zc * se) / (1 + zp * se)) if zc * se < 1 else math.inf
    return max(up, down)
