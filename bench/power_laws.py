"""False-alarm rates and power of the laws beyond the marginal three (docs/statistics.md §11).

Seeded simulations, small shapes, one core: ``python bench/power_laws.py [--seeds 500] [--alpha 0.01]``.
Null samples come from torch's own initializers (``orthogonal_``, ``sparse_``, ``trunc_normal_`` with asymmetric
bounds), so the rates measure the tests against the real library, not against kaiming's own sampler. Each false
alarm rate is printed with its exact binomial (Clopper-Pearson) 99% interval.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import scipy.stats as st  # noqa: E402
import torch  # noqa: E402

from kaiming_cli.stats.battery import run_battery  # noqa: E402
from kaiming_cli.stats.laws import Law, law_from_spec  # noqa: E402
from kaiming_cli.stats.summary import summarize  # noqa: E402
from kaiming_cli.theory import law as L  # noqa: E402

torch.set_num_threads(1)

Maker = Callable[[int], np.ndarray]


def torch_maker(shape: tuple[int, ...], init: Callable[[torch.Tensor], object],
                edit: Callable[[np.ndarray, np.random.Generator], None] | None = None) -> Maker:
    def make(seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        t = torch.empty(shape)
        init(t)
        x = t.numpy().copy()
        if edit is not None:
            edit(x, np.random.default_rng(seed))
        return x

    return make


def rejection_rate(law: Law, make: Maker, seeds: int, alpha: float) -> tuple[int, dict[str, int]]:
    """How many of ``seeds`` tensors the battery rejects, and how often each test alone had p <= alpha
    (uncorrected: each test's own calibration, where the verdict uses alpha / k)."""
    rejected, by_test = 0, {}
    for seed in range(seeds):
        x = make(seed).reshape(-1)
        b = run_battery(law, summarize(x), x.astype(np.float64), alpha, values=x, dtype="float32")
        rejected += not b.passed
        for t in b.tests:
            by_test.setdefault(t.name, 0)
            by_test[t.name] += t.pvalue <= alpha
    return rejected, by_test


def clopper_pearson(k: int, n: int, level: float = 0.99) -> tuple[float, float]:
    a = 1 - level
    lo = 0.0 if k == 0 else float(st.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(st.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def scale_row(x: np.ndarray, rng: np.random.Generator) -> None:
    x.reshape(x.shape[0], -1)[int(rng.integers(x.shape[0]))] *= 1.01


def scale_row_tiny(x: np.ndarray, rng: np.random.Generator) -> None:
    x.reshape(x.shape[0], -1)[int(rng.integers(x.shape[0]))] *= np.float32(1 + 1e-6)


def unzero_one(x: np.ndarray, rng: np.random.Generator) -> None:
    col = int(rng.integers(x.shape[1]))
    row = int(rng.choice(np.flatnonzero(x[:, col] == 0)))
    x[row, col] = np.float32(rng.standard_normal() * 0.01)


def cases() -> list[tuple[str, str, Law, Maker]]:
    """(kind, description, null law, sampler): kind is "null" (false alarms) or "alt" (power)."""
    o_shape = (64, 3, 3, 3)
    orth = law_from_spec(L.orthogonal(1.0, 64, 27), o_shape)
    s_shape = (100, 64)
    sparse = law_from_spec(L.sparse(0.1, 0.01), s_shape)
    t_shape = (100, 100)
    trunc = law_from_spec(L.truncated_normal(0.1, 0.5, -0.3, 1.5))
    sq = (48, 48)
    orth_sq = law_from_spec(L.orthogonal(1.0, 48, 48), sq)
    wide = (16, 100)
    orth_wide = law_from_spec(L.orthogonal(1.0, 16, 100), wide)
    return [
        ("null", "orthogonal_ 16x100 (orthonormal rows)", orth_wide, torch_maker(wide, torch.nn.init.orthogonal_)),
        ("null", "orthogonal_ 64x3x3x3", orth, torch_maker(o_shape, torch.nn.init.orthogonal_)),
        ("null", "orthogonal_ 48x48", orth_sq, torch_maker(sq, torch.nn.init.orthogonal_)),
        ("null", "sparse_(0.1, std=0.01) 100x64", sparse,
         torch_maker(s_shape, lambda t: torch.nn.init.sparse_(t, 0.1, 0.01))),
        ("null", "trunc_normal_(0.1, 0.5, -0.3, 1.5) 100x100", trunc,
         torch_maker(t_shape, lambda t: torch.nn.init.trunc_normal_(t, 0.1, 0.5, -0.3, 1.5))),
        ("alt", "orthogonal_ gain 1.1 tested as gain 1", orth,
         torch_maker(o_shape, lambda t: torch.nn.init.orthogonal_(t, gain=1.1))),
        ("alt", "orthogonal_ with one row x1.01", orth, torch_maker(o_shape, torch.nn.init.orthogonal_, scale_row)),
        ("alt", "orthogonal_ gain 1+3e-6 tested as 1 (W W^T off by 6e-6, bound 4.4e-6)", orth,
         torch_maker(o_shape, lambda t: torch.nn.init.orthogonal_(t, gain=1 + 3e-6))),
        ("alt", "orthogonal_ with one row x(1+1e-6) (under the bound by design)", orth,
         torch_maker(o_shape, torch.nn.init.orthogonal_, scale_row_tiny)),
        ("alt", "normal_ with the orthogonal entries' std (1/sqrt(64))", orth,
         torch_maker(o_shape, lambda t: torch.nn.init.normal_(t, 0.0, 1 / 8))),
        ("alt", "sparse_ with one column a zero short", sparse,
         torch_maker(s_shape, lambda t: torch.nn.init.sparse_(t, 0.1, 0.01), unzero_one)),
        ("alt", "sparse_(std=0.011) tested as std 0.01", sparse,
         torch_maker(s_shape, lambda t: torch.nn.init.sparse_(t, 0.1, 0.011))),
        ("alt", "sparse_(std=0.0102) tested as std 0.01", sparse,
         torch_maker(s_shape, lambda t: torch.nn.init.sparse_(t, 0.1, 0.0102))),
        ("alt", "trunc_normal_ cut at b=1.49, tested as b=1.5", trunc,
         torch_maker(t_shape, lambda t: torch.nn.init.trunc_normal_(t, 0.1, 0.5, -0.3, 1.49))),
        ("alt", "trunc_normal_ cut at b=1.4, tested as b=1.5", trunc,
         torch_maker(t_shape, lambda t: torch.nn.init.trunc_normal_(t, 0.1, 0.5, -0.3, 1.4))),
        ("alt", "trunc_normal_ cut at a=-0.25, tested as a=-0.3", trunc,
         torch_maker(t_shape, lambda t: torch.nn.init.trunc_normal_(t, 0.1, 0.5, -0.25, 1.5))),
        ("alt", "trunc_normal_ std 0.55 tested as 0.5", trunc,
         torch_maker(t_shape, lambda t: torch.nn.init.trunc_normal_(t, 0.1, 0.55, -0.3, 1.5))),
    ]


def orthogonality_margin(seeds: int) -> None:
    """Worst |W W^T / g^2 - I| of torch's ``orthogonal_`` over ``seeds`` draws, as a fraction of the bound."""
    from kaiming_cli.stats.exact import orthogonal_test, orthogonal_tolerance

    print("\n| shape | gain | dtype | worst deviation | bound | worst / bound |")
    print("|---|---|---|---|---|---|")
    for shape, gain, dtype in [((2, 2), 1.7, torch.float32), ((3, 3), 1.0, torch.float32),
                               ((8, 8), 1.7, torch.float32), ((64, 64), 1.7, torch.float32),
                               ((16, 100), 1.0, torch.float32), ((256, 256), 1.0, torch.float32),
                               ((64, 64), 1.7, torch.bfloat16), ((64, 64), 1.7, torch.float16)]:
        name = str(dtype).removeprefix("torch.")
        r, c = shape
        law = law_from_spec(L.orthogonal(gain, r, c), shape)
        worst = 0.0
        t = torch.empty(shape)
        for seed in range(seeds if r < 256 else max(seeds // 10, 1)):
            torch.manual_seed(seed)
            torch.nn.init.orthogonal_(t, gain=gain)
            x = t.to(dtype).float().numpy() if dtype != torch.float32 else t.numpy()
            res = orthogonal_test(law, x, name)
            worst = max(worst, res.statistic)
        bound = orthogonal_tolerance(name, max(r, c))
        print(f"| {r}x{c} | {gain:g} | {name} | {worst:.3g} | {bound:.3g} | {worst / bound:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=500)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--margin-seeds", type=int, default=2000)
    args = ap.parse_args()
    print(f"alpha = {args.alpha:g}, {args.seeds} seeds per row; torch {torch.__version__}, numpy {np.__version__}")
    print("| kind | case | verdict rejects | rate | 99% CI | each test alone, p <= alpha |")
    print("|---|---|---|---|---|---|")
    for kind, desc, law, make in cases():
        t0 = time.perf_counter()
        k, by_test = rejection_rate(law, make, args.seeds, args.alpha)
        lo, hi = clopper_pearson(k, args.seeds)
        tests = ", ".join(f"{name} {count / args.seeds:.3f}" for name, count in by_test.items())
        dt = time.perf_counter() - t0
        print(f"| {kind} | {desc} | {k}/{args.seeds} | {k / args.seeds:.3f} | [{lo:.3f}, {hi:.3f}] | "
              f"{tests or '-'} |", flush=True)
        print(f"<!-- {dt:.1f} s -->", file=sys.stderr)
    orthogonality_margin(args.margin_seeds)


if __name__ == "__main__":
    main()
