"""Mergeable one-pass summaries of a tensor, built chunk by chunk in float64.

A ``Summary`` holds the count, mean, central moment sums M2..M4 and extremes of the finite
values, plus how many values were NaN or infinite. Chunks are summarised independently and
merged with the pairwise update of Chan et al. / Pebay (2008), so memory is one chunk per worker
whatever the tensor size, and the result does not depend on how many workers ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
        if self.n < 2 or self.m2 == 0:
            return math.nan
        return math.sqrt(self.n) * self.m3 / math.pow(self.m2, 1.5)

    @property
    def excess_kurtosis(self) -> float:
        """Biased g2 = m4/m2^2 - 3, the moment estimator the kurtosis tests use."""
        if self.n < 2 or self.m2 == 0:
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


def summarize(chunk: np.ndarray) -> Summary:
    """Summary of one chunk; non-finite values are counted and left out of the moments."""
    x = np.asarray(chunk).reshape(-1)
    n_nan = n_inf = 0
    total = float(np.sum(x, dtype=np.float64))
    if not math.isfinite(total):
        finite = np.isfinite(x)
        n_nan = int(np.count_nonzero(np.isnan(x)))
        n_inf = int(x.size - np.count_nonzero(finite) - n_nan)
        x = x[finite]
        total = float(np.sum(x, dtype=np.float64))
    n = int(x.size)
    if n == 0:
        return Summary(0, 0.0, 0.0, 0.0, 0.0, math.inf, -math.inf, n_nan, n_inf)
    mean = total / n
    d = x.astype(np.float64)  # astype copies: a buffer of our own to overwrite
    d -= mean
    d2 = d * d
    m2 = float(d2.sum())
    m3 = float(np.dot(d2, d))
    m4 = float(np.dot(d2, d2))
    return Summary(
        n=n, mean=mean, m2=m2, m3=m3, m4=m4,
        min=float(x.min()), max=float(x.max()), n_nan=n_nan, n_inf=n_inf,
    )
