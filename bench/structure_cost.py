"""What the structure and shape collectors add to one streaming pass, measured in one process (issue 14).

Scans every tensor of a safetensors file with ``scan_source`` with and without the collectors, interleaved, so
that the load of a shared machine hits both alike; prints the medians and their ratio. The end-to-end figures
(`verify` before/after, peak RSS) are in docs/statistics.md §2.9.

    python bench/structure_cost.py bench/out/model-1g.safetensors
"""

from __future__ import annotations

import statistics
import sys
import time

from kaiming_cli.engine.sources import cell_counter, scan_source, structure_collector
from kaiming_cli.io.inputs import read_paths


def one_pass(path: str, structure: bool, shape: bool) -> float:
    start = time.perf_counter()
    from kaiming_cli.stats.structure import spectrum_test

    sources, _errors = read_paths([path])
    for source in sources:
        collector = structure_collector(source, "torch", 0) if structure else None
        cells = cell_counter(source, 0) if shape else None
        scan_source(source, seed=0, jobs=1, max_ks=100_000, structure=collector, cells=cells)
        if collector is not None:
            data = collector.data()
            if data is not None and data.matrix is not None:
                spectrum_test(data.matrix)
    return time.perf_counter() - start


def main() -> None:
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    modes = {"marginal only (before)": (False, False), "+ structure": (True, False),
             "+ structure + shape": (True, True)}
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(repeats):
        for name, (structure, shape) in modes.items():
            times[name].append(one_pass(path, structure, shape))
    base = statistics.median(times["marginal only (before)"])
    for name, ts in times.items():
        print(f"{name:28s} median {statistics.median(ts):6.2f} s  ({statistics.median(ts) / base:.2f}x)  runs "
              + ", ".join(f"{t:.2f}" for t in ts))


if __name__ == "__main__":
    main()
