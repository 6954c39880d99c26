"""False alarms of ``verify`` on torch's own bfloat16/float16 ``kaiming_uniform_`` draws (docs/statistics.md §5).

torch samples a half-precision ``uniform_`` in float32, rounds to nearest and maps a value that rounds to the
upper bound onto the lower one (stats/shape.py ``wraps_top_cell``). ``python bench/bf16_uniform.py --seeds 300
[--dtype float16] [--before]``: ``--before`` tests with the plain rounded law (the top cell not merged), as
before the fix. One core; the rate at alpha = 0.001 with its Wilson 95% interval and the failing tests.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

import kaiming_cli.stats.shape as shape  # noqa: E402
from kaiming_cli.api import verify_tensor  # noqa: E402

torch.set_num_threads(1)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=300)
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    ap.add_argument("--shape", default="256,512")
    ap.add_argument("--before", action="store_true")
    args = ap.parse_args()
    if args.before:
        shape.wraps_top_cell = lambda law, dtype: False  # type: ignore[assignment]
    dims = tuple(int(d) for d in args.shape.split(","))
    fails, tests = 0, {}
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        w = torch.empty(dims, dtype=getattr(torch, args.dtype))
        torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")
        r = verify_tensor(w, distribution="uniform", nonlinearity="relu")
        if r.status != "pass":
            fails += 1
            for t in r.tests:
                tests[t.name] = tests.get(t.name, 0) + (not t.passed)
    lo, hi = wilson(fails, args.seeds)
    print(f"{args.dtype} {dims} {'before' if args.before else 'after'}: {fails}/{args.seeds} = "
          f"{fails / args.seeds:.4f} [{lo:.4f}, {hi:.4f}] at alpha 0.001; failing tests {tests}", flush=True)


if __name__ == "__main__":
    main()
