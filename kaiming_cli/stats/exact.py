"""Tests of the laws that are not a list of iid values: orthogonal, identity, sparse, constant.

Each is deterministic under its null law (no p-value in between: 1 when it holds, 0 when it does not), so its
false-alarm rate is 0 by construction and it adds nothing to the battery's Bonferroni count of random tests.

* ``orthogonal``: the matrix view W (rows = shape[0], cols = the rest for torch; rows = the rest, cols =
  shape[-1] for Keras; rows = the other axes in order, cols = shape[column_axis] for JAX: ``as_matrix``) has
  orthonormal rows or columns, whichever are fewer, times the gain:
  ``max|W W^T / g^2 - I| <= tol`` (the short side's Gram matrix). ``orthogonal_tolerance`` derives ``tol`` from
  the dtype's unit roundoff u and the long side k: storing each entry rounds it (and the gain product rounds it
  again), |dW_ij| <= 2u |W_ij|, which moves each Gram entry by at most 4u + 4u^2 (Cauchy-Schwarz on unit rows),
  and the float32 gain by 2 * 2^-24; the QR itself loses a few units of its compute precision. The whole
  deviation of torch 2.13's ``orthogonal_`` measured up to 15.3 * 2^-24 (3000 seeds for each of 2x2 ... 64x64),
  flat in k (docs/statistics.md §11.3). The bound is 8 u_store + 2 * 2^-24 + 8 sqrt(k) 2^-24: the QR runs in
  float32 or better (torch and JAX have no half-precision QR on CPU, Keras factors in float32, and a float64
  tensor may hold a float32 QR cast up). It is >= 2x the worst case measured, and still ~1e-5 for k = 1024 in
  float32, far below any real defect (gain 1.1 moves the Gram diagonal by 0.21).
* ``exact`` (identity): every entry equals the identity's (``eye_``: gain on the diagonal; ``dirac_(groups)``: gain
  at [g * out_per_group + d, d, centre...] for d < min(out_per_group, in); Keras ``Identity``: gain * eye)
  after rounding to the dtype; (constant): min and max both equal the value rounded to the dtype.
* ``zeros`` (sparse): each column holds exactly ceil(sparsity * rows) zeros, as torch's ``sparse_`` writes them
  (normal draws are never exactly 0 in float32 in practice: P ~ 2^-30 per value).

Large Gram matrices are checked on a seeded subset of the short side's rows: every checked entry is held to the
same bound, so the false-alarm rate stays 0; only the power against a defect confined to unchecked rows drops.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .laws import UNIT_ROUNDOFF, Law, constant_matches, round_to_dtype
from .summary import Summary, summarize

#: The QR's own orthogonality loss per sqrt(k), in units of its compute precision (2x the measured worst).
ORTHO_QR_C = 8.0
#: The storage part, in units of the storage precision: 4 derived + margin for the gain product.
ORTHO_STORE_C = 8.0
#: Most multiply-adds spent on a Gram matrix: beyond, a seeded subset of rows is checked (~1 s on one core).
GRAM_MAX_FLOPS = 1 << 33
FLOAT32_U = 2.0**-24


class StructureResult(NamedTuple):
    name: str
    statistic: float
    passed: bool
    detail: str


def orthogonal_tolerance(dtype: str, k: int) -> float:
    """Largest |W W^T / g^2 - I| entry a correct orthogonal init stored in ``dtype`` can show (see module doc)."""
    u_store = UNIT_ROUNDOFF.get(dtype, FLOAT32_U)
    u_compute = FLOAT32_U  # the QR: float32 (or better) everywhere; torch cannot factor in half precision
    return ORTHO_STORE_C * u_store + 2 * FLOAT32_U + ORTHO_QR_C * math.sqrt(max(k, 1)) * u_compute


def as_matrix(law: Law, values: np.ndarray) -> np.ndarray:
    """The (rows, cols) matrix view of a tensor's values (C order): ``law.axis`` moved to the ``law.side`` and
    the other axes flattened in order, the inverse of JAX's ``moveaxis`` after its QR (a free reshape when the
    axis is already first for rows or last for columns, as torch's and Keras's are)."""
    r, c = law.rows_cols
    shape = law.shape or (r * c,)
    if len(shape) < 2:
        return np.asarray(values).reshape(r, c)
    t = np.asarray(values).reshape(shape)
    return np.moveaxis(t, law.axis, 0 if law.side == "rows" else -1).reshape(r, c)


def from_matrix(law: Law, matrix: np.ndarray) -> np.ndarray:
    """The tensor's values (C order, flat) whose matrix view (``as_matrix``) is ``matrix``."""
    shape = law.shape or (matrix.size,)
    if len(shape) < 2:
        return matrix.reshape(-1)
    other = tuple(s for i, s in enumerate(shape) if i != law.axis)
    if law.side == "rows":
        t = np.moveaxis(matrix.reshape((shape[law.axis], *other)), 0, law.axis)
    else:
        t = np.moveaxis(matrix.reshape((*other, shape[law.axis])), -1, law.axis)
    return np.ascontiguousarray(t).reshape(-1)


def orthogonal_test(law: Law, values: np.ndarray, dtype: str, seed: int = 0) -> StructureResult:
    """max|W W^T / g^2 - I| over the short side against ``orthogonal_tolerance``.

    Works on a view of ``values`` and converts only the rows it checks to float64: memory stays at the
    checked rows, not a float64 copy of the whole tensor."""
    w = as_matrix(law, values)
    if w.shape[0] > w.shape[1]:
        w = w.T
    short, k = w.shape
    g = law.gain if law.gain is not None else 1.0
    tol = orthogonal_tolerance(dtype, k)
    rows = np.arange(short)
    budget_rows = max(1, int(math.isqrt(max(GRAM_MAX_FLOPS // max(k, 1), 1))))
    subset = short > budget_rows
    if subset:
        rng = np.random.default_rng(np.random.SeedSequence([seed, short, k]))
        rows = np.sort(rng.choice(short, size=budget_rows, replace=False))
    sub = w[rows].astype(np.float64) / g
    if not np.isfinite(sub).all():
        return StructureResult("orthogonal", math.inf, False, "non-finite values: not orthogonal")
    gram = sub @ sub.T
    gram[np.diag_indices_from(gram)] -= 1.0
    dev = float(np.abs(gram).max())
    where = np.unravel_index(int(np.argmax(np.abs(gram))), gram.shape)
    return _orthogonal_result(law, dev, (int(rows[where[0]]), int(rows[where[1]])), len(rows) if subset else None,
                              short, tol, dtype)


def _orthogonal_result(law: Law, dev: float, at: tuple[int, int], checked: int | None, short: int, tol: float,
                       dtype: str) -> StructureResult:
    """The orthogonal test's verdict and words: the largest deviation ``dev`` at ``at``, over ``checked`` of the
    short side's ``short`` lines (None: all of them)."""
    g = law.gain if law.gain is not None else 1.0
    side = "rows" if law.rows_cols[0] <= law.rows_cols[1] else "columns"
    what = f"{checked} of {short} {side}" if checked is not None else f"all {short} {side}"
    detail = (f"max|W W^T/g^2 - I| = {dev:.3g} at ({at[0]}, {at[1]}), bound {tol:.3g} ({what} of the "
              f"{law.rows_cols[0]}x{law.rows_cols[1]} view, gain {g:g}, {dtype})")
    return StructureResult("orthogonal", dev, dev <= tol, detail)


def orthogonal_tests(laws: list[Law], matrices: np.ndarray, dtype: str) -> list[StructureResult]:
    """``orthogonal_test`` of each (rows, cols) matrix of a stack (G, rows, cols), each with its own law (gain), when
    every Gram matrix is checked whole: one batched product and reduction for all, the same numbers (identify's
    group path fits the orthogonal family to every tensor of a checkpoint)."""
    g_count, r, c = matrices.shape
    w = matrices if r <= c else np.swapaxes(matrices, 1, 2)
    short, k = w.shape[1:]
    assert short <= max(1, int(math.isqrt(max(GRAM_MAX_FLOPS // max(k, 1), 1)))), "a subset: use orthogonal_test"
    gains = np.array([law.gain if law.gain is not None else 1.0 for law in laws])
    sub = w.astype(np.float64) / gains[:, None, None]
    finite = np.isfinite(sub).reshape(g_count, -1).all(axis=1)
    gram = sub @ np.swapaxes(sub, 1, 2)
    idx = np.arange(short)
    gram[:, idx, idx] -= 1.0
    magnitude = np.abs(gram).reshape(g_count, -1)
    devs, where = magnitude.max(axis=1).tolist(), magnitude.argmax(axis=1).tolist()
    tol = orthogonal_tolerance(dtype, k)
    return [_orthogonal_result(law, dev, divmod(at, short), None, short, tol, dtype) if ok else
            StructureResult("orthogonal", math.inf, False, "non-finite values: not orthogonal")
            for law, dev, at, ok in zip(laws, devs, where, finite.tolist(), strict=True)]


def identity_expected(law: Law) -> np.ndarray:
    """The exact tensor ``eye_``/``dirac_(groups)``/Keras ``Identity`` writes (float64, before rounding)."""
    shape = law.shape or ()
    g = law.gain if law.gain is not None else 1.0
    out = np.zeros(shape, dtype=np.float64)
    if len(shape) == 2:
        k = min(shape)
        out[np.arange(k), np.arange(k)] = g
        return out
    per_group = shape[0] // law.groups
    centre = tuple(s // 2 for s in shape[2:])
    for grp in range(law.groups):
        for d in range(min(per_group, shape[1])):
            out[(grp * per_group + d, d, *centre)] = g
    return out


def identity_positions(law: Law) -> np.ndarray:
    """Flat (C order) indices of the identity's non-zero entries, in the order ``identity_expected`` sets them."""
    shape = law.shape or ()
    if len(shape) == 2:
        k = np.arange(min(shape))
        return np.asarray(k * shape[1] + k, dtype=np.int64)
    per_group = shape[0] // law.groups
    d = np.arange(min(per_group, shape[1]))
    out_idx = (np.arange(law.groups)[:, None] * per_group + d[None, :]).reshape(-1)
    in_idx = np.tile(d, law.groups)
    centre = [np.full(out_idx.size, s // 2) for s in shape[2:]]
    return np.asarray(np.ravel_multi_index((out_idx, in_idx, *centre), shape), dtype=np.int64)


def exact_identity_test(law: Law, values: np.ndarray, dtype: str) -> StructureResult:
    """Every entry is the identity's: the gain (as stored in ``dtype``) at its positions, and exactly that many
    non-zeros in all (so every other entry is 0). No dense expected tensor is built."""
    flat = np.asarray(values).reshape(-1)
    g = law.gain if law.gain is not None else 1.0
    pos = identity_positions(law)
    at = flat[pos].astype(np.float64)
    ok_at = (at == round_to_dtype(g, dtype)) | (at == g) | \
        (np.abs(at - g) <= UNIT_ROUNDOFF.get(dtype, 0.0) * abs(g))
    if g == 0:
        ok_at = at == 0
    expected_nonzero = pos.size if g != 0 else 0
    nonzero = int(np.count_nonzero(flat))
    bad_at = int(pos.size - np.count_nonzero(ok_at))
    if bad_at == 0 and nonzero == expected_nonzero and np.isfinite(at).all():
        return StructureResult("exact", 0.0, True, f"all {flat.size} values are the identity's (gain {g:g}, "
                                                   f"{pos.size} non-zero)")
    shape = law.shape or (flat.size,)
    if bad_at:
        first = tuple(int(v) for v in np.unravel_index(int(pos[np.flatnonzero(~ok_at)[0]]), shape))
        return StructureResult("exact", float(bad_at), False,
                               f"{bad_at} of the identity's {pos.size} entries are not {g:g}; first at {first}: "
                               f"{float(flat[np.ravel_multi_index(first, shape)]):.6g}")
    return StructureResult("exact", float(nonzero - expected_nonzero), False,
                           f"{nonzero} non-zero values where the identity (gain {g:g}) has {expected_nonzero}")


def constant_test(law: Law, s: Summary, dtype: str) -> StructureResult:
    value = law.value if law.value is not None else 0.0
    stored = round_to_dtype(value, dtype)
    bad = s.n_nan + s.n_inf
    if bad == 0 and s.n > 0 and constant_matches(s.min, s.max, value, dtype):
        return StructureResult("exact", 0.0, True, f"all {s.n} values equal {value:g} (stored as {stored:.9g})")
    if bad:
        return StructureResult("exact", float(bad), False,
                               f"{s.n_nan} NaN and {s.n_inf} infinite values; expected every value to equal {value:g}")
    return StructureResult("exact", float(max(abs(s.min - stored), abs(s.max - stored))), False,
                           f"values span [{s.min:.9g}, {s.max:.9g}]; expected every value to equal {value:g} "
                           f"(stored as {stored:.9g} in {dtype})")


def zeros_test(law: Law, values: np.ndarray) -> StructureResult:
    """Each column's exact zero count against ceil(sparsity * rows)."""
    w = as_matrix(law, values)
    expected = law.zeros_per_column
    counts = np.count_nonzero(w == 0, axis=0)
    wrong = np.flatnonzero(counts != expected)
    if wrong.size == 0:
        return StructureResult("zeros", 0.0, True,
                               f"every one of {w.shape[1]} columns has exactly {expected} zeros of {w.shape[0]}")
    col = int(wrong[0])
    return StructureResult("zeros", float(wrong.size), False,
                           f"{wrong.size} of {w.shape[1]} columns do not have exactly {expected} zeros; "
                           f"column {col} has {int(counts[col])}")


def nonzero_summary(s: Summary, n_zeros: int) -> Summary:
    """The summary of the non-zero values, from the whole tensor's and the number of zeros: zeros add nothing
    to the power sums, so the sums over the non-zeros are the whole tensor's (exact, no second pass)."""
    n = s.n - n_zeros
    if n <= 0:
        return Summary(0, 0.0, 0.0, 0.0, 0.0, math.inf, -math.inf, s.n_nan, s.n_inf)
    mu = s.mean
    # raw power sums of the whole tensor
    p1 = s.n * mu
    p2 = s.m2 + s.n * mu**2
    p3 = s.m3 + 3 * mu * s.m2 + s.n * mu**3
    p4 = s.m4 + 4 * mu * s.m3 + 6 * mu**2 * s.m2 + s.n * mu**4
    m = p1 / n
    m2 = max(0.0, p2 - n * m**2)
    m3 = p3 - 3 * m * p2 + 2 * n * m**3
    m4 = max(0.0, p4 - 4 * m * p3 + 6 * m**2 * p2 - 3 * n * m**4)
    return Summary(n, m, m2, m3, m4, s.min, s.max, s.n_nan, s.n_inf)


def nonzero_values_summary(values: np.ndarray) -> Summary:
    """Exact summary of the non-zero values (when the whole tensor is at hand)."""
    x = np.asarray(values).reshape(-1)
    return summarize(x[x != 0])
