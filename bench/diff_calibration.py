"""False alarms and power of ``kaiming diff`` (runners/diff.py, stats/twosample.py): docs/statistics.md §12.

Every pair goes through ``run_diff`` as the command runs it (in-memory sources, the same scan and tests).
False alarms: two independent draws of one law (normal, uniform, truncated normal, orthogonal, constants) for
``PAIRS`` pairs per law and size; a pair that is not ``same`` is a false alarm, to be at most alpha. Power: the
fraction of pairs found different for std x1.05, a fan_in/fan_out swap, uniform vs normal of the same std, a layer
left at torch's default, to_empty() zeros and garbage, and the structure flaws (values sorted, the second half of the
rows copying the first, or the first negated). Run: ``PYTHONPATH=. python bench/diff_calibration.py``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import numpy as np

from kaiming_cli.io.memory import array_source
from kaiming_cli.runners.diff import run_diff

PAIRS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
#: ``python bench/diff_calibration.py 2000 normal-conv``: only the normal 64x32x3x3 false-alarm row (seed 11)
ONLY = sys.argv[2] if len(sys.argv) > 2 else None
ALPHA = 1e-3
Draw = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def kaiming(mode_fan: int) -> Draw:
    return lambda rng, shape: rng.normal(0, math.sqrt(2 / mode_fan), shape)


def truncated(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.normal(0, 0.02, int(np.prod(shape)) * 2)
    x = x[np.abs(x) <= 0.04][: int(np.prod(shape))]
    return x.reshape(shape)


def orthogonal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    rows, cols = shape[0], int(np.prod(shape[1:]))
    q, r = np.linalg.qr(rng.normal(size=(max(rows, cols), min(rows, cols))))
    q = q * np.sign(np.diag(r))
    return (q if rows >= cols else q.T).reshape(shape)


def uniform_same_std(std: float) -> Draw:
    b = std * math.sqrt(3)
    return lambda rng, shape: rng.uniform(-b, b, shape)


def torch_default(fan_in: int) -> Draw:  # kaiming_uniform_(a=sqrt(5)): bound 1/sqrt(fan_in)
    return lambda rng, shape: rng.uniform(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), shape)


def garbage(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(rng.bytes(int(np.prod(shape)) * 4), dtype=np.float32).reshape(shape).copy()


def rows_sorted(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """kaiming_normal_ values sorted over the whole tensor: the right marginal law, rows of unequal scale."""
    return np.sort(kaiming(288)(rng, shape), axis=None).reshape(shape)


def half_copied(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """The second half of the output units copies the first (one seed for two shards)."""
    x = kaiming(288)(rng, shape)
    x[shape[0] // 2:] = x[: shape[0] // 2]
    return x


def half_negated(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """The second half of the output units is the first negated: rank half, no value repeated exactly."""
    x = kaiming(288)(rng, shape)
    x[shape[0] // 2:] = -x[: shape[0] // 2]
    return x


def rate(draw_a: Draw, draw_b: Draw, shape: tuple[int, ...], seed: int) -> float:
    """Share of ``PAIRS`` pairs that diff finds not the same (one tensor per run, so Holm is the identity)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(PAIRS):
        a = array_source(draw_a(rng, shape).astype(np.float32), "w")
        b = array_source(draw_b(rng, shape).astype(np.float32), "w")
        hits += not run_diff([a], [b], alpha=ALPHA).passed
    return hits / PAIRS


def main() -> None:
    conv = (64, 32, 3, 3)  # fan_in 288, fan_out 576
    if ONLY == "normal-conv":
        normal: Draw = lambda r, s: r.normal(0, 0.05, s)  # noqa: E731
        print(f"normal {conv}: false alarms {rate(normal, normal, conv, 11):.4f} over {PAIRS} pairs")
        return
    small = (64,)
    print(f"false alarms (alpha = {ALPHA:g}, {PAIRS} pairs each)")
    null = {"normal": lambda r, s: r.normal(0, 0.05, s), "uniform": lambda r, s: r.uniform(-0.1, 0.1, s),
            "truncated normal": truncated, "orthogonal": orthogonal,
            "constant": lambda r, s: np.full(s, 0.5)}
    for name, draw in null.items():
        for shape in (conv, (256, 256)) if name != "orthogonal" else ((256, 256), (64, 576)):
            print(f"  {name:18s} {str(shape):18s} {rate(draw, draw, shape, 1):.4f}")
        if name not in ("orthogonal",):
            print(f"  {name:18s} {str(small):18s} {rate(draw, draw, small, 2):.4f}")
    print("power")
    cases = {"std x1.05": (kaiming(288), lambda r, s: kaiming(288)(r, s) * 1.05),
             "fan_in vs fan_out": (kaiming(288), kaiming(576)),
             "uniform vs normal, same std": (kaiming(288), uniform_same_std(math.sqrt(2 / 288))),
             "torch default vs kaiming fan_in": (kaiming(288), torch_default(288)),
             "to_empty() zeros": (kaiming(288), lambda r, s: np.zeros(s)),
             "to_empty() garbage": (kaiming(288), garbage),
             "rows sorted (same values)": (kaiming(288), rows_sorted),
             "second half copies the first": (kaiming(288), half_copied),
             "second half the first negated": (kaiming(288), half_negated)}
    for name, (a, b) in cases.items():
        for shape in (conv, (256, 256), (4096, 1024)) if name == "std x1.05" else (conv,):
            print(f"  {name:32s} {str(shape):18s} {rate(a, b, shape, 3):.4f}")


if __name__ == "__main__":
    main()
