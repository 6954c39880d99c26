"""Running the CLI as a CI log sees it: a subprocess with ``COLUMNS`` set and no colour (tests/cli/test_report.py,
tests/cli/test_widths.py), and the words of its output with the table borders taken out."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SPLIT = re.compile(r"[\s│┃║|]+")


def kaiming(args: list[str], cwd: Path, width: int = 100) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(width), "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run([sys.executable, "-m", "kaiming_cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd)


def tokens(text: str) -> set[str]:
    return {tok for line in text.splitlines() for tok in SPLIT.split(line) if tok}
