"""Where ``identify``'s time goes on a checkpoint of 1000 small tensors, before and after (issue 25).

    python bench/profile_identify.py FILE BEFORE_ROOT AFTER_ROOT

runs ``kaiming identify FILE -f json --jobs 1`` under cProfile once with each package root on PYTHONPATH (a
checkout of the code before, e.g. ``git archive <commit> kaiming_cli | tar -x -C /tmp/before``, and this one) and
prints the cumulative CPU time (the profiler's clock is ``time.process_time``) of the parts of the per-tensor
path as a Markdown table. cProfile's own overhead inflates every figure (most on Python-heavy code), so compare
the rows, not the total with a wall time.
"""

from __future__ import annotations

import os
import pstats
import subprocess
import sys
import tempfile

PARTS = (
    ("the whole run", (("kaiming_cli/__main__.py", "<module>"),)),
    ("one tensor at a time: everything (`_identify`)", (("runners/identify/__init__.py", "_identify"),)),
    ("the group path's batches: everything (`identify_batch`)", (("runners/identify/grouped.py", "identify_batch"),)),
    ("reading and summarizing (`scan_source`; a batch: `read_rows`, `Rows.of`)",
     (("engine/sources.py", "scan_source"), ("engine/grouped.py", "read_rows"), ("stats/grouped.py", "of"))),
    ("a tensor's fits and ranking (`choose`, from the group path)", (("runners/identify/__init__.py", "choose"),)),
    ("fitting the families (`fit_families`; a batch's: `fit_families_rows`)",
     (("stats/fit.py", "fit_families"), ("stats/fit.py", "fit_families_rows"))),
    ("ranking the candidates (`rank`)", (("runners/identify/__init__.py", "rank"),
                                         ("runners/identify/ranking.py", "rank"))),
    ("the candidates' list (`candidates`, `explained`)", (("runners/identify/candidates.py", "candidates"),
                                                          ("runners/identify/__init__.py", "explained"))),
    ("every battery run (`run_battery`; a batch's: `Rows.batteries`)", (("stats/battery.py", "run_battery"),
                                                                         ("stats/grouped.py", "batteries"))),
    ("the orthogonal fit (`fit_orthogonal`; a batch's: `orthogonal_fits`)", (("stats/fit.py", "fit_orthogonal"),
                                                                              ("stats/fit.py", "orthogonal_fits"))),
    ("the shape test (`shape_summary`)", (("stats/shape.py", "shape_summary"),)),
    ("the structure tests (`run_structure`)", (("stats/structure.py", "run_structure"),)),
    # before issue 25's streaming: render/json.py document; after: cli/output.py emit_streamed, which makes each
    # tensor's dict and writes it
    ("the JSON report (`document`, or `emit_streamed`)", (("render/json.py", "document"),
                                                         ("cli/output.py", "emit_streamed"))),
)


CHILD = """
import cProfile, runpy, sys, time
out, sys.argv = sys.argv[1], ["kaiming", *sys.argv[2:]]
profiler = cProfile.Profile(time.process_time)  # CPU time: on a shared machine, wall time measures the others
try:
    profiler.runcall(runpy.run_module, "kaiming_cli", run_name="__main__")
except SystemExit:
    pass
profiler.dump_stats(out)
"""


def profile(path: str, root: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "p.prof")
        env = {**os.environ, "PYTHONPATH": root}
        # run from the temporary folder: ``-c`` puts the working directory first on sys.path, before PYTHONPATH
        subprocess.run([sys.executable, "-c", CHILD, out, "identify", os.path.abspath(path), "-f", "json", "-o",
                        os.path.join(tmp, "r.json"), "--jobs", "1"], env=env, check=True, stdout=subprocess.DEVNULL,
                       cwd=tmp)
        stats = pstats.Stats(out).stats  # type: ignore[attr-defined]
    found: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.items():
        for label, places in PARTS:
            if any(func == name and filename.endswith(file_end) for file_end, name in places):
                found[label] = found.get(label, 0.0) + ct
    return found


def main() -> None:
    path, before, after = sys.argv[1:4]
    a, b = profile(path, before), profile(path, after)
    print("| part (cumulative, cProfile) | before | after |")
    print("|---|---:|---:|")
    for label, _places in PARTS:
        print(f"| {label} | {a.get(label, 0.0):.2f} s | {b.get(label, 0.0):.2f} s |")


if __name__ == "__main__":
    main()
