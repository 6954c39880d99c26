"""Fit the scale of each zero-mean family by maximum likelihood, with a confidence interval and a
goodness-of-fit p-value for the family at that scale (docs/statistics.md, "Fitting").

``identify`` uses the fits to say *which law* a tensor follows before asking *which call* gives it.
Per family (mean 0, symmetric), from the one-pass ``Summary`` (n, S = sum x^2, M = max|x|):

- normal:           s = sqrt(S/n);  CI exact: S/s^2 ~ chi2_n.
- uniform(+-b):     b = M (the likelihood n ln(1/2b) grows as b shrinks to M); P(M <= t b) = t^n gives the
                    exact CI [M, M alpha^(-1/n)] of b, and std = b / sqrt(3).
- truncated normal cut at +-2 of its own sigma: ln L = -n ln sigma - S / 2 sigma^2 on sigma >= M/2, so
                    sigma = max(sqrt(S/n), M/2); the CI of sigma comes from the law of M as for the uniform.
- constant (every value equal), sparse (a large exact-zero fraction, normal elsewhere) and orthogonal (all
  singular values of the matrix view equal: a hook that runs when the engine hands over the whole matrix).

The goodness of fit of a family is the test battery at the fitted scale *without the test the fit used*:
the normal family drops the variance test (its scale came from S), the bounded families drop the range test
(their scale came from M). The remaining tests (mean, kurtosis: scale-free; range or variance: the other
statistic against the fitted scale; KS on the subsample) are Bonferroni-combined. Estimating the scale makes
KS conservative (Lilliefors): the false-alarm rate is at most alpha (measured: tests/stats/test_fit.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..theory.spec import SQRT3, TRUNC_CUT, TRUNC_STD_FACTOR
from .battery import ConfidenceInterval, run_battery
from .laws import Law
from .summary import Summary, summarize

#: log(2 Phi(2) - 1): the mass a +-2 sigma truncation keeps.
LOG_TRUNC_MASS = math.log(math.erf(TRUNC_CUT / math.sqrt(2.0)))
#: The tests each family keeps once its scale is fitted (the one it was fitted from is dropped).
GOF_TESTS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "kurtosis", "range", "ks"),
    "uniform": ("mean", "std", "kurtosis", "ks"),
    "truncated_normal": ("mean", "std", "kurtosis", "ks"),
}
#: A sparse fit needs at least this fraction of exact zeros (and SPARSE_MIN_ZEROS of them) in the subsample.
SPARSE_MIN_FRACTION = 0.01
SPARSE_MIN_ZEROS = 5
#: Orthogonal: every singular value within this relative spread of their mean (float32 orthogonal_ gives ~1e-6;
#: a Gaussian 2 x 50000 matrix already spreads by ~1%).
ORTHOGONAL_SPREAD = 1e-4
#: Largest matrix the orthogonal hook decomposes (elements).
ORTHOGONAL_MAX_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class Fit:
    """One family fitted to one tensor."""

    distribution: str
    """normal, uniform, truncated_normal, constant, sparse or orthogonal."""
    std: float
    """The fitted law's std (after truncation; of the non-zero values for sparse)."""
    ci: ConfidenceInterval
    """Confidence interval of ``std`` at ``level``."""
    level: float
    pvalue: float
    """Goodness of fit of the family at the fitted scale (Bonferroni over the kept tests)."""
    passed: bool
    loglik: float
    """Maximised log-likelihood (comparable across the three continuous families; +inf for exact laws)."""
    rejected_by: str = ""
    """The detail of the test that rejected the family (empty when it passed)."""
    value: float | None = None
    sparsity: float | None = None
    gain: float | None = None

    @property
    def law(self) -> Law:
        """The fitted law in the battery's terms (normal for sparse and orthogonal: their marginal shape)."""
        family = self.distribution if self.distribution in GOF_TESTS else "normal"
        return Law(family, self.std)

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "std": self.std, "std_ci": [self.ci.low, self.ci.high],
                "level": self.level, "pvalue": self.pvalue, "passed": self.passed,
                "loglik": self.loglik if math.isfinite(self.loglik) else None, "rejected_by": self.rejected_by,
                "value": self.value, "sparsity": self.sparsity, "gain": self.gain}


def normal_loglik(n: int, sumsq: float, std: float) -> float:
    return -0.5 * n * math.log(2 * math.pi * std * std) - sumsq / (2 * std * std)


def _gof(distribution: str, std: float, s: Summary, sample: np.ndarray, alpha: float,
         rel_eps: float) -> tuple[float, bool, str]:
    """The family's kept tests at the fitted law. The O(1) tests run first: when they already reject at the
    Bonferroni level of the full set, the EDF test is not run (a wrong family costs no sort of the subsample)."""
    law, tests = Law(distribution, std), GOF_TESTS[distribution]
    results = list(run_battery(law, s, sample, alpha, tests=tuple(t for t in tests if t != "ks"),
                               rel_eps=rel_eps).tests)
    if min((t.pvalue for t in results), default=1.0) * len(tests) > alpha and sample.size:
        results += run_battery(law, s, sample, alpha, tests=("ks",), rel_eps=rel_eps).tests
    worst = min(results, key=lambda t: t.pvalue)
    pvalue = min(1.0, len(tests) * worst.pvalue)
    passed = pvalue > alpha
    return pvalue, passed, "" if passed else f"{worst.name}: {worst.detail}"


def fit_normal(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float) -> Fit:
    from scipy.special import chdtri

    n, ss = s.n, s.sumsq
    std = math.sqrt(ss / n)
    ci = ConfidenceInterval(math.sqrt(ss / float(chdtri(n, alpha / 2))),
                            math.sqrt(ss / float(chdtri(n, 1 - alpha / 2))))
    p, ok, why = _gof("normal", std, s, sample, alpha, rel_eps)
    return Fit("normal", std, ci, 1 - alpha, p, ok, normal_loglik(n, ss, std), why)


def fit_uniform(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float) -> Fit:
    n, m = s.n, s.max_abs
    ci = ConfidenceInterval(m / (1 + rel_eps) / SQRT3, m * alpha ** (-1.0 / n) * (1 + rel_eps) / SQRT3)
    std = m / SQRT3
    p, ok, why = _gof("uniform", std, s, sample, alpha, rel_eps)
    return Fit("uniform", std, ci, 1 - alpha, p, ok, -n * math.log(2 * m), why)


def _trunc_max_quantile(q: float) -> float:
    """t with P(|Z| <= t | |Z| <= 2) = q for a standard normal Z: the law of max|x| / sigma, one draw."""
    from scipy.special import erfinv

    return math.sqrt(2.0) * float(erfinv(q * math.erf(TRUNC_CUT / math.sqrt(2.0))))


def fit_truncated(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float) -> Fit:
    n, ss, m = s.n, s.sumsq, s.max_abs
    sigma = max(math.sqrt(ss / n), m / TRUNC_CUT)
    t = _trunc_max_quantile(alpha ** (1.0 / n))
    high = max(m / t if t > 0 else math.inf, sigma) * (1 + rel_eps)
    ci = ConfidenceInterval(m / TRUNC_CUT / (1 + rel_eps) * TRUNC_STD_FACTOR, high * TRUNC_STD_FACTOR)
    std = sigma * TRUNC_STD_FACTOR
    loglik = normal_loglik(n, ss, sigma) - n * LOG_TRUNC_MASS
    p, ok, why = _gof("truncated_normal", std, s, sample, alpha, rel_eps)
    return Fit("truncated_normal", std, ci, 1 - alpha, p, ok, loglik, why)


def fit_sparse(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float,
               matrix: np.ndarray | None = None) -> Fit | None:
    """A large exact-zero fraction (``sparse_``): the zero fraction from the subsample, the normal law of the rest
    (its own battery on the non-zero part of the subsample). None when there are too few zeros to call it sparse,
    or when the matrix shows the zeros are whole rows (an embedding's ``padding_idx`` row is not ``sparse_``)."""
    zeros = int(np.count_nonzero(sample == 0))
    if sample.size == 0 or zeros < SPARSE_MIN_ZEROS or zeros / sample.size < SPARSE_MIN_FRACTION:
        return None
    if matrix is not None and matrix.ndim == 2:
        zero_rows = int(np.count_nonzero(~matrix.any(axis=1)))
        if zero_rows * matrix.shape[1] == zeros:
            return None
    fraction = zeros / sample.size
    nonzero = sample[sample != 0]
    if nonzero.size < 2:
        return None
    # S counts only non-zero values; n of them estimated from the subsample's fraction (exact when it is whole).
    n_nz = max(2, round(s.n * (1 - fraction)))
    std = math.sqrt(s.sumsq / n_nz)
    from scipy.special import chdtri

    ci = ConfidenceInterval(math.sqrt(s.sumsq / float(chdtri(n_nz, alpha / 2))),
                            math.sqrt(s.sumsq / float(chdtri(n_nz, 1 - alpha / 2))))
    part = summarize(nonzero.astype(np.float64))
    battery = run_battery(Law("normal", std), part, nonzero, alpha, tests=("mean", "kurtosis", "ks"), rel_eps=rel_eps)
    worst = min(battery.tests, key=lambda t: t.pvalue)
    return Fit("sparse", std, ci, 1 - alpha, battery.pvalue, battery.passed, math.inf,
               "" if battery.passed else f"{worst.name}: {worst.detail}", sparsity=fraction)


def fit_orthogonal(matrix: np.ndarray, alpha: float) -> Fit | None:
    """The hook for ``orthogonal_``: every singular value of the (rows, cols) matrix view equal (the rows or
    the columns, whichever are fewer, orthonormal times the gain). None when the matrix is not given or too big.

    The check is exact up to rounding, not statistical: a random matrix's singular values spread by at least
    ~1/sqrt(max dim), orders of magnitude above ORTHOGONAL_SPREAD for any matrix this hook decomposes.
    """
    if matrix.ndim != 2 or min(matrix.shape) < 2 or matrix.size > ORTHOGONAL_MAX_ELEMENTS:
        return None
    sv = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
    mean = float(sv.mean())
    if not mean > 0:
        return None
    spread = float((sv.max() - sv.min()) / mean)
    std = mean / math.sqrt(max(matrix.shape))
    ok = spread <= ORTHOGONAL_SPREAD
    why = "" if ok else f"singular values spread by {spread:.3g} of their mean (orthogonal: <= {ORTHOGONAL_SPREAD:g})"
    return Fit("orthogonal", std, ConfidenceInterval(std * (1 - spread), std * (1 + spread)), 1 - alpha,
               1.0 if ok else 0.0, ok, math.inf, why, gain=mean)


def fit_families(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float,
                 matrix: np.ndarray | None = None) -> list[Fit]:
    """Every family the data allow, best first: exact structures (constant, orthogonal, sparse) that pass, then the
    continuous families by log-likelihood among those that pass, then the rejected ones by log-likelihood."""
    if s.n and s.min == s.max:
        v = s.min
        return [Fit("constant", 0.0, ConfidenceInterval(0.0, 0.0), 1 - alpha, 1.0, True, math.inf, value=v)]
    fits: list[Fit] = []
    if matrix is not None:
        orth = fit_orthogonal(matrix, alpha)
        if orth is not None:
            fits.append(orth)
    sample = np.sort(sample)  # once: every family's EDF test sorts it again, and sorted input sorts fast
    sparse = fit_sparse(s, sample, alpha, rel_eps, matrix)
    if sparse is not None:
        fits.append(sparse)
    if s.n >= 2 and s.max_abs > 0:
        fits += [fit_normal(s, sample, alpha, rel_eps), fit_uniform(s, sample, alpha, rel_eps),
                 fit_truncated(s, sample, alpha, rel_eps)]
    exact = [f for f in fits if f.passed and f.distribution in ("orthogonal", "sparse")]
    rest = sorted((f for f in fits if f not in exact),
                  key=lambda f: (not f.passed, f.distribution not in GOF_TESTS, -f.loglik))
    return exact + rest
