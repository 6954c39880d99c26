"""The CI recipes of README.md and docs/cli.md work as GitHub Actions runs them (issue 24): each recipe's shell
lines run under ``bash -e`` (how GitHub runs ``run:``) on a failing model; the step fails, and the job summary is
written and names the failing tensor. The README's recipe used to write the summary only when everything passed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.report_model import BROKEN, save

ROOT = Path(__file__).resolve().parents[2]
RECIPE = re.compile(r"```yaml\n(?P<body>.*?)```", re.S)


def recipes(doc: Path) -> list[list[str]]:
    """The shell lines of every ``run: |`` step that calls ``kaiming verify`` (the install line left out)."""
    out = []
    for block in RECIPE.finditer(doc.read_text()):
        body = block.group("body")
        if "run: |" not in body or "kaiming verify" not in body:
            continue
        lines = body.split("run: |", 1)[1].splitlines()
        out.append([line.strip() for line in lines if line.strip() and not line.strip().startswith("pip ")])
    return out


@pytest.mark.parametrize("doc", ["README.md", "docs/cli.md"])
def test_recipe_under_bash_e_writes_the_summary_and_fails_the_step(doc: str, tmp_path: Path) -> None:
    found = recipes(ROOT / doc)
    assert found, f"{doc} has no CI recipe"
    (tmp_path / "checkpoints").mkdir()
    good = save(tmp_path)
    save(tmp_path, broken=True).rename(tmp_path / "checkpoints" / "init.safetensors")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    made = subprocess.run(["kaiming", "identify", str(good), "-f", "rules", "-o", "init.toml"], cwd=tmp_path,
                          env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    for lines in found:
        summary = tmp_path / "summary.md"
        summary.unlink(missing_ok=True)
        run = subprocess.run(["bash", "-e", "-c", "\n".join(lines)], cwd=tmp_path, capture_output=True, text=True,
                             env={**env, "GITHUB_STEP_SUMMARY": str(summary)})
        assert run.returncode == 1, run.stderr  # the step fails ...
        assert summary.exists(), lines  # ... after writing the job summary
        text = summary.read_text()
        assert all(f"`{name}`" in text for name in BROKEN) and "FAIL" in text
        assert all(name in run.stdout for name in BROKEN)  # the annotations name them too
