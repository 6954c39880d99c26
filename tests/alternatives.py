"""Structured alternatives with the right marginal law (issue 14): what the marginal tests cannot see.

Each takes a generator, a torch-layout shape and the law's std, and returns a float32 array of that shape whose
values are (close to) draws of N(0, std^2) but whose arrangement is not i.i.d. Used by tests/stats/test_structure.py
and bench/structure_power.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Maker = Callable[[np.random.Generator, tuple[int, ...], float], np.ndarray]

#: Share of the variance in the rank-8 component of ``rank8``.
RANK8_SIGNAL = 0.1


def _matrix(shape: tuple[int, ...]) -> tuple[int, int]:
    return shape[0], math.prod(shape[1:])


def _rescaled(x: np.ndarray, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Scale to an rms of exactly ``std`` (so the std test sees nothing) and give the tensor its shape."""
    x = x * (std / math.sqrt(float(np.mean(x * x))))
    return x.reshape(shape).astype(np.float32)


def iid(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    return (rng.standard_normal(shape) * std).astype(np.float32)


def rows_sorted(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    r, c = _matrix(shape)
    return (np.sort(rng.standard_normal((r, c)), axis=1) * std).reshape(shape).astype(np.float32)


def rank8(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """A rank-8 component holding RANK8_SIGNAL of the variance, plus i.i.d. noise, rescaled to ``std``."""
    r, c = _matrix(shape)
    low = rng.standard_normal((r, 8)) @ rng.standard_normal((8, c)) / math.sqrt(8.0)
    x = math.sqrt(RANK8_SIGNAL) * low + math.sqrt(1 - RANK8_SIGNAL) * rng.standard_normal((r, c))
    return _rescaled(x, shape, std)


def halves_copied(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    r, c = _matrix(shape)
    x = rng.standard_normal((r, c))
    x[r // 2: 2 * (r // 2)] = x[: r // 2]
    return (x * std).reshape(shape).astype(np.float32)


def block_tiled(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    r, c = _matrix(shape)
    block = rng.standard_normal((64, 64))
    x = np.tile(block, (-(-r // 64), -(-c // 64)))[:r, :c]
    return (x * std).reshape(shape).astype(np.float32)


def rows_permuted(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    r, c = _matrix(shape)
    row = rng.standard_normal(c)
    x = np.stack([rng.permutation(row) for _ in range(r)])
    return (x * std).reshape(shape).astype(np.float32)


def rows_scaled(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    r, c = _matrix(shape)
    x = rng.standard_normal((r, c)) * rng.uniform(0.5, 1.5, (r, 1))
    return _rescaled(x, shape, std)


def quantized_10bit(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Values rounded to 1023 levels spanning their own range (10-bit quantization)."""
    x = rng.standard_normal(shape) * std
    top = float(np.abs(x).max())
    step = 2 * top / 1022
    return (np.round(x / step) * step).astype(np.float32)


#: name: (maker, the structure test expected to fail, a word its detail must contain)
STRUCTURED: dict[str, tuple[Maker, str, str]] = {
    "rows sorted": (rows_sorted, "cols", "column scales differ"),
    "rank-8 plus noise": (rank8, "spectrum", "low rank"),
    "bottom half = top half": (halves_copied, "spectrum", "copied"),
    "64x64 block tiled": (block_tiled, "spectrum", "tiled"),
    "rows permuted from one row": (rows_permuted, "rows", "far more alike"),
    "rows scaled by U[0.5, 1.5]": (rows_scaled, "rows", "row scales differ"),
}
