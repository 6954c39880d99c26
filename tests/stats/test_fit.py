"""stats/fit.py: maximum-likelihood scales, their confidence intervals, and the goodness-of-fit false-alarm rate.

Expected values are the formulas written out (numpy on the data), never the module's own helpers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kaiming_cli.stats.fit import (
    UNFITTED,
    fit_families,
    fit_families_rows,
    fit_normal,
    fit_orthogonal,
    fit_sparse,
    fit_truncated,
    fit_uniform,
    orthogonal_fits,
)
from kaiming_cli.stats.laws import cdf_rows, family_law
from kaiming_cli.stats.summary import summarize

TRUNC = 0.87962566103423978
EPS = 1e-12  # float64 data: no storage rounding


def trunc_sample(rng: np.random.Generator, sigma: float, n: int) -> np.ndarray:
    x = rng.standard_normal(3 * n)
    return (x[np.abs(x) < 2][:n]) * sigma


def draw(family: str, rng: np.random.Generator, std: float, n: int) -> np.ndarray:
    if family == "normal":
        return rng.standard_normal(n) * std
    if family == "uniform":
        b = math.sqrt(3) * std
        return rng.uniform(-b, b, n)
    return trunc_sample(rng, std / TRUNC, n)


def test_mle_is_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5000) * 0.3
    s = summarize(x)
    assert math.isclose(fit_normal(s, x, 1e-3, EPS).std, float(np.sqrt(np.mean(x**2))), rel_tol=1e-12)
    assert math.isclose(fit_uniform(s, x, 1e-3, EPS).std, float(np.max(np.abs(x))) / math.sqrt(3), rel_tol=1e-12)
    t = trunc_sample(rng, 0.3, 5000)  # a full truncation: the max is inside the cut, the MLE is max(rms, M/2)
    sigma = max(float(np.sqrt(np.mean(t**2))), float(np.max(np.abs(t))) / 2)
    assert math.isclose(fit_truncated(summarize(t), t, 1e-3, EPS).std, sigma * TRUNC, rel_tol=1e-12)


def test_truncated_fit_with_a_max_beyond_the_cut_takes_sigma_from_the_second_moment() -> None:
    """Keras's torch backend leaves 4.3e-6 of the values beyond +-2 sigma: a max there must not set the scale.
    Normal data's max (3.9 sigma at n = 5000) is far beyond the cut S puts: sigma = sqrt(mean x^2 / E z^2) with
    E z^2 of the mixture (1 - q) TruncN(-2, 2) + q (N beyond 2), q = P(|Z| >= 2)^4, written out here."""
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    x = rng.standard_normal(5000) * 0.3
    q = (2 * norm.sf(2.0)) ** 4
    inside = 2 * norm.cdf(2.0) - 1
    m2_trunc = 1 - 2 * 2 * norm.pdf(2.0) / inside
    m2 = (1 - q) * m2_trunc + q * (1 - inside * m2_trunc) / (1 - inside)
    fit = fit_truncated(summarize(x), x, 1e-3, EPS)
    assert math.isclose(fit.std, float(np.sqrt(np.mean(x**2) / m2)) * TRUNC, rel_tol=1e-12)
    assert not fit.passed  # normal data are still not a truncated normal: the range and kurtosis tests say so


@pytest.mark.parametrize("family", ["normal", "uniform", "truncated_normal"])
def test_ci_covers_the_true_std_at_its_level(family: str) -> None:
    """400 draws at level 95%: coverage within 4 binomial sds of 0.95 (or above, for the one-sided bounds)."""
    rng = np.random.default_rng(1)
    fitter = {"normal": fit_normal, "uniform": fit_uniform, "truncated_normal": fit_truncated}[family]
    covered = 0
    for _ in range(400):
        x = draw(family, rng, 0.05, 500)
        ci = fitter(summarize(x), x, 0.05, EPS).ci
        covered += ci.low <= 0.05 <= ci.high
    sd = math.sqrt(0.95 * 0.05 / 400)
    assert covered / 400 >= 0.95 - 4 * sd
    if family == "normal":
        assert covered / 400 <= 0.95 + 4 * sd


@pytest.mark.parametrize("family", ["normal", "uniform", "truncated_normal"])
def test_goodness_of_fit_false_alarm_rate_is_at_most_alpha(family: str) -> None:
    """The family's own data, scale fitted: rejected at most alpha of the time (docs/statistics.md gives the
    measured rates; estimating the scale makes the EDF test conservative)."""
    rng = np.random.default_rng(2)
    fitter = {"normal": fit_normal, "uniform": fit_uniform, "truncated_normal": fit_truncated}[family]
    reps, alpha = 300, 0.05
    rejected = sum(not fitter(summarize(x), x, alpha, EPS).passed
                   for x in (draw(family, rng, 0.02, 3000) for _ in range(reps)))
    assert rejected / reps <= alpha + 4 * math.sqrt(alpha * (1 - alpha) / reps)


@pytest.mark.parametrize(("truth", "other"), [("normal", "uniform"), ("uniform", "normal"),
                                              ("truncated_normal", "normal"), ("normal", "truncated_normal")])
def test_the_wrong_family_is_rejected(truth: str, other: str) -> None:
    rng = np.random.default_rng(3)
    x = draw(truth, rng, 0.02, 5000)
    fits = {f.distribution: f for f in fit_families(summarize(x), x, 1e-3, EPS)}
    assert fits[truth].passed and not fits[other].passed
    assert fits[other].rejected_by  # says which test rejected it


def test_constant_sparse_and_orthogonal() -> None:
    torch = pytest.importorskip("torch")
    c = np.full(64, 0.3)
    (only,) = fit_families(summarize(c), c, 1e-3, EPS)
    assert only.distribution == "constant" and only.value == 0.3
    g = torch.Generator().manual_seed(0)
    w = torch.empty(200, 100)
    torch.nn.init.sparse_(w, sparsity=0.1, std=0.01, generator=g)
    x = w.numpy().astype(np.float64).ravel()
    fit = fit_sparse(summarize(x), x, 1e-3, 1e-7)
    assert fit is not None and fit.passed
    assert math.isclose(fit.sparsity or 0, math.ceil(0.1 * 200) / 200, rel_tol=1e-9)
    assert fit.ci.low <= 0.01 <= fit.ci.high
    torch.nn.init.orthogonal_(w, gain=2.0, generator=g)
    orth = fit_orthogonal(w.numpy(), 1e-3)
    assert orth is not None and orth.passed and math.isclose(orth.gain or 0, 2.0, rel_tol=1e-5)
    assert math.isclose(orth.std, 2.0 / math.sqrt(200), rel_tol=1e-5)
    gaussian = fit_orthogonal(np.random.default_rng(0).standard_normal((200, 100)), 1e-3)
    assert gaussian is not None and not gaussian.passed


def test_a_padding_row_is_not_sparse() -> None:
    """nn.Embedding(padding_idx=0) under BERT's init: one zero row, the rest N(0, 0.02^2); not sparse_."""
    w = np.random.default_rng(4).standard_normal((50, 8)) * 0.02
    w[0] = 0.0
    x = w.ravel()
    assert fit_sparse(summarize(x), x, 1e-3, EPS) is not None  # 2% zeros: values alone look sparse
    assert fit_sparse(summarize(x), x, 1e-3, EPS, matrix=w) is None


@pytest.mark.parametrize("shape", [(16, 16), (8, 40), (40, 8), (3, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_orthogonal_fits_of_a_stack_equal_each_fit_alone(shape: tuple[int, int], dtype: str) -> None:
    """identify's group path fits a batch at once (``orthogonal_fits``): the same fits, to the bit, as one matrix at
    a time, for orthonormal matrices (passing), random ones (failing), a zero matrix (no gain) and a non-finite one."""
    rng = np.random.default_rng(7)
    r, c = shape
    stack = []
    for k in range(6):
        q, _ = np.linalg.qr(rng.standard_normal((max(r, c), min(r, c))))
        m = q if r >= c else q.T
        stack.append(m * (1.0 + k) if k % 2 == 0 else rng.standard_normal(shape) * 0.1)
    stack.append(np.zeros(shape))
    bad = rng.standard_normal(shape)
    bad[0, 0] = np.inf
    stack.append(bad)
    matrices = np.stack(stack).astype(dtype).astype(np.float64)
    together = orthogonal_fits(matrices, 1e-3, dtype)
    alone = [fit_orthogonal(m, 1e-3, dtype) for m in matrices]
    assert together == alone
    assert [f is not None and f.passed for f in together][:6] == [True, False] * 3
    assert together[6] is None


def rows_of_every_branch(rng: np.random.Generator,
                         shape: tuple[int, int]) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Rows of one size that take every branch of ``fit_families``: each family at several scales (passing, and
    failing another family's tests before or after the EDF test), a truncated normal with values beyond its cut
    (Keras's torch backend), heavy tails, a few zeros and many (sparse_), an orthonormal matrix, a constant."""
    n = shape[0] * shape[1]
    rows = [draw(f, rng, std, n) for f in ("normal", "uniform", "truncated_normal") for std in (0.02, 0.5, 3.0)]
    beyond = draw("truncated_normal", rng, 0.1, n)
    beyond[:3] = np.array([2.3, -2.6, 2.1]) * 0.1 / TRUNC
    rows.append(beyond)
    rows.append(rng.standard_t(3, n) * 0.1)
    few = draw("normal", rng, 0.1, n)
    few[:3] = 0.0
    rows.append(few)
    sparse = draw("normal", rng, 0.1, n)
    sparse[rng.permutation(n)[: n // 10]] = 0.0
    rows.append(sparse)
    q, _ = np.linalg.qr(rng.standard_normal((max(shape), min(shape))))
    rows.append((q if shape[0] >= shape[1] else q.T).reshape(-1) * 2.0)
    rows.append(np.full(n, 0.25))
    x = np.stack(rows)
    matrices: list[np.ndarray | None] = [row.reshape(shape) if k % 2 == 0 or k >= len(rows) - 2 else None
                                         for k, row in enumerate(x)]
    return x, matrices


@pytest.mark.parametrize("shape", [(16, 16), (8, 50), (64, 64)])
def test_fit_families_rows_equal_each_row_alone(shape: tuple[int, int]) -> None:
    """identify's group path fits a batch at once (``fit_families_rows``: one sort, each family's KS for all rows in
    one call): every fit, its p-value, words and order, equal to the bit to ``fit_families`` on each row alone."""
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    x, matrices = rows_of_every_branch(rng, shape)
    summaries = [summarize(row) for row in x]
    together = fit_families_rows(summaries, x, 1e-3, EPS, matrices=matrices, dtype="float64",
                                 orthogonal=[UNFITTED] * len(x))
    alone = [fit_families(s, row, 1e-3, EPS, matrix=m, dtype="float64")
             for s, row, m in zip(summaries, x, matrices, strict=True)]
    assert [repr(f) for f in together] == [repr(f) for f in alone]  # repr: NaN equal to NaN
    every = [f for fits in together for f in fits]
    assert {f.distribution for f in every} >= {"normal", "uniform", "truncated_normal", "sparse", "orthogonal",
                                                "constant"}
    assert any(f.passed for f in every if f.distribution == "truncated_normal")  # a pass: its KS test ran
    if x.shape[1] >= 4096:  # with this many values the EDF test has the power to be the one that rejects
        assert any(f.rejected_by.startswith("ks:") for f in every)
    assert any(not f.passed and not f.rejected_by.startswith("ks:") for f in every)  # the O(1) tests others


def test_cdf_rows_equal_each_law() -> None:
    """``cdf_rows``: each row through its own law, equal to the bit to ``Law.cdf`` row by row, for the laws the fits
    give (normal, uniform, the truncated normal with Keras's tails); laws of two families are refused."""
    rng = np.random.default_rng(11)
    x = np.sort(rng.standard_normal((5, 300)) * 0.3, axis=1)
    for family in ("normal", "uniform", "truncated_normal"):
        laws = [family_law(family, std) for std in (0.01, 0.1, 0.3, 1.0, 7.0)]
        together = cdf_rows(laws, x)
        alone = np.stack([law.cdf(row) for law, row in zip(laws, x, strict=True)])
        assert np.array_equal(together, alone)
    with pytest.raises(ValueError, match="one family"):
        cdf_rows([family_law("normal", 1.0), family_law("uniform", 1.0)], x[:2])


def test_rows_with_signed_zeros_equal_each_row_alone() -> None:
    """A pruned weight (``w * mask``) holds -0.0 where ``w`` was negative, and numpy's sort does not keep -0.0 and 0.0
    in one order: the KS detail ("at x = -0") must be the one-tensor path's, whose EDF test sorts the sorted sample
    again. Found by review: the batched fits sorted once and named "x = 0" where the one-tensor path said "-0"."""
    rng = np.random.default_rng(1)
    rows = []
    for frac in (0.08, 0.1, 0.12):
        for _ in range(20):
            w = rng.standard_normal(4096) * 0.05
            rows.append(w * (rng.random(4096) >= frac))  # -0.0 where a negative weight was pruned
    x = np.stack(rows)
    summaries = [summarize(r) for r in x]
    together = fit_families_rows(summaries, x, 1e-3, 2.0**-24, matrices=[None] * len(x), dtype="float32",
                                 orthogonal=[UNFITTED] * len(x))
    alone = [fit_families(s, r, 1e-3, 2.0**-24, dtype="float32") for s, r in zip(summaries, x, strict=True)]
    assert any(f.rejected_by.startswith("ks:") and "x = -0 " in f.rejected_by for fits in alone for f in fits)
    assert [repr(f) for f in together] == [repr(f) for f in alone]


def test_fit_families_rows_takes_float64_samples() -> None:
    x = np.ones((2, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="float64"):
        fit_families_rows([summarize(r) for r in x.astype(np.float64)], x, 1e-3, EPS, matrices=[None, None],
                          dtype="float32", orthogonal=[UNFITTED, UNFITTED])
