"""Fit the scale of each zero-mean family by maximum likelihood, with a confidence interval and a
goodness-of-fit p-value for the family at that scale (docs/statistics.md, "Fitting").

``identify`` uses the fits to say *which law* a tensor follows before asking *which call* gives it.
Per family (mean 0, symmetric), from the one-pass ``Summary`` (n, S = sum x^2, M = max|x|):

- normal:           s = sqrt(S/n);  CI exact: S/s^2 ~ chi2_n.
- uniform(+-b):     b = M (the likelihood n ln(1/2b) grows as b shrinks to M); P(M <= t b) = t^n gives the
                    exact CI [M, M alpha^(-1/n)] of b, and std = b / sqrt(3).
- truncated normal cut at +-2 of its own sigma: ln L = -n ln sigma - S / 2 sigma^2 on sigma >= M/2, so
                    sigma = max(sqrt(S/n), M/2); the CI of sigma comes from the law of M as for the uniform.
- constant (every value equal), sparse (a large exact-zero fraction, normal elsewhere) and orthogonal (the short
  side of the matrix view orthonormal times a gain: a hook that runs when the engine hands over the whole matrix).

The goodness of fit of a family is the test battery at the fitted scale *without the test the fit used*:
the normal family drops the variance test (its scale came from S), the bounded families drop the range test
(their scale came from M). The remaining tests (mean, kurtosis: scale-free; range or variance: the other
statistic against the fitted scale; KS on the subsample) are Bonferroni-combined. Estimating the scale makes
KS conservative (Lilliefors): the false-alarm rate is at most alpha (measured: tests/stats/test_fit.py).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..theory.law import KERAS_TORCH_OUTSIDE, mixture_even_moments
from ..theory.spec import SQRT3, TRUNC_CUT, TRUNC_STD_FACTOR
from .battery import (
    SUMMARY_TESTS,
    ConfidenceInterval,
    RawTests,
    chi2_quantiles,
    ks_result,
    ks_statistics,
    ks_test,
    run_battery,
    std_at_its_level,
    summary_test,
    z_quantile,
)
from .laws import Law, cdf_rows, family_law
from .summary import Summary, summarize

if TYPE_CHECKING:
    from .exact import StructureResult

#: log(2 Phi(2) - 1): the mass a +-2 sigma truncation keeps.
LOG_TRUNC_MASS = math.log(math.erf(TRUNC_CUT / math.sqrt(2.0)))
#: The tests each family keeps once its scale is fitted (the one it was fitted from is dropped).
GOF_TESTS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "kurtosis", "range", "ks"),
    "uniform": ("mean", "std", "kurtosis", "ks"),
    "truncated_normal": ("mean", "std", "kurtosis", "ks"),
}
#: A truncated normal whose max lies beyond its cut (Keras's torch backend): the scale comes from S, so the std
#: test is the one dropped.
BEYOND_CUT_TESTS = ("mean", "kurtosis", "range", "ks")
#: E[z^2] of Keras's torch-backend law over that of the full +-2 truncation (1 + 2.8e-5): the two stds a fitted
#: sigma_pre can mean.
KERAS_VAR_RATIO = mixture_even_moments(KERAS_TORCH_OUTSIDE)[0] / mixture_even_moments(0.0)[0]
#: log of the mixture's density factors: (1 - q)/Z inside the cut, q/(1 - Z) beyond it.
LOG_INSIDE = math.log1p(-KERAS_TORCH_OUTSIDE) - math.log(math.erf(TRUNC_CUT / math.sqrt(2.0)))
LOG_BEYOND = math.log(KERAS_TORCH_OUTSIDE) - math.log(math.erfc(TRUNC_CUT / math.sqrt(2.0)))
#: A sparse fit needs at least this fraction of exact zeros (and SPARSE_MIN_ZEROS of them) in the subsample.
SPARSE_MIN_FRACTION = 0.01
SPARSE_MIN_ZEROS = 5


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
        return family_law(family, self.std)

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "std": self.std, "std_ci": [self.ci.low, self.ci.high],
                "level": self.level, "pvalue": self.pvalue, "passed": self.passed,
                "loglik": self.loglik if math.isfinite(self.loglik) else None, "rejected_by": self.rejected_by,
                "value": self.value, "sparsity": self.sparsity, "gain": self.gain}


def normal_loglik(n: int, sumsq: float, std: float) -> float:
    return -0.5 * n * math.log(2 * math.pi * std * std) - sumsq / (2 * std * std)


def _gof(distribution: str, std: float, s: Summary, sample: np.ndarray, alpha: float,
         rel_eps: float, tests: tuple[str, ...] = ()) -> tuple[float, bool, str]:
    """The family's kept tests at the fitted law, as ``run_battery`` runs them. The O(1) tests
    run first: when they already reject at the Bonferroni level of the full set, the EDF test is not run (a wrong
    family costs no CDF of the subsample). Called three times per tensor, so the tests are called directly, without
    the battery's result objects (issue 25)."""
    start = _gof_start(distribution, std, s, alpha, rel_eps, tests)
    if start.needs_edf and sample.size:
        _, p, detail = ks_test(start.law, sample)  # fit_families hands the sample sorted: its sort is fast
        start.results.append(("ks", float(p), detail))
    return _gof_end(start, alpha)


@dataclass(frozen=True)
class _Start:
    """A family's goodness of fit before its EDF test: the law, the kept tests, the O(1) tests' (name, p, detail),
    and whether the EDF test must run (the O(1) tests do not already reject at the Bonferroni level)."""

    law: Law
    tests: tuple[str, ...]
    results: list[tuple[str, float, str]]
    needs_edf: bool


def _gof_start(distribution: str, std: float, s: Summary, alpha: float, rel_eps: float,
               tests: tuple[str, ...] = ()) -> _Start:
    law, tests = family_law(distribution, std), tests or GOF_TESTS[distribution]
    results = _quick_tests(law, s, alpha, rel_eps, tests)
    return _Start(law, tests, results, min((p for _, p, _ in results), default=1.0) * len(tests) > alpha)


def _gof_end(start: _Start, alpha: float) -> tuple[float, bool, str]:
    """(p, passed, why) once the EDF test, if it ran, is among ``start.results``: Bonferroni over the kept tests."""
    name, worst, detail = min(start.results, key=lambda t: t[1])
    pvalue = min(1.0, len(start.tests) * worst)
    passed = pvalue > alpha
    return pvalue, passed, "" if passed else f"{name}: {detail}"


def _quick_tests(law: Law, s: Summary, alpha: float, rel_eps: float,
                 tests: tuple[str, ...]) -> list[tuple[str, float, str]]:
    """(name, p, detail) of the O(1) tests among ``tests``, as ``run_battery`` gives them for a summary of n >= 2
    finite values (the kurtosis left out below its minimum n, the std's words at the level it is judged at)."""
    raw: RawTests = []
    for name in tests:
        done = summary_test(name, law, s, alpha, rel_eps) if name in SUMMARY_TESTS else None
        if done is not None:
            raw.append((name, float(done[0]), float(done[1]), done[3]))
    no_ci = ConfidenceInterval(math.nan, math.nan)
    raw, _ = std_at_its_level(raw, law, s, alpha / len(raw) if raw else alpha, no_ci)
    return [(name, p, detail) for name, _, p, detail in raw]


@dataclass(frozen=True)
class _Plan:
    """A continuous family fitted to a tensor, before its goodness of fit (``_fitted``)."""

    distribution: str
    std: float
    ci: ConfidenceInterval
    loglik: float
    tests: tuple[str, ...] = ()
    """The kept tests when not the family's own (``GOF_TESTS``)."""


def _fitted(plan: _Plan, gof: tuple[float, bool, str], alpha: float) -> Fit:
    p, ok, why = gof
    return Fit(plan.distribution, plan.std, plan.ci, 1 - alpha, p, ok, plan.loglik, why)


def _fit(plan: _Plan, s: Summary, sample: np.ndarray, alpha: float, rel_eps: float) -> Fit:
    return _fitted(plan, _gof(plan.distribution, plan.std, s, sample, alpha, rel_eps, plan.tests), alpha)


def fit_normal(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float) -> Fit:
    return _fit(_plan_normal(s, alpha), s, sample, alpha, rel_eps)


def _plan_normal(s: Summary, alpha: float) -> _Plan:
    n, ss = s.n, s.sumsq
    std = math.sqrt(ss / n)
    upper_q, lower_q = chi2_quantiles(n, alpha)  # a checkpoint's tensors share a few sizes
    ci = ConfidenceInterval(math.sqrt(ss / upper_q), math.sqrt(ss / lower_q))
    return _Plan("normal", std, ci, normal_loglik(n, ss, std))


def fit_uniform(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float) -> Fit:
    return _fit(_plan_uniform(s, alpha, rel_eps), s, sample, alpha, rel_eps)


def _plan_uniform(s: Summary, alpha: float, rel_eps: float) -> _Plan:
    n, m = s.n, s.max_abs
    ci = ConfidenceInterval(m / (1 + rel_eps) / SQRT3, m * alpha ** (-1.0 / n) * (1 + rel_eps) / SQRT3)
    return _Plan("uniform", m / SQRT3, ci, -n * math.log(2 * m))


@functools.lru_cache(maxsize=256)
def _trunc_max_quantile(q: float) -> float:
    """t with P(|Z| <= t | |Z| <= 2) = q for a standard normal Z: the law of max|x| / sigma, one draw."""
    from scipy.special import erfinv

    return math.sqrt(2.0) * float(erfinv(q * math.erf(TRUNC_CUT / math.sqrt(2.0))))


def fit_truncated(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float) -> Fit:
    """Max-likelihood sigma of the +-2 sigma truncation, or, when the max lies beyond the cut the second moment
    puts (one of the rare values Keras's torch backend leaves outside: ``laws.family_law``), sigma from S."""
    return _fit(_plan_truncated(s, sample, alpha, rel_eps), s, sample, alpha, rel_eps)


def _plan_truncated(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float) -> _Plan:
    n, ss, m = s.n, s.sumsq, s.max_abs
    beyond = _beyond_cut(s, alpha)
    if beyond is not None:
        return _plan_beyond_cut(s, sample, alpha, rel_eps, beyond)
    sigma = max(math.sqrt(ss / n), m / TRUNC_CUT)
    t = _trunc_max_quantile(alpha ** (1.0 / n))
    high = max(m / t if t > 0 else math.inf, sigma) * (1 + rel_eps)
    # the std a sigma_pre means: a full truncation's, or up to 1.4e-5 more with Keras's torch-backend tails
    ci = ConfidenceInterval(m / TRUNC_CUT / (1 + rel_eps) * TRUNC_STD_FACTOR,
                            high * TRUNC_STD_FACTOR * math.sqrt(KERAS_VAR_RATIO))
    loglik = normal_loglik(n, ss, sigma) + n * LOG_INSIDE
    return _Plan("truncated_normal", sigma * TRUNC_STD_FACTOR, ci, loglik)


def _moment_sigma(s: Summary, alpha: float) -> tuple[float, float]:
    """sigma_pre from S under the mixture law, and its relative half-width at 1 - alpha (delta method:
    Var(x^2) / E[x^2]^2 = kurtosis - 1, halved by the square root)."""
    m2 = mixture_even_moments(KERAS_TORCH_OUTSIDE)[0]
    kappa = family_law("truncated_normal", 1.0).kurtosis
    z = z_quantile(alpha / 2)
    return math.sqrt(s.sumsq / s.n / m2), z * math.sqrt((kappa - 1.0) / s.n) / 2.0


def _beyond_cut(s: Summary, alpha: float) -> float | None:
    """sigma_pre from S when the max is beyond the cut even at the top of S's interval, else None."""
    if s.n < 2:
        return None
    sigma, half = _moment_sigma(s, alpha)
    return sigma if s.max_abs > TRUNC_CUT * sigma * (1 + half) else None


def _plan_beyond_cut(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float, sigma: float) -> _Plan:
    """The truncated family with values beyond the cut: sigma from S, the values beyond the cut counted on the
    subsample (at least the max) for the mixture's log-likelihood."""
    _, half = _moment_sigma(s, alpha)
    std = sigma * TRUNC_STD_FACTOR
    ci = ConfidenceInterval(std * (1 - half) / (1 + rel_eps), std * (1 + half) * (1 + rel_eps))
    beyond = int(np.count_nonzero(np.abs(sample) >= TRUNC_CUT * sigma)) if sample.size else 0
    k = max(1, round(s.n * beyond / sample.size)) if sample.size else 1
    loglik = normal_loglik(s.n, s.sumsq, sigma) + (s.n - k) * LOG_INSIDE + k * LOG_BEYOND
    return _Plan("truncated_normal", std, ci, loglik, BEYOND_CUT_TESTS)


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
    fraction = exact_zero_fraction(matrix) if matrix is not None and matrix.ndim == 2 else zeros / sample.size
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


def exact_zero_fraction(matrix: np.ndarray) -> float:
    """The zero fraction counted on the whole matrix: ``sparse_`` puts ceil(sparsity * rows) zeros in every column,
    so the count is exact, where the subsample's fraction is off by its sampling error (0.0996 for 0.1)."""
    return float(np.count_nonzero(matrix == 0)) / matrix.size


def fit_orthogonal(matrix: np.ndarray, alpha: float, dtype: str = "float32") -> Fit | None:
    """The hook for ``orthogonal_``: the short side of the (rows, cols) matrix view orthonormal times one gain,
    checked as ``verify`` checks ``orthogonal_`` (stats/exact.py ``orthogonal_test``: max|W W^T / g^2 - I| over the
    short side's Gram matrix against the storage and QR rounding ``orthogonal_tolerance`` allows, a seeded subset of
    the short side's lines beyond ~1 s of multiply-adds), with the gain g fitted as the rms norm of those lines.
    None when the matrix is not 2-D or has a side below 2.

    The check is exact up to rounding, not statistical: the Gram entries of a random matrix spread by ~1/sqrt(long
    side), orders of magnitude above the tolerance (2.5e-6 at k = 1024 in float32)."""
    law = _orthogonal_law(matrix)
    if law is None:
        return None
    from .exact import orthogonal_test

    return _orthogonal_fit(law, orthogonal_test(law, matrix.reshape(-1), dtype), alpha)


def orthogonal_fits(matrices: np.ndarray, alpha: float, dtype: str) -> list[Fit | None]:
    """``fit_orthogonal`` of each matrix of a stack (G, rows, cols), the Gram matrices of all in one batched call
    (stats/exact.py ``orthogonal_tests``): the same fits, for identify's group path."""
    from .exact import orthogonal_tests

    laws = [_orthogonal_law(m) for m in matrices]
    kept = [i for i, law in enumerate(laws) if law is not None]
    out: list[Fit | None] = [None] * len(laws)
    if kept:
        chosen = [law for law in laws if law is not None]
        for i, law, result in zip(kept, chosen, orthogonal_tests(chosen, matrices[kept], dtype), strict=True):
            out[i] = _orthogonal_fit(law, result, alpha)
    return out


def _orthogonal_law(matrix: np.ndarray) -> Law | None:
    """The orthogonal law of the matrix's own gain (the rms norm of its short side's lines), None when the matrix
    is not 2-D, has a side below 2, or has no finite positive gain."""
    if matrix.ndim != 2 or min(matrix.shape) < 2:
        return None
    short = min(matrix.shape)
    sumsq = float(np.einsum("ij,ij->", matrix, matrix, dtype=np.float64))
    gain = math.sqrt(sumsq / short)
    if not gain > 0 or not math.isfinite(gain):
        return None
    r, c = matrix.shape
    return Law("orthogonal", gain / math.sqrt(max(r, c)), gain=gain, shape=(r, c))


def _orthogonal_fit(law: Law, result: StructureResult, alpha: float) -> Fit:
    std = law.std
    dev = result.statistic
    why = "" if result.passed else f"not orthogonal: {result.detail}"
    return Fit("orthogonal", std, ConfidenceInterval(std * (1 - dev), std * (1 + dev)), 1 - alpha,
               1.0 if result.passed else 0.0, result.passed, math.inf, why, gain=law.gain)


#: ``fit_families``'s ``orthogonal`` when the caller has not fitted it.
UNFITTED = "unfitted"


def fit_families(s: Summary, sample: np.ndarray, alpha: float, rel_eps: float,
                 matrix: np.ndarray | None = None, dtype: str = "float32",
                 orthogonal: Fit | None | str = UNFITTED) -> list[Fit]:
    """Every family the data allow, best first: exact structures (constant, orthogonal, sparse) that pass, then the
    continuous families by log-likelihood among those that pass, then the rejected ones by log-likelihood.
    ``orthogonal``: the matrix's ``fit_orthogonal`` when the caller made it already (``orthogonal_fits``)."""
    if s.n and s.min == s.max:
        v = s.min
        return [Fit("constant", 0.0, ConfidenceInterval(0.0, 0.0), 1 - alpha, 1.0, True, math.inf, value=v)]
    sample = np.sort(sample)  # once: every family's EDF test sorts it again, and sorted input sorts fast
    fits = _structures(s, sample, alpha, rel_eps, matrix, dtype, orthogonal)
    if s.n >= 2 and s.max_abs > 0:
        fits += [_fit(plan, s, sample, alpha, rel_eps) for plan in _plans(s, sample, alpha, rel_eps)]
    return _best_first(fits)


def _structures(s: Summary, ordered: np.ndarray, alpha: float, rel_eps: float, matrix: np.ndarray | None,
                dtype: str, orthogonal: Fit | None | str) -> list[Fit]:
    """The orthogonal fit (when there is a matrix; ``orthogonal`` when the caller made it) and the sparse one, where
    they exist; ``ordered``: the sample sorted."""
    fits: list[Fit] = []
    if matrix is not None:
        orth = fit_orthogonal(matrix, alpha, dtype) if isinstance(orthogonal, str) else orthogonal
        if orth is not None:
            fits.append(orth)
    sparse = fit_sparse(s, ordered, alpha, rel_eps, matrix)
    if sparse is not None:
        fits.append(sparse)
    return fits


def _plans(s: Summary, ordered: np.ndarray, alpha: float, rel_eps: float) -> list[_Plan]:
    """The three continuous families fitted, before their goodness of fit, in ``fit_families``' order."""
    return [_plan_normal(s, alpha), _plan_uniform(s, alpha, rel_eps), _plan_truncated(s, ordered, alpha, rel_eps)]


def _best_first(fits: list[Fit]) -> list[Fit]:
    """``fit_families``'s order: the exact structures that pass, then the others by (passed, continuous,
    log-likelihood)."""
    exact = [f for f in fits if f.passed and f.distribution in ("orthogonal", "sparse")]
    rest = sorted((f for f in fits if f not in exact),
                  key=lambda f: (not f.passed, f.distribution not in GOF_TESTS, -f.loglik))
    return exact + rest


def fit_families_rows(summaries: Sequence[Summary], samples: np.ndarray, alpha: float, rel_eps: float, *,
                      matrices: Sequence[np.ndarray | None], dtype: str,
                      orthogonal: Sequence[Fit | None | str]) -> list[list[Fit]]:
    """``fit_families`` of each row of ``samples`` (2-D, one tensor's EDF sample per row, with its summary,
    matrix view and orthogonal fit), to the bit, for identify's group path (issue 25): the rows sorted in one call,
    and each family's EDF test for all the rows that need it in one (``laws.cdf_rows``, ``ks_statistics`` row by
    row); the O(1) tests, the fitted scales and the words are the one-tensor functions'. ``samples`` are float64, as
    the engine hands every EDF sample (``Law.cdf`` of float32 values would compute in float32)."""
    if samples.dtype != np.float64:
        raise ValueError(f"fit_families_rows takes float64 samples, not {samples.dtype}")
    xs = np.sort(samples, axis=1)
    out: list[list[Fit] | None] = [None] * len(summaries)
    started: list[tuple[int, list[Fit], list[tuple[_Plan, _Start]]]] = []
    for j, s in enumerate(summaries):
        if (s.n and s.min == s.max) or not (s.n >= 2 and s.max_abs > 0):
            out[j] = fit_families(s, samples[j], alpha, rel_eps, matrix=matrices[j], dtype=dtype,
                                  orthogonal=orthogonal[j])
            continue
        fits = _structures(s, xs[j], alpha, rel_eps, matrices[j], dtype, orthogonal[j])
        started.append((j, fits, [(plan, _gof_start(plan.distribution, plan.std, s, alpha, rel_eps, plan.tests))
                                  for plan in _plans(s, xs[j], alpha, rel_eps)]))
    _edf_tests(started, xs)
    for j, fits, families in started:
        out[j] = _best_first(fits + [_fitted(plan, _gof_end(start, alpha), alpha) for plan, start in families])
    done = [fits for fits in out if fits is not None]
    assert len(done) == len(out)  # every row took one of the two ways above
    return done


def _edf_tests(started: list[tuple[int, list[Fit], list[tuple[_Plan, _Start]]]], xs: np.ndarray) -> None:
    """The KS test of every started family that needs it, each family's rows in one call; appended to the results
    as ``_gof`` appends ``ks_test``'s."""
    if xs.shape[1] == 0:
        return
    for k in range(3):  # normal, uniform, truncated: the order of ``_plans``
        need = [(j, start) for j, _, families in started for _, start in families[k:k + 1] if start.needs_edf]
        if not need:
            continue
        # sorted again, as ks_test sorts fit_families' sorted sample: numpy's sort is not stable, and a second sort
        # may swap -0.0 and 0.0 (a pruned weight's), which the KS detail names ("at x = -0")
        rows = np.sort(xs[[j for j, _ in need]], axis=1)
        d, where = ks_statistics(rows, cdf_rows([start.law for _, start in need], rows))
        for (_, start), dj, wj in zip(need, d.tolist(), where.tolist(), strict=True):
            _, p, detail = ks_result(dj, wj, rows.shape[1])
            start.results.append(("ks", float(p), detail))
