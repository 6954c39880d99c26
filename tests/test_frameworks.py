"""Cross-checks against the real Keras 3 and JAX (optional: `make test-frameworks` installs them).

Marked `frameworks` and deselected by default, so the main suite never skips them silently.
"""

from __future__ import annotations

import math
import os
from unittest import mock

import numpy as np
import pytest

from kaiming_cli.theory.spec import make_spec
from tests.helpers import battery_on

pytestmark = pytest.mark.frameworks

KERAS_SHAPES = [(7,), (3, 5), (128, 256), (3, 3, 64, 128), (3, 3, 3, 64, 128), (5, 16, 33), (3, 3, 32, 1)]


@pytest.fixture(scope="module")
def keras():  # type: ignore[no-untyped-def]
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def jax():  # type: ignore[no-untyped-def]
    return pytest.importorskip("jax")


@pytest.mark.parametrize("shape", KERAS_SHAPES)
def test_keras_fans(keras, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    from keras.src.initializers.random_initializers import compute_fans

    spec = make_spec(shape, layout="keras")
    assert (spec.fan_in, spec.fan_out) == compute_fans(shape)


@pytest.mark.parametrize("shape", KERAS_SHAPES)
@pytest.mark.parametrize("cls,mode,dist,method", [
    ("HeNormal", "fan_in", "truncated_normal", "truncated_normal"),
    ("HeUniform", "fan_in", "uniform", "uniform"),
    ("GlorotNormal", "fan_avg", "truncated_normal", "truncated_normal"),
    ("LecunUniform", "fan_in", "uniform", "uniform"),
])
def test_keras_stddev_and_limit_exactly(keras, shape, cls: str, mode: str, dist: str, method: str) -> None:  # type: ignore[no-untyped-def]
    import keras.src.initializers.random_initializers as ri

    captured: list[dict] = []
    original = getattr(ri.random, method)

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        captured.append(kwargs)
        return original(*args, **kwargs)

    with mock.patch.object(ri.random, method, spy):
        getattr(keras.initializers, cls)(seed=1)(shape, dtype="float32")
    nl = "linear" if cls.startswith(("Glorot", "Lecun")) else "relu"
    spec = make_spec(shape, layout="keras", mode=mode, nonlinearity=nl, distribution=dist)
    if dist == "uniform":
        assert spec.bound == pytest.approx(captured[0]["maxval"], rel=1e-15)
    else:
        assert spec.sigma_pre == pytest.approx(captured[0]["stddev"], rel=1e-15)
    assert spec.call.startswith(f"keras.initializers.{cls}(")


@pytest.mark.parametrize("cls,dist", [("HeNormal", "truncated_normal"), ("HeUniform", "uniform")])
def test_keras_samples_pass_our_check(keras, cls: str, dist: str) -> None:  # type: ignore[no-untyped-def]
    shape = (3, 3, 64, 128)
    seeds = keras.random.SeedGenerator(0)
    x = np.concatenate([np.asarray(getattr(keras.initializers, cls)(seed=seeds)(shape)).ravel() for _ in range(3)])
    spec = make_spec(shape, layout="keras", distribution=dist)
    assert battery_on(x, _law(spec)).passed
    if dist == "truncated_normal":  # and Keras' he_normal is NOT the untruncated normal torch draws
        assert not battery_on(x, _law(make_spec(shape, layout="keras"))).passed


def _law(spec):  # type: ignore[no-untyped-def]
    from kaiming_cli.stats.empirical import law_of

    return law_of(spec)


@pytest.mark.parametrize("shape", [(3, 5), (128, 256), (3, 3, 64, 128), (3, 3, 3, 64, 128), (5, 16, 33)])
def test_jax_fans(jax, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    from jax._src.nn.initializers import _compute_fans

    spec = make_spec(shape, layout="jax")
    assert (spec.fan_in, spec.fan_out) == _compute_fans(shape)


def test_jax_refuses_1d_like_us(jax) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        jax.nn.initializers.he_normal()(jax.random.key(0), (10,))
    with pytest.raises(ValueError):
        make_spec((10,), layout="jax")


@pytest.mark.parametrize("name,mode,nl,dist", [
    ("he_normal", "fan_in", "relu", "truncated_normal"),
    ("he_uniform", "fan_in", "relu", "uniform"),
    ("lecun_normal", "fan_in", "linear", "truncated_normal"),
    ("glorot_uniform", "fan_avg", "linear", "uniform"),
])
def test_jax_samples_pass_our_check(jax, name: str, mode: str, nl: str, dist: str) -> None:  # type: ignore[no-untyped-def]
    shape = (3, 3, 64, 128)
    keys = jax.random.split(jax.random.key(0), 2)
    x = np.concatenate([np.asarray(getattr(jax.nn.initializers, name)()(k, shape)).ravel() for k in keys])
    spec = make_spec(shape, layout="jax", mode=mode, nonlinearity=nl, distribution=dist)
    assert spec.call == f"jax.nn.initializers.{name}()"
    res = battery_on(x, _law(spec))
    assert res.passed, res
    assert float(np.std(x)) == pytest.approx(spec.std, rel=5e-3)


def test_jax_variance_scaling_normal_is_untruncated(jax) -> None:  # type: ignore[no-untyped-def]
    shape = (256, 512)
    init = jax.nn.initializers.variance_scaling(2.0, "fan_in", "normal")
    x = np.asarray(init(jax.random.key(1), shape)).ravel()
    spec = make_spec(shape, layout="jax")
    assert battery_on(x, _law(spec)).passed
    assert math.isclose(spec.std, math.sqrt(2 / 256))
