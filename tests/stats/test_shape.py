"""The shape test (issue 14, docs/statistics.md §2.10): cells, rounding edges, calibration in float32, bf16 and
fp16, and power on 10-bit quantization at n = 1e6 where the subsampled KS is blind."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from kaiming_cli.stats.laws import Law
from kaiming_cli.stats.shape import CellCounter, rounding_edges, shape_test, shape_test_cells
from tests.alternatives import quantized_10bit


def _counted(x: np.ndarray, dtype: str = "float32", n: int = 0) -> CellCounter:
    cells = CellCounter(dtype, n)
    cells.add(cells.partial(0, x))
    return cells


def test_every_stored_value_falls_in_the_cell_of_the_reals_that_round_to_it() -> None:
    """Independent of the code: torch rounds reals to bf16/fp16; the cell of the stored value (its top 16 bits)
    must be the cell whose rounding interval holds the real."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = np.abs(rng.standard_normal(100_000) * np.exp(rng.uniform(-10, 8, 100_000))).astype(np.float32)
    for dtype, tdt in (("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        stored = torch.from_numpy(x).to(tdt).float().numpy()
        ok = np.isfinite(stored)
        edges = rounding_edges(dtype)
        of_real = np.searchsorted(edges, x[ok].astype(np.float64), side="right") - 1
        of_stored = stored[ok].view(np.uint32) >> 16
        off = of_real != of_stored
        # the only exceptions: float32 values exactly on a midpoint (a tie, rounded to even: measure zero for a
        # continuous law, 2^-16 of float32 draws for bf16)
        assert np.all(np.isin(x[ok][off].astype(np.float64), edges)), dtype


def test_statistic_is_pearson_on_the_bins() -> None:
    """Few bins (n = 300): recompute X^2 from the counts with scipy's chisquare on the same bins."""
    x = np.random.default_rng(1).standard_normal(300).astype(np.float32)
    r = shape_test(Law("normal", 1.0), _counted(x).counts, "float32")
    assert r is not None and r.df == 5
    # 6 equiprobable bins of N(0, 1); the cells make the edges exact only up to a cell width (0.8%)
    edges = st.norm.ppf(np.arange(1, 6) / 6)
    observed = np.bincount(np.searchsorted(edges, x), minlength=6)
    ref = st.chisquare(observed).statistic
    assert r.statistic == pytest.approx(ref, abs=2.0)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_false_alarms_within_binomial_bound(dtype: str) -> None:
    """300 torch-sampled tensors of 2e4 values per dtype at a nominal 5% (99.9% binomial interval)."""
    torch = pytest.importorskip("torch")
    law = Law("normal", 0.05)
    ps = []
    for seed in range(300):
        torch.manual_seed(seed)
        w = torch.empty(20_000).normal_(0, 0.05).to(getattr(torch, dtype)).float().numpy()
        r = shape_test(law, _counted(w, dtype).counts, dtype)
        assert r is not None
        ps.append(r.pvalue)
    lo, hi = st.binom.ppf([0.0005, 0.9995], 300, 0.05)
    assert lo <= np.sum(np.array(ps) <= 0.05) <= hi


def test_bf16_storage_does_not_trip_at_1e6() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    w = torch.empty(1_000_000).normal_(0, 0.02).to(torch.bfloat16).float().numpy()
    r = shape_test(Law("normal", 0.02), _counted(w, "bfloat16").counts, "bfloat16")
    assert r is not None and r.pvalue > 1e-4 and r.df >= 900  # bf16 cells near 0 are coarser than 1/1000


def test_ten_bit_quantization_at_1e6_fails() -> None:
    """Issue 14: PyTorch's whole-tensor KS catches it 49 in 50; the subsampled KS 1 in 50."""
    for seed in range(3):
        x = quantized_10bit(np.random.default_rng(seed), (1000, 1000), 0.05)
        r = shape_test(Law("normal", 0.05), _counted(x.reshape(-1)).counts, "float32")
        assert r is not None and r.pvalue < 1e-6


def test_counts_chosen_chunks_beyond_the_cap() -> None:
    cells = CellCounter("float32", n=10 * (1 << 20), seed=np.random.SeedSequence(0), chunk=1 << 20)
    assert cells.starts is not None and len(cells.starts) == 1
    x = np.ones(1 << 20, dtype=np.float32)
    for i in range(10):
        cells.add(cells.partial(i << 20, x))
    assert cells.fed == 10 << 20 and cells.counts.sum() == 1 << 20
    assert math.isfinite(float(cells.counts.sum()))


def test_chunk_counts_equal_the_top_sixteen_bits_counted_whole() -> None:
    """partial counts a chunk in slices (a bounded bincount copy): the counts are those of every value's top 16
    bits counted at once, for a chunk longer than a slice and not a multiple of it."""
    from kaiming_cli.stats.shape import CELLS, COUNT_SLICE, CellCounter

    x = (np.random.default_rng(4).standard_normal(3 * COUNT_SLICE + 12345) * 0.03).astype(np.float32)
    size, counts = CellCounter("float32").partial(0, x)
    expected = np.bincount((x.view(np.uint32) >> np.uint32(16)).astype(np.int64), minlength=CELLS)
    assert size == x.size and counts is not None and np.array_equal(counts, expected)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("pieces", [[300], [4096], [1 << 16], [40_000, 40_000], [5000, 70_000, 10]])
def test_few_values_kept_as_cells_give_the_dense_counts_test(dtype: str, pieces: list[int]) -> None:
    """A counter of few values keeps their cells, not 2^16 counts (issue 25); the shape test on it is the test on
    the dense counts made here independently (``bincount`` of every value's top 16 bits), with and without zero
    rows left out, fed in one piece or several, crossing the kept-cells limit (SPARSE_MAX) or not."""
    rng = np.random.default_rng(len(pieces) + sum(pieces))
    law = Law("normal", 0.05)
    x = (rng.standard_normal(sum(pieces)) * 0.05).astype(np.float32)
    x[:64] = 0.0  # a zero row of 64 (left out below) and a few more exact zeros
    x[rng.integers(64, x.size, 5)] = 0.0
    if dtype == "bfloat16":
        x = (x.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    cells = CellCounter(dtype, x.size)
    start = 0
    for size in pieces:
        cells.add(cells.partial(start, x[start:start + size]))
        start += size
    dense = np.bincount((x.view(np.uint32) >> np.uint32(16)).astype(np.int64), minlength=1 << 16)
    assert cells.total == x.size == dense.sum()
    assert shape_test_cells(law, cells) == shape_test(law, dense, dtype)
    dense_left = dense.copy()
    dense_left[0] -= 64
    left = cells.without_zero_lines((0,), 64)
    assert left.total == x.size - 64
    assert shape_test_cells(law, left) == shape_test(law, dense_left, dtype)
    assert np.array_equal(left.counts, dense_left) and np.array_equal(cells.counts, dense)
    assert shape_test_cells(law, cells) == shape_test(law, dense, dtype)  # and after the dense counts were made


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_half_precision_uniform_moves_its_top_cell_to_the_bottom(dtype: str) -> None:
    """What the shape test's law assumes (stats/shape.py ``wraps_top_cell``), checked against torch itself:
    ``uniform_(a, b)`` on a bf16/fp16 tensor is the float32 draw (same stream) rounded to nearest, with every
    value that rounds to >= the storage's b replaced by the storage's a. Bounds that round up and down."""
    torch = pytest.importorskip("torch")
    tdt = getattr(torch, dtype)
    for b in (math.sqrt(6 / 512), 0.1076, 0.05, 1.0):
        torch.manual_seed(7)
        native = torch.empty(500_000, dtype=tdt).uniform_(-b, b)
        torch.manual_seed(7)
        cast = torch.empty(500_000).uniform_(-b, b).to(tdt)
        hi, lo = torch.tensor(b).to(tdt), torch.tensor(-b).to(tdt)
        model = torch.where(cast >= hi, lo, cast)
        assert torch.equal(native, model), (dtype, b)


def test_bf16_uniform_edges_pass_native_and_cast() -> None:
    """bf16 kaiming_uniform_(relu) at 1024x1024 (2^20 values all counted): torch's own bf16 draw leaves the top
    rounding cell (157/2048, holding 0.27 of a cell's mass under the plain rounded law, ~900 values) empty, and
    used to fail at z = -30; a float32 draw cast to bf16 fills it. Both pass now: the edge bins are one."""
    torch = pytest.importorskip("torch")
    b = math.sqrt(6 / 1024)
    law = Law("uniform", b / math.sqrt(3))
    for seed in range(3):
        torch.manual_seed(seed)
        native = torch.empty(1024, 1024, dtype=torch.bfloat16)
        torch.nn.init.kaiming_uniform_(native, nonlinearity="relu")
        torch.manual_seed(seed)
        cast = torch.empty(1024, 1024)
        torch.nn.init.kaiming_uniform_(cast, nonlinearity="relu")
        top = float(torch.tensor(b).to(torch.bfloat16))
        for w, at_top in ((native, 0), (cast.to(torch.bfloat16), None)):
            x = w.float().numpy().reshape(-1)
            assert at_top is None or int(np.sum(x == top)) == at_top
            r = shape_test(law, _counted(x, "bfloat16").counts, "bfloat16")
            assert r is not None and r.pvalue > 1e-3, (seed, r)
