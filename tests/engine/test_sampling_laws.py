"""numpy samplers for every law (#13) and the bounded whole-tensor read: samples follow scipy's law, the
structured families have their exact structure, and nothing over the element budget is loaded."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import torch

from kaiming_cli.engine.sampling import draw, sample_law
from kaiming_cli.engine.sources import scan_source, scan_source_whole
from kaiming_cli.io.memory import array_source
from kaiming_cli.stats.laws import law_from_spec
from kaiming_cli.theory import law as L


@pytest.mark.parametrize("spec,ref", [
    (L.normal(0.3, 0.02), st.norm(0.3, 0.02)),
    (L.uniform(-0.1, 0.3), st.uniform(-0.1, 0.4)),
    (L.truncated_normal(0.1, 0.5, -0.3, 1.5), st.truncnorm(-0.8, 2.8, loc=0.1, scale=0.5)),
    (L.truncated_normal(0.0, 1.0, 3.0, math.inf), st.truncnorm(3.0, math.inf)),  # far upper tail only
    (L.truncated_normal(0.0, 1.0, -math.inf, -4.0), st.truncnorm(-math.inf, -4.0)),
])
def test_iid_samplers_follow_scipy(spec: L.LawSpec, ref: st.rv_continuous) -> None:
    law = law_from_spec(spec)
    for seed in range(3):
        x = draw(np.random.default_rng(seed), law, 50_000).astype(np.float64)
        assert x.min() >= ref.support()[0] and x.max() <= ref.support()[1]
        assert st.kstest(x, ref.cdf).pvalue > 1e-4


def test_one_sided_truncation_range_test_sees_the_edge() -> None:
    """A cut at [3, inf): values below 3 are beyond the support; the far side has no edge to test."""
    from kaiming_cli.stats.battery import range_test
    from kaiming_cli.stats.summary import summarize

    law = law_from_spec(L.truncated_normal(0.0, 1.0, 3.0, math.inf))
    x = draw(np.random.default_rng(0), law, 10_000).astype(np.float64)
    assert range_test(law, summarize(x), 2.0**-21)[1] > 1e-3
    assert range_test(law, summarize(np.append(x, 2.9)), 2.0**-21)[1] == 0.0
    assert range_test(law, summarize(x[x > 3.05]), 2.0**-21)[1] < 1e-6  # lower edge missing


def test_constant_sampler() -> None:
    x = draw(np.random.default_rng(0), law_from_spec(L.constant(0.3)), 10)
    assert x.dtype == np.float32 and (x == np.float32(0.3)).all()


def test_sparse_sampler_zeros_per_column_and_law_of_the_rest() -> None:
    law = law_from_spec(L.sparse(0.3, 0.02), (50, 400))
    _, _, values = sample_law(law, 50 * 400, 1, max_ks=1000)
    assert values is not None
    w = values.reshape(50, 400)
    assert (np.count_nonzero(w == 0, axis=0) == math.ceil(0.3 * 50)).all()
    assert st.kstest(w[w != 0].astype(np.float64), st.norm(0, 0.02).cdf).pvalue > 1e-4


@pytest.mark.parametrize("shape,view", [((64, 3, 3, 3), "torch"), ((20, 300), "torch"), ((3, 3, 16, 32), "keras")])
def test_orthogonal_sampler(shape: tuple[int, ...], view: str) -> None:
    law = law_from_spec(L.orthogonal(1.5, 1, 1), shape, matrix=view)
    _, _, values = sample_law(law, math.prod(shape), 2, max_ks=1000)
    assert values is not None
    rows = shape[0] if view == "torch" else math.prod(shape[:-1])
    w = values.astype(np.float64).reshape(rows, -1) / 1.5
    short = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(short, np.eye(short.shape[0]), atol=1e-6)


def test_identity_sampler_is_torch_dirac() -> None:
    shape = (8, 4, 3, 3)
    law = law_from_spec(L.identity(1.0), shape, groups=2)
    _, _, values = sample_law(law, math.prod(shape), 0, max_ks=10)
    t = torch.empty(shape)
    torch.nn.init.dirac_(t, groups=2)
    assert values is not None
    np.testing.assert_array_equal(values.reshape(shape), t.numpy())


def test_whole_tensor_law_refuses_another_sample_count() -> None:
    law = law_from_spec(L.orthogonal(1.0, 4, 4), (4, 4))
    with pytest.raises(ValueError, match="drop --samples"):
        sample_law(law, 100, 0, max_ks=10)


def test_scan_source_whole_keeps_the_tensor_and_matches_scan_source() -> None:
    t = torch.randn(300, 70).to(torch.bfloat16)
    source = array_source(t, "w")
    s1, sample1 = scan_source(source, seed=3, jobs=1, max_ks=1000)
    s2, sample2, values = scan_source_whole(source, seed=3, jobs=1, max_ks=1000)
    assert s1 == s2
    np.testing.assert_array_equal(sample1, sample2)
    assert values is not None and values.dtype == np.float32
    np.testing.assert_array_equal(values, t.float().numpy().reshape(-1))


def test_scan_source_whole_does_not_load_beyond_its_budget() -> None:
    source = array_source(np.zeros((64, 64), dtype=np.float32), "w")
    summary, _, values = scan_source_whole(source, seed=0, jobs=1, max_ks=10, max_elements=64 * 64 - 1)
    assert values is None and summary.n == 64 * 64


def test_scan_source_whole_budget_counts_bytes_for_float64() -> None:
    source = array_source(np.zeros((64, 64), dtype=np.float64), "w")
    assert scan_source_whole(source, seed=0, jobs=1, max_ks=10, max_elements=2 * 64 * 64)[2] is not None
    assert scan_source_whole(source, seed=0, jobs=1, max_ks=10, max_elements=2 * 64 * 64 - 2)[2] is None


def test_draws_into_a_reused_buffer_equal_fresh_draws() -> None:
    """producer() draws normal and uniform chunks into one buffer per thread: the values are those of a fresh
    array from the same seed (numpy's out= fills it with the same stream)."""
    from kaiming_cli.engine.sampling import draw
    from kaiming_cli.stats.laws import Law

    buf = np.full(5000, np.nan, dtype=np.float32)
    for law in (Law("normal", 0.3), Law("normal", 0.3, mean=0.1), Law("uniform", 0.3)):
        fresh = draw(np.random.default_rng(9), law, 4000)
        reused = draw(np.random.default_rng(9), law, 4000, out=buf)
        assert np.array_equal(fresh, reused) and np.shares_memory(reused, buf)
