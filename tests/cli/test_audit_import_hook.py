"""Issue 27, point 6: ``kaiming audit`` runs no import concurrently with the import of the user's module.

A ``sitecustomize`` meta-path finder that imports torch inside ``find_spec`` (as some site set-ups and
import-profiling hooks do) deadlocked audit about one run in three: a background thread imported numpy/scipy
(cli/warmup.py's ``preload``) while the main thread imported the user's module, and the two waited on each
other's import locks for ever. The hook is installed through a temporary folder on ``PYTHONPATH`` in a
subprocess (``sitecustomize`` is only read at start-up); each of 20 runs must end, with its JSON, well within a
timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
RUNS = 20
HANG_GUARD = 180.0  # seconds: one run takes a few (importing torch); a deadlocked run never ends

HOOK = '''
import sys
import threading

class TorchFirstFinder:
    """Imports torch while Python looks for any module (in every thread): the pattern that deadlocked audit's
    preload thread."""

    local = threading.local()

    def find_spec(self, name, path=None, target=None):
        if getattr(self.local, "busy", False):
            return None
        self.local.busy = True
        try:
            import torch  # noqa: F401
        finally:
            self.local.busy = False
        return None

sys.meta_path.insert(0, TorchFirstFinder())
'''

MODEL = '''
import torch
import torch.nn.functional as F

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 64)
        self.fc2 = torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))
'''


@pytest.mark.slow
def test_audit_never_hangs_under_an_import_hook(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(HOOK))
    (tmp_path / "hooked_model.py").write_text(textwrap.dedent(MODEL))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]), PYTHONFAULTHANDLER="1")
    command = [sys.executable, "-m", "kaiming_cli", "audit", "hooked_model:Net", "-f", "json"]
    for run in range(RUNS):
        try:
            done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run {run + 1} of {RUNS} hung for {HANG_GUARD:.0f} s under the import hook")
        assert done.returncode == 0, done.stderr
        assert [w["name"] for w in json.loads(done.stdout)["weights"]][:2] == ["fc1.weight", "fc1.bias"]
