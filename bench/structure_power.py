"""Power and false alarms of the battery with the structure and shape tests (issue 14), beside emulations of the
peers' own tests, for docs/statistics.md §8.

Power: the share of seeds each check rejects, for structured alternatives with the right marginal law
(tests/alternatives.py) on 512x512 and 256x64x3x3 kaiming_normal_(relu) tensors, and for 10-bit quantization
at n = 1e4..1e6. Checks (issue 26: each peer column emulates what that peer's own test suite does):

- kaiming's verdict at alpha = 0.001 (``verify_tensor``);
- PyTorch, test/nn/test_init.py ``TestNNInit._is_normal`` as ``test_kaiming_normal`` uses it: KS of the whole
  flattened tensor against N(0, std), a failure when p <= 1e-4;
- JAX's initializer tests, tests/nn_test.py ``NNInitializersTest.testInitializer``: the shape and dtype only (no
  statistical test of an initializer's values), so a failure only for a wrong shape or dtype;
- JAX's sampler test, tests/random_lax_test.py ``LaxRandomTest.testNormal`` with ``_CheckKolmogorovSmirnovCDF``:
  KS of 1e4 i.i.d. draws, a failure when p <= 0.01; a tensor has no 1e4 i.i.d. draws of its own, so the
  emulation takes 1e4 values at random positions (without replacement, seeded);
- Keras, keras/src/initializers/random_initializers_test.py ``test_variance_scaling``: ``assertAllClose(np.std(
  values), sqrt(scale / fan), atol=1e-1)`` (numpy's allclose with rtol 1e-6), a failure when
  |std - std0| > 0.1 + 1e-6 std0;
- a plain "std within 5%" check (no peer's).

False alarms: torch-sampled correct tensors, float32 and bf16, square and very non-square, the verdict and each
test at a nominal 5%. Each power cell is k/seeds with its Wilson 95% interval.

    python bench/structure_power.py [--seeds 20] [--peer-seeds 200] [--null-seeds 500] [--power-only]
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

PEERS = ("PyTorch test_init KS whole, p <= 1e-4", "JAX testInitializer (shape, dtype)",
         "JAX testNormal KS 1e4 random positions, p <= 0.01", "Keras |std - std0| <= 0.1", "std off > 5%")


def others(x: np.ndarray, std: float, seed: int, shape: tuple[int, ...]) -> tuple[bool, ...]:
    """Whether each of the ``PEERS`` checks fails the tensor (see the module docstring for what each emulates)."""
    flat = x.reshape(-1).astype(np.float64)
    torch_p = st.kstest(flat, "norm", args=(0, std)).pvalue
    jax_init = x.shape != shape or x.dtype != np.float32
    picked = np.random.default_rng(10_000 + seed).choice(flat.size, 10_000, replace=False)
    jax_p = st.kstest(flat[picked], "norm", args=(0, std)).pvalue
    sd = float(np.std(flat))
    keras = not abs(sd - std) <= 0.1 + 1e-6 * std
    return torch_p <= 1e-4, jax_init, jax_p <= 0.01, keras, abs(sd / std - 1) > 0.05


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def cell(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} [{100 * lo:.1f}, {100 * hi:.1f}]%"


def power_row(name: str, make: object, shape: tuple[int, ...], seeds: int, peer_seeds: int) -> str:
    """kaiming's verdict over ``seeds`` seeds, the peers' checks (cheap) over ``peer_seeds``, the same tensors."""
    std = math.sqrt(2.0 / math.prod(shape[1:]))
    ours = 0
    peers = [0] * len(PEERS)
    for seed in range(max(seeds, peer_seeds)):
        x = make(np.random.default_rng(seed), shape, std).astype(np.float32)  # type: ignore[operator]
        if seed < seeds:
            ours += verify_tensor(x, mode="fan_in", nonlinearity="relu").status == "fail"
        if seed < peer_seeds:
            peers = [a + b for a, b in zip(peers, others(x, std, seed, shape), strict=True)]
    cells = [cell(ours, seeds)] + [cell(v, peer_seeds) for v in peers]
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
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--peer-seeds", type=int, default=200)
    parser.add_argument("--null-seeds", type=int, default=500)
    parser.add_argument("--power-only", action="store_true")
    args = parser.parse_args()
    print("| alternative | shape | kaiming (alpha 0.001) | " + " | ".join(PEERS) + " |")
    print("|---|---|---:|" + "---:|" * len(PEERS))
    for shape in ((512, 512), (256, 64, 3, 3)):
        for name, (make, _test, _words) in STRUCTURED.items():
            print(power_row(name, make, shape, args.seeds, args.peer_seeds), flush=True)
    for side in (100, 316, 1000):
        print(power_row("10-bit quantization", quantized_10bit, (side, side), args.seeds,
                            args.peer_seeds), flush=True)
    if args.power_only:
        return
    print()
    print("| shape | dtype | verdict fails at 0.001 | mean | std | kurtosis | range | ks | shape | rows | cols | "
          "spectrum |")
    print("|---|---|---:|" + "---:|" * 9)
    for shape in ((128, 128), (16, 4096), (4096, 16), (64, 3, 3, 3)):
        for dtype in ("float32", "bfloat16"):
            print(null_row(shape, dtype, args.null_seeds), flush=True)


if __name__ == "__main__":
    main()
