"""Power and false alarms of the battery with the structure and shape tests (issue 14), beside the frameworks'
own checks, for docs/statistics.md §8.

Power: the share of seeds each check rejects, for structured alternatives with the right marginal law
(tests/alternatives.py) on 512x512 and 256x64x3x3 kaiming_normal_(relu) tensors, and for 10-bit quantization
at n = 1e4..1e6. Checks: kaiming's verdict at alpha = 0.001 (via ``verify_tensor``); PyTorch's test (KS on the
whole tensor, reject when p <= 1e-4); JAX's (KS on the first 1e4 values, reject when p <= 0.01); and a plain
"std within 5%" check. False alarms: torch-sampled correct tensors, float32 and bf16, square and very
non-square, the verdict and each test at a nominal 5%.

    python bench/structure_power.py [--seeds 50] [--null-seeds 500]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import scipy.stats as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kaiming_cli.api import verify_tensor  # noqa: E402
from tests.alternatives import STRUCTURED, quantized_10bit  # noqa: E402


def others(x: np.ndarray, std: float) -> tuple[bool, bool, bool]:
    """(PyTorch's KS rejects, JAX's KS rejects, std-within-5% rejects)."""
    flat = x.reshape(-1).astype(np.float64)
    torch_p = st.kstest(flat, "norm", args=(0, std)).pvalue
    jax_p = st.kstest(flat[:10_000], "norm", args=(0, std)).pvalue
    return torch_p <= 1e-4, jax_p <= 0.01, abs(float(np.std(flat)) / std - 1) > 0.05


def power_row(name: str, make: object, shape: tuple[int, ...], seeds: int) -> str:
    std = math.sqrt(2.0 / math.prod(shape[1:]))
    ours = torch_ks = jax_ks = std5 = 0
    for seed in range(seeds):
        x = make(np.random.default_rng(seed), shape, std)  # type: ignore[operator]
        r = verify_tensor(x, mode="fan_in", nonlinearity="relu")
        ours += r.status == "fail"
        a, b, c = others(x, std)
        torch_ks, jax_ks, std5 = torch_ks + a, jax_ks + b, std5 + c
    cells = [f"{100 * v / seeds:.0f}%" for v in (ours, torch_ks, jax_ks, std5)]
    return f"| {name} | {'x'.join(map(str, shape))} | " + " | ".join(cells) + " |"


def null_row(shape: tuple[int, ...], dtype: str, seeds: int) -> str:
    import torch

    names = ("mean", "std", "kurtosis", "range", "ks", "shape", "rows", "cols", "spectrum")
    rejections = dict.fromkeys(names, 0)
    verdict = 0
    for seed in range(seeds):
        torch.manual_seed(10_000 + seed)
        w = torch.empty(shape)
        torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
        if dtype == "bfloat16":
            w = w.to(torch.bfloat16)
        r = verify_tensor(w, nonlinearity="relu", alpha=0.001)
        verdict += r.status == "fail"
        for t in r.tests:
            rejections[t.name] = rejections.get(t.name, 0) + (t.pvalue <= 0.05)
    hi = st.binom.ppf(0.999, seeds, 0.001) / seeds
    cells = [f"{100 * rejections[n] / seeds:.1f}%" for n in names]
    return (f"| {'x'.join(map(str, shape))} | {dtype} | {verdict}/{seeds} (bound {hi * seeds:.0f}) | "
            + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--null-seeds", type=int, default=500)
    args = parser.parse_args()
    print("| alternative | shape | kaiming (alpha 0.001) | PyTorch KS p <= 1e-4 | JAX KS 1e4, p <= 0.01 "
          "| std off > 5% |")
    print("|---|---|---:|---:|---:|---:|")
    for shape in ((512, 512), (256, 64, 3, 3)):
        for name, (make, _test, _words) in STRUCTURED.items():
            print(power_row(name, make, shape, args.seeds), flush=True)
    for side in (100, 316, 1000):
        print(power_row("10-bit quantization", quantized_10bit, (side, side), args.seeds), flush=True)
    print()
    print("| shape | dtype | verdict fails at 0.001 | mean | std | kurtosis | range | ks | shape | rows | cols | "
          "spectrum |")
    print("|---|---|---:|" + "---:|" * 9)
    for shape in ((128, 128), (16, 4096), (4096, 16), (64, 3, 3, 3)):
        for dtype in ("float32", "bfloat16"):
            print(null_row(shape, dtype, args.null_seeds), flush=True)


if __name__ == "__main__":
    main()
