"""The run-level false-alarm rate (FWER) of ``verify`` under Holm, on clean many-tensor files (docs/statistics.md §4).

Each "file" holds 30 tensors drawn with torch's own initializers, in mixed shapes (conv kernels, linear weights,
embeddings), laws (kaiming normal/uniform, xavier normal/uniform, torch's default Linear init, normal_ and
trunc_normal_ at std 0.02, uniform_) and dtypes (float32, about a fifth bfloat16), each checked against the init
call that made it. A file is a false alarm when Holm at ``--alpha`` fails any tensor. One core, chunked so that
partial results survive: ``python bench/fwer.py --files 3000 --out /tmp/fwer`` writes one JSON line per file
(its per-tensor p-values and each tensor's smallest test) and, at the end, the rate with its Clopper-Pearson and
Wilson 95% intervals. ``--summary DIR`` prints the rate and which laws and tests the alarms came from.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import scipy.stats as st  # noqa: E402
import torch  # noqa: E402

from kaiming_cli.io.config import Rule  # noqa: E402
from kaiming_cli.io.memory import array_source  # noqa: E402
from kaiming_cli.runners.verify import adjust, verify_source  # noqa: E402
from kaiming_cli.theory.spec import SpecOptions  # noqa: E402

torch.set_num_threads(1)

SHAPES: tuple[tuple[int, ...], ...] = (
    (64, 3, 7, 7), (64, 64, 3, 3), (128, 64, 3, 3), (256, 128, 1, 1), (32, 16, 5, 5), (128, 128, 3, 3),
    (512, 256), (128, 512), (10, 512), (256, 256), (384, 96), (1000, 64),
)

#: (the torch call applied, the init call verify is given)
LAWS: tuple[tuple[str, str], ...] = (
    ("kaiming_normal_(t, nonlinearity='relu')", "kaiming_normal_(nonlinearity='relu')"),
    ("kaiming_normal_(t, mode='fan_out', nonlinearity='relu')", "kaiming_normal_(mode='fan_out', nonlinearity='relu')"),
    ("kaiming_uniform_(t, nonlinearity='relu')", "kaiming_uniform_(nonlinearity='relu')"),
    ("kaiming_uniform_(t, a=math.sqrt(5))", "kaiming_uniform_(a=math.sqrt(5))"),
    ("xavier_uniform_(t)", "xavier_uniform_()"),
    ("xavier_normal_(t)", "xavier_normal_()"),
    ("normal_(t, std=0.02)", "normal_(std=0.02)"),
    ("trunc_normal_(t, std=0.02)", "trunc_normal_(std=0.02)"),
    ("uniform_(t, -0.05, 0.05)", "uniform_(a=-0.05, b=0.05)"),
)
TENSORS = 30
BF16_SHARE = 0.2


Recheck = Callable[[tuple[int, ...], str, bool], bool]


def one_file(seed: int, alpha: float, old: dict[str, Any] | None = None, recheck: Recheck | None = None,
             spot: float = 0.0) -> dict[str, Any]:
    """Draw one file's tensors from ``seed`` and verify them; the per-tensor record and the Holm decision.

    With ``old`` (this file's record from an earlier run) only the tensors ``recheck(shape, init, bf16)`` names
    are verified again (the draws are replayed, so they are the same tensors); the others keep their record, and
    a share ``spot`` of them is verified again and must give the same p-value (a code change that was thought not
    to touch them would show)."""
    rng = np.random.default_rng(seed)
    spot_rng = np.random.default_rng(10**6 + seed)
    torch.manual_seed(seed)
    rows = []
    pvalues = []
    for i in range(TENSORS):
        shape = SHAPES[rng.integers(len(SHAPES))]
        torch_call, init = LAWS[rng.integers(len(LAWS))]
        bf16 = bool(rng.random() < BF16_SHARE)
        t = torch.empty(shape)
        eval("torch.nn.init." + torch_call, {"torch": torch, "math": math, "t": t})  # noqa: S307 (fixed table)
        if bf16:
            t = t.to(torch.bfloat16)
        if old is not None and recheck is not None and not recheck(shape, init, bf16):
            kept = old["tensors"][i]
            if spot_rng.random() < spot:
                again = verify_source(array_source(t, f"t{i}"), Rule(match="*", options={"init": init}),
                                      SpecOptions(), alpha=alpha, seed=seed)
                if again.pvalue != kept["p"]:
                    raise SystemExit(f"seed {seed} t{i}: p {again.pvalue} != kept {kept['p']}")
            rows.append(kept)
            pvalues.append(kept["p"])
            continue
        r = verify_source(array_source(t, f"t{i}"), Rule(match="*", options={"init": init}), SpecOptions(),
                          alpha=alpha, seed=seed)
        if r.status not in ("pass", "fail") or r.pvalue is None:
            raise SystemExit(f"seed {seed} t{i} {init} {shape}: {r.status} {r.reason}")
        worst = min(r.tests, key=lambda x: x.pvalue) if r.tests else None
        rows.append({"shape": list(shape), "init": init, "bf16": bf16, "p": r.pvalue,
                     "worst": worst.name if worst else "", "worst_p": worst.pvalue if worst else 1.0})
        pvalues.append(r.pvalue)
    holm = adjust(pvalues, "holm")
    return {"seed": seed, "alarm": min(holm) <= alpha, "min_holm": min(holm), "tensors": rows}


def touched(shape: tuple[int, ...], init: str, bf16: bool) -> bool:
    """The tensors issue 26's changes can give another p-value: more than 1e5 values (the KS subsample's
    positions) or a uniform law in bfloat16 (the shape test's merged edge bins)."""
    return math.prod(shape) > 100_000 or (bf16 and "uniform" in init)


def intervals(k: int, n: int, level: float = 0.95) -> tuple[tuple[float, float], tuple[float, float]]:
    """Clopper-Pearson (exact) and Wilson intervals for k of n."""
    a = 1 - level
    cp_lo = 0.0 if k == 0 else float(st.beta.ppf(a / 2, k, n - k + 1))
    cp_hi = 1.0 if k == n else float(st.beta.ppf(1 - a / 2, k + 1, n - k))
    z = float(st.norm.isf(a / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (cp_lo, cp_hi), (centre - half, centre + half)


def summary(folder: Path, alpha: float) -> None:
    records = [json.loads(line) for f in sorted(folder.glob("chunk-*.jsonl")) for line in f.read_text().splitlines()]
    n = len(records)
    k = sum(r["alarm"] for r in records)
    (cl, ch), (wl, wh) = intervals(k, n)
    print(f"{k}/{n} files with a false alarm at alpha {alpha}: {k / n:.4f}, Clopper-Pearson 95% [{cl:.4f}, {ch:.4f}],"
          f" Wilson 95% [{wl:.4f}, {wh:.4f}]")
    # the tensors that caused the alarms: those whose Holm-adjusted p is <= alpha
    causes: Counter[str] = Counter()
    tests: Counter[str] = Counter()
    for r in records:
        if not r["alarm"]:
            continue
        ps = [t["p"] for t in r["tensors"]]
        for t, q in zip(r["tensors"], adjust(ps, "holm"), strict=True):
            if q <= alpha:
                causes[f"{t['init']} {tuple(t['shape'])} {'bf16' if t['bf16'] else 'f32'}"] += 1
                tests[t["worst"]] += 1
    print("alarm tensors by test:", dict(tests.most_common()))
    for c, m in causes.most_common(20):
        print(f"  {m:4d}  {c}")
    # the per-tensor rate by law and dtype (uncorrected p <= alpha / 30, Bonferroni's per-tensor share)
    per: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    for r in records:
        for t in r["tensors"]:
            key = f"{t['init']} {'bf16' if t['bf16'] else 'f32'}"
            per[key] += 1
            hit[key] += t["p"] <= alpha / TENSORS
    print(f"per-tensor p <= alpha/{TENSORS} (expected {alpha / TENSORS:.2e}):")
    for key in sorted(per):
        print(f"  {hit[key]:4d}/{per[key]:6d}  {key}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--out", type=Path, default=Path("/tmp/fwer"))
    ap.add_argument("--summary", action="store_true", help="only summarize the chunks already in --out")
    ap.add_argument("--recheck-from", type=Path, default=None,
                    help="an earlier run's folder: verify again only the tensors a code change can touch (more "
                         "than 1e5 values: the subsample; bfloat16 uniform laws: the shape test's edge bins), "
                         "keep the other records, and verify 2%% of those again as a check")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.summary:
        for lo in range(args.start, args.start + args.files, args.chunk):
            path = args.out / f"chunk-{lo:06d}.jsonl"
            if path.exists():
                continue
            hi = min(lo + args.chunk, args.start + args.files)
            olds: dict[int, dict[str, Any]] = {}
            if args.recheck_from is not None:
                olds = {r["seed"]: r for r in map(json.loads, (args.recheck_from / path.name).read_text().splitlines())}
            lines = [json.dumps(one_file(seed, args.alpha, olds.get(seed), touched if olds else None, 0.02))
                     for seed in range(lo, hi)]
            tmp = path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n")
            tmp.rename(path)
            print(f"chunk {lo}-{hi} done", flush=True)
    summary(args.out, args.alpha)


if __name__ == "__main__":
    main()
