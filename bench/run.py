"""Benchmark kaiming against the naive way and the machine's floors, on this machine, in one run, one method.

The method (docs/performance.md): every row is timed as **whole processes** (interpreter start included), started
from a small launcher that reads the child's own wall time, CPU time and peak RSS (``os.wait4``); the two commands
of a row are **alternated** (a b a b ...) after one warm-up each, so a change in the machine's load hits both
alike; every figure is the **median** of several runs with its **spread** (min-max); the page cache is warm
(the files are read once before anything is timed); the **floors** are measured in the same run: one numpy pass
over the file through a memmap on one core (reading), and numpy generating the same number of float32 normals
on every core and on one (sampling). Bytecode is compiled first, as ``pip install`` does (an environment with
PYTHONDONTWRITEBYTECODE would otherwise recompile kaiming's sources on every start). The printed block goes to
bench/results.md and replaces the block between the bench markers in docs/performance.md.

    python bench/run.py            # every row (about 12 minutes)
    python bench/run.py --real-only  # the checkpoints of many small tensors only, printed (issue 25)
    python bench/run.py --quick    # fewer runs, no naive rows, no 1e9 row (about 2 minutes)
    python bench/run.py --audit-only  # the audit row alone, 5 rounds, printed (issue 27; about 2 minutes)
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PY = sys.executable
KAIMING = [PY, "-m", "kaiming_cli"]
if shutil.which("kaiming", path=str(Path(PY).parent)):
    KAIMING = [str(Path(PY).parent / "kaiming")]
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

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

def one(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode='r', offset=8 + n)
    return sum(float(np.sum(data[e['data_offsets'][0]:e['data_offsets'][1]].view(np.float32), dtype=np.float64))
               for k, e in header.items() if k != '__metadata__')

jobs, paths = int(sys.argv[1]), sys.argv[2:]
if jobs == 1:
    print(sum(map(one, paths)))
else:
    from multiprocessing import get_context
    with get_context('fork').Pool(jobs) as pool:
        print(sum(pool.map(one, paths, chunksize=1)))
"""
"""The read floor: one plain numpy pass over every value of the files (``FLOOR jobs path...``)."""

GENERATE = """
import sys, numpy as np
from concurrent.futures import ThreadPoolExecutor
jobs, n, chunk = int(sys.argv[1]), int(sys.argv[2]), 1 << 20
seeds = np.random.SeedSequence(0).spawn(-(-n // chunk))

def one(i):
    x = np.random.default_rng(seeds[i]).standard_normal(min(n, (i + 1) * chunk) - i * chunk, dtype=np.float32)
    return float(x[0])

with ThreadPoolExecutor(jobs) as pool:
    print(sum(pool.map(one, range(len(seeds)))))
"""
"""The sampling floor: numpy generating n float32 normals in chunks of 2^20, one generator per chunk, on ``jobs``
threads (``GENERATE jobs n``): what ``check`` must do at the least."""

BUILD_RESNET50 = """
import sys
sys.path.insert(0, sys.argv[1])
from tests.audit_models import resnet50_like
resnet50_like()
"""
"""The floor of ``audit``: importing torch and building the model it audits."""

REAL_FLOOR = """
import sys, numpy as np
from safetensors.numpy import load_file
print(sum(float(np.sum(w, dtype=np.float32)) for w in load_file(sys.argv[1]).values()))
"""
"""The floor of issue 25 for a real checkpoint: import numpy and safetensors, ``load_file``, one float32 sum per
tensor."""

REAL_NAIVE = """
import sys, math, numpy as np, scipy.stats as st
from safetensors.numpy import load_file
for name, w in load_file(sys.argv[1]).items():
    if w.ndim >= 2:
        std = math.sqrt(2 / math.prod(w.shape[1:]))
        print(name, np.std(w), st.kstest(w.ravel(), 'norm', args=(0, std)).pvalue)
"""
"""The naive script of issue 25: ``load_file``, then per 2-D+ tensor ``np.std`` and ``kstest`` against its
N(0, 2/fan_in)."""

#: (file, tensors, verify's and identify's targets: at most this many times the floor, and at most this share of the
#: naive script's time), the targets of issue 25.
REAL_TARGETS = (("many1000", 1000, (4.0, 1 / 4), (6.0, 1 / 3)), ("tiny9k", 9000, (6.0, 1 / 4), (9.0, 1 / 3)),
                ("resnet50", 320, (2.5, 1 / 4), (3.0, 1 / 3)))

MEASURE = (
    "import os, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), time.perf_counter() - t0, usage.ru_maxrss,"
    " usage.ru_utime + usage.ru_stime)\n"
)


@dataclass
class Runs:
    """The runs of one command: wall seconds, CPU seconds, peak RSS (MB)."""

    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls) if self.walls else math.nan

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus) if self.cpus else math.nan

    @property
    def mem(self) -> float:
        return max(self.rss) if self.rss else math.nan

    def spread(self) -> str:
        if len(self.walls) < 2:
            return ""
        return f" ({fmt_time(min(self.walls))}–{fmt_time(max(self.walls))})"


def measure(cmd: list[str], runs: Runs | None = None) -> Runs:
    """One fresh process: appends its wall, CPU and peak RSS to ``runs``."""
    runs = runs if runs is not None else Runs()
    out = subprocess.run([PY, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True).stdout.split()
    if int(out[0]) not in (0, 1):
        raise SystemExit(f"benchmark command failed (exit {out[0]}): {' '.join(cmd)}")
    runs.walls.append(float(out[1]))
    runs.rss.append(int(out[2]) / 1024.0)
    runs.cpus.append(float(out[3]))
    return runs


def alternate(cmds: list[list[str]], rounds: int, warmup: int = 1) -> list[Runs]:
    """Each command ``rounds`` times, interleaved (a b c a b c ...), after ``warmup`` untimed runs of each."""
    for _ in range(warmup):
        for cmd in cmds:
            measure(cmd)
    results = [Runs() for _ in cmds]
    for _ in range(rounds):
        for cmd, runs in zip(cmds, results, strict=True):
            measure(cmd, runs)
    return results


def make_checkpoint(path: Path, tensors: int, side: int, seed: int = 0) -> None:
    """tensors x (side, side) float32 kaiming_normal_(relu) weights."""
    import numpy as np
    from safetensors.numpy import save_file

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    std = np.float32(math.sqrt(2 / side))
    save_file({f"{path.stem}.{i}.weight": rng.standard_normal((side, side), dtype=np.float32) * std
               for i in range(tensors)}, str(path))


def real_models(quick: bool) -> list[str]:
    """Issue 25's rows: checkpoints of many small tensors (bench/realmodels.py) against the read floor and the naive
    script, all in one alternation per file; the CPU per tensor beyond the floor; and a 10,000-tensor file, once."""
    sys.path.insert(0, str(HERE))
    from realmodels import build

    paths = build(OUT)
    for path in paths.values():  # the page cache warm for every command
        path.read_bytes()
    rounds = 2 if quick else 3
    lines = ["| file | floor | naive script | `verify` | x floor | / naive | `identify` | x floor | / naive | "
             "CPU per tensor beyond the floor (verify, identify) | targets (verify; identify) | met? |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for name, tensors, (v_floor, v_naive), (i_floor, i_naive) in REAL_TARGETS:
        path = str(paths[name])
        verify = KAIMING + ["verify", path, "--no-config", "-f", "json"] + (
            ["--rules", str(paths["resnet50-rules"])] if name == "resnet50" else
            ["--mode", "fan_in", "--nonlinearity", "relu"])
        identify = KAIMING + ["identify", path, "-f", "json"]
        floor, naive, t_v, t_i = alternate([[PY, "-c", REAL_FLOOR, path], [PY, "-c", REAL_NAIVE, path], verify,
                                            identify], rounds, warmup=0)
        fv, fi = t_v.wall / floor.wall, t_i.wall / floor.wall
        nv, ni = t_v.wall / naive.wall, t_i.wall / naive.wall
        met = {"verify": fv <= v_floor and nv <= v_naive, "identify": fi <= i_floor and ni <= i_naive}
        per = f"{(t_v.cpu - floor.cpu) / tensors * 1e3:.2f} ms, {(t_i.cpu - floor.cpu) / tensors * 1e3:.2f} ms"
        verdict = "; ".join(f"{k} **{'met' if ok else 'not met'}**" for k, ok in met.items())
        lines.append(f"| {name} ({tensors} tensors) | {fmt_time(floor.wall)} | {fmt_time(naive.wall)} | "
                     f"{fmt_time(t_v.wall)}{t_v.spread()} | {fv:.2f}x | {nv:.2f}x | "
                     f"{fmt_time(t_i.wall)}{t_i.spread()} | "
                     f"{fi:.2f}x | {ni:.2f}x | {per} | <= {v_floor:g}x the floor and <= {v_naive:.2g} of naive; "
                     f"<= {i_floor:g}x and <= {i_naive:.2g} | {verdict} |")
    path = str(paths["many10k"])
    floor, t_v, t_i = alternate([[PY, "-c", REAL_FLOOR, path],
                                 KAIMING + ["verify", path, "--no-config", "-f", "json", "--nonlinearity", "relu"],
                                 KAIMING + ["identify", path, "-f", "json"]], 1, warmup=0)
    lines += ["", f"10,000 tensors of 32x32 float32 (many10k, one run each): floor {fmt_time(floor.wall)}, verify "
              f"{fmt_time(t_v.wall)} ({t_v.wall / floor.wall:.1f}x the floor, "
              f"{(t_v.cpu - floor.cpu) / 10:.2f} ms of CPU per tensor beyond it), identify {fmt_time(t_i.wall)} "
              f"({t_i.wall / floor.wall:.1f}x, {(t_i.cpu - floor.cpu) / 10:.2f} ms per tensor); peak RSS "
              f"{t_v.mem:.0f} MB and {t_i.mem:.0f} MB."]
    return lines


def audit_row(rounds: int) -> Row:
    """``kaiming audit`` of a ResNet-50 (tests/audit_models.py, 25.6 M parameters, 161 tensors) end to end, against
    only importing torch and building it: issue 27's target is 1.5x that floor."""
    target = f"{ROOT / 'tests' / 'audit_models.py'}:resnet50_like"
    t_audit, t_build = alternate([KAIMING + ["audit", target, "-f", "json"], [PY, "-c", BUILD_RESNET50, str(ROOT)]],
                                 rounds)
    return Row("`kaiming audit` ResNet-50 look-alike, end to end", "floor: import torch and build the model",
               t_audit, t_build, "within 1.5x of the floor", lambda r: r.of_floor <= 1.5, floor=True)


def have_torch() -> bool:
    return subprocess.run([PY, "-c", "import torch"], capture_output=True).returncode == 0


def fmt_time(t: float) -> str:
    return "-" if math.isnan(t) else (f"{t * 1000:.0f} ms" if t < 10 else f"{t:.1f} s")


@dataclass
class Row:
    work: str
    other: str
    mine: Runs
    theirs: Runs
    target: str
    met: Callable[[Row], bool] | None = None
    floor: bool = False
    """The other column is a floor: the ratio is ``mine / floor`` ('x the floor'), else a speed-up."""

    @property
    def speedup(self) -> float:
        return self.theirs.wall / self.mine.wall

    @property
    def of_floor(self) -> float:
        return self.mine.wall / self.theirs.wall

    @property
    def memory_ratio(self) -> float:
        return self.theirs.mem / self.mine.mem

    def verdict(self) -> str:
        if self.met is None:
            return "-"
        return "**met**" if self.met(self) else "**not met**"


def table(rows: list[Row]) -> list[str]:
    lines = ["| work | compared with | kaiming, median (min–max) | other, median (min–max) | time ratio | "
             "kaiming RSS | other RSS | RSS ratio | target | met? |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        # two decimals near a target, so that 1.47 never reads as "1.5x"
        ratio = (f"{r.of_floor:.2f}x the floor" if r.floor
                 else f"{r.speedup:.{2 if r.speedup < 10 else 1}f}x faster")
        lines.append(f"| {r.work} | {r.other} | {fmt_time(r.mine.wall)}{r.mine.spread()} | "
                     f"{fmt_time(r.theirs.wall)}{r.theirs.spread()} | {ratio} | {r.mine.mem:.0f} MB | "
                     f"{r.theirs.mem:.0f} MB | {r.memory_ratio:.1f}x | {r.target} | {r.verdict()} |")
    return lines


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy as np

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{platform.machine()} {model}, {cores} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}")


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, no naive rows, no 1e9 row")
    parser.add_argument("--no-write", action="store_true", help="print only (do not write results.md or docs)")
    parser.add_argument("--real-only", action="store_true", help="only the rows of checkpoints of many small "
                        "tensors (issue 25); print them, write nothing")
    parser.add_argument("--audit-only", action="store_true", help="only the audit row (issue 27), 5 rounds; print "
                        "it with its CPU medians, write nothing")
    args = parser.parse_args()
    if args.audit_only:
        subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "kaiming_cli")], check=True)
        before = load()
        row = audit_row(5)
        print(f"load average {before} before, {load()} after", *table([row]),
              f"CPU (user + system, median): audit {row.mine.cpu:.2f} s, the floor {row.theirs.cpu:.2f} s "
              f"({row.mine.cpu / row.theirs.cpu:.2f}x)", sep="\n")
        return
    if args.real_only:
        subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "kaiming_cli")], check=True)
        print(f"load average {load()} before", *real_models(args.quick), f"load average {load()} after", sep="\n")
        return
    quick = args.quick
    lookups_rounds, big_rounds, naive_rounds = (5, 3, 0) if quick else (11, 7, 3)
    started, load_before = time.time(), load()
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "kaiming_cli")], check=True)
    rows: list[Row] = []
    torch = have_torch()
    check = KAIMING + ["check", "--shape", "10000,10000", "--nonlinearity", "relu", "--backend", "numpy", "-f", "json"]
    one_gib = OUT / "model-1g.safetensors"
    make_checkpoint(one_gib, 16, 4096)
    verify = KAIMING + ["verify", str(one_gib), "--nonlinearity", "relu", "--no-config", "-f", "json"]

    # the long rows whose ratios have a wide margin first (the naive ways, the torch backend), so that the rows
    # compared with a floor run last, on the quietest machine of the run
    naive_check = alternate([check, [PY, "-c", NAIVE_CHECK]], naive_rounds, warmup=0) if naive_rounds else None
    naive_verify = alternate([verify, [PY, "-c", NAIVE_VERIFY, str(one_gib)]], max(2, naive_rounds - 1),
                             warmup=0) if naive_rounds else None
    default = [c for c in check if c not in ("--backend", "numpy")]  # the call's own framework: torch
    torch_check = alternate([default, check], 2 if quick else 3) if torch else None

    # checkpoints of many small tensors (issue 25): their own table, after the main one
    real = ["", "Checkpoints of many small tensors (bench/realmodels.py; issue 25), each file's four commands "
            "alternated, medians; the ratios are kaiming's wall time over the floor's and over the naive script's:",
            "", *real_models(quick)]

    # lookups, each alternated with torch computing the same number
    lookup_cmds = [["std", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"],
                   ["gain", "relu"], ["fan", "--shape", "64,3,3,3"], ["explain", "--shape", "64,3,3,3"],
                   ["std", "--shape", "768,768", "--init", "trunc_normal_(std=0.02)"]]
    cmds = ([[PY, "-c", TORCH_LOOKUP]] if torch else []) + [KAIMING + c for c in lookup_cmds]
    results = alternate(cmds, lookups_rounds)
    t_torch = results.pop(0) if torch else Runs()
    for cmd, runs in zip(lookup_cmds, results, strict=True):
        init = "--init" in cmd
        rows.append(Row(f"`kaiming {' '.join(cmd)}`", "`python -c 'import torch; ...'`", runs, t_torch,
                        ">= 20x faster" + (", median < 150 ms" if init else ""),
                        (lambda r: r.speedup >= 20 and r.mine.wall < 0.150) if init else (lambda r: r.speedup >= 20)))

    # check on 1e8 values against numpy generating them (all cores, one core) and against the naive way: the
    # streaming numpy sampler (the default backend is the call's own framework, torch, when it is installed)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    gen_all = [PY, "-c", GENERATE, str(cores), str(10**8)]
    gen_one = [PY, "-c", GENERATE, "1", str(10**8)]
    t_check, t_gen, t_check1, t_gen1 = alternate([check, gen_all, check + ["--jobs", "1"], gen_one], big_rounds)
    rows.append(Row("`kaiming check --shape 10000,10000 --backend numpy`",
                    f"floor: numpy draws 1e8 float32 normals, {cores} threads",
                    t_check, t_gen, "within 1.3x of the floor", lambda r: r.of_floor <= 1.3, floor=True))
    rows.append(Row("`check --shape 10000,10000 --backend numpy --jobs 1`",
                    "floor: numpy draws 1e8 float32 normals, 1 thread",
                    t_check1, t_gen1, "(one core)", floor=True))
    if naive_check:
        t_ck, t_naive = naive_check
        rows.append(Row("`kaiming check --shape 10000,10000 --backend numpy`",
                        "numpy sample + `np.std` + `scipy.stats.kstest`", t_ck, t_naive,
                        ">= 40x faster, >= 80x less memory", lambda r: r.speedup >= 40 and r.memory_ratio >= 80))
    if torch_check:  # the default: one real kaiming_normal_ call on the whole 1e8 tensor (tensor held)
        t_default, t_numpy = torch_check
        rows.append(Row("`check --shape 10000,10000` (default backend: torch)", "the same with `--backend numpy`",
                        t_default, t_numpy, "(what the real torch call costs)"))

    if torch:
        rows.append(audit_row(2 if quick else 3))

    # verify / identify on 1 GiB, page cache warm, against one np.sum pass over a memmap on one core
    floor = [PY, "-c", FLOOR, "1", str(one_gib)]
    identify = KAIMING + ["identify", str(one_gib), "-f", "json"]
    t_floor, t_verify, t_identify, t_verify1 = alternate([floor, verify, identify, verify + ["--jobs", "1"]],
                                                         big_rounds)
    gate = "within 1.5x of the floor, RSS < 200 MB"
    for name, runs in (("verify", t_verify), ("identify", t_identify)):
        rows.append(Row(f"`kaiming {name}` 1 GiB safetensors (16 × 4096²)", "floor: one `np.sum` pass over a "
                        "memmap, 1 core", runs, t_floor, gate, lambda r: r.of_floor <= 1.5 and r.mine.mem < 200,
                        floor=True))
    rows.append(Row("`kaiming verify` 1 GiB `--jobs 1`", "floor: one `np.sum` pass over a memmap, 1 core",
                    t_verify1, t_floor, "(one core)", floor=True))
    if naive_verify:
        t_v, t_naive_v = naive_verify
        rows.append(Row("`kaiming verify` 1 GiB safetensors",
                        "`safetensors.numpy.load_file` + `np.std` + `kstest` per tensor", t_v, t_naive_v, "(issue 4)"))

    # ten files, 2 GB: --jobs 2 against --jobs 1, and what two processes gain for the plainest pass
    shards = [OUT / "shards" / f"part-{i:02d}.safetensors" for i in range(10)]
    for i, shard in enumerate(shards):
        make_checkpoint(shard, 12, 2048, seed=1 + i)
    many = KAIMING + ["verify", *map(str, shards), "--nonlinearity", "relu", "--no-config", "-f", "json"]
    t2, t1, f2, f1 = alternate([many + ["--jobs", "2"], many + ["--jobs", "1"],
                                [PY, "-c", FLOOR, "2", *map(str, shards)], [PY, "-c", FLOOR, "1", *map(str, shards)]],
                               max(3, big_rounds - 2))
    rows.append(Row("`verify` 10 files / 2 GB `--jobs 2`", "the same with `--jobs 1`", t2, t1,
                    "as much as the machine's own 2-process scaling (next row)",
                    lambda r: r.speedup >= 0.95 * (f1.wall / f2.wall)))
    rows.append(Row("`np.sum` over the same 10 files, 2 processes", "the same, 1 process", f2, f1,
                    "(this machine's own 2-process scaling)"))

    # scaling of check with n: time per element after start-up (check of 1000 values), and RSS
    scaling = ["", "| n | `check --backend numpy` wall, median (min–max) | after start-up | per element | peak RSS |",
               "|---:|---:|---:|---:|---:|"]
    sizes = [10**6, 10**7, 10**8] + ([] if quick else [10**9])
    cmds = [KAIMING + ["check", "--shape", "1,1000", "--backend", "numpy", "-f", "json"]] + [
        KAIMING + ["check", "--shape", f"{n // 1000},1000", "--backend", "numpy", "-f", "json"] for n in sizes]
    base, *scaled = alternate(cmds, 2, warmup=0)  # the imports are warm from the rows above; 1e9 takes ~10 s a run
    for n, runs in zip(sizes, scaled, strict=True):
        net = runs.wall - base.wall
        scaling.append(f"| {n:.0e} | {fmt_time(runs.wall)}{runs.spread()} | {fmt_time(net)} | "
                       f"{net / n * 1e9:.2f} ns | {runs.mem:.0f} MB |")
    scaling.append(f"| start-up (1e3 values) | {fmt_time(base.wall)}{base.spread()} | | | {base.mem:.0f} MB |")

    # where verify's CPU goes (py-spy, bench/profile_verify.py)
    profile = subprocess.run([PY, str(HERE / "profile_verify.py"), str(one_gib)], capture_output=True, text=True,
                             check=True).stdout.strip()

    minutes = (time.time() - started) / 60
    head = (f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} by `make bench`{' --quick' if quick else ''} on "
            f"{machine()}, in {minutes:.1f} min; load average (1/5/15 min) {load_before} before, {load()} after. "
            f"Whole processes, the commands of each row alternated after a warm-up, medians of {lookups_rounds} "
            f"runs (lookups), {big_rounds} (check, verify), {max(3, big_rounds - 2)} (the 10 files), 2 (scaling), "
            f"{2 if quick else 3} (audit, the torch backend), {naive_rounds} and "
            f"{max(2, naive_rounds - 1)} (the naive check and verify); (min–max) is the spread; "
            "page cache warm; peak RSS is the largest over the runs.")
    verify_cpu = (f"CPU time (user + system, median): verify {t_verify.cpu:.2f} s, identify {t_identify.cpu:.2f} s, "
                  f"verify --jobs 1 {t_verify1.cpu:.2f} s, the read floor {t_floor.cpu:.2f} s; check "
                  f"{t_check.cpu:.2f} s, the sampling floor on {cores} threads {t_gen.cpu:.2f} s.")
    text = "\n".join([head, "", *table(rows), *real, "", verify_cpu, *scaling, "", profile]) + "\n"
    print(text)
    if args.no_write:
        return
    (HERE / "results.md").write_text(text)
    page = ROOT / "docs" / "performance.md"
    content = page.read_text()
    if START in content and END in content:
        before, rest = content.split(START, 1)
        _, after = rest.split(END, 1)
        page.write_text(f"{before}{START}\n{text}{END}{after}")


if __name__ == "__main__":
    main()
