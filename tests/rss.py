"""Peak RSS of a command, measured from a small intermediate process.

A child forked from a large parent (pytest with torch loaded) starts with the parent's RSS, and
Linux keeps that high-water mark across exec; forking from a fresh small interpreter avoids it.
"""

from __future__ import annotations

import subprocess
import sys

_MEASURE = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def peak_rss_mb(cmd: list[str]) -> tuple[int, float]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True).stdout
    code, kb = out.split()
    return int(code), int(kb) / 1024.0
