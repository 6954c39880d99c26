"""Mergeable one-pass summaries of a tensor, built chunk by chunk in float64.

A ``Summary`` holds the count, mean, central moment sums M2..M4 and extremes of the finite
values, plus how many values were NaN or infinite. Chunks are summarised independently and
merged with the pairwise update of Chan et al. / Pebay (2008), so memory is one chunk per worker
whatever the tensor size, and the result does not depend on how many workers ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Sufficient statistics of the finite values seen so far."""

    n: int
    mean: float
    m2: float
    """Sum of squared deviations from the mean."""
    m3: float
    m4: float
    min: float
    max: float
    n_nan: int = 0
    n_inf: int = 0

    @property
    def sumsq(self) -> float:
        """Sum of x^2 (the mean-known statistic S of the variance test)."""
        return self.m2 + self.n * self.mean * self.mean

    @property
    def max_abs(self) -> float:
        return max(abs(self.min), abs(self.max)) if self.n else math.nan

    @property
    def std(self) -> float:
        """Sample std about the sample mean (n - 1 in the denominator)."""
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else math.nan

    @property
    def rms(self) -> float:
        """Root mean square about 0: the std estimate when the mean is known to be 0."""
        return math.sqrt(self.sumsq / self.n) if self.n else math.nan

    @property
    def skewness(self) -> float:
        scale = math.pow(self.m2, 1.5) if self.n >= 2 else 0.0
        if scale == 0:  # no spread, or values so small (~1e-160) that m2^1.5 underflows
            return math.nan
        return math.sqrt(self.n) * self.m3 / scale

    @property
    def excess_kurtosis(self) -> float:
        """Biased g2 = m4/m2^2 - 3, the moment estimator the kurtosis tests use."""
        if self.n < 2 or self.m2 * self.m2 == 0:  # no spread, or values so small (~1e-160) that m2^2 underflows
            return math.nan
        return self.n * self.m4 / (self.m2 * self.m2) - 3.0


EMPTY = Summary(n=0, mean=0.0, m2=0.0, m3=0.0, m4=0.0, min=math.inf, max=-math.inf)


def merge(a: Summary, b: Summary) -> Summary:
    """Combine two disjoint summaries exactly (Pebay 2008, eqs. 2.1-2.3)."""
    if a.n == 0:
        return Summary(b.n, b.mean, b.m2, b.m3, b.m4, b.min, b.max, a.n_nan + b.n_nan, a.n_inf + b.n_inf)
    if b.n == 0:
        return Summary(a.n, a.mean, a.m2, a.m3, a.m4, a.min, a.max, a.n_nan + b.n_nan, a.n_inf + b.n_inf)
    na, nb = float(a.n), float(b.n)
    n = na + nb
    delta = b.mean - a.mean
    d_n = delta / n
    mean = a.mean + d_n * nb
    m2 = a.m2 + b.m2 + delta * d_n * na * nb
    m3 = (
        a.m3 + b.m3
        + delta * d_n * d_n * na * nb * (na - nb)
        + 3.0 * d_n * (na * b.m2 - nb * a.m2)
    )
    m4 = (
        a.m4 + b.m4
        + delta * d_n**3 * na * nb * (na * na - na * nb + nb * nb)
        + 6.0 * d_n * d_n * (na * na * b.m2 + nb * nb * a.m2)
        + 4.0 * d_n * (na * b.m3 - nb * a.m3)
    )
    return Summary(
        n=a.n + b.n, mean=mean, m2=m2, m3=m3, m4=m4,
        min=min(a.min, b.min), max=max(a.max, b.max),
        n_nan=a.n_nan + b.n_nan, n_inf=a.n_inf + b.n_inf,
    )


#: Values per inner block: small enough that the float64 temporaries stay in cache.
BLOCK = 1 << 16


def summarize(chunk: np.ndarray) -> Summary:
    """Summary of one chunk; non-finite values are counted and left out of the moments.

    Power sums of d = x - c (pivot c from the data, so shifted data loses no precision) are taken
    over cache-sized blocks and accumulated in float64 across blocks. float32 data is worked in
    float32 within a block, the sums as dot products (BLAS sdot: at most ~7e-7 relative, measured in
    docs/statistics.md §9, far below any test's resolution; 2.2x faster than squaring and summing);
    anything else in float64.
    """
    x = np.asarray(chunk).reshape(-1)
    if x.size == 0:
        return EMPTY
    if x.dtype == np.float32:
        s = _power_summary(x, np.float32)
        if s is not None:
            return s
    s = _power_summary(x, np.float64)  # float64 data, integers, or float32 overflowing x^4
    return s if s is not None else _summarize_nonfinite(x)


def _power_summary(x: np.ndarray, work: type[np.floating[Any]]) -> Summary | None:
    """The moments from block power sums, or None if anything was not finite."""
    n = int(x.size)
    c = _pivot(x)
    if not math.isfinite(c):
        return None
    pivot = work(c)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is detected below and redone in float64
        s1, s2, s3, s4, lo, hi = _block_sums(x, pivot, work, n)
    if not math.isfinite(s1 + s2 + s3 + s4):
        return None
    return _from_power_sums(n, float(pivot), s1, s2, s3, s4, lo, hi)


def _from_power_sums(n: int, c: float, s1: float, s2: float, s3: float, s4: float, lo: float, hi: float) -> Summary:
    """The summary from the sums of d, d^2, d^3, d^4 (d = x - c) and the extremes."""
    mean_d = s1 / n
    m2 = max(0.0, s2 - n * mean_d**2)
    m3 = s3 - 3 * mean_d * s2 + 2 * n * mean_d**3
    m4 = max(0.0, s4 - 4 * mean_d * s3 + 6 * mean_d**2 * s2 - 3 * n * mean_d**4)
    return Summary(n=n, mean=c + mean_d, m2=m2, m3=m3, m4=m4, min=lo, max=hi)


def summarize_rows(rows: np.ndarray) -> list[Summary]:
    """``summarize`` of each row of a 2-D array of finite float32 or float64 values, to the bit: the elementwise
    work (the pivoted differences and their squares) for all rows at once, the four dot products per row as
    ``summarize`` takes them (one block: a row of at most ``BLOCK`` values). Longer rows go one by one."""
    g, n = rows.shape
    if n > BLOCK or rows.dtype not in (np.float32, np.float64) or n == 0:
        return [summarize(row) for row in rows]
    work = rows.dtype.type
    pivots = np.array([float(np.add.reduce(row, dtype=np.float64)) / n for row in rows], dtype=work)  # _pivot
    d = np.empty_like(rows)
    np.subtract(rows, pivots[:, None], out=d, dtype=work, casting="unsafe")
    q = np.square(d)
    ones = np.ones(n, work)
    lo, hi = rows.min(axis=1).tolist(), rows.max(axis=1).tolist()
    return [_from_power_sums(n, float(pivots[i]), float(np.dot(d[i], ones)), float(np.dot(d[i], d[i])),
                             float(np.dot(q[i], d[i])), float(np.dot(q[i], q[i])), lo[i], hi[i]) for i in range(g)]


def _pivot(x: np.ndarray) -> float:
    """The mean of the first block: the sums of powers of x - pivot then barely depend on the mean, where a pivot
    one std away (the first value, as before) multiplied the float32 rounding of the fourth-power sum ~4-fold when
    the central moments were taken from them. NaN or inf when the first block holds one (the caller redoes)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.add.reduce(x[:BLOCK], dtype=np.float64)) / min(BLOCK, x.size)


def _block_sums(x: np.ndarray, pivot: np.floating[Any], work: type[np.floating[Any]],
                n: int) -> tuple[float, float, float, float, float, float]:
    """Sums of d, d^2, d^3, d^4 (d = x - pivot) and the extremes of x, one cache-sized block at a time.

    Per block: one subtraction, one square, four dot products (d.1, d.d, d^2.d, d^2.d^2) and the extremes: seven
    passes over data in cache, where squaring, cubing and summing each separately took ten, each slower.
    """
    size = min(BLOCK, n)
    d_buf, q_buf, ones = np.empty(size, work), np.empty(size, work), np.ones(size, work)
    s1 = s2 = s3 = s4 = 0.0
    lo, hi = math.inf, -math.inf
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        block = x[a:b]
        d, q = d_buf[: b - a], q_buf[: b - a]
        np.subtract(block, pivot, out=d, dtype=work, casting="unsafe")
        np.square(d, out=q)
        s1 += float(np.dot(d, ones[: b - a]))
        s2 += float(np.dot(d, d))
        s3 += float(np.dot(q, d))
        s4 += float(np.dot(q, q))
        lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
    return s1, s2, s3, s4, lo, hi


def _summarize_nonfinite(x: np.ndarray) -> Summary:
    """The rare path: count NaN and infinities, then summarise the finite values; when every value is finite, the
    powers overflowed float64 (values beyond ~1e77): ``_summarize_huge``."""
    finite = np.isfinite(x)
    n_nan = int(np.count_nonzero(np.isnan(x)))
    n_inf = int(x.size - np.count_nonzero(finite) - n_nan)
    if n_nan + n_inf == 0:
        return _summarize_huge(x)
    s = summarize(x[finite]) if n_nan + n_inf < x.size else EMPTY
    return Summary(s.n, s.mean, s.m2, s.m3, s.m4, s.min, s.max, s.n_nan + n_nan, s.n_inf + n_inf)


def _summarize_huge(x: np.ndarray) -> Summary:
    """Finite values whose fourth powers overflow float64: the moments of the values scaled by a power of two into
    [-1, 1] (exact), scaled back; what float64 cannot hold becomes infinite (such values are no init's: the
    uninitialized-memory check names them, stats/uninitialized.py ``HUGE``)."""
    v = np.asarray(x, dtype=np.float64)
    _, k = math.frexp(float(np.max(np.abs(v))))
    s = summarize(np.ldexp(v, -k))
    return Summary(s.n, _times_two_to(s.mean, k), _times_two_to(s.m2, 2 * k), _times_two_to(s.m3, 3 * k),
                   _times_two_to(s.m4, 4 * k), float(v.min()), float(v.max()))


def _times_two_to(value: float, k: int) -> float:
    """value * 2^k, infinite (with value's sign) where float64 overflows."""
    try:
        return math.ldexp(value, k)
    except OverflowError:
        return math.copysign(math.inf, value)
