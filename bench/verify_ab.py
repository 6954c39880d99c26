"""`verify` with the marginal tests only, with the structure tests, and with the default battery, interleaved in one
process so that a shared machine's load hits all three alike (issue 14's cost target: within 1.25x).

    python bench/verify_ab.py bench/out/model-1g.safetensors [-j 1]
"""

from __future__ import annotations

import statistics
import sys
import time

from click.testing import CliRunner

from kaiming_cli.cli.app import cli

MODES = {
    "marginal (as before)": ["--tests", "mean,std,kurtosis,range,ks"],
    "+ structure": ["--tests", "mean,std,kurtosis,range,ks,rows,cols,spectrum"],
    "default (+ shape)": [],
}


def main() -> None:
    base = ["verify", sys.argv[1], "--nonlinearity", "relu", "--no-config", "-f", "json", *sys.argv[2:]]
    times: dict[str, list[float]] = {m: [] for m in MODES}
    for _ in range(6):
        for mode, extra in MODES.items():
            start = time.perf_counter()
            result = CliRunner().invoke(cli, base + extra)
            times[mode].append(time.perf_counter() - start)
            assert result.exit_code == 0, result.output[-500:]
    first = statistics.median(times["marginal (as before)"])
    for mode, ts in times.items():
        med = statistics.median(ts)
        print(f"{mode:22s} median {med:.2f} s ({med / first:.2f}x) runs " + ", ".join(f"{t:.2f}" for t in ts))


if __name__ == "__main__":
    main()
