"""Two-sample tests: were two tensors drawn from the same law? (``kaiming diff``, docs/diff.md)

Three questions per pair, each a test whose false-alarm rate is measured in docs/statistics.md ("Two builds"):

- scale: the log of the variance ratio, whose standard error under the null is ``sqrt((k - 1)(1/na + 1/nb))`` with
  ``k`` the pooled (non-excess) kurtosis (Layard 1973): unlike the F test it keeps its level for uniform,
  truncated and heavy-tailed laws. Below ``SMALL`` values a side, where the kurtosis is poorly estimated, the
  Brown-Forsythe test (Levene about the median) on the values themselves;
- location: Welch's z on the means (Welch's t below ``SMALL``);
- shape: the two-sample Kolmogorov-Smirnov test on the seeded subsamples (equal sizes, exact p-value up to
  10,000 values each, scipy's ``method="auto"``);
- structure (tensors of 2 or more dimensions): the rows/cols/spectrum tests of ``stats/structure.py`` on each side,
  judged with that side's own moments (its arrangement, whatever its law). The pair differs in structure when a
  test fails on one side where the same test passes on the other (``structure_pvalue``): a law that is not i.i.d.
  by design (orthogonal: rows of equal norm) fails on both sides and says nothing.

The pair's p-value is the smallest of the four (three without structure data) times 4 (3): Bonferroni within the
pair; the runner then corrects across tensors (Holm). Two tensors that are identical (equal summaries and equal
values at the same seeded positions) are the same draw: p = 1 at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .structure import STRUCTURE_TESTS, StructureData, own_moments, structure_tests
from .summary import Summary

#: Below this many values on either side the moment tests give way to tests on the values themselves.
SMALL = 1000
#: Tests combined within a pair (Bonferroni factor): scale, location, shape, and structure when it was run.
N_TESTS = 3
#: A structure test "passes" on a side when its p-value is above this: only then does the other side's failure of
#: the same test count (both failing is the law's arrangement, the same on both sides).
STRUCTURE_PASS = 0.01
#: A test failing this clearly on both sides marks a law whose arrangement is not i.i.d. by design (orthogonal rows
#: of equal norm give p ~ 0): the comparison stands aside. Stricter than ``STRUCTURE_PASS``, so that a side failing
#: by chance at 1% does not hide the other side's flaw (sorted values: 197/200 found at 0.01, see statistics.md §12).
STRUCTURE_BY_DESIGN = 1e-6
#: Two-sided level of the std-ratio interval.
CI_LEVEL = 0.95


@dataclass(frozen=True)
class TwoSample:
    """The comparison of one pair of tensors."""

    std_ratio: float
    """std of A over std of B."""
    std_ratio_ci: tuple[float, float]
    p_scale: float
    p_location: float
    p_shape: float
    identical: bool = False
    p_structure: float | None = None
    """None when the structure tests were not run (a 1-D tensor, or a side without structure data)."""
    structure_detail: str = ""
    """Which side fails which structure test, in words (set when a test fails on one side only)."""

    @property
    def n_tests(self) -> int:
        return N_TESTS + (self.p_structure is not None)

    @property
    def pvalue(self) -> float:
        """The pair's p-value: Bonferroni over the tests run."""
        if self.identical:
            return 1.0
        return min(1.0, self.n_tests * min(self.p_scale, self.p_location, self.p_shape,
                                           1.0 if self.p_structure is None else self.p_structure))

    @property
    def weakest(self) -> str:
        """Which question the pair fails most clearly: scale, location, shape or structure."""
        tests = {"scale": self.p_scale, "location": self.p_location, "shape": self.p_shape}
        if self.p_structure is not None:
            tests["structure"] = self.p_structure
        return min(tests, key=lambda k: tests[k])


def identical(a: Summary, b: Summary, sample_a: np.ndarray, sample_b: np.ndarray) -> bool:
    """The very same draw: equal count, moments and extremes, and equal values at the same seeded positions."""
    same_summary = (a.n, a.mean, a.m2, a.min, a.max) == (b.n, b.mean, b.m2, b.min, b.max)
    return same_summary and sample_a.shape == sample_b.shape and bool(np.array_equal(sample_a, sample_b))


def pooled_kurtosis(a: Summary, b: Summary) -> float:
    """Non-excess kurtosis of both samples about their own means, pooled (3 for a normal law, 1.8 uniform)."""
    m2 = a.m2 + b.m2
    if m2 <= 0:
        return math.nan
    return (a.n + b.n) * (a.m4 + b.m4) / (m2 * m2)


def log_variance_se(a: Summary, b: Summary) -> float:
    """Standard error of log(var_a / var_b) under the null (Layard's large-sample form)."""
    k = pooled_kurtosis(a, b)
    return math.sqrt(max(k - 1.0, 1e-12) * (1.0 / a.n + 1.0 / b.n)) if math.isfinite(k) else math.nan


def std_ratio_interval(a: Summary, b: Summary) -> tuple[float, tuple[float, float]]:
    """std_a / std_b and its ``CI_LEVEL`` interval (half the log-variance interval, exponentiated)."""
    from scipy.special import ndtri

    if a.n < 2 or b.n < 2 or b.m2 <= 0 or a.m2 <= 0:
        ratio = a.std / b.std if b.n > 1 and b.m2 > 0 else math.nan
        return ratio, (math.nan, math.nan)
    log_ratio = 0.5 * math.log(a.std ** 2 / b.std ** 2)
    half = 0.5 * float(ndtri(0.5 + CI_LEVEL / 2)) * log_variance_se(a, b)
    return math.exp(log_ratio), (math.exp(log_ratio - half), math.exp(log_ratio + half))


def two_sided_normal(z: float) -> float:
    from scipy.special import ndtr

    return float(2.0 * ndtr(-abs(z))) if math.isfinite(z) else (0.0 if not math.isnan(z) else 1.0)


def scale_pvalue(a: Summary, b: Summary, sample_a: np.ndarray, sample_b: np.ndarray) -> float:
    """Same variance? Layard's z on the log variance ratio; Brown-Forsythe on the values for small tensors."""
    if a.m2 <= 0 and b.m2 <= 0:
        return 1.0
    if a.m2 <= 0 or b.m2 <= 0:
        return 0.0
    if min(a.n, b.n) < SMALL and sample_a.size == a.n and sample_b.size == b.n:
        from scipy.stats import levene

        return _finite_p(levene(sample_a, sample_b, center="median").pvalue)
    z = math.log((a.m2 / (a.n - 1)) / (b.m2 / (b.n - 1))) / log_variance_se(a, b)
    return two_sided_normal(z)


def location_pvalue(a: Summary, b: Summary, sample_a: np.ndarray, sample_b: np.ndarray) -> float:
    """Same mean? Welch's z (Welch's t on the values for small tensors)."""
    if a.n < 2 or b.n < 2:
        return 1.0 if a.mean == b.mean else 0.0
    var = a.m2 / (a.n - 1) / a.n + b.m2 / (b.n - 1) / b.n
    if var <= 0:
        return 1.0 if a.mean == b.mean else 0.0
    if min(a.n, b.n) < SMALL and sample_a.size == a.n and sample_b.size == b.n:
        from scipy.stats import ttest_ind

        return _finite_p(ttest_ind(sample_a, sample_b, equal_var=False).pvalue)
    return two_sided_normal((a.mean - b.mean) / math.sqrt(var))


def shape_pvalue(sample_a: np.ndarray, sample_b: np.ndarray, seed: int = 0) -> float:
    """Same distribution? Two-sample KS on seeded subsamples of equal size (exact p-value where small)."""
    from scipy.stats import ks_2samp

    m = min(sample_a.size, sample_b.size)
    if m < 2:
        return 1.0
    rng = np.random.default_rng(seed)
    xa = sample_a if sample_a.size == m else rng.choice(sample_a, m, replace=False)
    xb = sample_b if sample_b.size == m else rng.choice(sample_b, m, replace=False)
    return _finite_p(ks_2samp(xa, xb, method="auto").pvalue)


def _finite_p(p: float) -> float:
    p = float(p)
    return 1.0 if math.isnan(p) else min(1.0, max(0.0, p))


StructureRows = list[tuple[str, float, float, str]]
#: What a side brings to the structure comparison: its data (judged here), or its tests already judged (an init
#: snapshot keeps the rows, not the data: ``testing.assert_init_snapshot``).
SideStructure = StructureData | StructureRows


def side_structure(data: StructureData, sample: np.ndarray) -> StructureRows:
    """One side's rows/cols/spectrum tests, judged with its own moments: its arrangement, whatever its law."""
    rows, _notes = structure_tests(data, STRUCTURE_TESTS, own_moments(sample))
    return rows


def judged(side: SideStructure, sample: np.ndarray) -> StructureRows:
    """A side's structure tests: run on its data, or as stored."""
    return side if isinstance(side, list) else side_structure(side, sample)


def structure_pvalue(rows_a: StructureRows, rows_b: StructureRows) -> tuple[float, str]:
    """``(p, detail)``: does a structure test fail on one side where it passes on the other?

    p is the smallest p-value of a test on one side whose twin on the other side passes (p > ``STRUCTURE_PASS``),
    times the number of (side, test) p-values (Bonferroni): with both sides i.i.d. draws, dropping the tests
    whose twin fails only raises it, so P(p <= x) <= x. A test failing on both sides (a law whose arrangement is
    not i.i.d. by design, or the same flaw on both; p <= ``STRUCTURE_BY_DESIGN`` on both) makes the comparison
    stand aside (p = 1): such a law has no calibrated null for the other structure tests either."""
    by_a = {name: (p, detail) for name, _stat, p, detail in rows_a}
    by_b = {name: (p, detail) for name, _stat, p, detail in rows_b}
    common = [name for name in by_a if name in by_b]
    if any(by_a[name][0] <= STRUCTURE_BY_DESIGN and by_b[name][0] <= STRUCTURE_BY_DESIGN for name in common):
        # the law's arrangement is not i.i.d. by design (orthogonal: rows of equal norm); the other structure tests
        # have no calibrated null for it either (64x576 orthogonal columns sit near the rows test's 1% tail)
        return 1.0, ""
    best, detail = 1.0, ""
    for side, mine, other in (("A", by_a, by_b), ("B", by_b, by_a)):
        for name in common:
            p, words = mine[name]
            if other[name][0] > STRUCTURE_PASS and p < best:
                best, detail = p, f"{side} fails the {name} test where the other side passes: {words}"
    return min(1.0, best * 2 * len(common)) if common else 1.0, detail


def compare(a: Summary, b: Summary, sample_a: np.ndarray, sample_b: np.ndarray, seed: int = 0,
            structure: tuple[SideStructure, SideStructure] | None = None) -> TwoSample:
    """Every two-sample test on one pair (finite values only; NaN/inf are ``uninitialized``, found earlier).
    ``structure``: both sides' structure data, when both have it (tensors of 2 or more dimensions)."""
    if identical(a, b, sample_a, sample_b):
        return TwoSample(1.0, (1.0, 1.0), 1.0, 1.0, 1.0, identical=True)
    ratio, ci = std_ratio_interval(a, b)
    p_structure, detail = None, ""
    if structure is not None:
        rows_a, rows_b = judged(structure[0], sample_a), judged(structure[1], sample_b)
        if rows_a and rows_b:
            p_structure, detail = structure_pvalue(rows_a, rows_b)
    return TwoSample(ratio, ci, scale_pvalue(a, b, sample_a, sample_b), location_pvalue(a, b, sample_a, sample_b),
                     shape_pvalue(sample_a, sample_b, seed), p_structure=p_structure, structure_detail=detail)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error at most alpha across the pairs)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    out = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        out[i] = running
    return out
