"""The battery on a group of tensors of one shape, dtype and law, vectorized across them (issue 25).

A checkpoint holds hundreds to thousands of small tensors, most of them in a few (shape, law) groups. One tensor at
a time, the battery costs 1-3 ms of Python and numpy calls whatever the tensor's size. Stacked as one (G, n) array,
the heavy parts (moments, the sorted EDF and its null CDF, cell counts for the shape test, row and column sums of
squares, the Gram eigenvalues of the spectrum test, histograms) are a few numpy calls for the whole group; what
stays per tensor is scalar arithmetic and the detail text, written by the very functions the one-tensor path
calls (battery.py's tests, ``ks_result``, ``homogeneity_result``, ``spectrum_result``, shape.py's
``binned_tests``), so each tensor gets the one-tensor path's tests, p-values and words.

The group path covers the common case, decided before reading (``groupable``): float32 or float64 values, a
normal or uniform law centred on zero, a tensor small enough to be its own EDF sample and counted whole (at most
``KS_MAX_SAMPLES`` values, each side at most ``MAX_GROUPS`` so rows and columns are not grouped in runs). After
reading, a tensor that would take another branch of the one-tensor path (non-finite values, a mark of
uninitialized memory, a constant, a zero row or column) is handed back (None) and the caller tests it alone.
Every number is the one-tensor path's to the bit (the moments as ``summarize`` sums them, the statistics row by
row with the same reductions): tests/stats/test_grouped.py compares the two paths on tensors that pass and fail.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .battery import (
    ALL_TESTS,
    SHAPE_NOT_RUN,
    BatteryResult,
    ConfidenceInterval,
    TestResult,
    ad_result,
    ad_statistics,
    ks_result,
    ks_statistics,
    kurtosis_min_n,
    kurtosis_not_run,
    kurtosis_test,
    mean_test,
    own_shape,
    range_test,
    std_test,
)
from .empirical import histogram_rows
from .homogeneity import bartlett_rows, dispersion_rows, homogeneity_result
from .laws import Law
from .power import detectable_error
from .shape import (
    MAX_BINS,
    MIN_BINS,
    MIN_EXPECTED,
    ShapeResult,
    _bin_of_cell,
    _bins,
    binned_tests,
    shape_detail,
    wraps_top_cell,
)
from .structure import (
    DENSE_MAX_SIDE,
    MAX_GROUPS,
    SPECTRUM_MIN_SIDE,
    has_structure,
    matrix_view,
    spectrum_not_run,
    spectrum_result,
    top_singular_value,
    top_singular_values_dense,
)
from .summary import Summary, summarize_rows
from .uninitialized import HUGE, TINY

#: The laws the group path covers (centred on zero); others take the one-tensor path.
GROUPED_LAWS = ("normal", "uniform")
#: The dtypes it covers, with their mantissa bits: bf16 and fp16 come with their dequantized samples.
GROUPED_DTYPES = {"float32": 23, "float64": 52, "bfloat16": 7, "float16": 10}
#: Values per batch of a group: the float64 copy, its sorted copy and the CDF stay near 3 x 8 MiB.
BATCH_VALUES = 1 << 20

Raw = tuple[str, float, float, str]


@dataclass(frozen=True)
class Outcome:
    """One tensor's battery from the group path, with what the runner reports beside it."""

    summary: Summary
    battery: BatteryResult
    histogram: list[int]
    """The sample's counts in the law's bins; empty when the caller asked for none (``histograms``)."""


def groupable(law: Law, shape: tuple[int, ...], dtype: str, layout: str, tests: Sequence[str], max_ks: int) -> bool:
    """Whether a tensor can take the group path (decided from its header and law, before reading)."""
    return groupable_law(law) and groupable_shape(shape, dtype, layout, tests, max_ks)


def groupable_law(law: Law) -> bool:
    """A law the group battery covers: normal or uniform, centred on zero."""
    return law.distribution in GROUPED_LAWS and law.center == 0.0 and law.mean == 0.0


def groupable_shape(shape: tuple[int, ...], dtype: str, layout: str, tests: Sequence[str], max_ks: int) -> bool:
    """A tensor the group path can read and summarize as one row: a matrix view of bounded sides, its own EDF
    sample (at most ``max_ks`` values), a dtype it decodes."""
    if dtype not in GROUPED_DTYPES or not has_structure(shape) or math.prod(shape) > max_ks:
        return False
    if not set(tests) <= set(ALL_TESTS):
        return False
    outer, inner, _ = matrix_view(shape, layout)
    return outer <= MAX_GROUPS and inner <= MAX_GROUPS


def batch_size(shape: tuple[int, ...], values: int = BATCH_VALUES) -> int:
    """Tensors per batch of a group of this shape, at most ``values`` values: memory is bounded by the batch, not
    by the group."""
    return max(1, values // max(1, math.prod(shape)))


def grouped_batteries(law: Law, stored: np.ndarray, *, shape: tuple[int, ...], dtype: str, layout: str,
                      alpha: float, tests: tuple[str, ...], rel_eps: float,
                      samples: np.ndarray | None = None, histograms: bool = True) -> list[Outcome | None]:
    """The battery of each tensor in ``stored`` ((G, n): the decoded values, float32 or float64, in storage
    order), as ``run_battery`` gives it with the whole tensor as its sample; None for a tensor the one-tensor path
    must test (see the module docstring). ``samples`` are the EDF samples when they are not the values themselves:
    bf16 and fp16 values spread over their rounding cells (engine/sources.py ``dequantizer``), float64.
    ``histograms``: each outcome's histogram (``Rows.batteries``)."""
    rows = Rows.of(stored, shape=shape, dtype=dtype, layout=layout, samples=samples)
    out: list[Outcome | None] = [None] * stored.shape[0]
    if rows is None:
        return out
    for i, outcome in zip(rows.index.tolist(), rows.batteries(law, None, alpha=alpha, tests=tests, rel_eps=rel_eps,
                                                                         histograms=histograms),
                          strict=True):
        out[i] = outcome
    return out


@dataclass(frozen=True)
class Rows:
    """The rows of a batch the group path keeps (``index`` into the batch), with what every battery on them
    shares: their summaries, EDF samples (float64), matrix views and the sums of squares of their lines. ``identify``
    makes it once and runs the battery of each row's chosen law on it; ``verify`` one law on all of them."""

    index: np.ndarray
    summaries: list[Summary]
    x: np.ndarray
    matrix: np.ndarray
    outer: np.ndarray
    inner: np.ndarray
    stored: np.ndarray
    shape: tuple[int, ...]
    dtype: str
    layout: str

    @classmethod
    def of(cls, stored: np.ndarray, *, shape: tuple[int, ...], dtype: str, layout: str,
           samples: np.ndarray | None = None) -> Rows | None:
        """The rows the one-tensor path would test by the common branch (see the module docstring); None when
        there is none."""
        # signalling NaNs (torch.empty memory holds any bit pattern) warn when widened; their rows are handed back,
        # and the one-tensor path names them (stats/uninitialized.py), so the warning is noise on the user's terminal
        with np.errstate(invalid="ignore"):
            x = stored.astype(np.float64) if samples is None else samples
        index = np.flatnonzero(_regular(stored, x, dtype))
        if index.size == 0:
            return None
        matrix = stored[index].reshape(index.size, *matrix_view(shape, layout)[:2])
        outer = np.einsum("gij,gij->gi", matrix, matrix).astype(np.float64)
        inner = np.einsum("gij,gij->gj", matrix, matrix).astype(np.float64)
        lines = (outer > 0).all(axis=1) & (inner > 0).all(axis=1)  # a zero row or column: the one-tensor path
        index, matrix, outer, inner = index[lines], matrix[lines], outer[lines], inner[lines]
        if index.size == 0:
            return None
        summaries = summarize_rows(stored[index])
        # values that vary but whose moments round to none, or whose kurtosis underflows: the one-tensor path
        spread = [not math.isnan(s.excess_kurtosis) for s in summaries]
        if not all(spread):
            index, matrix, outer, inner = index[spread], matrix[spread], outer[spread], inner[spread]
            summaries = [s for s, keep in zip(summaries, spread, strict=True) if keep]
            if index.size == 0:
                return None
        return cls(index, summaries, x[index], matrix, outer, inner, stored[index], shape, dtype, layout)

    def batteries(self, law: Law, which: Sequence[int] | None, *, alpha: float, tests: tuple[str, ...],
                  rel_eps: float, histograms: bool = True) -> list[Outcome]:
        """The battery of ``law`` on the kept rows ``which`` (positions in ``index``; None: all of them), with
        each row's histogram in the law's bins if ``histograms`` (only a report that shows them needs them: about
        a seventh of the battery's time on 64x64 tensors, issue 25)."""
        pick: slice | np.ndarray = slice(None) if which is None else np.asarray(which, dtype=np.intp)
        summaries = self.summaries if which is None else [self.summaries[j] for j in which]
        return _Group(law, self.x[pick], summaries, self.shape, self.dtype, self.layout, alpha, tests, rel_eps,
                      self.matrix[pick], self.outer[pick], self.inner[pick], self.stored[pick]).outcomes(histograms)


def _regular(values: np.ndarray, sample: np.ndarray, dtype: str) -> np.ndarray:
    """Rows whose values are finite, vary and stay within any init scale, and whose sample holds no subnormal
    (float32, bf16 and float64 only, as ``uninitialized_reason`` checks): the rows for which the one-tensor path's
    uninitialized-memory marks are all silent (stats/uninitialized.py)."""
    bits = GROUPED_DTYPES[dtype]
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(values).all(axis=1)
        ok: np.ndarray = finite & (values.min(axis=1) != values.max(axis=1)) & \
            (np.abs(values).max(axis=1) <= HUGE)
        if bits in (7, 23, 52):
            tiny = TINY[64 if bits > 23 else 32]
            magnitude = np.abs(sample)
            ok &= ~((magnitude > 0) & (magnitude < tiny)).any(axis=1)
    return ok


@functools.lru_cache(maxsize=64)
def _detectable(law: Law, n: int, level: float) -> float:
    """``detectable_error`` (a bisection) once per group's law, size and level, not once per tensor."""
    return detectable_error(law, n, level)


class _Group:
    """The tests of one batch, column by column (each test for every tensor), then assembled per tensor."""

    def __init__(self, law: Law, x: np.ndarray, summaries: list[Summary], shape: tuple[int, ...], dtype: str,
                 layout: str, alpha: float, tests: tuple[str, ...], rel_eps: float, matrix: np.ndarray,
                 outer: np.ndarray, inner: np.ndarray, stored: np.ndarray) -> None:
        self.law, self.x, self.summaries, self.dtype, self.alpha = law, x, summaries, dtype, alpha
        self.tests, self.rel_eps, self.matrix, self.stored = tests, rel_eps, matrix, stored
        self.n = x.shape[1]
        out, inn, rows_outer = matrix_view(shape, layout)
        self.rows = (out, inn) if rows_outer else (inn, out)
        (self.row_sums, self.col_sums) = (outer, inner) if rows_outer else (inner, outer)
        self.raw: list[list[Raw]] = [[] for _ in summaries]
        self.std_at: int | None = None
        """Where the std test sits among each tensor's tests (it is run in ``_assemble``)."""
        self.notes: list[str] = []

    def outcomes(self, histograms: bool = True) -> list[Outcome]:
        """Run the tests in the battery's order (``run_battery``) and assemble each tensor's result (with its
        histogram if ``histograms``)."""
        sorted_x: np.ndarray | None = None
        cdf: np.ndarray | None = None
        for name in self.tests:
            if name in ("rows", "cols", "spectrum"):
                continue
            if name in ("ks", "ad") and sorted_x is None:
                sorted_x = np.sort(self.x, axis=1)
                cdf = self.law.cdf(sorted_x)
            self._marginal(name, sorted_x, cdf)
        if any(t in self.tests for t in ("rows", "cols", "spectrum")):
            self._structure()
        return self._assemble(histograms)

    def _add(self, name: str, rows: Sequence[tuple[float, float, str]]) -> None:
        for raw, (stat, p, detail) in zip(self.raw, rows, strict=True):
            raw.append((name, float(stat), float(p), detail))

    def _marginal(self, name: str, sorted_x: np.ndarray | None, cdf: np.ndarray | None) -> None:
        law, n = self.law, self.n
        if name == "mean":
            self._add(name, [mean_test(law, s) for s in self.summaries])
        elif name == "std":
            # its p does not depend on the level: the test runs once, in _assemble, at the level it is judged at
            self.std_at = len(self.raw[0]) if self.raw else 0
            for raw in self.raw:
                raw.append((name, math.nan, math.nan, ""))
        elif name == "kurtosis":
            if n < kurtosis_min_n(law):
                self.notes.append(kurtosis_not_run(law))
                return
            self._add(name, [kurtosis_test(law, s) for s in self.summaries])
        elif name == "range":
            self._add(name, [range_test(law, s, self.rel_eps) for s in self.summaries])
        elif name == "ks":
            assert sorted_x is not None and cdf is not None
            d, where = ks_statistics(sorted_x, cdf)
            self._add(name, [ks_result(di, wi, n) for di, wi in zip(d.tolist(), where.tolist(), strict=True)])
        elif name == "ad":
            assert cdf is not None
            self._add(name, [ad_result(a2, n) for a2 in ad_statistics(cdf).tolist()])
        elif name == "shape":
            shaped = self._shape()
            if shaped is None:
                self.notes.append(SHAPE_NOT_RUN)
                return
            self._add(name, [(r.statistic / max(r.df, 1), r.pvalue, shape_detail(r, n, False)) for r in shaped])

    def _shape(self) -> list[ShapeResult] | None:
        """``shape_summary`` for every tensor: each value's rounding cell (the top 16 bits of its float32), binned
        by the law's cell-to-bin map, counted per tensor in one ``bincount``."""
        k = int(min(MAX_BINS, float(self.n) // MIN_EXPECTED))
        if k < MIN_BINS:
            return None
        starts, p_bins, lows = _bins(self.law, self.dtype, k)
        of_cell = _bin_of_cell(self.law, self.dtype, k)
        f32 = np.ascontiguousarray(self.stored, dtype=np.float32)
        cells = (f32.view(np.uint32) >> np.uint32(16)).astype(np.intp)
        bins = starts.size
        offsets = (np.arange(f32.shape[0]) * bins)[:, None]
        counts = np.bincount((of_cell[cells] + offsets).reshape(-1), minlength=f32.shape[0] * bins)
        return binned_tests(counts.reshape(f32.shape[0], bins), self.n, starts, p_bins, lows,
                            wraps_top_cell(self.law, self.dtype))

    def _structure(self) -> None:
        """rows, cols and spectrum, in structure.py's order (``structure_tests``)."""
        law = self.law
        m = law.standardized_moments()
        moments = None if law.distribution == "normal" else (m[1], m[3], m[5])
        own = [own_shape(raw, xi) for raw, xi in zip(self.raw, self.x, strict=True)]  # battery.py's rule
        for kind, sums, units in (("rows", self.row_sums, self.rows[0]), ("cols", self.col_sums, self.rows[1])):
            if kind in self.tests and sums.shape[1] >= 2:
                self._add(kind, self._homogeneity(kind, sums, units, moments, own))
        if "spectrum" in self.tests:
            k, l_ = self.matrix.shape[1:]
            if min(k, l_) < SPECTRUM_MIN_SIDE:
                self.notes.append(spectrum_not_run(*self.rows))
            else:
                self._add("spectrum", self._spectrum())

    def _homogeneity(self, kind: str, sums: np.ndarray, units: int, moments: tuple[float, float, float] | None,
                     own: list[tuple[float, float, float] | None]) -> list[tuple[float, float, str]]:
        sizes = np.full(sums.shape[1], (self.n // units), dtype=np.int64)
        df = float(sums.shape[1] - 1)
        chosen = [o if o is not None else moments for o in own]
        t = np.empty(sums.shape[0])
        p_hi, p_lo = np.empty_like(t), np.empty_like(t)
        bart = np.array([c is None for c in chosen])
        if bart.any():
            t[bart], p_hi[bart], p_lo[bart] = bartlett_rows(sums[bart], sizes, 3.0)
        if (~bart).any():
            mom = np.array([c for c in chosen if c is not None], dtype=np.float64)
            t[~bart], p_hi[~bart], p_lo[~bart] = dispersion_rows(sums[~bart], sizes,
                                                                 (mom[:, 0], mom[:, 1], mom[:, 2]))
        rms = np.sqrt(sums / sizes)
        return [homogeneity_result(kind, ti, df, hi, lo, a, b, sums.shape[1], units, False)
                for ti, hi, lo, a, b in zip(t.tolist(), p_hi.tolist(), p_lo.tolist(), rms.min(axis=1).tolist(),
                                            rms.max(axis=1).tolist(), strict=True)]

    def _spectrum(self) -> list[tuple[float, float, str]]:
        matrix = self.matrix.astype(np.float64)
        g, k, l_ = matrix.shape
        energy = (matrix * matrix).reshape(g, -1).sum(axis=1)  # as spectrum_test sums one matrix
        if min(k, l_) <= DENSE_MAX_SIDE:
            s1 = top_singular_values_dense(matrix).tolist()
        else:
            s1 = [top_singular_value(mi) for mi in matrix]
        return [spectrum_result(k, l_, e, s) for e, s in zip(energy.tolist(), s1, strict=True)]

    def _assemble(self, histograms: bool) -> list[Outcome]:
        law, n = self.law, self.n
        counts = histogram_rows(self.x, law) if histograms else [[] for _ in self.summaries]
        out = []
        for s, raw, hist in zip(self.summaries, self.raw, counts, strict=True):
            k = len(raw)
            threshold = self.alpha / k if k else self.alpha
            ci = ConfidenceInterval(math.nan, math.nan)
            if self.std_at is not None:  # with the interval at the std test's own level (run_battery)
                ratio, p, ci, std_detail = std_test(law, s, threshold)
                raw[self.std_at] = ("std", ratio, p, std_detail)
            results = tuple([TestResult(name, stat, p, p > threshold, detail) for name, stat, p, detail in raw])
            combined = min(1.0, k * min([p for _, _, p, _ in raw])) if k else 1.0
            battery = BatteryResult(tests=results, alpha=self.alpha, pvalue=combined, passed=combined > self.alpha,
                                    std_ci=ci, n_ks=n, notes=tuple(self.notes),
                                    detect=functools.partial(_detectable, law, n, threshold))
            out.append(Outcome(s, battery, hist))
        return out
