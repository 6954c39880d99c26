"""The verdict's false-alarm rate at small n (issue 14: calibration at every n from 50).

Seeded normal vectors of n values, checked against their own law with the default battery at alpha = 0.001;
prints the rejection rate with its 95% Wilson interval per n. ``python bench/small_n_verdict.py [RUNS]``
(the docs quote 100,000 runs per n: enough to see a 1.2x excess over alpha).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from kaiming_cli.stats.battery import DEFAULT_TESTS, run_battery
from kaiming_cli.stats.laws import Law
from kaiming_cli.stats.shape import CellCounter
from kaiming_cli.stats.summary import summarize

ALPHA = 1e-3


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def rate(n: int, runs: int) -> tuple[int, float]:
    law = Law("normal", 1.0)
    rng = np.random.default_rng([14, n])
    rejected = 0
    t0 = time.perf_counter()
    for _ in range(runs):
        x = rng.standard_normal(n).astype(np.float32)
        cells = CellCounter("float32", n)
        cells.add(cells.partial(0, x))
        b = run_battery(law, summarize(x), x.astype(np.float64), ALPHA, DEFAULT_TESTS, cells=cells)
        rejected += not b.passed
    return rejected, time.perf_counter() - t0


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print("| n | runs | rejected | rate / alpha | 95% Wilson interval / alpha |\n|---|---|---|---|---|")
    for n in (50, 300, 1728):
        k, secs = rate(n, runs)
        lo, hi = wilson(k, runs)
        print(f"| {n} | {runs} | {k} | {k / runs / ALPHA:.2f} | [{lo / ALPHA:.2f}, {hi / ALPHA:.2f}] |", flush=True)
        print(f"<!-- {secs:.0f} s -->", file=sys.stderr)


if __name__ == "__main__":
    main()
