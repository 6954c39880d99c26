"""`check --backend keras|jax` for every Keras 3 and JAX initializer (``make test-frameworks`` installs them): the
backend's values are bit for bit the library's own call with the same seed (expected values from the library, with
the arguments written out here), they pass the battery, and the same values fail a wrong call."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from kaiming_cli.api import verify_tensor
from kaiming_cli.engine.frameworks import choose_backend, drawer
from kaiming_cli.runners.check import run_check
from kaiming_cli.theory.backend_calls import backend_call
from kaiming_cli.theory.spec import make_init_spec, make_spec

pytestmark = pytest.mark.frameworks

SEED = 5
K = (3, 3, 64, 128)  # a conv kernel (*k, in, out): fan_in 576, fan_out 1152



def backend_values(call: str, shape: tuple[int, ...], backend: str, seed: int = SEED) -> np.ndarray:
    spec = make_init_spec(shape, call)
    draw, _info = drawer(backend_call(spec, backend), shape, seed)
    return draw(0).copy().reshape(shape)


def check_and_wrong(call: str, shape: tuple[int, ...], backend: str, wrong: str) -> None:
    result = run_check(make_init_spec(shape, call), seed=SEED, backend=backend)
    assert result.backend == backend and result.status == "pass", result.battery
    x = backend_values(call, shape, backend)
    assert verify_tensor(x, init=wrong).status == "fail"


# --------------------------------------------------------------------------- Keras 3

#: (call, shape, class, its arguments written out, seeded, a wrong call)
KERAS_CASES: list[tuple[str, tuple[int, ...], str, dict[str, Any], bool, str]] = [
    ("RandomNormal(mean=0.1, stddev=0.3)", (64, 48), "RandomNormal", {"mean": 0.1, "stddev": 0.3}, True,
     "RandomNormal(mean=0.1, stddev=0.35)"),
    ("RandomUniform()", (64, 48), "RandomUniform", {"minval": -0.05, "maxval": 0.05}, True,
     "RandomUniform(-0.05, 0.06)"),
    ("TruncatedNormal(stddev=0.2)", (64, 48), "TruncatedNormal", {"mean": 0.0, "stddev": 0.2}, True,
     "TruncatedNormal(stddev=0.25)"),
    ("VarianceScaling(scale=2.0, mode='fan_out', distribution='uniform')", K, "VarianceScaling",
     {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}, True,
     "VarianceScaling(scale=2.0, mode='fan_in', distribution='uniform')"),
    ("VarianceScaling(distribution='untruncated_normal')", K, "VarianceScaling",
     {"distribution": "untruncated_normal"}, True,
     "VarianceScaling(mode='fan_out', distribution='untruncated_normal')"),
    ("GlorotUniform", K, "GlorotUniform", {}, True, "LecunUniform"),
    ("GlorotNormal()", K, "GlorotNormal", {}, True, "LecunNormal"),
    ("LecunUniform()", K, "LecunUniform", {}, True, "HeUniform"),
    ("LecunNormal()", K, "LecunNormal", {}, True, "HeNormal"),
    ("HeUniform()", K, "HeUniform", {}, True, "GlorotUniform"),
    ("'he_normal'", K, "HeNormal", {}, True, "LecunNormal"),
    ("keras.initializers.HeNormal()", (32, 8, 16), "HeNormal", {}, True, "HeNormal(input_axes=0, output_axes=(1, 2))"),
    ("Orthogonal(gain=2.0)", (32, 96), "Orthogonal", {"gain": 2.0}, True, "Orthogonal(gain=1.5)"),
    ("Orthogonal()", (96, 32), "Orthogonal", {}, True, "Orthogonal(gain=1.2)"),
    ("Identity(gain=0.5)", (48, 64), "Identity", {"gain": 0.5}, False, "Identity()"),
    ("Zeros", (64, 48), "Zeros", {}, False, "Constant(0.001)"),
    ("Ones()", (64, 48), "Ones", {}, False, "Zeros"),
    ("Constant(0.3)", (64, 48), "Constant", {"value": 0.3}, False, "Constant(0.31)"),
]
KIDS = [c[0] for c in KERAS_CASES]


@pytest.mark.parametrize("call,shape,cls,kwargs,seeded,_wrong", KERAS_CASES, ids=KIDS)
def test_keras_bit_for_bit(keras, call: str, shape: tuple[int, ...], cls: str,  # type: ignore[no-untyped-def]
                           kwargs: dict[str, Any], seeded: bool, _wrong: str) -> None:
    initializer = getattr(keras.initializers, cls)(**kwargs, **({"seed": SEED} if seeded else {}))
    expected = np.asarray(keras.ops.convert_to_numpy(initializer(shape, dtype="float32")))
    got = backend_values(call, shape, "keras")
    assert expected.dtype == np.float32 and got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("call,shape,_cls,_kwargs,_seeded,wrong", KERAS_CASES, ids=KIDS)
def test_keras_samples_pass_and_a_wrong_call_fails(keras, call: str, shape: tuple[int, ...],  # type: ignore[no-untyped-def]
                                                   _cls: str, _kwargs: dict[str, Any], _seeded: bool,
                                                   wrong: str) -> None:
    check_and_wrong(call, shape, "keras", wrong)


def test_keras_translation_of_a_torch_call(keras) -> None:  # type: ignore[no-untyped-def]
    """torch's kaiming_normal_ on Keras: RandomNormal with the same std (torch's fans on the shape as given)."""
    std = math.sqrt(2.0) / math.sqrt(32 * 3 * 3)
    expected = keras.initializers.RandomNormal(mean=0.0, stddev=std, seed=SEED)((64, 32, 3, 3), dtype="float32")
    got = backend_values("kaiming_normal_(nonlinearity='relu')", (64, 32, 3, 3), "keras")
    assert got.tobytes() == np.asarray(keras.ops.convert_to_numpy(expected)).tobytes()


def test_keras_is_the_default_for_keras_calls(keras) -> None:  # type: ignore[no-untyped-def]
    backend, why = choose_backend(make_init_spec(K, "HeNormal"), None)
    assert backend == "keras" and "library of this call" in why
    assert run_check(make_spec(K, layout="keras", nonlinearity="relu"), backend="keras").status == "pass"


# --------------------------------------------------------------------------- JAX

#: (call, shape, function, its arguments written out, a wrong call); bare normal/uniform/xavier_*/kaiming_* are
#: torch's deprecated aliases in the grammar, so the JAX ones carry their prefix
JAX_CASES: list[tuple[str, tuple[int, ...], str, dict[str, Any], str]] = [
    ("nn.initializers.normal(0.3)", (64, 48), "normal", {"stddev": 0.3}, "nn.initializers.normal(0.35)"),
    ("jax.nn.initializers.normal()", (64, 48), "normal", {}, "nn.initializers.normal(0.012)"),
    ("nn.initializers.uniform(0.2)", (64, 48), "uniform", {"scale": 0.2}, "nn.initializers.uniform(0.25)"),
    ("truncated_normal(stddev=0.2, lower=-1.0, upper=3.0)", (64, 48), "truncated_normal",
     {"stddev": 0.2, "lower": -1.0, "upper": 3.0}, "truncated_normal(stddev=0.2, lower=-0.8, upper=3.0)"),
    ("truncated_normal(0.1)", (64, 48), "truncated_normal", {"stddev": 0.1}, "truncated_normal(0.12)"),
    ("variance_scaling(2.0, 'fan_in', 'normal')", K, "variance_scaling", {"scale": 2.0, "mode": "fan_in",
     "distribution": "normal"}, "variance_scaling(2.0, 'fan_out', 'normal')"),
    ("variance_scaling(1.0, 'fan_geo_avg', 'uniform')", K, "variance_scaling", {"scale": 1.0, "mode": "fan_geo_avg",
     "distribution": "uniform"}, "variance_scaling(1.0, 'fan_in', 'uniform')"),
    ("variance_scaling(1.0, 'fan_avg', 'truncated_normal')", K, "variance_scaling",
     {"scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal"}, "lecun_normal"),
    ("glorot_uniform", K, "glorot_uniform", {}, "lecun_uniform"),
    ("jax.nn.initializers.xavier_normal", K, "glorot_normal", {}, "he_normal"),
    ("lecun_uniform()", K, "lecun_uniform", {}, "he_uniform"),
    ("lecun_normal()", K, "lecun_normal", {}, "he_normal"),
    ("he_uniform()", K, "he_uniform", {}, "glorot_uniform"),
    ("nn.initializers.kaiming_normal", K, "he_normal", {}, "lecun_normal"),
    ("he_normal(in_axis=0, out_axis=(1, 2))", (32, 8, 16), "he_normal", {"in_axis": 0, "out_axis": (1, 2)},
     "he_normal"),
    ("orthogonal(scale=2.0)", (32, 96), "orthogonal", {"scale": 2.0}, "orthogonal(scale=1.5)"),
    ("orthogonal()", (96, 32), "orthogonal", {}, "orthogonal(scale=1.2)"),
    ("nn.initializers.zeros", (64, 48), "zeros", {}, "nn.initializers.constant(0.001)"),
    ("nn.initializers.ones", (64, 48), "ones", {}, "nn.initializers.zeros"),
    ("nn.initializers.constant(0.3)", (64, 48), "constant", {"value": 0.3},
     "nn.initializers.constant(0.31)"),
]
JIDS = [c[0] for c in JAX_CASES]


@pytest.mark.parametrize("call,shape,function,kwargs,_wrong", JAX_CASES, ids=JIDS)
def test_jax_bit_for_bit(jax, call: str, shape: tuple[int, ...], function: str,  # type: ignore[no-untyped-def]
                         kwargs: dict[str, Any], _wrong: str) -> None:
    import jax.numpy as jnp

    fn = getattr(jax.nn.initializers, function)
    initializer = fn(**kwargs) if function not in ("zeros", "ones") else fn
    expected = np.asarray(initializer(jax.random.key(SEED), shape, jnp.float32))
    got = backend_values(call, shape, "jax")
    assert expected.dtype == np.float32 and got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("call,shape,_function,_kwargs,wrong", JAX_CASES, ids=JIDS)
def test_jax_samples_pass_and_a_wrong_call_fails(jax, call: str, shape: tuple[int, ...],  # type: ignore[no-untyped-def]
                                                 _function: str, _kwargs: dict[str, Any], wrong: str) -> None:
    check_and_wrong(call, shape, "jax", wrong)


def test_jax_translation_and_default(jax) -> None:  # type: ignore[no-untyped-def]
    import jax.numpy as jnp

    expected = jax.nn.initializers.normal(0.02)(jax.random.key(SEED), (64, 48), jnp.float32)
    assert backend_values("normal_(std=0.02)", (64, 48), "jax").tobytes() == np.asarray(expected).tobytes()
    assert choose_backend(make_init_spec(K, "he_normal"), None)[0] == "jax"
    assert run_check(make_spec(K, layout="jax", nonlinearity="relu"), backend="jax").status == "pass"
