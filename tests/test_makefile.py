"""``make run`` installs kaiming without setuptools' boxed warning (issue 24): the Makefile's editable installs
(compat mode, chosen for start-up time) run with the warning filter it defines, and with that filter the build
backend prints no box. The build runs setuptools' own backend on a copy of the package (no network, no pip)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_editable_installs_print_no_setuptools_box(tmp_path: Path) -> None:
    makefile = (ROOT / "Makefile").read_text()
    quiet = re.search(r'^QUIET_BUILD := PYTHONWARNINGS="([^"]+)"', makefile, re.M)
    assert quiet is not None, "the Makefile defines no QUIET_BUILD"
    installs = [line for line in makefile.splitlines() if "editable_mode=compat" in line and "pip install" in line]
    assert installs and all(line.strip().startswith("$(QUIET_BUILD) ") for line in installs), installs
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "kaiming_cli", tmp_path / "kaiming_cli", ignore=shutil.ignore_patterns("__pycache__"))
    build = ("import setuptools.build_meta as b\n"
             f"b.build_editable({str(tmp_path / 'wheel')!r}, {{'editable_mode': 'compat'}})\n")
    (tmp_path / "wheel").mkdir()
    env = {**os.environ, "PYTHONWARNINGS": quiet.group(1)}
    out = subprocess.run([sys.executable, "-c", build], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "*" * 40 not in out.stdout + out.stderr, out.stderr
    loud = subprocess.run([sys.executable, "-c", build], cwd=tmp_path, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"})
    assert "*" * 40 in loud.stdout + loud.stderr  # the box the filter removes (so this test can fail)
