"""Benchmark kaiming against the naive way, on this machine, in one run.

Each measurement runs in a fresh process; wall time is measured around it and peak RSS is read
from that process's own rusage (os.wait4), so the figures are comparable side by side.
Prints a Markdown table of medians and ratios and writes it to bench/results.md.

    python bench/run.py            # all rows
    python bench/run.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
KAIMING = [PY, "-m", "kaiming_cli"]
if shutil.which("kaiming", path=str(Path(PY).parent)):
    KAIMING = [str(Path(PY).parent / "kaiming")]

NAIVE_CHECK = """
import numpy as np, scipy.stats as st, math
std = math.sqrt(2.0) / math.sqrt(10000)
x = np.random.default_rng(0).standard_normal((10000, 10000)) * std
print(np.std(x), st.kstest(x.ravel(), 'norm', args=(0, std)).pvalue)
"""

TORCH_LOOKUP = """
import torch, math
w = torch.empty(64, 3, 3, 3)
fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
print(torch.nn.init.calculate_gain('relu') / math.sqrt(fan_out))
"""


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024.0


def median_of(cmd: list[str], repeats: int, warmup: int = 1) -> tuple[float, float]:
    for _ in range(warmup):
        measure(cmd)
    runs = [measure(cmd) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def have_torch() -> bool:
    return subprocess.run([PY, "-c", "import torch"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    args = parser.parse_args()
    fast, slow = (5, 1) if args.quick else (15, 3)

    rows: list[tuple[str, str, float, float, float, float]] = []

    std_cmd = KAIMING + ["std", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"]
    t_std, m_std = median_of(std_cmd, fast, warmup=2)
    if have_torch():
        t_torch, m_torch = median_of([PY, "-c", TORCH_LOOKUP], max(3, fast // 3))
        rows.append(("`kaiming std --shape 64,3,3,3`", "`python -c 'import torch; ...'` (same number)",
                     t_std, t_torch, m_std, m_torch))
    else:
        rows.append(("`kaiming std --shape 64,3,3,3`", "(torch not installed)", t_std, float("nan"), m_std,
                     float("nan")))

    check_cmd = KAIMING + ["check", "--shape", "10000,10000", "--nonlinearity", "relu", "-f", "json"]
    t_check, m_check = median_of(check_cmd, slow)
    t_naive, m_naive = median_of([PY, "-c", NAIVE_CHECK], slow, warmup=0)
    rows.append(("`kaiming check --shape 10000,10000`", "numpy sample + `np.std` + `scipy.stats.kstest` (1e8)",
                 t_check, t_naive, m_check, m_naive))

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; medians of {fast} (lookups) / {slow} (1e8) runs, peak RSS of the "
        "process.",
        "",
        "| work | compared with | kaiming | naive | speed-up | kaiming RSS | naive RSS | memory ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for work, naive, t_k, t_n, m_k, m_n in rows:
        lines.append(
            f"| {work} | {naive} | {t_k * 1000:.0f} ms | {t_n * 1000:.0f} ms | {t_n / t_k:.1f}x | "
            f"{m_k:.0f} MB | {m_n:.0f} MB | {m_n / m_k:.1f}x |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
