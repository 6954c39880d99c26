"""Where `kaiming verify` spends its CPU on the 1 GiB benchmark file: py-spy samples of every process (the parent
and the forked workers), grouped by what the code was doing.

    python bench/profile_verify.py [FILE] [--jobs N]     # prints a Markdown table

py-spy (``pip install py-spy``; not a dependency of kaiming) samples the Python stacks of the running processes
at 250 Hz without slowing them; idle threads and processes waiting on a pipe are not counted, so the samples
are on-CPU time. The native frames of numpy are not resolved: a sample is put in the group of the innermost
kaiming (or import) frame on its stack.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATE = 250

#: (group, strings that mark its frames); a sample goes to the group of its innermost marked frame.
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("imports (numpy, scipy.special, click, kaiming)", ("<frozen importlib._bootstrap",)),
    ("moments: power sums and extremes per block (stats/summary.py)", ("stats/summary.py",)),
    ("structure: row/column sums of squares, spectral rows (stats/structure.py partial)",
     ("StructureCollector.partial", "StructureCollector._pick")),
    ("shape: rounding-cell counts (stats/shape.py partial)", ("CellCounter.partial",)),
    ("reading: preadv into the per-thread buffer (io/sources.py)", ("io/sources.py",)),
    ("subsample: picking the 1e5 values (engine/stream.py)", ("engine/stream.py",)),
    ("tests on the summaries and the subsample (stats/)", ("kaiming_cli/stats/",)),
    ("reading headers, rules, runner (io/, runners/)", ("kaiming_cli/io/", "kaiming_cli/runners/")),
    ("output (render/, cli/output.py)", ("kaiming_cli/render/", "cli/output.py")),
    ("fork, pool, pickling (multiprocessing)", ("multiprocessing/",)),
]


#: Frames of threads that wait (the pool's bookkeeping threads, the parent waiting for results): py-spy samples
#: some of them as active; they are left out of the CPU figures.
WAITING = ("Condition.wait", "Event.wait", "Selector.select", "Connection._recv", "Pool._handle_tasks",
           "Pool._handle_workers", "Pool._handle_results", "ApplyResult.wait", "SimpleQueue.get")


def group_of(stack: list[str]) -> str:
    """The group of the innermost frame that belongs to one (an import inside a test counts as an import)."""
    for frame in reversed(stack):
        for name, needles in GROUPS:
            if any(n in frame for n in needles):
                return name
    return "other (interpreter, click, argument parsing)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", nargs="?", default=str(HERE / "out" / "model-1g.safetensors"))
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        print("py-spy is not installed (pip install py-spy): no profile.")
        return 0
    kaiming = [sys.executable, "-m", "kaiming_cli", "verify", args.file, "--nonlinearity", "relu", "--no-config",
               "-f", "json", "-o", "/dev/null"] + (["--jobs", str(args.jobs)] if args.jobs else [])
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.txt"
        done = subprocess.run([spy, "record", "-r", str(RATE), "-f", "raw", "-o", str(raw), "--subprocesses", "--",
                               *kaiming], capture_output=True, text=True)
        if done.returncode != 0 or not raw.exists():  # e.g. no ptrace permission in a container
            print(f"py-spy could not profile here: {done.stderr.strip().splitlines()[-1:]}")
            return 0
        lines = raw.read_text().splitlines()
    counts: collections.Counter[str] = collections.Counter()
    processes: collections.Counter[str] = collections.Counter()
    for line in lines:
        frames, _, n = line.rpartition(" ")
        stack = frames.split(";")
        if any(w in frame for frame in stack[-3:] for w in WAITING):
            continue
        counts[group_of(stack)] += int(n)
        processes["parent" if sum(f.startswith("process ") for f in stack) == 1 else "workers"] += int(n)
    total = sum(counts.values())
    out = [f"py-spy, {RATE} samples/s of every process, `verify {Path(args.file).name}"
           f"{' --jobs ' + str(args.jobs) if args.jobs else ''}`: {total / RATE:.2f} s of CPU in all "
           f"({processes['parent'] / RATE:.2f} s in the parent, {processes['workers'] / RATE:.2f} s in the forked "
           "workers).", "", "| where the CPU goes | CPU | share |", "|---|---:|---:|"]
    for name, n in counts.most_common():
        out.append(f"| {name} | {n / RATE:.2f} s | {100 * n / total:.0f}% |")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
