"""identify's ranking of a whole batch (``ranking.rank_rows``) is the one-tensor ranking (``ranking.rank``) of each
tensor, to the bit: the same candidate objects in the same order with the same log-likelihoods, on batches built
to hit each of its branches: exact ties broken by prior and place, near-ties that chain (the one-tensor path's
greedy pass cuts them where adjacent pairs would not), supports that exclude the data, a constant candidate that
matches, truncated candidates with values beyond their cut, a row whose scores are NaN, and candidate lists that
differ between tensors (issue 25)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from kaiming_cli.runners.identify import ranking
from kaiming_cli.runners.identify.candidates import Candidate
from kaiming_cli.stats.summary import Summary, summarize

N = 256


def normal(label: str, std: float, prior: float = 1.0) -> Candidate:
    return Candidate(label, "kaiming", "normal", None, None, std, prior=prior)


def uniform(label: str, bound: float, prior: float = 1.0) -> Candidate:
    return Candidate(label, "xavier", "uniform", None, None, bound / math.sqrt(3), prior=prior)


def truncated(label: str, std: float, prior: float = 1.0) -> Candidate:
    return Candidate(label, "keras_jax", "truncated_normal", None, None, std, prior=prior)


def constant(label: str, value: float) -> Candidate:
    return Candidate(label, "constant", "constant", None, None, 0.0, value=value, prior=0.5)


def chain(bound: float, steps: list[float], label: str) -> list[Candidate]:
    """Uniform candidates whose log-likelihoods on N values (-N ln 2b) step down by ``steps`` times the ranking's
    tie tolerance: steps under 1 that add up past 1 chain near-ties that the greedy pass cuts."""
    out, b = [], bound
    tolerance = ranking.LOGLIK_TIE * N * math.log(2 * bound)
    for i, step in enumerate(steps):
        out.append(uniform(f"{label}{i}", b, prior=1.0 - 0.1 * i))
        b *= math.exp(step * abs(tolerance) / N)
    return out


def same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(x.candidate is y.candidate and repr(x.loglik) == repr(y.loglik)
                                    and type(x) is type(y) for x, y in zip(a, b, strict=True))


def check(cands: list[list[Candidate]], summaries: list[Summary], samples: list[np.ndarray],
          monkeypatch: pytest.MonkeyPatch, rel_eps: float = 1e-7) -> int:
    """rank_rows against rank for each tensor; returns how many tensors rank_rows handed to rank."""
    expected = [ranking.rank(c, s, rel_eps, x) for c, s, x in zip(cands, summaries, samples, strict=True)]
    calls = 0
    real = ranking.rank

    def counted(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args)

    monkeypatch.setattr(ranking, "rank", counted)
    got = ranking.rank_rows(cands, summaries, rel_eps, samples)
    for t, (e, g) in enumerate(zip(expected, got, strict=True)):
        assert same(e, g), t
    return calls


def rows(seed: int, count: int, std: float = 0.05) -> tuple[list[Summary], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, N)) * std
    return [summarize(r) for r in x], list(x)


def test_ties_supports_and_cuts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact aliases (one std under two labels and priors), laws that differ only in their prior, uniforms that
    hold the data and that do not, truncated laws with the max beyond the cut, a matching constant: one array."""
    shared = [normal("kaiming", 0.05), normal("alias", 0.05, prior=2.0), normal("alias_low", 0.05, prior=0.2),
              normal("wide", 0.07), normal("narrow", 0.035), uniform("holds", 0.5), uniform("too_narrow", 0.05),
              truncated("cut_low", 0.02), truncated("cut_high", 0.2), truncated("cut_mid", 0.05),
              constant("zero", 0.0), normal("again", 0.05)]
    summaries, samples = rows(0, 40)
    assert check([shared] * 40, summaries, samples, monkeypatch) == 0  # all in the array, none handed back
    flat = [replace(summaries[0], min=0.0, max=0.0)] * 8  # a constant row: the constant candidate's +inf wins
    assert check([shared] * 8, flat, [np.zeros(N)] * 8, monkeypatch) == 0


def test_chained_near_ties_go_to_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    """a within the tolerance of b, b of c, c not of a: the greedy pass makes {a, b}, {c}; adjacent pairs would
    make one run. Such a row is ranked by ``rank``, the others stay in the array."""
    summaries, samples = rows(1, 10, std=0.02)
    chained = chain(0.2, [0.6, 0.6, 0.6], "c") + [normal("n", 0.02)]
    apart = chain(0.2, [0.4, 0.4, 3.0], "a") + [normal("n", 0.02)]
    assert check([chained] * 10, summaries, samples, monkeypatch) == 10
    assert check([apart] * 10, summaries, samples, monkeypatch) == 0


def test_a_row_of_nan_scores_goes_to_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    summaries, samples = rows(2, 10)
    summaries[2] = replace(summaries[2], mean=math.nan)  # its sum of squares, so every normal score, is NaN
    shared = [normal("a", 0.05), normal("b", 0.05, prior=3.0), uniform("u", 0.5)]
    assert check([shared] * 10, summaries, samples, monkeypatch) == 1


def test_tensors_with_different_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists that differ (a named call one fit explains, another's not) are ranked apart, in their order; groups
    under ``TOGETHER_MIN`` one by one."""
    summaries, samples = rows(3, 30)
    base = [normal("kaiming", 0.05), uniform("u", 0.2), truncated("t", 0.05)]
    extra = base + [normal("named", 0.0501, prior=0.3)]
    lists = [base if t % 3 else extra for t in range(30)]
    lists[7] = [*base, normal("lonely", 0.049)]
    assert check(lists, summaries, samples, monkeypatch) == 1
    assert check(lists[:7], summaries[:7], samples[:7], monkeypatch) == 7  # 4 and 3 alike: under TOGETHER_MIN


@pytest.mark.parametrize("seed", range(12))
def test_random_batches(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random candidate sets around the data's scale, many exact and near ties, random priors; the answer of the
    one-tensor ranking each time."""
    rng = np.random.default_rng(100 + seed)
    stds = 0.05 * np.exp(rng.normal(0, 0.3, 8))
    cands: list[Candidate] = []
    for i, s in enumerate(stds):
        prior = float(rng.choice([0.05, 0.2, 1.0, 1.0, 2.0]))
        kind = rng.integers(3)
        make = normal if kind == 0 else truncated if kind == 1 else (lambda lab, s, p: uniform(lab, 3 * s, p))
        cands.append(make(f"c{i}", float(s), prior))
        cands.append(make(f"c{i}_alias", float(s), float(rng.choice([0.5, 1.0, 1.5]))))
    cands += chain(0.15, list(rng.uniform(0.2, 1.1, 4)), "ch")
    order = rng.permutation(len(cands))
    shared = [cands[i] for i in order]
    summaries, samples = rows(200 + seed, 20, std=float(rng.uniform(0.03, 0.08)))
    check([shared] * 20, summaries, samples, monkeypatch)


@pytest.mark.parametrize("rel_eps", [2.0**-52, 2.0**-23, 2.0**-7])
def test_a_max_exactly_at_a_cut_and_its_rounding(rel_eps: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows whose max is a support's bound times (1 + rel_eps) exactly, an ulp above and an ulp below: the uniform
    holds the data up to there (``<=``), a truncated candidate counts values beyond its cut only past it (``>``);
    in three dtypes' roundings."""
    u, t, t2 = uniform("u", 0.1), truncated("t", 0.04), truncated("t2", 0.05)
    shared = [normal("n", 0.04), u, t, uniform("u2", 0.2), t2]
    summaries, samples = rows(4, 9, std=0.03)
    for k, edge in enumerate((u.bound, t.bound, t2.bound)):  # t2's cut is not the lowest: counted on its own
        assert edge is not None
        at = edge * (1 + rel_eps)
        for i, m in enumerate((at, math.nextafter(at, math.inf), math.nextafter(at, 0.0))):
            j = 3 * k + i
            summaries[j] = replace(summaries[j], max=m, min=-0.5 * m)
            samples[j] = samples[j].copy()
            samples[j][:3] = m  # values at the max, beyond the truncated cut: counted when they count
    assert check([shared] * 9, summaries, samples, monkeypatch, rel_eps=rel_eps) == 0


def test_log_likelihoods_under_one_tie_by_an_absolute_tolerance(monkeypatch: pytest.MonkeyPatch) -> None:
    """With |loglik| < 1 the tie tolerance is LOGLIK_TIE itself, not relative: uniforms on two values whose scores
    (-2 ln 2b, b near 0.5) step by fractions of 1e-9, chained and not."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-0.4, 0.4, (12, 2))
    summaries, samples = [summarize(r) for r in x], list(x)
    cands, b = [], 0.5
    for i, step in enumerate([0.3, 0.5, 0.9, 0.2, 1.5, 0.6, 0.6]):
        cands.append(uniform(f"u{i}", b, prior=float(rng.choice([0.5, 1.0, 2.0]))))
        b *= math.exp(step * ranking.LOGLIK_TIE / 2)  # the score -2 ln 2b falls by step x 1e-9
    cands.append(normal("n", 0.3))
    check([cands] * 12, summaries, samples, monkeypatch)
