"""How often ``verify`` catches exactly-zero rows that are a bug, not padding (docs/statistics.md §2.9).

A torch ``kaiming_normal_(nonlinearity='relu')`` tensor with 1% of its rows (at least 2) zeroed at random
positions, checked against that init at the default alpha = 0.001; and, as the padding that must still pass, the
same tensor with a single zero row (an ``nn.Embedding``'s ``padding_idx``). One core:
``python bench/zero_rows.py [--seeds 100]``; each rate with its Wilson 95% interval.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from kaiming_cli.api import verify_tensor  # noqa: E402

torch.set_num_threads(1)
SHAPES: tuple[tuple[int, ...], ...] = ((1000, 256), (256, 64, 3, 3))


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def tensor(shape: tuple[int, ...], seed: int, zero_rows: int) -> np.ndarray:
    torch.manual_seed(seed)
    w = torch.empty(shape)
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
    x = w.numpy().copy()
    rows = np.random.default_rng(seed).choice(shape[0], zero_rows, replace=False)
    x[rows] = 0.0
    return x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=100)
    args = ap.parse_args()
    for shape in SHAPES:
        for label, k in (("1% of rows zeroed", max(2, shape[0] // 100)), ("one zero row (padding)", 1)):
            caught, by_test = 0, {}
            for seed in range(args.seeds):
                r = verify_tensor(tensor(shape, seed, k), nonlinearity="relu", seed=seed)
                caught += r.status == "fail"
                for t in r.tests:
                    by_test[t.name] = by_test.get(t.name, 0) + (not t.passed)
            lo, hi = wilson(caught, args.seeds)
            fired = {n: c for n, c in by_test.items() if c}
            print(f"{shape} {label} ({k} rows): fail {caught}/{args.seeds} = {caught / args.seeds:.2f} "
                  f"[{lo:.3f}, {hi:.3f}]; tests failing: {fired}", flush=True)


if __name__ == "__main__":
    main()
