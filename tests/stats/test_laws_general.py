"""Laws beyond the marginal three (#13): general normal/uniform, any truncation, constant, orthogonal, identity,
sparse. Expected values come from scipy.stats or the formula written out here; samples come from real torch
initializers (the law must pass) and from wrong calls (it must fail)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import torch
from scipy import integrate

from kaiming_cli.engine.sampling import MatrixTooLarge, draw_matrix, sample_law
from kaiming_cli.stats.battery import run_battery
from kaiming_cli.stats.exact import orthogonal_tolerance
from kaiming_cli.stats.laws import Law, kurtosis_avar, law_from_spec, round_to_dtype
from kaiming_cli.stats.summary import summarize
from kaiming_cli.theory import law as L

ALPHA = 1e-3


def battery(law: Law, x: np.ndarray, dtype: str = "float32", alpha: float = ALPHA, whole: bool = True):
    flat = np.asarray(x).reshape(-1)
    return run_battery(law, summarize(flat), flat.astype(np.float64), alpha, values=flat if whole else None,
                       dtype=dtype)


def torch_tensor(shape: tuple[int, ...], init, seed: int = 0, dtype: torch.dtype = torch.float32) -> np.ndarray:
    torch.manual_seed(seed)
    t = torch.empty(shape, dtype=torch.float32)
    init(t)
    if dtype != torch.float32:
        t = t.to(dtype)
    return t.float().numpy() if dtype == torch.bfloat16 else t.numpy()


# --------------------------------------------------------------------------- moments and CDFs against scipy

TRUNCS = [(0.1, 0.5, -0.3, 1.5), (0.0, 1.0, -1.0, 3.0), (2.0, 1.0, -1.0, 2.5), (0.0, 0.02, -2.0, 2.0),
          (0.0, 1.0, 6.0, math.inf), (0.0, 1.0, -math.inf, -5.0), (1.0, 2.0, 12.0, 15.0)]


@pytest.mark.parametrize("loc,scale,low,high", TRUNCS)
def test_truncated_moments_and_cdf_match_scipy(loc: float, scale: float, low: float, high: float) -> None:
    law = law_from_spec(L.truncated_normal(loc, scale, low, high))
    ref = st.truncnorm((low - loc) / scale, (high - loc) / scale, loc=loc, scale=scale)
    mean, var, skew, kurt = (float(v) for v in ref.stats("mvsk"))
    assert law.mean == pytest.approx(mean, rel=1e-9, abs=1e-12)
    assert law.std == pytest.approx(math.sqrt(var), rel=1e-7)
    assert law.standardized_moments()[0] == pytest.approx(skew, abs=1e-6)
    assert law.kurtosis == pytest.approx(kurt + 3.0, rel=1e-6)
    x = np.linspace(max(low, -20) - 0.1, min(high, 20) + 0.1, 41)
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), atol=1e-12)


@pytest.mark.parametrize("loc,scale,low,high", TRUNCS[:3])
def test_kurtosis_avar_is_the_delta_method_for_skewed_laws(loc: float, scale: float, low: float,
                                                          high: float) -> None:
    """n Var(b2) = E[(y^4 - mu4 - 4 mu3 y - 2 mu4 (y^2 - 1))^2] for standardized y, integrated with quad."""
    law = law_from_spec(L.truncated_normal(loc, scale, low, high))
    ref = st.truncnorm((low - loc) / scale, (high - loc) / scale, loc=loc, scale=scale)
    m, s = ref.mean(), ref.std()
    mu3 = float(ref.stats("s"))
    mu4 = float(ref.stats("k")) + 3.0

    def influence_sq(x: float) -> float:
        y = (x - m) / s
        return float((y**4 - mu4 - 4 * mu3 * y - 2 * mu4 * (y**2 - 1)) ** 2 * ref.pdf(x))

    expected, _ = integrate.quad(influence_sq, low, high, limit=200)
    assert law.kurtosis_avar == pytest.approx(expected, rel=1e-6)


def test_kurtosis_avar_reduces_to_the_symmetric_formula() -> None:
    for law in (Law("normal", 1.0), Law("uniform", 1.0), Law("truncated_normal", 1.0)):
        _, mu4, _, mu6, _, mu8 = law.standardized_moments()
        assert law.kurtosis_avar == pytest.approx(kurtosis_avar(mu4, mu6, mu8), rel=1e-12)
    assert Law("normal", 1.0).kurtosis_avar == pytest.approx(24.0)


@pytest.mark.parametrize("d", [2, 5, 27, 256])
def test_orthogonal_marginal_cdf_is_a_sphere_coordinate(d: int) -> None:
    """(u + 1)/2 ~ Beta((d-1)/2, (d-1)/2) for a coordinate u of a uniform point on the unit sphere of R^d."""
    law = law_from_spec(L.orthogonal(1.5, d, 1), (d, 1))
    x = np.linspace(-1.5, 1.5, 61)
    expected = st.beta.cdf((x / 1.5 + 1) / 2, (d - 1) / 2, (d - 1) / 2)
    np.testing.assert_allclose(law.cdf(x), expected, atol=1e-12)
    assert law.std == pytest.approx(1.5 / math.sqrt(d))
    assert law.kurtosis == pytest.approx(3 * d / (d + 2))


def test_general_normal_and_uniform_cdf() -> None:
    x = np.linspace(-1, 1, 21)
    np.testing.assert_allclose(law_from_spec(L.normal(0.3, 0.2)).cdf(x), st.norm(0.3, 0.2).cdf(x), atol=1e-14)
    np.testing.assert_allclose(law_from_spec(L.uniform(-0.1, 0.5)).cdf(x), st.uniform(-0.1, 0.6).cdf(x),
                               atol=1e-14)


def test_two_edge_range_p_is_the_law_of_the_extremes() -> None:
    """p = 2 min(F(max + slack)^n, (1 - F(min - slack))^n) for an asymmetric truncation, F from scipy."""
    loc, scale, low, high = 0.1, 0.5, -0.3, 1.5
    law = law_from_spec(L.truncated_normal(loc, scale, low, high))
    ref = st.truncnorm((low - loc) / scale, (high - loc) / scale, loc=loc, scale=scale)
    x = np.array([-0.25, 0.2, 0.4, 1.3, 0.0] * 20)
    r = next(t for t in battery(law, x, dtype="float64").tests if t.name == "range")
    n = x.size
    slack = 2.0**-21 * 1.5  # float32 storage rounding allowed at the edges, in the data's favour
    expected = min(1.0, 2 * min(ref.cdf(1.3 + slack) ** n, ref.sf(-0.25 - slack) ** n))
    assert r.pvalue == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- torch samples pass, wrong calls fail

def passes(law: Law, x: np.ndarray, dtype: str = "float32") -> bool:
    b = battery(law, x, dtype)
    return b.passed and not b.not_run


def test_torch_asymmetric_trunc_normal_passes_and_wrong_bounds_fail() -> None:
    x = torch_tensor((300, 200), lambda t: torch.nn.init.trunc_normal_(t, 0.1, 0.5, -0.3, 1.5))
    assert passes(law_from_spec(L.truncated_normal(0.1, 0.5, -0.3, 1.5)), x)
    assert not passes(law_from_spec(L.truncated_normal(0.1, 0.5, -0.3, 1.4)), x)  # beyond the upper edge
    assert not passes(law_from_spec(L.truncated_normal(0.1, 0.5, -0.35, 1.5)), x)  # lower cut too far inside
    assert not passes(law_from_spec(L.truncated_normal(0.1, 0.55, -0.3, 1.5)), x)


def test_torch_general_normal_and_uniform() -> None:
    x = torch_tensor((200, 100), lambda t: torch.nn.init.normal_(t, 0.3, 0.02))
    assert passes(law_from_spec(L.normal(0.3, 0.02)), x)
    assert not passes(law_from_spec(L.normal(0.0, 0.02)), x)
    assert not passes(law_from_spec(L.normal(0.3, 0.021)), x)
    u = torch_tensor((200, 100), lambda t: torch.nn.init.uniform_(t, -0.1, 0.3))
    assert passes(law_from_spec(L.uniform(-0.1, 0.3)), u)
    assert not passes(law_from_spec(L.uniform(-0.11, 0.3)), u)
    assert not passes(law_from_spec(L.uniform(-0.2, 0.2)), u)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_torch_constant_passes_after_rounding_to_the_dtype(dtype: torch.dtype) -> None:
    name = str(dtype).removeprefix("torch.")
    t = torch.empty(7, 5, dtype=dtype)
    torch.nn.init.constant_(t, 0.3)
    x = t.float().numpy()
    assert float(x[0, 0]) == round_to_dtype(0.3, name)
    assert float(x[0, 0]) != 0.3
    assert passes(law_from_spec(L.constant(0.3)), x, name)
    assert not passes(law_from_spec(L.constant(0.31)), x, name)
    x[3, 2] = 0.0
    assert not passes(law_from_spec(L.constant(0.3)), x, name)


def test_constant_is_exact_for_float64_and_integers() -> None:
    assert passes(law_from_spec(L.constant(0.3)), np.full(10, 0.3), "float64")
    assert not passes(law_from_spec(L.constant(0.3)), np.full(10, np.float32(0.3), dtype=np.float64), "float64")
    assert passes(law_from_spec(L.constant(2.0)), np.full(10, 2.0), "int64")
    assert not passes(law_from_spec(L.constant(2.0)), np.full(10, 3.0), "int64")


@pytest.mark.parametrize("shape,gain", [((64, 3, 3, 3), 1.0), ((32, 100), 2.0), ((100, 32), 0.5), ((8, 8), 1.0)])
def test_torch_orthogonal_passes(shape: tuple[int, ...], gain: float) -> None:
    r, c = shape[0], math.prod(shape[1:])
    spec = L.orthogonal(gain, r, c)
    for seed in range(3):
        x = torch_tensor(shape, lambda t: torch.nn.init.orthogonal_(t, gain=gain), seed)
        assert passes(law_from_spec(spec, shape), x)


def test_orthogonal_wrong_gain_scaled_row_and_view_fail() -> None:
    shape = (64, 3, 3, 3)
    x = torch_tensor(shape, lambda t: torch.nn.init.orthogonal_(t, gain=1.1))
    assert not passes(law_from_spec(L.orthogonal(1.0, 64, 27), shape), x)
    y = torch_tensor(shape, lambda t: torch.nn.init.orthogonal_(t))
    y[5] *= 1.001
    b = battery(law_from_spec(L.orthogonal(1.0, 64, 27), shape), y)
    assert not b.passed and [t.name for t in b.tests if not t.passed] == ["orthogonal"]
    # Keras flattens to (prod(shape[:-1]), shape[-1]): torch's tensor is not orthogonal in that view
    assert not passes(law_from_spec(L.orthogonal(1.0, 64, 27), shape, matrix="keras"), y)
    # a normal tensor with the same entry std is not orthogonal, though its marginal law is close
    z = np.random.default_rng(0).standard_normal((64, 27)).astype(np.float32) / math.sqrt(64)
    assert not passes(law_from_spec(L.orthogonal(1.0, 64, 27), (64, 27)), z)


def test_keras_view_orthogonal_passes() -> None:
    """Keras Orthogonal: QR of a (max, min) Gaussian, transposed when rows < cols, reshaped to the shape, with
    rows = prod(shape[:-1]) (keras/src/initializers/random_initializers.py)."""
    shape = (3, 3, 16, 32)
    rows, cols = 3 * 3 * 16, 32
    a = np.random.default_rng(3).standard_normal((max(rows, cols), min(rows, cols))).astype(np.float32)
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    x = (1.3 * q.reshape(shape)).astype(np.float32)
    assert passes(law_from_spec(L.orthogonal(1.3, rows, cols), shape, matrix="keras"), x)
    assert not passes(law_from_spec(L.orthogonal(1.3, rows, cols), shape, matrix="torch"), x)


def jax_view_matrix(shape: tuple[int, ...], column_axis: int, scale: float, seed: int) -> np.ndarray:
    """The (other axes, n) matrix jax.nn.initializers.orthogonal(scale, column_axis) makes orthonormal, written
    out: QR of a Gaussian, sign of R's diagonal into Q, transposed when it is wide."""
    n = shape[column_axis]
    rest = math.prod(shape) // n
    a = np.random.default_rng(seed).standard_normal((max(rest, n), min(rest, n)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return scale * (q if rest >= n else q.T)


def jax_view_tensor(shape: tuple[int, ...], column_axis: int, scale: float, seed: int) -> np.ndarray:
    """What JAX stores: the matrix reshaped to the other axes in order + (n,), then the last axis moved to
    ``column_axis`` (jax/_src/nn/initializers.py ``orthogonal``)."""
    others = tuple(s for i, s in enumerate(shape) if i != column_axis % len(shape))
    m = jax_view_matrix(shape, column_axis, scale, seed)
    return np.moveaxis(m.reshape((*others, shape[column_axis])), -1, column_axis).astype(np.float32)


def call_law(text: str, shape: tuple[int, ...]) -> Law:
    from kaiming_cli.theory.calls import parse_init_call

    return law_from_spec(parse_init_call(text).resolve(shape).law, shape)


@pytest.mark.parametrize("shape,axis", [((8, 3, 3, 16), 0), ((8, 3, 3, 16), 1), ((8, 3, 3, 16), -2),
                                        ((16, 3, 40), 0), ((16, 3, 40), 1), ((5, 7, 6), -2)])
def test_jax_column_axis_view_passes_and_the_rest_last_view_does_not(shape: tuple[int, ...], axis: int) -> None:
    """JAX's orthogonal(column_axis=k) makes (other axes, shape[k]) orthonormal and moves k back in place: the
    stored tensor's (rest, last) view is another matrix, and the law of the call must test JAX's."""
    x = jax_view_tensor(shape, axis, 0.7, seed=1)
    n = shape[axis]
    rest = math.prod(shape) // n
    law = call_law(f"jax.nn.initializers.orthogonal(0.7, column_axis={axis})", shape)
    assert law.rows_cols == (rest, n)
    assert law.std == pytest.approx(0.7 / math.sqrt(max(rest, n)), rel=1e-12)
    assert passes(law, x)
    # the same values read as (prod(shape[:-1]), shape[-1]): what Keras and column_axis=-1 make orthonormal
    last = law_from_spec(L.orthogonal(0.7, rest, n), shape, matrix="jax")
    assert not passes(last, x)
    # the same (rest, n) matrix laid in by a plain reshape, without the moveaxis, is not what the call makes
    unmoved = jax_view_matrix(shape, axis, 0.7, seed=1).astype(np.float32).reshape(shape)
    assert not passes(law, unmoved)


def test_sampled_column_axis_law_is_orthogonal_in_jax_view() -> None:
    """The numpy sampler (kaiming check --backend numpy) lays its matrix out as JAX does: the independent view
    (moveaxis k to the end, reshape) of its sample is orthonormal."""
    shape = (8, 3, 3, 16)
    law = call_law("jax.nn.initializers.orthogonal(2.0, column_axis=0)", shape)
    x = draw_matrix(np.random.default_rng(0), law).reshape(shape).astype(np.float64)
    w = np.moveaxis(x, 0, -1).reshape(-1, 8) / 2.0
    np.testing.assert_allclose(w.T @ w, np.eye(8), atol=1e-6)
    assert passes(law, x.astype(np.float32))


def test_orthogonal_bfloat16_within_its_bound() -> None:
    shape = (128, 96)
    x = torch_tensor(shape, lambda t: torch.nn.init.orthogonal_(t, gain=1.7), dtype=torch.bfloat16)
    assert passes(law_from_spec(L.orthogonal(1.7, *shape), shape), x, "bfloat16")
    assert orthogonal_tolerance("bfloat16", 128) == pytest.approx(8 * 2**-8 + 2 * 2**-24 + 8 * math.sqrt(128) * 2**-24)


def test_orthogonal_without_the_matrix_is_not_run() -> None:
    x = torch_tensor((32, 32), torch.nn.init.orthogonal_)
    b = battery(law_from_spec(L.orthogonal(1.0, 32, 32), (32, 32)), x, whole=False)
    assert b.not_run == ("orthogonal",)
    assert math.isinf(b.detectable)


def test_torch_sparse_passes_and_wrong_sparsity_fails() -> None:
    shape = (100, 300)
    x = torch_tensor(shape, lambda t: torch.nn.init.sparse_(t, 0.1, std=0.02))
    assert passes(law_from_spec(L.sparse(0.1, 0.02), shape), x)
    assert not passes(law_from_spec(L.sparse(0.2, 0.02), shape), x)
    assert not passes(law_from_spec(L.sparse(0.1, 0.03), shape), x)
    y = x.copy()
    col = 7
    y[np.flatnonzero(y[:, col] == 0)[0], col] = 0.01  # one column one zero short
    b = battery(law_from_spec(L.sparse(0.1, 0.02), shape), y)
    assert [t.name for t in b.tests if not t.passed] == ["zeros"]


def test_torch_eye_and_dirac() -> None:
    e = torch_tensor((16, 24), torch.nn.init.eye_)
    assert passes(law_from_spec(L.identity(1.0), (16, 24)), e)
    assert not passes(law_from_spec(L.identity(2.0), (16, 24)), e)
    d = torch_tensor((8, 4, 3, 3), lambda t: torch.nn.init.dirac_(t, groups=2))
    assert passes(law_from_spec(L.identity(1.0), (8, 4, 3, 3), groups=2), d)
    assert not passes(law_from_spec(L.identity(1.0), (8, 4, 3, 3), groups=1), d)
    d5 = torch_tensor((4, 4, 3, 3, 3), torch.nn.init.dirac_)
    assert passes(law_from_spec(L.identity(1.0), (4, 4, 3, 3, 3)), d5)
    d5[0, 0, 0, 0, 0] = 1e-6
    assert not passes(law_from_spec(L.identity(1.0), (4, 4, 3, 3, 3)), d5)


def test_keras_identity_gain() -> None:
    x = (0.7 * np.eye(5, 9)).astype(np.float32)
    assert passes(law_from_spec(L.identity(0.7), (5, 9)), x)


# --------------------------------------------------------------------------- false alarms within a binomial bound

def binomial_upper(n: int, p: float, tail: float = 1e-4) -> int:
    """Smallest k with P(Binom(n, p) >= k) <= tail: more rejections than this is miscalibration."""
    return int(st.binom.isf(tail, n, p)) + 1


FAMILIES = [
    (L.normal(0.3, 0.02), (40, 50)),
    (L.uniform(-0.1, 0.3), (40, 50)),
    (L.truncated_normal(0.1, 0.5, -0.3, 1.5), (40, 50)),
    (L.orthogonal(1.0, 40, 50), (40, 50)),
    (L.sparse(0.25, 0.01), (40, 50)),
]


@pytest.mark.parametrize("spec,shape", FAMILIES, ids=[f[0].distribution for f in FAMILIES])
def test_false_alarm_rate_within_binomial_bound(spec: L.LawSpec, shape: tuple[int, int]) -> None:
    alpha, seeds = 0.05, 1000
    law = law_from_spec(spec, shape)
    n = math.prod(shape)
    rejected = 0
    for seed in range(seeds):
        s, sample, values = sample_law(law, n, seed, max_ks=100_000)
        rejected += not run_battery(law, s, sample, alpha, values=values).passed
    assert rejected <= binomial_upper(seeds, alpha)


def test_whole_tensor_sampler_is_bounded() -> None:
    with pytest.raises(MatrixTooLarge, match="smaller --shape"):
        draw_matrix(np.random.default_rng(0), law_from_spec(L.orthogonal(1.0, 1 << 13, 1 << 12),
                                                            (1 << 13, 1 << 12)))


def test_numpy_orthogonal_sampler_is_haar_like_torch() -> None:
    """The sign fix makes Q Haar: the first entry is symmetric about 0 (without it, R's positive diagonal
    convention biases it)."""
    law = law_from_spec(L.orthogonal(1.0, 4, 4), (4, 4))
    first = [draw_matrix(np.random.default_rng(s), law)[0] for s in range(2000)]
    assert abs(np.mean(np.sign(first))) < 0.1


@pytest.mark.parametrize("shape,groups", [((5, 9), 1), ((9, 5), 1), ((8, 4, 3, 3), 2), ((6, 4, 3), 3),
                                          ((4, 4, 3, 3, 3), 1), ((4, 8, 5, 5), 4)])
def test_identity_positions_are_torch_s(shape: tuple[int, ...], groups: int) -> None:
    from kaiming_cli.stats.exact import identity_expected, identity_positions

    t = torch.empty(shape)
    if len(shape) == 2:
        torch.nn.init.eye_(t)
    else:
        torch.nn.init.dirac_(t, groups=groups)
    law = law_from_spec(L.identity(1.0), shape, groups=groups)
    np.testing.assert_array_equal(np.flatnonzero(t.numpy().reshape(-1)), np.sort(identity_positions(law)))
    np.testing.assert_array_equal(identity_expected(law), t.numpy())


def test_sparse_without_the_matrix_tests_the_nonzeros_from_the_summary() -> None:
    from kaiming_cli.stats.exact import nonzero_summary

    shape = (100, 300)
    x = torch_tensor(shape, lambda t: torch.nn.init.sparse_(t, 0.1, std=0.02))
    whole = summarize(x.reshape(-1))
    nz = x[x != 0].astype(np.float64)
    derived = nonzero_summary(whole, int(np.count_nonzero(x == 0)))
    assert derived.n == nz.size
    # summarize works float32 data in float32 within a block (docs/statistics.md §9): the mean within 1e-6 of the
    # std (a mean near 0 has no meaningful relative error), the moment sums within 1e-5 relative
    assert abs(derived.mean - nz.mean()) < 1e-6 * nz.std()
    assert derived.m2 == pytest.approx(np.sum((nz - nz.mean()) ** 2), rel=1e-5)
    assert derived.excess_kurtosis == pytest.approx(st.kurtosis(nz), abs=1e-5)
    b = battery(law_from_spec(L.sparse(0.1, 0.02), shape), x, whole=False)
    assert b.passed and b.not_run == ("zeros",)
    assert not battery(law_from_spec(L.sparse(0.1, 0.025), shape), x, whole=False).passed
