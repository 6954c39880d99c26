"""Simulate the normal-law kurtosis test's real rejection rate at small n (issue 14) and print the table that
``stats/calibration.py`` stores (KURTOSIS_EXCESS).

Anscombe-Glynn's z (as ``scipy.stats.kurtosistest``) is an approximation: its two-sided p-value rejects more
often than nominal in the far tail at small n. For each n this draws ``reps`` normal samples (float64, seeded),
computes the test's p-value exactly as the battery does, and reports, at each nominal level t, the measured
rejection rate over t (with its count). The battery multiplies the p-value by that excess (interpolated in
log p and n, never below 1).

    python bench/kurtosis_calibration.py             # ~2e9 normals: several minutes on 2 cores
    python bench/kurtosis_calibration.py --budget 2e8
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from kaiming_cli.stats.battery import anscombe_glynn_z

NS = (20, 30, 50, 100, 200, 300, 500, 1000, 1728, 3000, 5000)
LEVELS = (1e-2, 1e-3, 1e-4)


def pvalues(n: int, reps: int, rng: np.random.Generator, batch: int = 1 << 22) -> np.ndarray:
    out = []
    per = max(1, batch // n)
    z_of = np.vectorize(lambda b2: anscombe_glynn_z(float(b2), n))
    done = 0
    while done < reps:
        m = min(per, reps - done)
        x = rng.standard_normal((m, n))
        d = x - x.mean(axis=1, keepdims=True)
        m2 = np.mean(d * d, axis=1)
        b2 = np.mean(d**4, axis=1) / (m2 * m2)
        z = z_of(b2)
        out.append(np.array([math.erfc(abs(v) / math.sqrt(2)) for v in z]))
        done += m
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=2e9, help="normals drawn per n at most")
    parser.add_argument("--max-reps", type=int, default=4_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(20261129)
    print("n, reps, " + ", ".join(f"excess at {t:g} (count)" for t in LEVELS))
    for n in NS:
        reps = int(min(args.max_reps, args.budget / n))
        p = pvalues(n, reps, rng)
        cells = []
        for t in LEVELS:
            count = int(np.sum(p <= t))
            cells.append(f"{count / (reps * t):.3f} ({count})")
        print(f"{n}, {reps}, " + ", ".join(cells), flush=True)


if __name__ == "__main__":
    main()
