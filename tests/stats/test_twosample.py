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


def test_structure_counts_only_a_test_failing_on_one_side() -> None:
    from kaiming_cli.stats.twosample import structure_pvalue

    passes = [("rows", 1.0, 0.5, "ok"), ("cols", 1.0, 0.3, "ok"), ("spectrum", 1.0, 0.2, "ok")]
    fails_rows = [("rows", 9.0, 1e-9, "rows bad"), *passes[1:]]
    p, detail = structure_pvalue(passes, fails_rows)
    assert p == pytest.approx(1e-9 * 2 * 3) and detail.startswith("B fails the rows test") and "rows bad" in detail
    assert structure_pvalue(fails_rows, fails_rows)[0] == 1.0  # both fail (an orthogonal law's equal rows): no count
    fails_cols = [passes[0], ("cols", 9.0, 1e-9, "cols bad"), passes[2]]
    assert structure_pvalue(fails_rows, [fails_rows[0], *fails_cols[1:]])[0] == 1.0  # ... nor of the other tests
    assert structure_pvalue(passes, passes)[0] == pytest.approx(min(1.0, 0.2 * 6))


def engine_sample(values: object, dtype: str) -> np.ndarray:
    """The values as the engine's subsample holds them: decoded to float64, bfloat16/float16 spread over their
    rounding cells (engine/sources.py's dequantizer)."""
    from kaiming_cli.engine.sources import dequantizer

    x = np.asarray(values, dtype=np.float64).ravel()
    jitter = dequantizer(dtype, np.random.SeedSequence(7))
    return jitter(x) if jitter is not None else x


def test_a_repeated_block_is_uninitialized_memory() -> None:
    rng = np.random.default_rng(4)
    block = rng.normal(0, 0.02, 512).astype(np.float32)  # plausible values: no huge or subnormal mark
    garbage = np.tile(block, 16).astype(np.float64)
    why = uninitialized_reason(summarize(garbage), garbage, 23)
    assert why is not None and "repeated pattern" in why and why.startswith(f"{garbage.size - 512} of ")
    fresh = rng.normal(0, 0.02, garbage.size).astype(np.float32).astype(np.float64)
    assert uninitialized_reason(summarize(fresh), fresh, 23) is None


def test_rounded_half_precision_draws_are_not_a_repeated_pattern() -> None:
    """bfloat16 and float16 draws repeat most values by rounding alone (a bfloat16 binade holds 128 values): the
    repeated-value mark must count only repeats beyond that, including for a bfloat16 model saved as float32."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    for dtype, bits in (("bfloat16", 7), ("float16", 10)):
        for std in (1e-3, 0.02, 1.0):
            for draw in ("normal", "uniform"):
                w = torch.empty(100_000, dtype=getattr(torch, dtype))
                torch.nn.init.normal_(w, 0, std) if draw == "normal" else torch.nn.init.uniform_(w, -std, std)
                sample = engine_sample(w.double().numpy(), dtype)
                repeats = sample.size - np.unique(w.double().numpy()).size
                assert repeats > sample.size // 2, (dtype, std, draw)  # the premise: most values repeat
                assert uninitialized_reason(summarize(sample), sample, bits) is None, (dtype, std, draw)
                upcast = w.double().numpy()  # saved as float32: the rounding is bfloat16's/float16's
                assert uninitialized_reason(summarize(upcast), upcast, 23) is None, (dtype, std, draw)


def test_the_rounding_null_counts_each_bin_as_np_unique_does() -> None:
    """``rounding_repeats`` reads each bin's count as a run of the sorted values' keys (one sort in
    ``repeated_values``): the same mean and variance, bit for bit, as the counts of ``np.unique`` over the keys,
    written out here, on values of both signs over many binades, float16 subnormals and huge magnitudes."""
    from kaiming_cli.stats.uninitialized import BINS_PER_BINADE, rounding_repeats, run_lengths

    def by_np_unique(values: np.ndarray, bits: int) -> tuple[float, float]:
        mant, e = np.frexp(np.abs(values))
        key = np.sign(values).astype(np.int64) * ((e.astype(np.int64) + 1100) * BINS_PER_BINADE
                                                   + np.floor((mant - 0.5) * 32).astype(np.int64) + 1)
        k = np.unique(key, return_counts=True)[1].astype(np.float64)
        cells = 2.0 ** (bits + 1) / 32
        q1, q2 = (1 - 1 / cells) ** k, (1 - 2 / cells) ** k
        var = cells * (cells - 1) * q2 + cells * q1 - cells * cells * q1 * q1
        return float(np.sum(k - cells * (1 - q1))), float(np.sum(np.maximum(var, 0.0)))

    rng = np.random.default_rng(11)
    arrays = [(rng.normal(0, 0.02, 20_000), 23), (rng.standard_cauchy(20_000) * 1e-3, 52),
              (rng.uniform(-1, 1, 20_000).astype(np.float16).astype(np.float64), 10),
              (rng.normal(0, 3e-5, 20_000).astype(np.float16).astype(np.float64), 10),  # subnormals below 2^-14
              (np.concatenate([rng.normal(0, 1e-30, 5_000), rng.normal(0, 1e30, 5_000)]), 23)]
    for values, bits in arrays:
        values = values[values != 0]
        assert rounding_repeats(np.sort(values), bits) == by_np_unique(values, bits)
        assert np.array_equal(run_lengths(np.sort(values)), np.unique(values, return_counts=True)[1])
    assert run_lengths(np.zeros(0)).size == 0


def test_the_subsample_never_repeats_a_position() -> None:
    """The stratified subsample takes distinct elements (strata of whole elements; with strata of a real width
    1.31 elements, 131072 over 1e5, 9653 positions repeated and KS saw values drawn partly with replacement),
    and a subsampled correct draw is not called a repeated pattern."""
    from kaiming_cli.engine.stream import subsample_positions

    for total in (100_001, 131_072, 147_456, 199_999, 589_824):
        for s in range(5):
            p = subsample_positions(total, 100_000, np.random.SeedSequence(s))
            assert p is not None and p.size == 100_000 and np.all(np.diff(p) > 0) and 0 <= p[0] and p[-1] < total
    total, m = 131_072, 100_000
    # every element equally likely: each position's stratum holds 1 or 2 elements, chosen uniformly
    hits = np.zeros(total)
    for s in range(200):
        hits[subsample_positions(total, m, np.random.SeedSequence(s))] += 1
    edges = (np.arange(m + 1) * total) // m
    width = np.repeat(np.diff(edges), np.diff(edges))
    assert abs(hits[width == 2].mean() / 100 - 1) < 0.02 and abs(hits[width == 1].mean() / 200 - 1) < 1e-12
    rng = np.random.default_rng(9)
    values = rng.normal(0, 0.1, total).astype(np.float32).astype(np.float64)
    sample = values[subsample_positions(total, m, np.random.SeedSequence(1))]
    assert uninitialized_reason(summarize(values), sample, 23) is None
