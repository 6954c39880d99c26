"""Structure tests: does the tensor, seen as a matrix, look like independent draws? (docs/statistics.md §2.9)

The marginal tests (battery.py) see the values as an unordered bag: sorted rows, copied halves, tiled blocks and
low-rank matrices with the right marginal law pass them. These tests look at the arrangement:

* ``rows`` and ``cols``: homogeneity of the second moments of the rows (output units) and of the columns, by
  Bartlett's statistic on the groups' sums of squares (mean known to be 0), two-sided: rows far more alike than
  independent draws (copied, permuted from one row) fail as surely as rows of different scales. For a normal
  null ``M / C ~ chi2(G - 1)`` (Bartlett's correction C); for another law M is scaled by ``(kappa - 1) / 2``
  (Box 1953), kappa the law's kurtosis. More than ``MAX_GROUPS`` rows (columns) are grouped in consecutive runs.
* ``spectrum``: the largest singular value of the matrix (or of a seeded submatrix of whole rows, at most
  ``SPECTRUM_MAX_ELEMENTS`` values) against the random-matrix edge: for i.i.d. entries of std s on a k x l
  matrix, ``(s1^2/s^2 - mu) / sigma`` follows Tracy-Widom (beta = 1) with Johnstone's centring and scaling
  (Ma's half-integer correction); the TW1 tail is Chiani's shifted-gamma approximation. One-sided: low rank,
  copied rows or tiled blocks lift s1 above the edge. s is the submatrix's own rms, so a wrong scale is the
  ``std`` test's business, not this one's.

Row and column sums of squares accumulate in the same streaming pass as the moments (``StructureCollector``,
fed chunk by chunk with each chunk's start offset); the spectral submatrix is picked in that pass too. The
shards of a distributed tensor are fed at their global positions and the collectors merged (``share``, ``load``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .homogeneity import bartlett, bartlett_rows, dispersion, dispersion_rows, homogeneity_result, homogeneity_test

if TYPE_CHECKING:
    from .laws import Law

#: Stored rows that are exactly zero are left out of the structure and shape tests when there are at most this
#: many: padding-like, an ``nn.Embedding``'s ``padding_idx`` row (one index, zeroed by torch's reset_parameters).
#: More zero rows are not padding (rows zeroed by a bug, a mask applied to the wrong tensor): the tests see them
#: all. One more than this many are remembered, enough to tell (issue 26: with up to 1% of rows left out, 1% of
#: rows zeroed at random was caught 62% at 1000x256 and 17% at 256x64x3x3, where the row dispersion sees them).
ZERO_LINES_MAX = 1
#: At most this many groups of rows (and of columns): more rows are grouped in consecutive runs.
MAX_GROUPS = 4096
#: The spectral test's submatrix holds at most this many values (whole rows of the storage order).
SPECTRUM_MAX_ELEMENTS = 1 << 18
#: ... and at least this many rows when the tensor has them.
SPECTRUM_MIN_ROWS = 64
#: Both sides of the spectral submatrix need at least this many: Tracy-Widom is a large-matrix law.
SPECTRUM_MIN_SIDE = 16
#: Laws whose structure differs from i.i.d. draws by design: the structure tests stand aside for them.
NOT_IID = ("orthogonal", "identity", "sparse", "constant")
STRUCTURE_TESTS: tuple[str, ...] = ("rows", "cols", "spectrum")
#: Terms per float32 einsum sum before the float64 accumulation (relative error at most ~ SLAB * 2^-24).
SLAB = 4096
#: Up to this short side the top singular value comes from the dense Gram matrix, beyond it from Lanczos.
DENSE_MAX_SIDE = 128
#: Most Lanczos steps for the top singular value (converged in ~30-60 on random matrices).
LANCZOS_MAX_STEPS = 200
#: Chiani (2014): TW1 ~ Gamma(k, theta) - shift, accurate in both tails.
TW1_GAMMA = (46.446, 0.186054, 9.84801)


def matrix_view(shape: tuple[int, ...], layout: str = "torch") -> tuple[int, int, bool]:
    """``(outer, inner, rows_outer)``: the storage as an outer x inner row-major matrix, and whether the rows
    (output units) are its outer axis: torch ``(out, in, *k)`` is out x prod(rest); Keras and JAX
    ``(*k, in, out)`` are prod(rest) x out with the outputs on the inner axis. ``torch-transpose`` is read as
    stored (axis 0 are the inputs)."""
    if layout in ("keras", "jax"):
        return math.prod(shape[:-1]), shape[-1], False
    return shape[0], math.prod(shape[1:]), True


def has_structure(shape: tuple[int, ...]) -> bool:
    """Structure tests need a matrix: 2 or more dimensions, each side at least 2."""
    return len(shape) >= 2 and math.prod(shape) > 0 and shape[0] >= 2 and math.prod(shape[1:]) >= 2


@dataclass(frozen=True)
class StructureData:
    """What the structure tests need, from one pass: group sums of squares and the spectral submatrix."""

    row_sums: np.ndarray
    row_sizes: np.ndarray
    col_sums: np.ndarray
    col_sizes: np.ndarray
    rows: int
    cols: int
    matrix: np.ndarray | None
    """The spectral submatrix (float64), or None when the tensor is too thin for the test."""
    zero_lines: tuple[int, ...] = ()
    """Stored rows that are exactly zero and were left out (an embedding's ``padding_idx`` row)."""
    line_size: int = 0
    """Elements per stored row (row r holds elements r*line_size ... (r+1)*line_size - 1)."""


@dataclass(frozen=True)
class StructurePart:
    """One chunk's group sums of squares (outer and inner axes of the storage) and its element count."""

    outer: np.ndarray
    inner: np.ndarray
    count: int
    zero_lines: tuple[int, ...] = ()
    """Whole stored rows of this chunk whose squares sum to exactly zero."""
    split: tuple[tuple[int, float], ...] = ()
    """(row, sum of squares) of the stored rows this chunk holds only part of."""


def _groups(n: int) -> tuple[int, np.ndarray]:
    """Group width and the element count (in units) of each group when n units are grouped in runs."""
    width = -(-n // MAX_GROUPS)
    count = -(-n // width)
    sizes = np.full(count, width, dtype=np.int64)
    sizes[-1] = n - width * (count - 1)
    return width, sizes


def _sumsq(x: np.ndarray) -> float:
    return float(np.square(x, dtype=np.float64).sum())


def _row_sumsq(block: np.ndarray) -> np.ndarray:
    """Sums of squares of a 2-D block's rows in float64, each summed in the data's precision over at most SLAB
    terms (float32 einsum is ~5x cheaper than squaring and summing in float64)."""
    c = block.shape[1]
    if c <= SLAB:
        return np.asarray(np.einsum("ij,ij->i", block, block), dtype=np.float64)
    parts = [np.einsum("ij,ij->i", block[:, a:a + SLAB], block[:, a:a + SLAB]).astype(np.float64)[:, None]
             for a in range(0, c, SLAB)]
    sums: np.ndarray = np.concatenate(parts, axis=1).sum(axis=1)
    return sums


def _col_sumsq(block: np.ndarray) -> np.ndarray:
    """Sums of squares of a 2-D block's columns, down at most SLAB rows at a time, accumulated in float64."""
    cols = np.zeros(block.shape[1])
    for a in range(0, block.shape[0], SLAB):
        part = block[a:a + SLAB]
        cols += np.einsum("ij,ij->j", part, part)
    return cols


def _add_run(acc: np.ndarray, width: int, first: int, values: np.ndarray) -> None:
    """Add ``values`` (of units first, first+1, ...) into their groups of ``width`` consecutive units."""
    if values.size == 0:
        return
    if width == 1:
        acc[first:first + values.size] += values
        return
    offsets = np.arange((-first) % width, values.size, width)
    starts = np.concatenate(([0], offsets)) if offsets.size == 0 or offsets[0] != 0 else offsets
    sums = np.add.reduceat(values, starts).astype(np.float64)
    g0 = first // width
    acc[g0:g0 + sums.size] += sums


@dataclass(frozen=True)
class StructureShare:
    """One process's collector state for a merge across processes (a sharded tensor, engine/distributed.py)."""

    outer: np.ndarray
    inner: np.ndarray
    count: int
    zero_rows: np.ndarray
    """Stored rows whose elements seen here all square to zero (sorted)."""
    piece: int
    """Elements of each such row seen here (a shard holds the same slice of every row it touches)."""
    entries: np.ndarray
    """Flat indices into the spectral submatrix of the entries this process wrote ..."""
    values: np.ndarray
    """... and their values."""


class StructureCollector:
    """Accumulates row and column sums of squares, and the spectral submatrix, chunk by chunk.

    ``partial(start, values)`` works on one chunk (any thread) and returns its group sums; the submatrix is
    written in place (chunks cover disjoint elements). ``add`` merges a partial in the caller's thread."""

    def __init__(self, shape: tuple[int, ...], layout: str,
                 seed: np.random.SeedSequence | Callable[[], np.random.SeedSequence] | None) -> None:
        self.outer, self.inner, self.rows_outer = matrix_view(shape, layout)
        self.w_outer, self.sizes_outer = _groups(self.outer)
        self.w_inner, self.sizes_inner = _groups(self.inner)
        self.sums_outer = np.zeros(self.sizes_outer.size)
        self.sums_inner = np.zeros(self.sizes_inner.size)
        k = min(self.outer, max(SPECTRUM_MIN_ROWS, SPECTRUM_MAX_ELEMENTS // self.inner))
        l_ = min(self.inner, SPECTRUM_MAX_ELEMENTS // k)
        # the generator (and a seed given as a callable) only when rows or columns are picked: most tensors of a
        # checkpoint are small enough to be taken whole, and a generator costs as much as their spectrum
        rng = None if k == self.outer and l_ == self.inner else np.random.default_rng(
            seed() if callable(seed) else seed)
        self.spec_rows: np.ndarray = np.arange(self.outer) if rng is None or k == self.outer else np.sort(
            rng.choice(self.outer, size=k, replace=False))
        self.spec_cols: np.ndarray | None = None if rng is None or l_ == self.inner else np.sort(
            rng.choice(self.inner, size=l_, replace=False))
        self.matrix: np.ndarray | None = np.zeros((k, l_)) if min(k, l_) >= SPECTRUM_MIN_SIDE else None
        self.seen = 0
        self.zero_lines: list[int] = []
        self.zero_limit = ZERO_LINES_MAX
        """Most zero rows left out; ``zero_limit + 1`` are remembered (more means: not padding rows)."""
        self.split: dict[int, float] = {}

    def partial(self, start: int, values: np.ndarray) -> StructurePart:
        x = np.asarray(values).reshape(-1)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        sq = x  # squared where summed: einsum forms x*x without writing a squared copy (4x cheaper)
        outer = np.zeros_like(self.sums_outer)
        inner = np.zeros_like(self.sums_inner)
        c = self.inner
        row, offset = divmod(start, c)
        pos = 0
        split: list[tuple[int, float]] = []
        zero: tuple[int, ...] = ()
        if offset or x.size < c:
            head = min(c - offset, x.size)
            split.append((row, _sumsq(sq[:head])))
            _add_run(outer, self.w_outer, row, np.array([split[-1][1]]))
            _add_run(inner, self.w_inner, offset, np.square(sq[:head], dtype=np.float64))
            self._pick(row, offset, x[:head])
            pos, row = head, row + 1
        full = (x.size - pos) // c
        if full:
            block = sq[pos:pos + full * c].reshape(full, c)
            rows = _row_sumsq(block)
            _add_run(outer, self.w_outer, row, rows)
            zero = tuple(int(i) + row for i in np.flatnonzero(rows == 0)[:self.zero_limit + 1])
            _add_run(inner, self.w_inner, 0, _col_sumsq(block))
            self._pick_block(row, x[pos:pos + full * c].reshape(full, c))
            pos, row = pos + full * c, row + full
        if pos < x.size:
            split.append((row, _sumsq(sq[pos:])))
            _add_run(outer, self.w_outer, row, np.array([split[-1][1]]))
            _add_run(inner, self.w_inner, 0, np.square(sq[pos:], dtype=np.float64))
            self._pick(row, 0, x[pos:])
        return StructurePart(outer, inner, int(x.size), zero, tuple(split))

    def partial_rows(self, rows: np.ndarray, cols: np.ndarray, block: np.ndarray) -> StructurePart:
        """``partial`` for a block of whole rows of a shard: ``block[i, j]`` is element (``rows[i]``, ``cols[j]``)
        of the outer x inner matrix, both index arrays sorted (a shard of a distributed tensor holds the same
        columns of each row it touches). One pass for the block, however short its rows: feeding each row
        through ``partial`` costs ~20 us of overhead per row. Rows not whole (fewer columns than ``inner``)
        go to ``split`` only when they are zero, the one thing ``split`` is read for."""
        x = np.asarray(block)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        c = x.shape[1]
        outer = np.zeros_like(self.sums_outer)
        inner = np.zeros_like(self.sums_inner)
        sums = _row_sumsq(x)
        outer += np.bincount(rows // self.w_outer, weights=sums, minlength=outer.size)
        zero_rows = rows[sums == 0]
        whole = c == self.inner
        zero = tuple(int(r) for r in zero_rows[:self.zero_limit + 1]) if whole else ()
        split = () if whole else tuple((int(r), 0.0) for r in zero_rows)
        inner += np.bincount(cols // self.w_inner, weights=_col_sumsq(x), minlength=inner.size)
        if self.matrix is not None:
            i = np.minimum(np.searchsorted(self.spec_rows, rows), self.spec_rows.size - 1)
            picked = self.spec_rows[i] == rows
            if self.spec_cols is None:
                self.matrix[np.ix_(i[picked], cols)] = x[picked]
            else:
                j = np.minimum(np.searchsorted(self.spec_cols, cols), self.spec_cols.size - 1)
                taken = self.spec_cols[j] == cols
                self.matrix[np.ix_(i[picked], j[taken])] = x[np.ix_(picked, taken)]
        return StructurePart(outer, inner, int(x.size), zero, split)

    def _pick(self, row: int, first_col: int, seg: np.ndarray) -> None:
        """A partial row (columns first_col...) into the submatrix, if the row was picked."""
        if self.matrix is None:
            return
        i = int(np.searchsorted(self.spec_rows, row))
        if i >= self.spec_rows.size or self.spec_rows[i] != row:
            return
        with np.errstate(invalid="ignore"):  # signalling NaNs (see _pick_block)
            if self.spec_cols is None:
                self.matrix[i, first_col:first_col + seg.size] = seg
                return
            j0, j1 = np.searchsorted(self.spec_cols, (first_col, first_col + seg.size))
            self.matrix[i, j0:j1] = seg[self.spec_cols[j0:j1] - first_col]

    def _pick_block(self, row: int, block: np.ndarray) -> None:
        if self.matrix is None:
            return
        i0, i1 = np.searchsorted(self.spec_rows, (row, row + block.shape[0]))
        if i0 == i1:
            return
        picked = block[self.spec_rows[i0:i1] - row]
        with np.errstate(invalid="ignore"):  # signalling NaNs of uninitialized memory widen to NaN, silently
            self.matrix[i0:i1] = picked if self.spec_cols is None else picked[:, self.spec_cols]

    def add(self, part: object) -> None:
        assert isinstance(part, StructurePart)
        self.sums_outer += part.outer
        self.sums_inner += part.inner
        self.seen += part.count
        if len(self.zero_lines) <= self.zero_limit:
            self.zero_lines.extend(part.zero_lines)
        for row, total in part.split:
            self.split[row] = self.split.get(row, 0.0) + total

    def _zero_rows(self) -> list[int]:
        """Stored rows seen to be exactly zero: whole rows of a chunk, and rows split across chunks summing to 0."""
        return sorted({*self.zero_lines, *(r for r, total in self.split.items() if total == 0)})

    def matrix_positions(self) -> np.ndarray | None:
        """Flat storage positions of the spectral submatrix's entries, row-major (so sorted); None without one."""
        if self.matrix is None:
            return None
        cols = np.arange(self.inner, dtype=np.int64) if self.spec_cols is None else self.spec_cols.astype(np.int64)
        return (self.spec_rows.astype(np.int64)[:, None] * self.inner + cols[None, :]).reshape(-1)

    def share(self, entries: np.ndarray | None, piece: int) -> StructureShare:
        """What this collector saw, to be merged with the other processes' (``load``): the group sums, the
        submatrix entries it wrote (``entries``: flat indices into the submatrix) and its stored rows whose
        values it saw (``piece`` of each) all square to zero."""
        zero = self._zero_rows()
        picked = np.empty(0, np.int64) if entries is None or self.matrix is None else entries
        values = self.matrix.reshape(-1)[picked] if self.matrix is not None else np.empty(0)
        return StructureShare(self.sums_outer, self.sums_inner, self.seen, np.asarray(zero, dtype=np.int64),
                              piece, picked, values)

    def load(self, shares: list[StructureShare]) -> None:
        """Replace this collector's state by the merge of ``shares`` in order: group sums added, submatrix entries
        placed, and a stored row counted as zero when pieces seen as zero cover all its ``inner`` elements."""
        self.sums_outer = np.zeros_like(self.sums_outer)
        self.sums_inner = np.zeros_like(self.sums_inner)
        self.seen = 0
        if self.matrix is not None:
            self.matrix = np.zeros_like(self.matrix)
        covered: dict[int, int] = {}
        for s in shares:
            self.sums_outer += s.outer
            self.sums_inner += s.inner
            self.seen += s.count
            if self.matrix is not None:
                self.matrix.reshape(-1)[s.entries] = s.values
            for row in s.zero_rows.tolist():
                covered[row] = covered.get(row, 0) + s.piece
        self.zero_lines = sorted(r for r, n in covered.items() if n >= self.inner)
        self.split = {}

    def data(self) -> StructureData | None:
        """The collected data, or None unless every element was seen exactly once (a scanner that ignored the
        collector leaves it empty)."""
        if self.seen != self.outer * self.inner:
            return None
        zero = self._zero_rows()
        if not 0 < len(zero) <= self.zero_limit:
            zero = []  # none, or too many to be padding rows: then the tests must see them
        n_outer = self.outer - len(zero)
        outer_sizes = self.sizes_outer * self.inner
        np.subtract.at(outer_sizes, np.asarray(zero, dtype=np.int64) // self.w_outer, self.inner)
        keep = outer_sizes > 0
        outer = (self.sums_outer[keep], outer_sizes[keep])
        inner = (self.sums_inner, self.sizes_inner * n_outer)
        (rs, rn), (cs, cn) = (outer, inner) if self.rows_outer else (inner, outer)
        rows, cols = (n_outer, self.inner) if self.rows_outer else (self.inner, n_outer)
        matrix = self.matrix
        if matrix is not None and zero:
            matrix = matrix[~np.isin(self.spec_rows, zero)]
        return StructureData(rs, rn, cs, cn, rows, cols, matrix, tuple(zero), self.inner)


def collect_array(array: Any, layout: str = "torch", seed: np.random.SeedSequence | None = None
                  ) -> StructureData:
    """The structure data of an in-memory array (tests, benchmarks): one chunk."""
    x = np.asarray(array)
    collector = StructureCollector(tuple(x.shape), layout, seed)
    collector.add(collector.partial(0, x.reshape(-1)))
    data = collector.data()
    assert data is not None
    return data


# --------------------------------------------------------------------------- the tests

__all__ = ["bartlett", "bartlett_rows", "dispersion", "dispersion_rows", "homogeneity_result", "homogeneity_test"]


def tw1_sf(s: float) -> float:
    """P(TW1 > s) by Chiani's shifted gamma."""
    from scipy.special import gammaincc

    k, theta, shift = TW1_GAMMA
    return 1.0 if s <= -shift else float(gammaincc(k, (s + shift) / theta))


def top_singular_value(matrix: np.ndarray, steps: int = LANCZOS_MAX_STEPS, tol: float = 1e-7) -> float:
    """Largest singular value by Lanczos on M^T M (or M M^T, the short side) with full reorthogonalization.

    A dense eigensolver costs O(k^3) (110 ms for 512 x 512 here); Lanczos needs a few dozen products with M:
    its Ritz value converges to the top eigenvalue from below (a conservative test) and stops when it moves
    less than ``tol`` relative. The start vector is fixed, so the result is deterministic."""
    m = matrix if matrix.shape[0] >= matrix.shape[1] else matrix.T  # M^T M is the short side's Gram
    dim = m.shape[1]
    if dim <= DENSE_MAX_SIDE:  # a small Gram matrix and a dense eigensolver beat Lanczos (64 x 4096: 3 vs 14 ms)
        return float(top_singular_values_dense(matrix[None])[0])
    steps = min(steps, dim)
    basis = np.zeros((steps + 1, dim))
    v = np.random.default_rng(0).standard_normal(dim)
    basis[0] = v / np.linalg.norm(v)
    alphas: list[float] = []
    betas: list[float] = []
    top = 0.0
    for j in range(steps):
        w = m.T @ (m @ basis[j])
        alphas.append(float(basis[j] @ w))
        w -= basis[: j + 1].T @ (basis[: j + 1] @ w)  # full reorthogonalization, twice is enough
        w -= basis[: j + 1].T @ (basis[: j + 1] @ w)
        beta = float(np.linalg.norm(w))
        tri = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        new = float(np.linalg.eigvalsh(tri)[-1])
        if abs(new - top) <= tol * new or beta <= 1e-12 * max(new, 1e-300):
            top = new
            break
        top = new
        betas.append(beta)
        basis[j + 1] = w / beta
    return math.sqrt(max(0.0, top))


def spectrum_test(matrix: np.ndarray) -> tuple[float, float, str]:
    """The ``spectrum`` test: (s1 / edge, one-sided p, detail in words)."""
    k, l_ = matrix.shape
    energy = float(np.sum(matrix * matrix))
    if energy <= 0:
        return 0.0, 1.0, "all-zero submatrix"
    return spectrum_result(k, l_, energy, top_singular_value(matrix))


def top_singular_values_dense(matrices: np.ndarray) -> np.ndarray:
    """``top_singular_value`` of each matrix of a stack (G, k, l) whose short side is at most ``DENSE_MAX_SIDE``:
    the Gram matrices and their eigenvalues in one batched call each, as ``top_singular_value`` takes them one by
    one."""
    m = matrices if matrices.shape[1] >= matrices.shape[2] else np.swapaxes(matrices, 1, 2)
    top = np.linalg.eigvalsh(np.swapaxes(m, 1, 2) @ m)[:, -1]
    out: np.ndarray = np.sqrt(np.maximum(0.0, top))
    return out


def spectrum_result(k: int, l_: int, energy: float, s1: float) -> tuple[float, float, str]:
    """(s1 / edge, one-sided p, detail) of the spectrum test on a k x l matrix of ``energy`` (sum of squares > 0)
    whose top singular value is ``s1``."""
    a, b = math.sqrt(k - 0.5), math.sqrt(l_ - 0.5)
    mu = (a + b) ** 2
    sigma = (a + b) * (1.0 / a + 1.0 / b) ** (1.0 / 3.0)
    # the scale from the energy outside the top direction: the plain rms shares s1's fluctuation, which
    # shrank the statistic's spread (3.2% rejections at a nominal 5% on 64 x 27; 3.9% this way)
    var = max(energy - s1 * s1, 0.0) / max(k * l_ - mu, 1.0)
    if var <= 0:
        return math.inf, 0.0, "rank-one matrix: every value is in one singular direction (low rank or copied)"
    z = (s1 * s1 / var - mu) / sigma
    p = tw1_sf(z)
    ratio = s1 / (math.sqrt(energy / (k * l_)) * (math.sqrt(k) + math.sqrt(l_)))  # shown: against the plain rms
    numbers = f"s1 = {ratio:.4f}x the edge (sqrt(r)+sqrt(c))*std on {k}x{l_}, Tracy-Widom z = {z:+.2f}"
    if p < 0.01:
        return ratio, p, f"top singular value {ratio:.3g}x above the random-matrix edge: low rank, copied " \
                         f"rows or tiled blocks ({numbers})"
    return ratio, p, f"top singular value at the random-matrix edge ({numbers})"


def spectrum_not_run(rows: int, cols: int) -> str:
    """The note of a spectrum test left out of a matrix with a side under ``SPECTRUM_MIN_SIDE``."""
    return (f"spectrum test not run: a {rows}x{cols} matrix is too thin for the random-matrix edge (each side "
            f"needs >= {SPECTRUM_MIN_SIDE}).")


def structure_tests(data: StructureData, tests: tuple[str, ...], moments: tuple[float, float, float] | None
                    ) -> tuple[list[tuple[str, float, float, str]], list[str]]:
    """The requested structure tests as (name, statistic, p, detail) rows, and notes on those not run."""
    out: list[tuple[str, float, float, str]] = []
    notes: list[str] = []
    if "rows" in tests and data.row_sums.size >= 2:
        out.append(("rows", *homogeneity_test("rows", data.row_sums, data.row_sizes, data.rows, moments)))
    if "cols" in tests and data.col_sums.size >= 2:
        out.append(("cols", *homogeneity_test("cols", data.col_sums, data.col_sizes, data.cols, moments)))
    if "spectrum" in tests:
        if data.matrix is None:
            notes.append(spectrum_not_run(data.rows, data.cols))
        else:
            out.append(("spectrum", *spectrum_test(data.matrix)))
    return out, notes


def own_moments(sample: np.ndarray) -> tuple[float, float, float] | None:
    """The data's own standardized (mu4, mu6, mu8) about zero, from the subsample (None when it is empty or
    all zero): the dispersion of the rows' sums of squares under an i.i.d. arrangement depends on these, whatever
    the marginal law is."""
    x2 = np.square(np.asarray(sample, dtype=np.float64))
    m2 = float(x2.mean()) if x2.size else 0.0
    if not m2 > 0 or not math.isfinite(m2):
        return None
    z2 = x2 / m2
    return float(np.mean(z2**2)), float(np.mean(z2**3)), float(np.mean(z2**4))


def run_structure(law: Law | str, data: StructureData, tests: tuple[str, ...],
                  data_moments: tuple[float, float, float] | None = None
                  ) -> tuple[list[tuple[str, float, float, str]], list[str]]:
    """The structure tests for a null law: they stand aside, with a note, for laws that are not i.i.d. draws by
    design (orthogonal, identity, sparse, constant), for laws not centred on zero (the sums of squares are taken
    about zero), and for laws whose moments are not known. ``data_moments`` (``own_moments``), given when the
    data's marginal shape is not the null's, replace the law's: the rows and columns are then judged for their
    arrangement only, with the data's own fourth moment (a wrong family is the marginal tests' to report)."""
    from .laws import Law

    law = Law(law, 1.0) if isinstance(law, str) else law
    distribution = law.distribution
    if distribution in NOT_IID:
        return [], [f"structure tests not run: a {distribution} law is not i.i.d. draws by design."]
    if not (law.symmetric and law.center == 0.0):
        return [], [f"structure tests not run: the {distribution} law is not centred on zero."]
    try:
        m = law.standardized_moments()
    except ValueError:
        return [], [f"structure tests not run: no null for the {distribution} law."]
    moments = None if distribution == "normal" else (m[1], m[3], m[5])
    if data_moments is not None:
        moments = data_moments
    rows, notes = structure_tests(data, tests, moments)
    if data.zero_lines:
        k = len(data.zero_lines)
        notes.append(f"{k} stored row{'s' if k > 1 else ''} exactly zero (row {data.zero_lines[0]}: an embedding's "
                     "padding_idx?) left out of the structure and shape tests.")
    return rows, notes
