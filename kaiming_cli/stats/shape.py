"""The full-n shape test: a chi-square test on all n values, binned on rounding cells (docs/statistics.md §2.10).

The EDF tests (KS, AD) run on a subsample of at most 1e5 values, so their power stops growing there: at n = 1e6,
values rounded to 1023 levels passed KS 49 times in 50. This test counts every value in the streaming pass.

**Cells.** A value's cell is the top ``CELL_BITS`` bits of its float32 representation (sign, exponent and the
leading ``CELL_BITS - 9`` mantissa bits): one shift and one ``bincount`` per chunk, no CDF per value. Every value
falls in exactly one cell, and a bf16 value is its own cell (bf16 is the top 16 bits of a float32), so storage
rounding cannot trip the test: each cell's null probability is taken over the real values that *round into it*
in the storage dtype, between the midpoints to the neighbouring representable values (``rounding_edges``).

**Bins.** Consecutive cells (in value order) are merged into about ``K = min(MAX_BINS, n / MIN_EXPECTED)`` bins
of null probability >= 1/K; Pearson's ``X^2 = sum (O - E)^2 / E`` on them is chi-square(bins - 1) under the
null with at least ``MIN_EXPECTED`` expected per bin, so power grows with n while the false-alarm rate holds.
"""

from __future__ import annotations

import copy
import functools
import math
import sys
from typing import NamedTuple

import numpy as np

from .laws import Law

#: Bits of the float32 pattern that name a cell: bf16's 16 (a relative cell width of 2^-7 = 0.8%).
CELL_BITS = 16
SHIFT = 32 - CELL_BITS
CELLS = 1 << CELL_BITS
HALF = CELLS // 2
#: At most this many bins ...
MAX_BINS = 1000
#: ... and at least this many values expected in each.
MIN_EXPECTED = 50
#: Fewer bins than this leave nothing to test (n < 250).
MIN_BINS = 5
#: Count every value up to this many; beyond, whole chunks chosen by seed up to this many values (one chunk:
#: a bincount costs as much as the moments, and verify's budget is 1.25x of the marginal tests' time).
MAX_COUNTED = 1 << 20
#: Values per ``bincount`` call (its 8-byte copy of them stays at 1 MiB).
COUNT_SLICE = 1 << 17
#: A counter fed at most this many values keeps each value's cell (2 bytes) instead of the 2^16 counts (512 KiB):
#: for the small tensors of a checkpoint, zeroing, adding and gathering the dense counts cost 5-10x the values'
#: own work (issue 25); the shape test then bins the cells directly (``binned_counts``), the same integers.
SPARSE_MAX = 1 << 16


class CellCounter:
    """Counts of every value's cell, chunk by chunk (``partial`` in any thread, ``add`` in the caller's).

    Counting costs about as much as the moments (a bincount, ~5 ns a value), so beyond ``MAX_COUNTED`` values
    it counts whole chunks chosen by seed (independently of the values, so under the null they are i.i.d. draws
    of the law): the test's power grows with n up to 2^20 values, 10x the EDF subsample, at a bounded cost."""

    def __init__(self, dtype: str, n: int = 0, seed: np.random.SeedSequence | None = None,
                 chunk: int = 1 << 20) -> None:
        self.dtype = dtype
        self.chunk = chunk
        self._dense: np.ndarray | None = None
        self._cells: list[np.ndarray] = []
        """The counted values' cells while they are few (``SPARSE_MAX``), else empty and ``_dense`` set."""
        self._kept = 0
        self._zeros_left_out = 0
        """Values of cell 0 (exact +0.0) taken out of the counts of ``_cells`` (``without_zero_lines``)."""
        self.fed = 0
        self.starts: frozenset[int] | None = None
        chunks = -(-n // chunk) if n > 0 else 0
        if n > MAX_COUNTED and chunks > 1:
            keep = max(1, MAX_COUNTED // chunk)
            picked = np.random.default_rng(seed).choice(chunks, size=min(keep, chunks), replace=False)
            self.starts = frozenset(int(i) * chunk for i in picked)

    @property
    def counts(self) -> np.ndarray:
        """The count of every cell (2^16, int64), made from the kept cells when they are few."""
        if self._dense is None:
            self._dense = self._dense_from_cells()
            self._cells, self._kept, self._zeros_left_out = [], 0, 0
        return self._dense

    @counts.setter
    def counts(self, value: np.ndarray) -> None:
        self._dense, self._cells, self._kept, self._zeros_left_out = value, [], 0, 0

    def _dense_from_cells(self) -> np.ndarray:
        dense = np.zeros(CELLS, dtype=np.int64)
        for cells in self._cells:
            dense += np.bincount(cells, minlength=CELLS)
        dense[0] -= self._zeros_left_out
        return dense

    @property
    def total(self) -> int:
        """How many values the counts hold (``counts.sum()``, without making the dense counts)."""
        if self._dense is not None:
            return int(self._dense.sum())
        return self._kept - self._zeros_left_out

    @property
    def sparse(self) -> bool:
        """The counts are kept as the values' cells (few values): ``binned_counts`` works on them."""
        return self._dense is None

    def binned_counts(self, bin_of_cell: np.ndarray, bins: int) -> np.ndarray:
        """The counts summed into bins, ``bin_of_cell[c]`` the bin of cell c (exact integers), from the kept
        cells: one short ``bincount`` instead of the dense counts' 2^16 cells."""
        out = np.zeros(bins, dtype=np.int64)
        for cells in self._cells:
            out += np.bincount(bin_of_cell[cells], minlength=bins)
        out[bin_of_cell[0]] -= self._zeros_left_out
        return out

    def partial(self, start: int, values: np.ndarray) -> tuple[int, np.ndarray | None]:
        """Counts of a chunk, the elements from flat position ``start`` on (its cells, uint16, when they are few:
        ``add`` tells the two apart by dtype)."""
        x = np.asarray(values).reshape(-1)
        return self.partial_runs(np.array([start], dtype=np.int64), np.array([x.size], dtype=np.int64), x)

    def partial_runs(self, starts: np.ndarray, lengths: np.ndarray, values: np.ndarray
                     ) -> tuple[int, np.ndarray | None]:
        """Counts of ``values``, the concatenation of runs of ``lengths[i]`` elements from flat position
        ``starts[i]`` on (a shard of a distributed tensor is runs of the full tensor); counted where they fall
        in a chosen chunk, so a tensor's counts do not depend on how its values were cut into runs."""
        x = np.asarray(values).reshape(-1)
        if self.starts is None:
            return int(x.size), self._count(x) if x.size else None
        offsets = np.cumsum(lengths) - lengths
        pieces = []
        for s in sorted(self.starts):
            lo, hi = np.maximum(starts, s), np.minimum(starts + lengths, s + self.chunk)
            first = offsets + lo - starts
            pieces += [x[first[i]:first[i] + hi[i] - lo[i]] for i in np.flatnonzero(hi > lo)]
        if not pieces:
            return int(x.size), None
        return int(x.size), self._count(pieces[0] if len(pieces) == 1 else np.concatenate(pieces))

    def _count(self, x: np.ndarray) -> np.ndarray:
        if x.dtype != np.float32 or not x.flags.c_contiguous:
            with np.errstate(over="ignore"):  # float64 values beyond float32 (garbage near 1e100) count as infinite
                x = np.ascontiguousarray(x, dtype=np.float32)
        # the top 16 bits are the high half-word: a strided view instead of a shift (~20% cheaper)
        top = x.view(np.uint16)[1::2] if sys.byteorder == "little" and SHIFT == 16 \
            else x.view(np.uint32) >> np.uint32(SHIFT)
        if top.size <= SPARSE_MAX:
            return top.astype(np.uint16)  # a copy: the values may live in a reused buffer
        # in slices of COUNT_SLICE values: bincount first copies its input as 8-byte integers, 8 MiB for a whole
        # chunk of 2^20 (the largest transient of a check or verify run); the counts are the same
        counts = np.zeros(CELLS, dtype=np.int64)
        for a in range(0, top.size, COUNT_SLICE):
            counts += np.bincount(top[a:a + COUNT_SLICE], minlength=CELLS)
        return counts

    def add(self, part: object) -> None:
        assert isinstance(part, tuple)
        size, counts = part
        self.fed += size
        if counts is None:
            return
        if counts.dtype == np.uint16 and self._dense is None and self._kept + counts.size <= SPARSE_MAX:
            self._cells.append(counts)
            self._kept += counts.size
        elif counts.dtype == np.uint16:
            self.counts += np.bincount(counts, minlength=CELLS)
        else:
            self.counts += counts

    def share(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(values fed, cells, their counts) of the cells counted here: the state another process merges
        (``load``); sparse, as a law fills a few thousand of the 2^16 cells."""
        cells = np.flatnonzero(self.counts)
        return self.fed, cells, self.counts[cells]

    def load(self, shares: list[tuple[int, np.ndarray, np.ndarray]]) -> None:
        """Replace the counts by the sum of ``shares`` (each process's ``share()``)."""
        self.counts = np.zeros(CELLS, dtype=np.int64)
        self.fed = 0
        for fed, cells, counts in shares:
            self.fed += fed
            np.add.at(self.counts, cells, counts)

    @property
    def subset(self) -> bool:
        return self.starts is not None

    def without_zero_lines(self, lines: tuple[int, ...], line_size: int) -> CellCounter:
        """A copy without the exact zeros of whole stored rows left out of the tests (an embedding's padding_idx
        row): they are a deliberate structure, not draws of the law, and +0.0 is cell 0."""
        counted = 0
        for r in lines:
            a, b = r * line_size, (r + 1) * line_size
            if self.starts is None:
                counted += b - a
            else:
                counted += sum(max(0, min(b, s + self.chunk) - max(a, s)) for s in self.starts)
        out = copy.copy(self)
        if self._dense is None:  # the kept cells are shared, never written
            out._cells = list(self._cells)
            zeros = sum(int(np.count_nonzero(c == 0)) for c in self._cells)
            out._zeros_left_out = min(zeros, self._zeros_left_out + counted)
            return out
        out.counts = self.counts.copy()
        out.counts[0] = max(0, int(out.counts[0]) - counted)
        return out


def _storage_prev(lo: np.ndarray, dtype: str) -> np.ndarray:
    """The largest value of the storage dtype below each positive float32 ``lo`` (a representable cell edge)."""
    bits = lo.astype(np.float32).view(np.uint32).astype(np.int64)
    step = 1 << 16 if dtype == "bfloat16" else 1  # float32, and float64 data counted as its float32 rounding
    return np.maximum(bits - step, 0).astype(np.uint32).view(np.float32).astype(np.float64)


def _float16_edges(lo: np.ndarray) -> np.ndarray:
    """The rounding edges of float16 cells. A cell edge lo need not be representable in fp16 (its subnormals are
    sparser than the cells, and no fp16 value lies beyond 65504): the reals whose fp16 rounding is >= lo are
    those above the midpoint between L, the smallest fp16 value >= lo, and the fp16 value below L."""
    with np.errstate(over="ignore"):
        near = lo.astype(np.float16)
        up = np.where(near.astype(np.float64) < lo, np.nextafter(near, np.float16(np.inf)), near)
        below = np.nextafter(up, np.float16(-np.inf))
    big = ~np.isfinite(up.astype(np.float64))
    edge = (up.astype(np.float64) + below.astype(np.float64)) / 2.0
    edge[big] = np.inf  # beyond fp16's largest value: nothing rounds there
    return edge


@functools.lru_cache(maxsize=8)
def rounding_edges(dtype: str) -> np.ndarray:
    """Real-valued edges of the positive cells: cell c (0 <= c < HALF) holds the values that round into
    [r[c], r[c + 1]); r[0] = 0 and the last edge is +inf. Negative cells mirror them."""
    lo = (np.arange(1, HALF, dtype=np.uint64) << np.uint64(SHIFT)).astype(np.uint32).view(np.float32)
    finite = np.isfinite(lo)
    lo, tail = lo[finite].astype(np.float64), int(np.count_nonzero(~finite))
    mids = _float16_edges(lo) if dtype == "float16" else (lo + _storage_prev(lo, dtype)) / 2.0
    edges = np.concatenate(([0.0], mids, np.full(tail + 1, np.inf)))
    edges.flags.writeable = False  # cached: shared by every tensor of this dtype
    return edges


class ShapeResult(NamedTuple):
    """The shape test's result: a named tuple, made once per tensor of a checkpoint's thousands."""

    statistic: float
    df: int
    pvalue: float
    worst: float
    """Lower edge of the bin with the largest standardized deviation (-inf for the first bin)."""
    worst_high: float
    """Its upper edge (+inf for the last bin)."""
    excess: float
    """(O - E)/sqrt(E) there."""


@functools.lru_cache(maxsize=16)
def cell_probabilities(law: Law, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(null probability, lower real edge) of every cell in value order: negative cells from -inf up, then
    positive cells; as indices into the counts, ``value_order()``. Cached (read-only arrays): the tensors of a
    checkpoint share a few laws, and each call evaluates the CDF at 2^17 edges."""
    r = rounding_edges(dtype)
    cdf_pos = law.cdf(r)
    cdf_neg = law.cdf(-r)
    p_pos = np.diff(cdf_pos)
    p_neg = -np.diff(cdf_neg)  # cell HALF + c holds (-r[c+1], -r[c]]
    probs = np.concatenate((p_neg[::-1], p_pos))
    lows = np.concatenate((-r[1:][::-1], r[:-1]))
    probs = np.clip(probs, 0.0, None)
    probs.flags.writeable = lows.flags.writeable = False
    return probs, lows


@functools.lru_cache(maxsize=1)
def value_order() -> np.ndarray:
    """Cell indices sorted by value: negative cells (sign bit set) from the largest magnitude, then positive.
    Cached (read-only): every shape test gathers its counts in this order."""
    order = np.concatenate((np.arange(CELLS - 1, HALF - 1, -1), np.arange(HALF)))
    order.flags.writeable = False
    return order


@functools.lru_cache(maxsize=64)
def _bins(law: Law, dtype: str, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first cell of each bin in value order, its null probability, the cells' lower edges) for ``k`` target
    bins: they depend only on the law, the dtype and k, so the tensors of a checkpoint that share a law and a
    size share them (a cumulative sum over the 2^16 cells each, the larger part of the test on a small tensor)."""
    probs, lows = cell_probabilities(law, dtype)
    probs = probs / probs.sum()
    # close a bin each time the cumulative probability passes a multiple of 1/k
    cum = np.cumsum(probs)
    edges = np.searchsorted(cum, np.arange(1, k) / k, side="left") + 1
    edges = np.unique(edges[(edges > 0) & (edges < probs.size)])
    starts = np.concatenate(([0], edges))
    p_bins = np.add.reduceat(probs, starts)
    starts.flags.writeable = p_bins.flags.writeable = False
    return starts, p_bins, lows


@functools.lru_cache(maxsize=64)
def _bin_of_cell(law: Law, dtype: str, k: int) -> np.ndarray:
    """The bin of every cell (indexed by cell, not value order) for ``_bins(law, dtype, k)``: summing counts by
    it is ``np.add.reduceat(counts[value_order()], starts)``, the same integers."""
    starts, _, _ = _bins(law, dtype, k)
    in_value_order = np.searchsorted(starts, np.arange(CELLS), side="right") - 1
    out = np.empty(CELLS, dtype=np.intp)
    out[value_order()] = in_value_order
    out.flags.writeable = False
    return out


def shape_test(law: Law, counts: np.ndarray, dtype: str) -> ShapeResult | None:
    """Pearson's chi-square of the cell counts merged into equiprobable-ish bins; None when n < 250."""
    # integer counts summed exactly, then as float64: the same numbers as summing their float64 copies
    n_int = int(counts.sum())
    k = int(min(MAX_BINS, float(n_int) // MIN_EXPECTED))
    if k < MIN_BINS:
        return None
    starts, p_bins, lows = _bins(law, dtype, k)
    return _binned_test(np.add.reduceat(counts[value_order()], starts), n_int, starts, p_bins, lows,
                        wraps_top_cell(law, dtype))


def shape_test_cells(law: Law, cells: CellCounter) -> ShapeResult | None:
    """``shape_test(law, cells.counts, cells.dtype)``, binning the kept cells directly when they are few."""
    if not cells.sparse:
        return shape_test(law, cells.counts, cells.dtype)
    n_int = cells.total
    k = int(min(MAX_BINS, float(n_int) // MIN_EXPECTED))
    if k < MIN_BINS:
        return None
    starts, p_bins, lows = _bins(law, cells.dtype, k)
    return _binned_test(cells.binned_counts(_bin_of_cell(law, cells.dtype, k), starts.size), n_int, starts, p_bins,
                        lows, wraps_top_cell(law, cells.dtype))


def _binned_test(binned: np.ndarray, n_int: int, starts: np.ndarray, p_bins: np.ndarray, lows: np.ndarray,
                 wraps: bool = False) -> ShapeResult:
    """``wraps``: the storage moves its top rounding cell onto the bottom one (``wraps_top_cell``): the two
    edge bins are tested as one."""
    return binned_tests(binned[None, :], n_int, starts, p_bins, lows, wraps)[0]


def binned_tests(binned: np.ndarray, n_int: int, starts: np.ndarray, p_bins: np.ndarray, lows: np.ndarray,
                 wraps: bool = False) -> list[ShapeResult]:
    """The chi-square test of each row of ``binned`` (2-D: the bin counts of tensors of ``n_int`` values each,
    binned alike): one tensor is one row, a group of tensors of one law and size many (grouped.py)."""
    from scipy.special import chdtrc

    n = float(n_int)
    o_bins = binned.astype(np.float64)
    expected = n * p_bins
    keep = expected > 0
    if np.any(~keep):  # a bin the null law cannot reach: merge into its neighbour (the range test owns support)
        o_bins, expected, starts = _merge_empty(o_bins, expected, starts)
    if wraps and expected.size > 2:
        o_bins = np.concatenate((o_bins[:, :1] + o_bins[:, -1:], o_bins[:, 1:-1]), axis=1)
        expected = np.concatenate(([expected[0] + expected[-1]], expected[1:-1]))
        starts = starts[:-1]
    z = (o_bins - expected) / np.sqrt(expected)
    x2 = np.sum(z * z, axis=1)
    df = int(expected.size - 1)
    worst = np.argmax(np.abs(z), axis=1)
    p = chdtrc(df, x2)
    out = []
    for row, j in enumerate(worst.tolist()):
        high = float(lows[starts[j + 1]]) if j + 1 < starts.size else math.inf
        out.append(ShapeResult(float(x2[row]), df, float(p[row]), float(lows[starts[j]]), high, float(z[row, j])))
    return out


def wraps_top_cell(law: Law, dtype: str) -> bool:
    """Whether the first and last bins are tested as one: torch's ``uniform_(a, b)`` on a bfloat16 or float16
    tensor draws in float32, rounds to nearest, and maps a value that rounds to >= the storage's b onto the
    storage's a (checked bit for bit against the float32 draw rounded so, torch 2.13, 5 bounds x 3 seeds; the
    CPU kernel is aten/src/ATen/native/cpu/DistributionTemplates.h ``uniform_kernel``): its top rounding cell
    is empty and that mass sits in the bottom cell. A float32 draw cast to the storage dtype keeps it in the top
    cell. The two cells' total is the same under both, so the edge bins are merged (one df less) and both pass;
    before, the empty top cell failed ``kaiming_uniform_`` bf16 256x512 at ~3% at alpha 0.001 (the X^2 test's
    "fewer values than the law gives above 0.1082", 7.7 sd)."""
    return law.distribution == "uniform" and dtype in ("bfloat16", "float16")


def _merge_empty(o: np.ndarray, e: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins of no expected count merged into the kept bin before them (the first kept one for leading bins):
    ``o`` holds one row of observed counts per tensor."""
    kept = e > 0
    into = np.maximum(np.cumsum(kept) - 1, 0)  # leading empty bins carry into the first kept one
    onehot = np.zeros((e.size, int(kept.sum())))
    onehot[np.arange(e.size), into] = 1.0
    merged: np.ndarray = o @ onehot  # sums of integer counts: exact
    return merged, e[kept], starts[kept]


def shape_detail(r: ShapeResult, counted: int, subset: bool) -> str:
    side = "more" if r.excess > 0 else "fewer"
    over = f"{counted} values (chunks chosen by seed)" if subset else "all values"
    if math.isinf(r.worst):
        where = f"below {r.worst_high:.4g}"
    elif math.isinf(r.worst_high):
        where = f"above {r.worst:.4g}"
    else:
        where = f"in [{r.worst:.4g}, {r.worst_high:.4g})"
    return (f"X^2 = {r.statistic:.1f} on {r.df} df over {over}, most off: {side} values than the law gives "
            f"{where} ({abs(r.excess):.1f} sd)")


def shape_summary(law: Law, cells: CellCounter) -> tuple[float, float, str] | None:
    """(X^2 / df, p, detail) for the battery, or None when the test cannot run (fewer than 250 values)."""
    r = shape_test_cells(law, cells)
    if r is None:
        return None
    return r.statistic / max(r.df, 1), r.pvalue, shape_detail(r, cells.total, cells.subset)
