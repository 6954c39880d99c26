"""Init calls in Keras 3 and JAX syntax against the real libraries (``make test-frameworks`` installs them).

For every initializer of keras.initializers and jax.nn.initializers: our argument names, order and defaults are the
library's (inspect.signature); the fans are the library's own fan function's; the law's std and bounds match what the
library passes to its sampler or what its samples show.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from kaiming_cli.theory.calls import parse_init_call
from kaiming_cli.theory.initializers import _IGNORED, _REQUIRED, JAX_SIGNATURES, KERAS_SIGNATURES

pytestmark = pytest.mark.frameworks

N_BIG = 300_000



def law(text: str, shape: tuple[int, ...], **kw: float):  # type: ignore[no-untyped-def]
    return parse_init_call(text).resolve(shape, **kw).law  # type: ignore[arg-type]


def assert_sample_law(spec_law, x: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    x = np.asarray(x, dtype=np.float64).ravel()
    std = float(x.std())
    assert abs(float(x.mean()) - spec_law.mean) < 5 * std / math.sqrt(x.size) + 1e-9
    assert spec_law.std == pytest.approx(std, rel=0.01)
    if spec_law.low is not None:
        slack = 1e-6 * (spec_law.high - spec_law.low)  # float32 rounding of the bound
        assert x.min() >= spec_law.low - slack and x.max() <= spec_law.high + slack


def _signature_matches(params: list[inspect.Parameter], ours: tuple) -> None:  # type: ignore[type-arg]
    assert [p.name for p in params] == [n for n, _d in ours]
    for p, (_n, default) in zip(params, ours, strict=True):
        if default is _IGNORED:
            continue
        expected = _REQUIRED if p.default is inspect.Parameter.empty else p.default
        assert default == expected or (default is _REQUIRED and expected is _REQUIRED), p.name


# --------------------------------------------------------------------------- Keras 3

@pytest.mark.parametrize("name", sorted(KERAS_SIGNATURES))
def test_keras_argument_order_and_defaults(keras, name: str) -> None:  # type: ignore[no-untyped-def]
    cls = getattr(keras.initializers, name)
    params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"
              and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]  # Zeros/Ones: object's (*args, **kwargs)
    _signature_matches(params, KERAS_SIGNATURES[name].params)


def test_every_keras_initializer_is_covered(keras) -> None:  # type: ignore[no-untyped-def]
    from keras.src.initializers import ALL_OBJECTS_DICT

    names = {cls.__name__ for cls in ALL_OBJECTS_DICT.values()} - {"Initializer", "STFT"}
    assert names == set(KERAS_SIGNATURES)
    for alias in ALL_OBJECTS_DICT:  # every string identifier keras accepts parses (STFT excepted: no law)
        if ALL_OBJECTS_DICT[alias].__name__ not in ("Initializer", "STFT"):
            assert parse_init_call(repr(alias)).signature.name == ALL_OBJECTS_DICT[alias].__name__


KERAS_CALLS = [
    ("RandomNormal()", (64, 96)), ("RandomNormal(0.1, 0.3)", (64, 96)), ("RandomUniform()", (64, 96)),
    ("keras.initializers.RandomUniform(minval=0.0, maxval=1.0)", (64, 96)), ("TruncatedNormal()", (64, 96)),
    ("TruncatedNormal(mean=0.5, stddev=0.1)", (64, 96)), ("VarianceScaling()", (3, 3, 16, 32)),
    ("VarianceScaling(2.0, 'fan_out', 'uniform')", (3, 3, 16, 32)),
    ("VarianceScaling(scale=0.5, mode='fan_avg', distribution='untruncated_normal')", (5, 16, 33)),
    ("VarianceScaling(1.0, 'fan_in', 'normal')", (64, 96)),
    ("HeNormal(input_axes=[1], output_axes=[0])", (96, 64)), ("'he_normal'", (3, 3, 16, 32)),
    ("HeUniform", (64, 96)), ("GlorotNormal()", (64, 96)), ("GlorotUniform()", (3, 3, 16, 32)),
    ("LecunNormal()", (7,)), ("'lecun_uniform'", (64, 96)), ("Orthogonal(gain=2.0)", (3, 3, 16, 32)),
    ("Orthogonal()", (200, 30)),
]


@pytest.mark.parametrize("text,shape", KERAS_CALLS)
def test_keras_samples_have_the_law(keras, text: str, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    call = parse_init_call(text)
    assert call.library == "keras"  # (a bare snake_case name would be JAX's: see docs/cli.md "Init calls")
    args = {n: v for n, v in _given_values(call).items()}
    cls = getattr(keras.initializers, call.signature.name)
    seeds = keras.random.SeedGenerator(0)
    kwargs = dict(args)
    if "seed" in [n for n, _d in call.signature.params]:
        kwargs["seed"] = seeds
    init = cls(**kwargs)
    draws = max(1, N_BIG // math.prod(shape))
    x = np.concatenate([np.asarray(init(shape, dtype="float64")).ravel() for _ in range(draws)])
    assert_sample_law(law(text, shape), x)


def _given_values(call) -> dict:  # type: ignore[no-untyped-def,type-arg]
    from kaiming_cli.theory.calls import evaluate

    def native(v):  # type: ignore[no-untyped-def]
        """Our evaluator reads every number as a float; axes go to the libraries as ints."""
        if isinstance(v, tuple):
            return [native(e) for e in v]
        return int(v) if isinstance(v, float) and v.is_integer() and name in AXES else v

    out = {}
    for name, node in call.given:
        out[name] = native(evaluate(node, None))
        if name in ("in_axis", "out_axis", "batch_axis") and isinstance(out[name], list):
            out[name] = tuple(out[name])
    return out


AXES = {"in_axis", "out_axis", "batch_axis", "column_axis", "input_axes", "output_axes"}


@pytest.mark.parametrize("shape", [(7,), (3, 5), (128, 256), (3, 3, 64, 128), (5, 16, 33)])
def test_keras_fans_and_sampler_arguments(keras, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    """HeNormal passes stddev = sqrt(2/fan_in)/0.8796 to keras.random.truncated_normal: our law's scale."""
    from unittest import mock

    import keras.src.initializers.random_initializers as ri

    captured: list[dict] = []  # type: ignore[type-arg]
    original = ri.random.truncated_normal

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        captured.append(kwargs)
        return original(*args, **kwargs)

    with mock.patch.object(ri.random, "truncated_normal", spy):
        keras.initializers.HeNormal(seed=1)(shape, dtype="float32")
    got = law("HeNormal", shape)
    assert got.scale == pytest.approx(captured[0]["stddev"], rel=1e-15)
    fan_in, _fan_out = ri.compute_fans(shape)
    assert got.std == pytest.approx(math.sqrt(2 / fan_in), rel=1e-12)


def test_keras_identity_constants(keras) -> None:  # type: ignore[no-untyped-def]
    w = np.asarray(keras.initializers.Identity(gain=3.0)((40, 70), dtype="float64"))
    got = law("Identity(gain=3.0)", (40, 70))
    assert got.mean == pytest.approx(w.mean(), rel=1e-12) and got.std == pytest.approx(w.std(), rel=1e-12)
    for text, cls in (("Zeros()", "Zeros"), ("'ones'", "Ones"), ("Constant(0.3)", "Constant")):
        value = np.asarray(getattr(keras.initializers, cls)(*((0.3,) if cls == "Constant" else ()))((3, 4),
                                                                                                  dtype="float64"))
        assert law(text, (3, 4)).value == float(value.ravel()[0])


def test_keras_attention_query_kernel(keras) -> None:  # type: ignore[no-untyped-def]
    """MultiHeadAttention(8 heads, key_dim 16) on 32 features: query kernel (32, 8, 16); with lecun_normal its std
    is sqrt(1/32) (EinsumDense passes its own axes), which --fan-in 32 --fan-out 128 reproduces."""
    values = []
    for seed in range(12):
        keras.utils.set_random_seed(seed)
        layer = keras.layers.MultiHeadAttention(num_heads=8, key_dim=16, kernel_initializer="lecun_normal")
        layer.build((None, 10, 32), (None, 10, 32))
        kernel = np.asarray(layer.query_dense.kernel)
        assert kernel.shape == (32, 8, 16)
        values.append(kernel.ravel())
    got = law("lecun_normal", (32, 8, 16), fan_in=32.0, fan_out=128.0)
    assert got.std == pytest.approx(math.sqrt(1 / 32), rel=1e-14)
    assert_sample_law(got, np.concatenate(values))
    assert law("lecun_normal", (32, 8, 16)).std == pytest.approx(1 / 16)  # without the fans: keras' rule, 0.0625


# --------------------------------------------------------------------------- JAX

@pytest.mark.parametrize("name", sorted(set(JAX_SIGNATURES) - {"zeros", "ones"}))
def test_jax_argument_order_and_defaults(jax, name: str) -> None:  # type: ignore[no-untyped-def]
    params = list(inspect.signature(getattr(jax.nn.initializers, name)).parameters.values())
    _signature_matches(params, JAX_SIGNATURES[name].params)


def test_every_jax_initializer_is_covered(jax) -> None:  # type: ignore[no-untyped-def]
    from kaiming_cli.theory.initializers import JAX_NAMES

    public = {n for n in dir(jax.nn.initializers) if not n.startswith("_") and n[0].islower()}
    public -= {"Initializer", "variance_scaling"} - set(JAX_NAMES)  # a type, not an initializer
    assert public - {"Initializer"} <= set(JAX_NAMES), public - set(JAX_NAMES)


JAX_CALLS = [
    ("jax.nn.initializers.uniform()", (64, 96)), ("uniform(scale=0.5)", (64, 96)),
    ("jax.nn.initializers.normal()", (64, 96)), ("normal(0.3)", (64, 96)),
    ("truncated_normal()", (64, 96)), ("truncated_normal(0.5, lower=-1.0, upper=3.0)", (64, 96)),
    ("variance_scaling(2.0, 'fan_in', 'normal')", (3, 3, 16, 32)),
    ("variance_scaling(1.0, 'fan_geo_avg', 'truncated_normal')", (128, 512)),
    ("variance_scaling(2.0, 'fan_out', 'uniform', in_axis=1, out_axis=0)", (96, 64)),
    ("jax.nn.initializers.he_normal(batch_axis=0)", (4, 128, 96)),
    ("lecun_normal(in_axis=0, out_axis=(1, 2))", (32, 8, 16)),
    ("variance_scaling(1.0, 'fan_in', 'normal', in_axis=0, out_axis=0)", (100000,)),
    ("glorot_uniform()", (64, 96)), ("xavier_normal()", (3, 3, 16, 32)), ("he_uniform()", (3, 3, 16, 32)),
    ("kaiming_normal()", (64, 96)), ("lecun_uniform()", (64, 96)), ("orthogonal(2.0)", (3, 3, 16, 32)),
    ("orthogonal(column_axis=0)", (30, 200)), ("orthogonal(column_axis=0)", (8, 3, 3, 16)),
    ("orthogonal(0.5, column_axis=1)", (16, 3, 40)),
]


@pytest.mark.parametrize("text,shape", JAX_CALLS)
def test_jax_samples_have_the_law(jax, text: str, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    call = parse_init_call(text if "." in text.split("(")[0] else "jax.nn.initializers." + text)
    init = getattr(jax.nn.initializers, call.signature.name)(**_given_values(call))
    draws = max(1, N_BIG // math.prod(shape))
    keys = jax.random.split(jax.random.key(0), draws)
    x = np.concatenate([np.asarray(init(k, shape, np.float32)).ravel() for k in keys])
    assert_sample_law(law(call.text, shape), x)


@pytest.mark.parametrize("shape,axes", [((3, 5), {}), ((3, 3, 64, 128), {}), ((32, 8, 16), {"in_axis": 0,
                                         "out_axis": (1, 2)}), ((4, 128, 96), {"batch_axis": 0}),
                                        ((96, 64), {"in_axis": 1, "out_axis": 0})])
def test_jax_fans(jax, shape: tuple[int, ...], axes: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    from jax._src.nn.initializers import _compute_fans

    text = "jax.nn.initializers.he_normal(" + ", ".join(f"{k}={v!r}" for k, v in axes.items()) + ")"
    r = parse_init_call(text).resolve(shape)
    assert (r.fan_in, r.fan_out) == _compute_fans(shape, **axes)


def test_jax_constants(jax) -> None:  # type: ignore[no-untyped-def]
    key = jax.random.key(0)
    for text, fn in (("jax.nn.initializers.zeros", jax.nn.initializers.zeros),
                     ("jax.nn.initializers.ones", jax.nn.initializers.ones),
                     ("jax.nn.initializers.constant(0.3)", jax.nn.initializers.constant(0.3))):
        assert law(text, (3, 4)).value == pytest.approx(float(np.asarray(fn(key, (3, 4), np.float64))[0, 0]))


# --------------------------------------------------------------------------- orthogonal: each library's matrix view

ORTHO_SHAPES = [(8, 3, 3, 16), (16, 3, 40), (5, 7, 6), (3, 3, 4, 32)]


def _status(x: np.ndarray, init: str) -> str:
    from kaiming_cli import verify_tensor

    return verify_tensor(np.asarray(x, dtype=np.float32), init=init).status


@pytest.mark.parametrize("shape", ORTHO_SHAPES)
@pytest.mark.parametrize("axis", [0, 1, -2, -1])
def test_jax_orthogonal_column_axis_passes_in_its_own_view(jax, shape: tuple[int, ...], axis: int) -> None:  # type: ignore[no-untyped-def]
    """jax.nn.initializers.orthogonal(column_axis=k) makes (prod of the other axes, shape[k]) orthonormal and
    moves k back with jnp.moveaxis: kaiming's exact test must read that matrix, not the (rest, last) reshape."""
    init = f"jax.nn.initializers.orthogonal(0.8, column_axis={axis})"
    fn = jax.nn.initializers.orthogonal(0.8, column_axis=axis)
    for seed in range(2):
        x = np.asarray(fn(jax.random.key(seed), shape, np.float32))
        assert _status(x, init) == "pass"
    # a sample from another view of the same shape: column_axis=-1 (Keras's view) for k != last, else 0
    other = 0 if axis % len(shape) == len(shape) - 1 else -1
    y = np.asarray(jax.nn.initializers.orthogonal(0.8, column_axis=other)(jax.random.key(0), shape, np.float32))
    assert _status(y, init) == "fail"


@pytest.mark.parametrize("shape", [(8, 3, 3, 16), (16, 3, 40)])
def test_jax_orthogonal_with_two_axes_swapped_fails(jax, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    """The column_axis=0 sample with its axes 0 and -1 swapped has axis 0 of the other size: the call on the
    swapped shape sets the wrong axis apart, and the test must see it."""
    x = np.asarray(jax.nn.initializers.orthogonal(column_axis=0)(jax.random.key(0), shape, np.float32))
    assert _status(np.swapaxes(x, 0, -1), "jax.nn.initializers.orthogonal(column_axis=0)") == "fail"


def test_jax_orthogonal_against_torch_view(jax) -> None:  # type: ignore[no-untyped-def]
    """torch's orthogonal_ views (shape[0], rest): that is JAX's column_axis=0 matrix transposed (the same law),
    and not JAX's column_axis=1 one."""
    import torch

    shape = (8, 3, 3, 16)
    torch.manual_seed(0)
    t = torch.nn.init.orthogonal_(torch.empty(shape)).numpy()
    assert _status(t, "jax.nn.initializers.orthogonal(column_axis=0)") == "pass"
    assert _status(t, "jax.nn.initializers.orthogonal(column_axis=1)") == "fail"
    assert _status(t, "torch.nn.init.orthogonal_()") == "pass"


@pytest.mark.parametrize("shape", [(3, 3, 16, 32), (3, 3, 64, 16), (5, 4, 30)])
def test_keras_orthogonal_kernel_passes_in_the_keras_view(keras, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    """Keras Orthogonal: QR of a (max, min) Gaussian over (prod(shape[:-1]), shape[-1]), reshaped to the kernel."""
    for seed in range(2):
        x = np.asarray(keras.initializers.Orthogonal(gain=1.3, seed=seed)(shape, dtype="float32"))
        assert _status(x, "keras.initializers.Orthogonal(gain=1.3)") == "pass"
        # the same kernel read as torch reads it, (shape[0], rest), is not orthonormal
        assert _status(x, "torch.nn.init.orthogonal_(gain=1.3)") == "fail"


@pytest.mark.parametrize("text", ["orthogonal_(gain=2.0)", "keras.initializers.Orthogonal(gain=0.5)",
                                  "jax.nn.initializers.orthogonal(column_axis=-2)"])
def test_orthogonal_checked_on_the_jax_backend(jax, text: str) -> None:  # type: ignore[no-untyped-def]
    """The JAX backend samples any library's orthogonal law by setting the same axis apart (column_axis)."""
    from kaiming_cli.runners.check import run_check
    from kaiming_cli.theory.spec import make_init_spec

    assert run_check(make_init_spec((8, 3, 3, 16), text), backend="jax").status == "pass"
