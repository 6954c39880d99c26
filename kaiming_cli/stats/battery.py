"""The per-tensor test battery (docs/statistics.md §2, §3) and its Bonferroni combination.

Every test compares the data with the fully specified null law (no parameter is estimated),
so each p-value is valid as it stands:

* ``mean``: z = mean * sqrt(n) / std0, exact for a normal null, CLT otherwise.
* ``std``: exact chi-square on S = sum x^2 for the normal law; the kurtosis-aware z
  (Var x^2 = std^4 (kappa - 1)) for uniform and truncated normal, where chi-square is ~100x
  too lenient. Gives the (1 - alpha) confidence interval of the std.
* ``kurtosis``: Anscombe-Glynn for the normal null (what ``scipy.stats.kurtosistest`` does;
  n >= 20); for uniform and truncated normal, the delta-method z of log(b2) with the null law's
  own standard error, run from n >= 1000 only: below that its tail is measured 2-4x too heavy,
  and the range test already pins those laws.
* ``range``: the law of max|x|: catches missing tails (uniform or truncated data checked as
  normal), values beyond a bounded support, and huge outliers that EDF tests cannot see.
* ``ks``: Kolmogorov-Smirnov on a seeded subsample of at most 1e5 values; p from the Stephens
  form of the Kolmogorov law (within 2% for n >= 100), exact ``kstwo`` below that.
* ``ad`` (optional): Anderson-Darling, simple hypothesis, Marsaglia's ADinf p-value.

The laws of an init call (``laws.law_from_spec``, docs/statistics.md §11) use the same tests about the law's
own mean (the variance statistic is sum (x - mu)^2 = m2 + n (xbar - mu)^2), with the general delta-method
variance of the kurtosis for skewed truncations and a two-edge range test (min against the lower edge, max
against the upper) for asymmetric ones. The structured families add their defining test (structure.py),
exact under the null (p is 1 or 0, not counted in k): ``exact`` (constant, identity), ``orthogonal``,
``zeros`` (sparse, whose marginal tests run on the non-zero values).

The verdict rejects when ``min(1, k * min p) <= alpha``: a false-alarm rate of at most alpha
whatever the dependence between the k tests.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .calibration import calibrated_kurtosis_p
from .exact import (
    StructureResult,
    constant_test,
    exact_identity_test,
    nonzero_summary,
    nonzero_values_summary,
    orthogonal_test,
    orthogonal_tolerance,
    zeros_test,
)
from .kolmogorov import kolmogorov_sf_exact
from .laws import SQRT2, Law
from .power import detectable_error
from .shape import CellCounter, shape_summary
from .structure import NOT_IID, STRUCTURE_TESTS, StructureData, own_moments, run_structure
from .summary import Summary

#: The marginal tests: what every tensor gets.
MARGINAL_TESTS: tuple[str, ...] = ("mean", "std", "kurtosis", "range", "ks", "shape")
#: The structure tests (structure.py) run only where the caller collected a matrix view (2+ dimensions).
DEFAULT_TESTS: tuple[str, ...] = MARGINAL_TESTS + STRUCTURE_TESTS
#: Without the spectral test (a top singular value per tensor, the costliest): ``audit``'s fresh builds.
NON_SPECTRAL_TESTS: tuple[str, ...] = tuple(t for t in DEFAULT_TESTS if t != "spectrum")
ALL_TESTS: tuple[str, ...] = DEFAULT_TESTS + ("ad",)
#: Marginal tests the orthogonal law does not run (docs/statistics.md §11.3).
ORTHOGONAL_SKIPS: tuple[str, ...] = ("std", "range", "kurtosis")
#: The structured families' defining tests, always run for their family (stats/exact.py).
EXACT_TESTS: tuple[str, ...] = ("exact", "orthogonal", "zeros")
KS_MAX_SAMPLES = 100_000
#: A normal's range test only flags "missing tails" when max|z| is below this: generator caps
#: (torch's float32 Box-Muller tops out at 5.77 sigma) must not read as truncation.
NORMAL_LOW_TAIL_CAP = 5.0
#: The range test's detail names the side of an unusual max only below this p-value.
RANGE_SIDE_P = 0.01
#: Smallest n for the kurtosis test of a bounded law (see the module docstring).
KURTOSIS_MIN_N_BOUNDED = 1000
#: Relative slack on a bounded support: float32 rounding of the bound and of the data.
FLOAT32_REL_EPS = 2.0**-21


class TestResult(NamedTuple):
    """One test of the battery: a named tuple (as SciPy's results), immutable and built in a fraction of a frozen
    dataclass's time: a checkpoint of 9000 tensors makes 81,000 of them."""

    name: str
    statistic: float
    pvalue: float
    passed: bool
    detail: str
    """What the statistic means, in words and numbers."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "statistic": self.statistic, "pvalue": self.pvalue,
                "passed": self.passed, "detail": self.detail}


class ConfidenceInterval(NamedTuple):
    """An interval for a parameter (as SciPy's ``ConfidenceInterval``): ``low, high = ci`` unpacks it."""

    low: float
    high: float

    def scaled(self, factor: float) -> ConfidenceInterval:
        return ConfidenceInterval(self.low * factor, self.high * factor)


@dataclass(frozen=True)
class BatteryResult:
    """All tests on one tensor, and their combined verdict."""

    tests: tuple[TestResult, ...]
    alpha: float
    pvalue: float
    """Bonferroni-combined p-value: min(1, k * min p)."""
    passed: bool
    std_ci: ConfidenceInterval
    """Of the std itself, at level 1 - alpha/k: the level the std test is judged at in the battery."""
    n_ks: int
    """How many values the EDF tests used."""
    notes: tuple[str, ...] = field(default=())
    not_run: tuple[str, ...] = field(default=())
    """Structured tests the law needs but that could not run (the whole tensor was not loaded): inconclusive."""
    detect: Callable[[], float] | None = field(default=None, repr=False, compare=False)
    """What computes ``detectable``, on its first reading."""

    @functools.cached_property
    def detectable(self) -> float:
        """The smallest relative std error the std test detects with 90% power at its level alpha/k (power.py).

        Computed when first read, not with the tests: check and verify report it, but identify and audit run
        the battery hundreds of times without reading it, and its power bisection was a third of their
        batteries' CPU on a ResNet-50 (docs/audit.md §8)."""
        return self.detect() if self.detect is not None else math.inf


def _two_sided_normal_p(z: float) -> float:
    return math.erfc(abs(z) / SQRT2)


@functools.lru_cache(maxsize=256)
def z_quantile(p_upper: float) -> float:
    from scipy.special import ndtri

    return float(-ndtri(p_upper))


@functools.lru_cache(maxsize=256)
def chi2_quantiles(n: int, alpha: float) -> tuple[float, float]:
    """The chi-square(n) quantiles at alpha/2 and 1 - alpha/2 (the std's interval): a checkpoint's tensors share
    a few sizes and levels, and each quantile is an iterative inversion."""
    from scipy.special import chdtri

    return float(chdtri(n, alpha / 2)), float(chdtri(n, 1 - alpha / 2))


def kurtosis_min_n(law: Law) -> int:
    """The smallest n the kurtosis test runs at for this null (see the module docstring)."""
    return 20 if law.distribution in ("normal", "sparse") else KURTOSIS_MIN_N_BOUNDED


def kurtosis_not_run(law: Law, s: Summary | None = None) -> str:
    """The note of a kurtosis test left out: for a sample below ``kurtosis_min_n``, or (``s`` given, large enough)
    for values whose kurtosis has no float64 value."""
    if s is not None and s.n >= kurtosis_min_n(law):
        return "kurtosis test not run: the values have no float64 kurtosis (no spread, or a scale near 1e-160)."
    return (f"kurtosis test not run: a {law.distribution} null needs n >= {kurtosis_min_n(law)} for a "
            "calibrated p-value.")


#: The note of a shape test left out (fewer than 250 values).
SHAPE_NOT_RUN = "shape test not run: it needs n >= 250 (5 bins of 50 expected values)."


def mean_test(law: Law, s: Summary) -> tuple[float, float, str]:
    z = (s.mean - law.mean) * math.sqrt(s.n) / law.std
    about = f" about {law.mean:.4g}" if law.mean else ""
    return z, _two_sided_normal_p(z), f"z = {z:+.2f} for mean {s.mean:.3g}{about}"


#: The tests computed from the summary of all values alone (``summary_test``).
SUMMARY_TESTS = ("mean", "std", "kurtosis", "range")


def summary_test(name: str, law: Law, s: Summary, alpha: float, rel_eps: float
                 ) -> tuple[float, float, ConfidenceInterval | None, str] | None:
    """(statistic, p, the std's CI (None for the others), detail) of one of ``SUMMARY_TESTS``, as the battery runs
    it; None for the kurtosis below its minimum n or on values that have none (``Summary.excess_kurtosis`` NaN: no
    spread, or m2^2 underflowing): not run, where a NaN would have read as p = 1."""
    if name == "mean":
        z, p, detail = mean_test(law, s)
        return z, p, None, detail
    if name == "std":
        return std_test(law, s, alpha)
    if name == "kurtosis":
        if s.n < kurtosis_min_n(law) or math.isnan(s.excess_kurtosis):
            return None
        z, p, detail = kurtosis_test(law, s)
        return z, p, None, detail
    if name == "range":
        t, p, detail = range_test(law, s, rel_eps)
        return t, p, None, detail
    raise ValueError(f"{name!r} is not one of {SUMMARY_TESTS}")


RawTests = list[tuple[str, float, float, str]]
"""(name, statistic, p, detail) of each test run."""


def std_at_its_level(raw: RawTests, law: Law, s: Summary, threshold: float,
                     ci: ConfidenceInterval) -> tuple[RawTests, ConfidenceInterval]:
    """With more than one test, the std test's interval and words at the level it is judged at (alpha/k, the
    ``threshold``): a CI excluding 1 never sits beside a pass. ``ci`` is kept when no std test ran."""
    if len(raw) > 1 and any(name == "std" for name, *_ in raw):
        _, _, ci, std_detail = std_test(law, s, threshold)
        raw = [(name, stat, p, std_detail if name == "std" else detail) for name, stat, p, detail in raw]
    return raw, ci


def sum_sq_about(s: Summary, mu: float) -> float:
    """sum (x - mu)^2 = m2 + n (xbar - mu)^2: the variance statistic with the mean known to be ``mu``."""
    return s.m2 + s.n * (s.mean - mu) ** 2


def std_test(law: Law, s: Summary, alpha: float) -> tuple[float, float, ConfidenceInterval, str]:
    """Variance test with the mean known (the law's); returns (ratio, p, CI of sigma, detail).

    For any law, sum (x - mu)^2 has mean n sigma^2 and variance n sigma^4 (kappa - 1), symmetric or not."""
    n, ss = s.n, sum_sq_about(s, law.mean)
    ratio = math.sqrt(ss / n) / law.std
    if law.distribution in ("normal", "sparse"):
        from scipy.special import chdtr, chdtrc

        t = ss / law.std**2
        p = min(1.0, 2.0 * min(float(chdtr(n, t)), float(chdtrc(n, t))))
        upper_q, lower_q = chi2_quantiles(n, alpha)
        ci = ConfidenceInterval(math.sqrt(ss / upper_q), math.sqrt(ss / lower_q))
        how = "chi-square, exact"
    else:
        se = math.sqrt((law.kurtosis - 1.0) / n)
        z = (ss / (n * law.std**2) - 1.0) / se
        p = _two_sided_normal_p(z)
        zc = z_quantile(alpha / 2)
        rms = math.sqrt(ss / n)
        upper = rms / math.sqrt(1 - zc * se) if zc * se < 1 else math.inf
        ci = ConfidenceInterval(rms / math.sqrt(1 + zc * se), upper)
        how = f"kurtosis-aware z = {z:+.2f}"
    detail = f"std/std0 = {ratio:.4f}, CI [{ci[0] / law.std:.4f}, {ci[1] / law.std:.4f}] ({how})"
    return ratio, p, ci, detail


def anscombe_glynn_z(b2: float, n: int) -> float:
    """Normal-null kurtosis z of Anscombe & Glynn (1983), as in ``scipy.stats.kurtosistest``."""
    e = 3.0 * (n - 1) / (n + 1)
    varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    x = (b2 - e) / math.sqrt(varb2)
    sqrtbeta1 = 6.0 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9)) * math.sqrt(
        6.0 * (n + 3) * (n + 5) / (n * (n - 2) * (n - 3))
    )
    a = 6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + math.sqrt(1 + 4.0 / sqrtbeta1**2))
    term1 = 1 - 2 / (9.0 * a)
    denom = 1 + x * math.sqrt(2 / (a - 4.0))
    if denom == 0:
        return math.inf
    term2 = math.copysign(abs((1 - 2.0 / a) / denom) ** (1 / 3.0), denom)
    return (term1 - term2) / math.sqrt(2 / (9.0 * a))


def kurtosis_test(law: Law, s: Summary) -> tuple[float, float, str]:
    g2 = s.excess_kurtosis
    if law.distribution in ("normal", "sparse"):
        z = anscombe_glynn_z(g2 + 3.0, s.n)
    else:
        # log(b2) is less skewed than b2: measured tail 1.2x nominal at n = 1728 instead of 1.5x; the
        # standard error is the delta method's for any law (skewed truncations too: laws.kurtosis_avar_general)
        k0 = law.kurtosis
        z = (math.log(g2 + 3.0) - math.log(k0)) * k0 / math.sqrt(law.kurtosis_avar / s.n)
    p = _two_sided_normal_p(z)
    if law.distribution == "normal":  # Anscombe-Glynn's tail is too light at small n: calibrated by simulation
        p = calibrated_kurtosis_p(s.n, p)
    return z, p, f"excess kurtosis {g2:+.3f} vs {law.excess_kurtosis:+.3f} (z = {z:+.2f})"


def range_test(law: Law, s: Summary, rel_eps: float) -> tuple[float, float, str]:
    """Two-sided test on the extremes; ``rel_eps`` is the storage rounding allowed on the support.

    Normal laws and symmetric bounded ones: the law of M = max|x - centre|. Asymmetric bounded laws (a
    truncation at uneven bounds): the minimum against the lower edge and the maximum against the upper edge,
    each with its exact law, combined by Bonferroni."""
    if law.bounded and not law.symmetric:
        return _two_edge_range_test(law, s, rel_eps)
    c = law.center
    m = max(abs(s.max - c), abs(s.min - c))
    half = law.half_width
    if half is not None and law.outside:
        return _mixture_range_test(law, s, m, half, rel_eps)
    if half is not None:
        if m > half * (1 + rel_eps) + abs(c) * rel_eps:
            return m / half, 0.0, f"max|x - {c:.4g}| = {m:.6g} is beyond the support edge {half:.6g}" \
                if c else f"max|x| = {m:.6g} is beyond the support edge {half:.6g}"
        if law.distribution == "truncated_normal" and _far_cut(half / law.sigma_pre, m / law.sigma_pre):
            return m / half, 1.0, f"max|x| / edge = {m / half:.6f} (cut beyond {NORMAL_LOW_TAIL_CAP:g} sigma)"
        # The true value behind a rounded maximum may be up to rel_eps larger: be conservative.
        p = math.exp(law.log_cdf_max_abs(min(m * (1 + rel_eps) + abs(c) * rel_eps, half), s.n))
        return m / half, min(1.0, p), f"max|x| / edge = {m / half:.6f} (p of a max this small)"
    t = m / law.std
    log_f = law.log_cdf_max_abs(m, s.n)
    p_hi = -math.expm1(log_f)
    p_lo = math.exp(log_f) if t < NORMAL_LOW_TAIL_CAP else 1.0
    p = min(1.0, 2.0 * min(p_hi, p_lo))
    side = "large" if p_hi < p_lo else "small"
    # which side is named only when the max is unusual: "this max is large" at p = 0.36 misled
    unusual = f"; this max is too {side}" if p < RANGE_SIDE_P else ""
    about = f"max|x - {c:.4g}|" if c else "max|x|"
    return t, p, f"{about}/std0 = {t:.2f} (two-sided{unusual})"


def _mixture_range_test(law: Law, s: Summary, m: float, half: float, rel_eps: float) -> tuple[float, float, str]:
    """A cut that leaves ``law.outside`` of the mass in the tails (Keras's torch backend): a max beyond the cut is
    possible, with the exact law of the max of n draws of the mixture; two-sided (too large: untruncated data;
    too small: missing tails), each side with the storage rounding in the data's favour."""
    p_hi = -math.expm1(law.log_cdf_max_abs(m / (1 + rel_eps), s.n))
    p_lo = math.exp(law.log_cdf_max_abs(m * (1 + rel_eps), s.n))
    p = min(1.0, 2.0 * min(p_hi, p_lo))
    where = "beyond" if m > half else "inside"
    return m / half, p, (f"max|x| / cut = {m / half:.6f}, {where} the cut ({law.outside:.2g} of the mass lies "
                         f"outside it: Keras's torch-backend sampler)")


#: The kurtosis p-value below which the structure tests use the data's own moments, not the null's: a wrong
#: marginal family must fail the marginal tests, not rows and cols (docs/statistics.md §2.9).
OWN_MOMENTS_P = 0.01


def own_shape(raw: list[tuple[str, float, float, str]], sample: np.ndarray) -> tuple[float, float, float] | None:
    """The data's own (mu4, mu6, mu8) when the kurtosis test says the data's shape is not the null's, else None.
    Under the null this swaps in a consistent estimate 1% of the time; the rows/cols tests stay calibrated."""
    kurt = next((p for name, _, p, _ in raw if name == "kurtosis"), None)
    return own_moments(sample) if kurt is not None and kurt < OWN_MOMENTS_P and sample.size else None


def _far_cut(cut_sigmas: float, extreme_sigmas: float) -> bool:
    """A cut beyond the generators' tail caps, with the extreme past the cap too: a max below the cut there is
    the generator's cap (torch's float32 normals stop at 5.77 sigma), not evidence."""
    return cut_sigmas > NORMAL_LOW_TAIL_CAP and extreme_sigmas >= NORMAL_LOW_TAIL_CAP


def _two_edge_range_test(law: Law, s: Summary, rel_eps: float) -> tuple[float, float, str]:
    lo, hi = law.support
    slack = rel_eps * max([abs(v) for v in (lo, hi) if math.isfinite(v)] or [0.0])
    if s.max > hi + slack or s.min < lo - slack:
        side = f"max {s.max:.6g} > {hi:.6g}" if s.max > hi + slack else f"min {s.min:.6g} < {lo:.6g}"
        return math.inf, 0.0, f"beyond the support [{lo:.6g}, {hi:.6g}]: {side}"
    c, sp = law.center, law.sigma_pre
    # P(max <= observed) and P(min >= observed), each with the storage slack in the data's favour
    p_max = 1.0 if _far_cut((hi - c) / sp, (s.max - c) / sp) else \
        math.exp(min(0.0, s.n * law.log_cdf_point(min(s.max + slack, hi))))
    p_min = 1.0 if _far_cut((c - lo) / sp, (c - s.min) / sp) else \
        math.exp(min(0.0, s.n * law.log_sf_point(max(s.min - slack, lo))))
    p = min(1.0, 2.0 * min(p_max, p_min))
    gap = min((hi - s.max) / (hi - lo), (s.min - lo) / (hi - lo))
    return gap, p, f"min {s.min:.6g} vs {lo:.6g}, max {s.max:.6g} vs {hi:.6g} (p of extremes this far inside)"


Edf = tuple[np.ndarray, np.ndarray]
"""The sorted subsample and the null CDF at each value: what the EDF tests (KS, AD) share."""


def edf_points(law: Law, sample: np.ndarray) -> Edf:
    """Sort once and evaluate the CDF once, however many EDF tests run (~4 ms per 1e5 sort)."""
    x = np.sort(sample)
    return x, law.cdf(x)


def ks_test(law: Law, sample: np.ndarray, edf: Edf | None = None) -> tuple[float, float, str]:
    """One-sample KS against the exact null CDF; ``sample`` is float64, any order."""
    x, u = edf if edf is not None else edf_points(law, sample)
    d, where = ks_statistics(x[None, :], u[None, :])
    return ks_result(float(d[0]), float(where[0]), x.size)


def ks_statistics(x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """D and the value where it is reached, for each row of sorted values ``x`` and their null CDF ``u`` (2-D):
    one tensor is one row, a group of tensors many (stats/grouped.py), computed alike."""
    m = x.shape[1]
    i = np.arange(1, m + 1, dtype=np.float64) / m
    d_plus_all = i - u
    d_minus_all = u - (i - 1.0 / m)
    jp, jm = np.argmax(d_plus_all, axis=1), np.argmax(d_minus_all, axis=1)
    rows = np.arange(x.shape[0])
    d_plus, d_minus = d_plus_all[rows, jp], d_minus_all[rows, jm]
    where = np.where(d_plus >= d_minus, x[rows, jp], x[rows, jm])
    return np.maximum(d_plus, d_minus), where


def ks_result(d: float, where: float, m: int) -> tuple[float, float, str]:
    """(D, p, detail) of the KS test on ``m`` values."""
    return d, ks_pvalue(d, m), f"D = {d:.4g} at x = {where:.4g} (n = {m})"


def ks_pvalue(d: float, m: int) -> float:
    """P(D_m >= d): Stephens' corrected asymptotic law from m = 100, the exact law below.

    The exact law is computed here rather than by ``scipy.stats.kstwo`` because importing
    ``scipy.stats`` costs ~0.6 s, paid by every checkpoint that holds a bias vector."""
    from scipy.special import kolmogorov

    if m >= 100:
        sq = math.sqrt(m)
        return float(min(1.0, kolmogorov((sq + 0.12 + 0.11 / sq) * d)))
    return kolmogorov_sf_exact(m, d)


def ad_inf_cdf(z: float) -> float:
    """Marsaglia & Marsaglia (2004) ADinf: the asymptotic CDF of A^2 under a simple hypothesis."""
    if z <= 0:
        return 0.0
    if z < 2.0:
        return math.exp(-1.2337141 / z) / math.sqrt(z) * (
            2.00012 + (0.247105 - (0.0649821 - (0.0347962 - (0.011672 - 0.00168691 * z) * z) * z) * z) * z
        )
    return math.exp(
        -math.exp(1.0776 - (2.30695 - (0.43424 - (0.082433 - (0.008056 - 0.0003146 * z) * z) * z) * z) * z)
    )


def ad_test(law: Law, sample: np.ndarray, edf: Edf | None = None) -> tuple[float, float, str]:
    _, cdf = edf if edf is not None else edf_points(law, sample)
    return ad_result(float(ad_statistics(cdf[None, :])[0]), cdf.size)


def ad_statistics(cdf: np.ndarray) -> np.ndarray:
    """A^2 of each row of null CDF values at sorted samples (2-D): one tensor is one row."""
    m = cdf.shape[1]
    u = np.clip(cdf, 1e-300, 1 - 1e-16)
    k = np.arange(1, m + 1, dtype=np.float64)
    out: np.ndarray = -m - np.sum((2 * k - 1) * (np.log(u) + np.log1p(-u[:, ::-1])), axis=1) / m
    return out


def ad_result(a2: float, m: int) -> tuple[float, float, str]:
    """(A^2, p, detail) of the Anderson-Darling test on ``m`` values."""
    p = min(1.0, max(0.0, 1.0 - ad_inf_cdf(a2)))
    return a2, p, f"A^2 = {a2:.3f} (n = {m})"


def run_battery(
    law: Law,
    s: Summary,
    sample: np.ndarray,
    alpha: float,
    tests: tuple[str, ...] = DEFAULT_TESTS,
    rel_eps: float = FLOAT32_REL_EPS,
    *,
    values: np.ndarray | None = None,
    dtype: str = "float32",
    seed: int = 0,
    structure: StructureData | None = None,
    cells: CellCounter | None = None,
) -> BatteryResult:
    """Run ``tests`` on a summary (all elements) and an EDF subsample; combine by Bonferroni.

    The structured families add their defining test whatever ``tests`` says (``EXACT_TESTS``): ``exact``
    for constant (from the summary) and identity, ``orthogonal``, ``zeros`` for sparse. Those three need the
    whole tensor, ``values`` (engine/sources.py ``scan_source_whole``); when it is None they are not run, and
    ``not_run`` says so (the runner reports the tensor inconclusive). ``dtype`` is the tensor's storage dtype
    (constants and bounds are compared after rounding to it); ``seed`` picks the rows of a Gram matrix too
    large to check whole.

    The structure tests in ``tests`` (rows, cols, spectrum) run when ``structure`` is given (a tensor of 2+
    dimensions, collected in the streaming pass); without it they are left out silently (a vector has no rows).
    So is ``shape`` without ``cells`` (the rounding-cell counts of every value, shape.py). Laws that are not iid
    draws by design (orthogonal, identity, sparse, constant) stand aside from both."""
    raw: list[tuple[str, float, float, str]] = []
    structural: list[StructureResult] = []
    notes: list[str] = []
    not_run: list[str] = []
    ci = ConfidenceInterval(math.nan, math.nan)
    edf: Edf | None = None
    marginal, s, sample, tests = _family_plan(law, s, sample, tests, values, dtype, seed, structural, notes,
                                              not_run)
    if s.n_nan or s.n_inf:
        raw.append(("finite", float(s.n_nan + s.n_inf), 0.0,
                    f"{s.n_nan} NaN and {s.n_inf} infinite values"))
    if s.n >= 2 or not tests:
        for name in tests:
            if name in SUMMARY_TESTS:
                done = summary_test(name, marginal, s, alpha, rel_eps)
                if done is None:
                    notes.append(kurtosis_not_run(marginal, s))
                    continue
                stat, p, std_ci, detail = done
                ci = std_ci or ci
            elif name in ("ks", "ad"):
                edf = edf if edf is not None else edf_points(marginal, sample)
                stat, p, detail = (ks_test if name == "ks" else ad_test)(marginal, sample, edf)
            elif name in STRUCTURE_TESTS:
                continue  # below, all at once
            elif name == "shape":
                if law.distribution in NOT_IID:
                    continue
                if cells is not None and structure is not None and structure.zero_lines:
                    cells = cells.without_zero_lines(structure.zero_lines, structure.line_size)
                shaped = shape_summary(law, cells) if cells is not None and not (s.n_nan or s.n_inf) else None
                if shaped is None:
                    if cells is not None and not (s.n_nan or s.n_inf):
                        notes.append(SHAPE_NOT_RUN)
                    continue
                stat, p, detail = shaped
            else:
                raise ValueError(f"unknown test {name!r}: choose from {', '.join(ALL_TESTS)}.")
            raw.append((name, float(stat), float(p), detail))
        if structure is not None and any(t in tests for t in STRUCTURE_TESTS):
            if s.n_nan or s.n_inf:
                notes.append("structure tests not run: the tensor holds non-finite values.")
            else:
                rows, more = run_structure(law, structure, tests, own_shape(raw, sample))
                raw.extend(rows)
                notes.extend(more)
    else:
        raw.append(("size", float(s.n), 0.0, "fewer than 2 finite values: nothing to test"))
    k = len(raw)
    threshold = alpha / k if k else alpha
    raw, ci = std_at_its_level(raw, marginal, s, threshold, ci)
    results = tuple(TestResult(name, stat, p, p > threshold, detail) for name, stat, p, detail in raw)
    results += tuple(TestResult(r.name, r.statistic, 1.0 if r.passed else 0.0, r.passed, r.detail)
                     for r in structural)
    combined = min(1.0, k * min(r.pvalue for r in results[:k])) if k else 1.0
    if any(not r.passed for r in structural):
        combined = 0.0
    if law.distribution == "orthogonal" and values is not None and s.n:
        rms = s.rms
        ci = ConfidenceInterval(rms, rms)  # fixed by orthonormality: sum x^2 = gain^2 min(rows, cols)
    return BatteryResult(
        tests=results, alpha=alpha, pvalue=combined, passed=combined > alpha,
        std_ci=ci, n_ks=int(sample.size), notes=tuple(notes),
        not_run=tuple(not_run),
        detect=functools.partial(_detectable, law, marginal, s, threshold, values is not None, dtype),
    )


def _family_plan(law: Law, s: Summary, sample: np.ndarray, tests: tuple[str, ...], values: np.ndarray | None,
                 dtype: str, seed: int, structural: list[StructureResult], notes: list[str],
                 not_run: list[str]) -> tuple[Law, Summary, np.ndarray, tuple[str, ...]]:
    """The law the marginal tests use, their data and test list, after the family's structured test."""
    family = law.distribution
    if family == "constant":
        structural.append(constant_test(law, s, dtype))
        return law, s, sample, ()
    needs = {"identity": "exact", "orthogonal": "orthogonal", "sparse": "zeros"}.get(family)
    if needs is not None and values is None:
        not_run.append(needs)
        notes.append(f"{needs} test not run: the {family} law needs the whole tensor, and it was not loaded "
                     f"(over the element budget); the verdict is inconclusive.")
    if family == "identity":
        if values is not None:
            structural.append(exact_identity_test(law, values, dtype))
        return law, s, sample, ()
    if family == "orthogonal":
        if values is not None:
            structural.append(orthogonal_test(law, values, dtype, seed))
        notes.append("orthogonal: std and range are fixed by orthonormality (tested by `orthogonal`); mean and KS "
                     "test the entries' marginal law, one coordinate of a point on a sphere; kurtosis is not run "
                     "(the entries are dependent: the iid variance of b2 is up to 15% short, measured).")
        return law, s, sample, tuple(t for t in tests if t not in ORTHOGONAL_SKIPS)
    if family == "sparse":
        if values is not None:
            structural.append(zeros_test(law, values))
            s = nonzero_values_summary(values)
        else:
            r, c = law.rows_cols
            s = nonzero_summary(s, law.zeros_per_column * c)
        return Law("normal", law.std), s, sample[sample != 0], tests
    return law, s, sample, tests


def _detectable(law: Law, marginal: Law, s: Summary, level: float, loaded: bool, dtype: str) -> float:
    """Smallest relative std error detected with 90% power: 0 for the exact families (any error shows),
    the orthogonality bound for orthogonal (it pins the scale), the std test's for the others."""
    if law.distribution in ("constant", "identity"):
        return 0.0 if loaded or law.distribution == "constant" else math.inf
    if law.distribution == "orthogonal":
        return orthogonal_tolerance(dtype, law.marginal_n_dim) if loaded else math.inf
    return detectable_error(marginal, s.n, level) if s.n >= 2 else math.inf
