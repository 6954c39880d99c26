"""Keras 3 and JAX initializers of the structured laws pass the battery, in the view each library flattens
(#13): Keras ``Orthogonal`` and JAX ``orthogonal`` make (prod(shape[:-1]), shape[-1]) orthonormal, Keras
``Identity`` is gain * eye. Marked ``frameworks`` (``make test-frameworks`` installs Keras and JAX)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kaiming_cli.stats.battery import run_battery
from kaiming_cli.stats.laws import Law, law_from_spec
from kaiming_cli.stats.summary import summarize
from kaiming_cli.theory import law as L

pytestmark = pytest.mark.frameworks



def passes(law: Law, x: np.ndarray, dtype: str = "float32") -> bool:
    flat = np.asarray(x, dtype=np.float32).reshape(-1)
    b = run_battery(law, summarize(flat), flat.astype(np.float64), 1e-3, values=flat, dtype=dtype)
    return b.passed and not b.not_run


@pytest.mark.parametrize("shape", [(3, 3, 16, 32), (64, 27), (27, 64), (5, 4, 30)])
def test_keras_orthogonal_is_orthogonal_in_the_keras_view(keras, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    rows, cols = math.prod(shape[:-1]), shape[-1]
    spec = L.orthogonal(1.3, rows, cols)
    for seed in range(3):
        x = np.asarray(keras.initializers.Orthogonal(gain=1.3, seed=seed)(shape, dtype="float32"))
        assert passes(law_from_spec(spec, shape, matrix="keras"), x)
        assert not passes(law_from_spec(L.orthogonal(1.2, rows, cols), shape, matrix="keras"), x)


@pytest.mark.parametrize("shape", [(3, 3, 16, 32), (64, 27), (27, 64)])
def test_jax_orthogonal_is_orthogonal_in_the_jax_view(jax, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    rows, cols = math.prod(shape[:-1]), shape[-1]
    for seed in range(3):
        x = np.asarray(jax.nn.initializers.orthogonal(scale=0.7)(jax.random.key(seed), shape))
        assert passes(law_from_spec(L.orthogonal(0.7, rows, cols), shape, matrix="jax"), x)
        assert not passes(law_from_spec(L.orthogonal(0.75, rows, cols), shape, matrix="jax"), x)


def test_keras_identity(keras) -> None:  # type: ignore[no-untyped-def]
    x = np.asarray(keras.initializers.Identity(gain=0.5)((6, 9), dtype="float32"))
    assert passes(law_from_spec(L.identity(0.5), (6, 9)), x)
    assert not passes(law_from_spec(L.identity(1.0), (6, 9)), x)


def test_keras_constant_float16(keras) -> None:  # type: ignore[no-untyped-def]
    x = np.asarray(keras.initializers.Constant(0.3)((4, 5), dtype="float16"))
    assert passes(law_from_spec(L.constant(0.3)), x.astype(np.float32), "float16")
