"""The three null laws of the common init schemes, with the moments the tests need.

Normal N(0, s^2); uniform U(-b, b) with b = sqrt(3) s; truncated normal sigma_pre * TruncN(-2, 2)
with sigma_pre = s / 0.8796... (std exactly s). Moments are exact, from closed forms
(standard-library math); CDFs use ``scipy.special.ndtr`` and are imported only when called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..theory.law import LawSpec
from ..theory.spec import SQRT3, TRUNC_CUT, TRUNC_STD_FACTOR

if TYPE_CHECKING:
    import numpy as np

SQRT2 = math.sqrt(2.0)


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _trunc_even_moments(c: float) -> tuple[float, float, float, float]:
    """E[z^2], E[z^4], E[z^6], E[z^8] of N(0,1) truncated to (-c, c).

    Integration by parts gives m_k = (k-1) m_{k-2} - 2 c^(k-1) phi(c) / Z, Z = 2 Phi(c) - 1.
    """
    z = math.erf(c / SQRT2)
    tail = 2 * _phi(c) / z
    m, out = 1.0, []
    for k in (2, 4, 6, 8):
        m = (k - 1) * m - c ** (k - 1) * tail
        out.append(m)
    return out[0], out[1], out[2], out[3]


def _standardized_moments(distribution: str) -> tuple[float, float, float]:
    """(mu4, mu6, mu8) of the distribution scaled to unit variance."""
    if distribution == "normal":
        return 3.0, 15.0, 105.0
    if distribution == "uniform":  # U(-sqrt3, sqrt3): E x^2k = 3^k / (2k+1)
        return 9.0 / 5.0, 27.0 / 7.0, 9.0
    if distribution == "truncated_normal":
        m2, m4, m6, m8 = _trunc_even_moments(TRUNC_CUT)
        return m4 / m2**2, m6 / m2**3, m8 / m2**4
    raise ValueError(f"unknown law {distribution!r}")


def kurtosis_avar(mu4: float, mu6: float, mu8: float) -> float:
    """n * Var(sample kurtosis) as n grows, for a symmetric law with unit variance (delta method).

    (mu8 - mu4^2) - 4 mu4 (mu6 - mu4) + 4 mu4^2 (mu4 - 1); 24 for the normal law.
    """
    return (mu8 - mu4**2) - 4 * mu4 * (mu6 - mu4) + 4 * mu4**2 * (mu4 - 1)


@dataclass(frozen=True)
class Law:
    """A zero-mean null law with a given std; ``distribution`` is normal, uniform or truncated_normal."""

    distribution: str
    std: float

    @property
    def sigma_pre(self) -> float:
        return self.std / TRUNC_STD_FACTOR

    @property
    def bound(self) -> float | None:
        """Edge of the support: the uniform bound or the truncation point; None if unbounded."""
        if self.distribution == "uniform":
            return SQRT3 * self.std
        if self.distribution == "truncated_normal":
            return TRUNC_CUT * self.sigma_pre
        return None

    @property
    def kurtosis(self) -> float:
        return _standardized_moments(self.distribution)[0]

    @property
    def excess_kurtosis(self) -> float:
        return self.kurtosis - 3.0

    @property
    def kurtosis_avar(self) -> float:
        return kurtosis_avar(*_standardized_moments(self.distribution))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """CDF evaluated with ``ndtr``: 10-20x cheaper than ``scipy.stats`` distributions."""
        import numpy as np
        from scipy.special import ndtr

        out: np.ndarray
        if self.distribution == "normal":
            out = ndtr(x / self.std)
        elif self.distribution == "uniform":
            b = SQRT3 * self.std
            out = np.clip((x + b) / (2 * b), 0.0, 1.0)
        else:
            lo = ndtr(-TRUNC_CUT)
            mass = ndtr(TRUNC_CUT) - lo
            out = np.clip((ndtr(x / self.sigma_pre) - lo) / mass, 0.0, 1.0)
        return out

    def log_cdf_max_abs(self, m: float, n: int) -> float:
        """log P(max|x| <= m) for n iid draws."""
        if m <= 0:
            return -math.inf
        if self.distribution == "normal":
            z = m / (self.std * SQRT2)
            tail = math.erfc(z)  # log1p(-tail) is exact near 1; log(erf) near 0, where erfc rounds to 1
            return n * (math.log1p(-tail) if tail < 0.5 else _log(math.erf(z)))
        bound = self.bound
        assert bound is not None
        if m >= bound:
            return 0.0
        if self.distribution == "uniform":
            return n * _log(m / bound)
        t = m / self.sigma_pre
        return n * (_log(math.erf(t / SQRT2)) - math.log(math.erf(TRUNC_CUT / SQRT2)))


def _log(x: float) -> float:
    """log, with log(0) = -inf: a denormal maximum (a crafted file's) underflows the probability to 0."""
    return math.log(x) if x > 0 else -math.inf


#: A truncation this many sigma out removes less than 1e-15 of the mass: the law is the normal to double precision.
UNTRUNCATED_CUT = 8.0


def law_from_spec(law: LawSpec) -> Law:
    """The statistics' null law for an exact law (theory/law.py). Minimal version: the three zero-mean symmetric
    laws of the Kaiming family (normal, uniform, truncated normal cut at +-2 of its own sigma); every other law
    raises ``ValueError`` naming it until the general laws land (issue 13, item 2)."""
    std = law.std
    ok = std is not None and std > 0 and math.isfinite(std)
    if ok and law.distribution == "normal" and law.mean == 0:
        return Law("normal", float(law.std or 0.0))
    if ok and law.distribution == "uniform" and law.low is not None and law.high is not None \
            and law.low == -law.high:
        return Law("uniform", law.high / SQRT3)
    if ok and law.distribution == "truncated_normal" and law.loc == 0 and law.scale and law.low is not None \
            and law.high is not None and math.isclose(law.high, TRUNC_CUT * law.scale, rel_tol=1e-12) \
            and math.isclose(-law.low, law.high, rel_tol=1e-12):
        return Law("truncated_normal", law.scale * TRUNC_STD_FACTOR)
    if ok and law.distribution == "truncated_normal" and law.loc == 0 and law.scale and law.low is not None \
            and law.high is not None and min(-law.low, law.high) >= UNTRUNCATED_CUT * law.scale:
        return Law("normal", law.scale)  # trunc_normal_(std=0.02) cuts at +-100 sigma: the mass cut off is < 1e-15
    raise ValueError(f"testing the law {_law_words(law)} is not supported yet: kaiming tests zero-mean normal, "
                     "symmetric uniform and truncated normals cut at +-2 sigma; skip this tensor for now.")


def _law_words(law: LawSpec) -> str:
    parts = [f"{k}={v:g}" for k, v in (("mean", law.mean), ("std", law.std), ("low", law.low), ("high", law.high),
                                       ("value", law.value), ("gain", law.gain), ("sparsity", law.sparsity))
             if v is not None]
    return f"{law.distribution}({', '.join(parts)})"
