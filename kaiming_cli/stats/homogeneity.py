"""The ``rows`` and ``cols`` structure tests: are the second moments of a matrix's rows (or columns) as alike as
independent draws make them? (docs/statistics.md §2.9; the rest of the structure tests are in structure.py.)

Bartlett's statistic for a normal null, the moment-matched dispersion for the others. Each statistic is written
once, for the rows of a 2-D array of group sums: one tensor is one row (``bartlett``, ``dispersion``), a group of
tensors of one shape many (``grouped.py``), so both paths compute the same numbers.
"""

from __future__ import annotations

import math

import numpy as np


def bartlett(sums: np.ndarray, sizes: np.ndarray, kurtosis: float) -> tuple[float, float, float, float]:
    """``(T, df, p_high, p_low)``: Bartlett's homogeneity statistic of group second moments (mean known),
    corrected (C) and scaled by ``(kurtosis - 1) / 2``, referred to chi2(df = G - 1)."""
    g = sums.size
    total = float(sums.sum())
    df = float(g - 1)
    if total <= 0:
        return 0.0, df, 1.0, 1.0
    if np.any(sums <= 0) or not math.isfinite(total):  # a zero row, or squares beyond float32 (|x| > 1.8e19)
        return math.inf, df, 0.0, 1.0
    t, p_hi, p_lo = bartlett_rows(sums[None, :], sizes, kurtosis)
    return float(t[0]), df, float(p_hi[0]), float(p_lo[0])


def bartlett_rows(sums: np.ndarray, sizes: np.ndarray, kurtosis: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``bartlett``'s (T, p_high, p_low) for each row of ``sums`` (2-D, every sum positive and finite), the
    groups of every row of the same ``sizes``: one tensor is one row, a group of tensors many (grouped.py)."""
    from scipy.special import chdtr, chdtrc

    df = float(sums.shape[1] - 1)
    total, n = sums.sum(axis=1), float(sizes.sum())
    m = n * np.log(total / n) - np.sum(sizes * np.log(sums / sizes), axis=1)
    c = 1.0 + (float(np.sum(1.0 / sizes)) - 1.0 / n) / (3.0 * df)
    t = np.maximum(0.0, m) / (c * (kurtosis - 1.0) / 2.0)
    return t, chdtrc(df, t), chdtr(df, t)


def dispersion(sums: np.ndarray, sizes: np.ndarray, moments: tuple[float, float, float]
               ) -> tuple[float, float, float, float]:
    """``(T, df, p_high, p_low)`` for a non-normal law of standardized moments (mu4, mu6, mu8): the dispersion
    ``D = sum (S_j - m_j v)^2 / (m_j v^2 (mu4 - 1))`` (v the pooled mean square) matched in mean and variance
    to a scaled chi-square, ``Var D = (G - 1) (2 + g2 / m) + O(G^2/N)`` with g2 the excess kurtosis of x^2. Bartlett's
    log statistic scaled by (kappa - 1)/2 was measured 6x too heavy-tailed for uniform rows of 9 values."""
    g = sums.size
    total = float(sums.sum())
    df = float(g - 1)
    if total <= 0:
        return 0.0, df, 1.0, 1.0
    if not math.isfinite(total):  # squares beyond float32: scales differ beyond measure
        return math.inf, df, 0.0, 1.0
    t, p_hi, p_lo = dispersion_rows(sums[None, :], sizes, tuple(np.array([m]) for m in moments))
    return float(t[0]), df, float(p_hi[0]), float(p_lo[0])


def dispersion_rows(sums: np.ndarray, sizes: np.ndarray, moments: tuple[np.ndarray, ...]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``dispersion``'s (T, p_high, p_low) for each row of ``sums`` (2-D, positive finite totals), with each
    row's own standardized moments ``(mu4, mu6, mu8)`` (arrays of one value per row)."""
    from scipy.special import chdtr, chdtrc

    mu4, mu6, mu8 = moments
    g = sums.shape[1]
    total, n = sums.sum(axis=1), float(sizes.sum())
    df = float(g - 1)
    v = total / n
    d = np.sum((sums - sizes * v[:, None]) ** 2 / sizes, axis=1) / (v * v * (mu4 - 1.0))
    g2 = (mu8 - 4.0 * mu6 + 6.0 * mu4 - 3.0) / (mu4 - 1.0) ** 2 - 3.0
    mu3 = mu6 - 3.0 * mu4 + 2.0  # third central moment of x^2
    m_eff = g / float(np.sum(1.0 / sizes))
    # Var of the quadratic form, plus the pooled v's own fluctuation and its covariance with the form
    # (first order in 1/m): 513 measured vs 511 predicted for 256 uniform rows of 9 (486 without the terms)
    var_d = df * (2.0 + g2 / m_eff) + 4.0 * df * df * (mu4 - 1.0) / n - 4.0 * df * mu3 / (m_eff * (mu4 - 1.0))
    scale = np.maximum(1e-3, var_d / (2.0 * df))
    nu = df / scale
    t = d / scale
    return t * df / nu, chdtrc(nu, t), chdtr(nu, t)


def homogeneity_test(kind: str, sums: np.ndarray, sizes: np.ndarray, units: int,
                     moments: tuple[float, float, float] | None) -> tuple[float, float, str]:
    """The ``rows`` (or ``cols``) test: (statistic / df, two-sided p, detail in words). ``moments`` are the
    null law's standardized (mu4, mu6, mu8); None for a normal law (Bartlett's exact-in-practice test)."""
    if moments is None:
        t, df, p_hi, p_lo = bartlett(sums, sizes, 3.0)
    else:
        t, df, p_hi, p_lo = dispersion(sums, sizes, moments)
    rms = np.sqrt(sums / sizes)
    return homogeneity_result(kind, t, df, p_hi, p_lo, float(rms.min()), float(rms.max()), sums.size, units,
                              bool(np.any(sums <= 0)))


def homogeneity_result(kind: str, t: float, df: float, p_hi: float, p_lo: float, rms_min: float, rms_max: float,
                       groups: int, units: int, some_zero: bool) -> tuple[float, float, str]:
    """(statistic / df, two-sided p, detail in words) of a rows or cols test from its statistic and tails."""
    p = min(1.0, 2.0 * min(p_hi, p_lo))
    ratio = t / df
    spread = rms_max / rms_min if rms_min > 0 else math.inf
    grouped = "" if groups == units else f" in {groups} groups"
    numbers = f"dispersion {ratio:.3g}x its null mean over {units} {kind}{grouped}, max/min rms {spread:.3g}"
    if p_lo < p_hi and p < 0.01:
        what = (f"{kind} are far more alike than independent draws: "
                f"{'rank-deficient, copied or permuted' if kind == 'rows' else 'copied or permuted'}")
    elif p_hi <= p_lo and p < 0.01:
        zero = " (some are all zero)" if some_zero else ""
        what = (f"{'row' if kind == 'rows' else 'column'} scales differ{zero}: "
                f"{'rows scaled unequally' if kind == 'rows' else 'sorted rows or inputs scaled unequally'}")
    else:
        what = f"{kind} as homogeneous as independent draws"
    return ratio, p, f"{what} ({numbers})"
