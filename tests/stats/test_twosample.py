"""stats/twosample.py and stats/uninitialized.py against formulas written out here (docs/statistics.md §12)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from kaiming_cli.stats.summary import summarize
from kaiming_cli.stats.twosample import compare, holm, std_ratio_interval
from kaiming_cli.stats.uninitialized import uninitialized_reason, zeros_where_random


def test_holm_is_the_step_down_formula() -> None:
    p = [0.01, 0.04, 0.03, 0.2]
    # sorted: 0.01*4 = 0.04, 0.03*3 = 0.09, 0.04*2 = 0.08 -> 0.09 (monotone), 0.2*1 = 0.2
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2])


def test_std_ratio_interval_is_layards() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 2.0, 5000), rng.normal(0, 1.0, 7000)
    ratio, (low, high) = std_ratio_interval(summarize(a), summarize(b))
    assert ratio == pytest.approx(np.std(a, ddof=1) / np.std(b, ddof=1))
    pooled = (a - a.mean(), b - b.mean())
    k = (a.size + b.size) * sum(np.sum(x ** 4) for x in pooled) / sum(np.sum(x ** 2) for x in pooled) ** 2
    half = 0.5 * sps.norm.ppf(0.975) * math.sqrt((k - 1) * (1 / a.size + 1 / b.size))
    assert (low, high) == pytest.approx((ratio * math.exp(-half), ratio * math.exp(half)))
    assert low < 2.0 < high


def test_small_tensors_use_brown_forsythe_and_welch_and_exact_ks() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 64), rng.normal(0.2, 1.3, 64)
    t = compare(summarize(a), summarize(b), a, b)
    assert t.p_scale == pytest.approx(sps.levene(a, b, center="median").pvalue)
    assert t.p_location == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue)
    assert t.p_shape == pytest.approx(sps.ks_2samp(a, b, method="exact").pvalue)
    assert t.pvalue == pytest.approx(min(1.0, 3 * min(t.p_scale, t.p_location, t.p_shape)))


def test_identical_values_are_the_same_draw() -> None:
    a = np.random.default_rng(2).normal(size=100)
    t = compare(summarize(a), summarize(a.copy()), a, a.copy())
    assert t.identical and t.pvalue == 1.0


def test_marks_of_uninitialized_memory() -> None:
    rng = np.random.default_rng(3)
    normal = rng.normal(0, 0.05, 4096).astype(np.float32).astype(np.float64)
    assert uninitialized_reason(summarize(normal), normal, 23) is None
    huge = normal.copy()
    huge[::50] = 3e9
    assert "far outside" in (uninitialized_reason(summarize(huge), huge, 23) or "")
    tiny = normal.copy()
    tiny[7] = 1e-40  # below float32's smallest normal, 1.1754944e-38
    assert "subnormal" in (uninitialized_reason(summarize(tiny), tiny, 23) or "")
    assert uninitialized_reason(summarize(tiny), tiny, 10) is None  # float16: subnormals lie inside init laws
    nan = normal.copy()
    nan[3] = np.nan
    assert "NaN" in (uninitialized_reason(summarize(nan), nan, 23) or "")
    mask = np.where(np.arange(64) % 2 == 0, 0.0, -np.inf)  # a causal mask buffer: 0 and -inf, not garbage
    assert uninitialized_reason(summarize(mask), mask, 23) is None
    zeros = np.zeros(64)
    assert zeros_where_random(summarize(zeros), True) is not None
    assert zeros_where_random(summarize(zeros), False) is None  # zeros_ is a valid init
    assert uninitialized_reason(summarize(normal), normal, None) is None  # integers: any bits are valid
