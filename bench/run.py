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


NAIVE_VERIFY = """
import sys, math, numpy as np, scipy.stats as st
from safetensors.numpy import load_file
for name, w in load_file(sys.argv[1]).items():
    std = math.sqrt(2 / w.shape[1])
    print(name, np.std(w), st.kstest(w.ravel(), 'norm', args=(0, std)).pvalue)
"""

FLOOR = """
import sys, json, struct, numpy as np
path = sys.argv[1]
with open(path, 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    header = json.loads(f.read(n))
data = np.memmap(path, dtype=np.uint8, mode='r', offset=8 + n)
total = 0.0
for name, entry in header.items():
    if name != '__metadata__':
        begin, end = entry['data_offsets']
        total += float(np.sum(data[begin:end].view(np.float32), dtype=np.float64))
print(total)
"""

# A fresh small interpreter forks the measured command, so the child's peak RSS is its own.
MEASURE = (
    "import os, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), time.perf_counter() - t0, usage.ru_maxrss)\n"
)


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process."""
    out = subprocess.run([PY, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True).stdout.split()
    if int(out[0]) not in (0, 1):
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}")
    return float(out[1]), int(out[2]) / 1024.0


def make_checkpoint(path: Path, tensors: int = 16, side: int = 4096) -> None:
    """tensors x (side, side) float32 kaiming_normal_(relu) weights: 1 GiB by default."""
    import math

    import numpy as np
    from safetensors.numpy import save_file

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    std = np.float32(math.sqrt(2 / side))
    save_file({f"layers.{i}.weight": rng.standard_normal((side, side), dtype=np.float32) * std
               for i in range(tensors)}, str(path))


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

    checkpoint = HERE / "out" / "model-1g.safetensors"
    make_checkpoint(checkpoint)
    measure([PY, "-c", FLOOR, str(checkpoint)])  # warm the page cache
    verify_cmd = KAIMING + ["verify", str(checkpoint), "--nonlinearity", "relu", "--no-config", "-f", "json"]
    t_verify, m_verify = median_of(verify_cmd, slow)
    t_naive_v, m_naive_v = median_of([PY, "-c", NAIVE_VERIFY, str(checkpoint)], 1, warmup=0)
    rows.append(("`kaiming verify` 1 GiB safetensors (16 x 4096²)",
                 "`safetensors.numpy.load_file` + `np.std` + `kstest` per tensor", t_verify, t_naive_v, m_verify,
                 m_naive_v))
    t_floor, m_floor = median_of([PY, "-c", FLOOR, str(checkpoint)], slow)
    identify_cmd = KAIMING + ["identify", str(checkpoint), "-f", "json"]
    t_ident, m_ident = median_of(identify_cmd, slow)
    rows.append(("`kaiming identify` 1 GiB safetensors", "floor: one `np.sum` pass over a memmap", t_ident, t_floor,
                 m_ident, m_floor))
    rows.append(("`kaiming verify` 1 GiB safetensors", "floor: one `np.sum` pass over a memmap", t_verify, t_floor,
                 m_verify, m_floor))

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
