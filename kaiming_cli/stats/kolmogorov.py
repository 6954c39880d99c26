"""The exact law of the one-sample Kolmogorov-Smirnov statistic for small samples (battery.py ``ks_pvalue``)."""

from __future__ import annotations

import math

import numpy as np


def kolmogorov_sf_exact(n: int, d: float) -> float:
    """Exact P(D_n >= d) for the two-sided one-sample KS statistic, n < ~140.

    The same case split as SciPy's ``kstwo`` for small n: Ruben-Gambino closed forms at the ends,
    ``2 * smirnov`` where it is exact (d >= 1/2) or where the two one-sided events no longer
    overlap measurably (n d^2 > 4, p < 7e-4: Miller), and Durbin's matrix (Marsaglia, Tsang and
    Wang 2003) in between, where 1 - CDF loses no precision because p is not small."""
    from scipy.special import smirnov

    t = n * d
    if d >= 1.0:
        return 0.0
    if t <= 0.5:
        return 1.0
    if t <= 1.0:
        cdf = 1.0
        for i in range(1, n + 1):
            cdf *= i / n * (2.0 * t - 1.0)
        return float(min(1.0, max(0.0, 1.0 - cdf)))
    if t >= n - 1:
        return float(min(1.0, 2.0 * (1.0 - d) ** n))
    if d >= 0.5 or t * d > 4.0:
        return float(min(1.0, 2.0 * smirnov(n, d)))
    return float(min(1.0, max(0.0, 1.0 - _durbin_cdf(n, d))))


def _durbin_cdf(n: int, d: float) -> float:
    """P(D_n < d) = n!/n^n * (H^n)[k-1, k-1] with d = (k - h)/n (Marsaglia, Tsang and Wang 2003)."""
    k = math.ceil(n * d)
    h = k - n * d
    m = 2 * k - 1
    idx = np.arange(m)
    gap = idx[:, None] - idx[None, :] + 1  # H[i, j] = 1/(i-j+1)! where i-j+1 >= 0
    inv_fact = np.array([1.0 / math.factorial(g) for g in range(m + 1)])
    hmat = np.where(gap >= 0, inv_fact[np.clip(gap, 0, m)], 0.0)
    powers = h ** np.arange(1, m + 1)
    hmat[:, 0] -= powers * inv_fact[1:m + 1]
    hmat[m - 1, :] -= powers[::-1] * inv_fact[1:m + 1][::-1]
    corner = max(2.0 * h - 1.0, 0.0) ** m
    hmat[m - 1, 0] += corner * inv_fact[m]
    # H^n by squaring; both the running product and the squared base are rescaled when they grow,
    # with their logarithmic scales tracked, so nothing overflows whatever n is.
    result, result_log = np.eye(m), 0.0
    base, base_log = hmat, 0.0
    e = n
    while e:
        if e & 1:
            result = result @ base
            result_log += base_log
            result, result_log = _rescaled(result, result_log)
        e >>= 1
        if e:
            base, base_log = _rescaled(base @ base, 2.0 * base_log)
    log_norm = math.lgamma(n + 1) - n * math.log(n)  # the n!/n^n in front
    return float(result[k - 1, k - 1] * math.exp(log_norm + result_log))


def _rescaled(matrix: np.ndarray, log_scale: float) -> tuple[np.ndarray, float]:
    top = float(np.abs(matrix).max())
    if top > 1e100:
        return matrix / top, log_scale + math.log(top)
    return matrix, log_scale
