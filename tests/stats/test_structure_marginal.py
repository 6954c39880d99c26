"""The structure tests answer for the arrangement only (issue 26): under a wrong marginal family with an i.i.d.
arrangement, ``rows`` and ``cols`` fire at most at their level, because they then judge the dispersion with the
data's own moments (stats/battery.py ``own_shape``); and a FAIL's first reason names the marginal cause.
Before, uniform data checked as normal failed ``rows`` and ``cols`` in 60 of 60 runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kaiming_cli.api import verify_tensor

SHAPE = (128, 256)
SEEDS = 200
LEVEL = 0.01
#: P(Binomial(200, 0.01) >= 7) = 0.0045: more firings than this is a test above its level.
MAX_FIRINGS = 6


def wrong_family(kind: str, rng: np.random.Generator) -> np.ndarray:
    """i.i.d. values of std 0.05 from a family other than the normal the rule names."""
    n = math.prod(SHAPE)
    if kind == "uniform":
        x = rng.uniform(-math.sqrt(3), math.sqrt(3), n)
    else:  # a normal cut at +-2 sigma, scaled to std 1
        z = rng.standard_normal(2 * n)
        x = z[np.abs(z) < 2][:n] / 0.87962566103423978
    return (x * 0.05).reshape(SHAPE).astype(np.float32)


@pytest.mark.parametrize("kind", ["uniform", "truncated"])
def test_rows_and_cols_fire_at_most_at_their_level_under_a_wrong_family(kind: str) -> None:
    rng = np.random.default_rng(2600 if kind == "uniform" else 2601)
    fired = {"rows": 0, "cols": 0}
    first_is_marginal = 0
    for seed in range(SEEDS):
        r = verify_tensor(wrong_family(kind, rng), init="normal_(std=0.05)", alpha=LEVEL, seed=seed)
        assert r.status == "fail"  # the family is wrong: the marginal tests see it every time at this n
        for t in r.tests:
            if t.name in fired and t.pvalue < LEVEL:
                fired[t.name] += 1
        first = next(t for t in r.tests if not t.passed and r.reason.startswith(t.detail))
        first_is_marginal += first.name not in ("rows", "cols", "spectrum")
    assert fired["rows"] <= MAX_FIRINGS and fired["cols"] <= MAX_FIRINGS, fired
    # a marginal test fails every time, so it leads the reason every time (runners/verify/result.py failure_reason),
    # also in the few seeds where a structure test fires at its level
    assert first_is_marginal == SEEDS


def test_a_structure_bug_under_a_wrong_family_is_still_caught() -> None:
    """Uniform data (wrong family) with half the rows scaled by 1.5: rows still fires, judged with the data's
    own moments, and is in the reason after the marginal cause (the family), which leads."""
    rng = np.random.default_rng(7)
    caught = 0
    for seed in range(20):
        w = wrong_family("uniform", rng)
        w[: SHAPE[0] // 2] *= 1.5
        r = verify_tensor(w, init="normal_(std=0.05)", alpha=LEVEL, seed=seed)
        rows = next(t for t in r.tests if t.name == "rows")
        caught += not rows.passed
        marginal = [t.detail for t in r.tests if not t.passed and t.name not in ("rows", "cols", "spectrum")]
        assert marginal and r.reason.startswith(marginal[0]) and rows.detail in r.reason
        assert r.reason.index(rows.detail) > r.reason.index(marginal[-1])
    assert caught == 20


def test_a_structure_bug_alone_leads_the_reason() -> None:
    """Sorted rows of a correct normal draw: the marginal tests pass, the structure is the reason."""
    w = np.sort(np.random.default_rng(3).standard_normal(SHAPE) * 0.05, axis=None).reshape(SHAPE).astype(np.float32)
    r = verify_tensor(w, init="normal_(std=0.05)", alpha=LEVEL)
    assert r.status == "fail" and r.reason.startswith(next(t.detail for t in r.tests if t.name in ("rows", "cols")
                                                          and not t.passed))
