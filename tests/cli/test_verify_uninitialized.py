"""verify names memory no init wrote (``torch.empty`` / ``to_empty()`` without an init) as a status of its own,
``uninitialized``, in every output format (issue: diff and uninitialized memory; docs/cli.md "kaiming verify").

It is a finding, not a p-value: outside the Holm family (the clean tensors' correction counts only them), a
failure of the run (exit 1), counted in the summary, listed first.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from kaiming_cli.cli.app import cli

safetensors_numpy = pytest.importorskip("safetensors.numpy")


@pytest.fixture
def model(tmp_path: Path) -> str:
    """Two clean kaiming_normal_(fan_in, relu) weights, one tensor of NaN-laced garbage and one all-zero weight."""
    rng = np.random.default_rng(7)
    std = math.sqrt(2 / 64)
    garbage = rng.normal(0, std, (64, 64)).astype(np.float32)
    garbage[3, 5] = np.nan
    tensors = {"a.weight": rng.normal(0, std, (64, 64)).astype(np.float32),
               "b.weight": rng.normal(0, std, (32, 64)).astype(np.float32),
               "garbage.weight": garbage,
               "zeros.weight": np.zeros((64, 64), np.float32)}
    path = tmp_path / "m.safetensors"
    safetensors_numpy.save_file(tensors, str(path))
    return str(path)


def run(runner: CliRunner, path: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["verify", path, "--mode", "fan_in", "--nonlinearity", "relu", *args])
    return result.exit_code, result.stdout


def test_json_status_reason_and_holm_family(runner: CliRunner, model: str) -> None:
    code, out = run(runner, model, "-f", "json")
    doc = json.loads(out)
    status = {t["name"]: t for t in doc["tensors"]}
    assert code == 1 and doc["passed"] is False
    assert status["garbage.weight"]["status"] == "uninitialized"
    assert status["garbage.weight"]["reason"].startswith("1 NaN value among values that vary")
    assert status["zeros.weight"]["status"] == "uninitialized"
    assert "exactly 0" in status["zeros.weight"]["reason"]
    assert status["garbage.weight"]["pvalue_adjusted"] is None
    assert doc["tested"] == 4
    # Holm over the two clean tensors only: the smaller p-value is doubled, not quadrupled
    clean = sorted((status[n]["pvalue"], status[n]["pvalue_adjusted"]) for n in ("a.weight", "b.weight"))
    assert {status[n]["status"] for n in ("a.weight", "b.weight")} == {"pass"}
    assert clean[0][1] == pytest.approx(min(1.0, 2 * clean[0][0]))
    assert "2 pass" in doc["summary"] and "2 uninitialized" in doc["summary"]
    assert doc["summary"].startswith("FAIL")


def test_only_uninitialized_tensors_is_a_fail_not_an_empty_run(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "z.safetensors"
    safetensors_numpy.save_file({"w": np.zeros((16, 16), np.float32)}, str(path))
    code, out = run(runner, str(path), "-f", "json")
    doc = json.loads(out)
    assert code == 1 and doc["tensors"][0]["status"] == "uninitialized"
    assert "no tensor was tested" not in doc["summary"]


def test_table_lists_them_first_with_their_status(runner: CliRunner, model: str) -> None:
    code, out = run(runner, model)
    assert code == 1
    lines = out.splitlines()
    rows = [i for i, line in enumerate(lines) if "garbage.weight" in line or "zeros.weight" in line]
    assert rows and any("uninitialized" in lines[i].lower() for i in rows)
    assert rows[0] < min(i for i, line in enumerate(lines) if "pass" in line)  # listed before the passing group
    assert "memory never initialized" in out
    code, out = run(runner, model, "-q")
    assert set(out.split()) >= {"garbage.weight", "zeros.weight"} and "a.weight" not in out


def test_markdown_junit_github(runner: CliRunner, model: str) -> None:
    _, md = run(runner, model, "-f", "markdown")
    assert "❌ uninitialized" in md
    _, xml = run(runner, model, "-f", "junit")
    assert xml.count('<failure type="uninitialized"') == 2
    assert 'failures="2"' in xml.splitlines()[1]
    import xml.etree.ElementTree as ET

    ET.fromstring(xml)  # well-formed
    _, gh = run(runner, model, "-f", "github")
    errors = [line for line in gh.splitlines() if line.startswith("::error file=")]
    assert len(errors) == 2 and all("memory never initialized" in e for e in errors)


def test_a_clean_tensor_alone_is_not_named(runner: CliRunner, tmp_path: Path) -> None:
    """The marks never fire on a correct draw: 20 seeds of kaiming_normal_ pass (KS against N(0, 2/64) as a
    check of the draw itself)."""
    for seed in range(20):
        w = np.random.default_rng(seed).normal(0, math.sqrt(2 / 64), (64, 64)).astype(np.float32)
        assert stats.kstest(w.ravel(), "norm", args=(0, math.sqrt(2 / 64))).pvalue > 1e-4
        path = tmp_path / f"s{seed}.safetensors"
        safetensors_numpy.save_file({"w": w}, str(path))
        doc = json.loads(run(runner, str(path), "-f", "json")[1])
        assert doc["tensors"][0]["status"] != "uninitialized", seed


@pytest.mark.parametrize("scale", [1e100, 1e-160])
def test_float64_values_at_the_ends_of_its_range_are_judged(tmp_path: Path, scale: float) -> None:
    """float64 weights near 1e100 (fourth powers overflow) and near 1e-160 (squared moments underflow) get a verdict,
    not an internal error (found by review): verify fails them (1e100: memory no init wrote; 1e-160: far below the
    law), identify names them (the second by its fitted law, N(0, (1e-160)^2) within its sampling error)."""
    path = tmp_path / "extreme.safetensors"
    w = np.random.default_rng(5).standard_normal((16, 16)) * scale
    safetensors_numpy.save_file({"w.weight": w}, str(path))
    runner = CliRunner()
    checked = runner.invoke(cli, ["verify", str(path), "--mode", "fan_in", "-f", "json"])
    assert checked.exit_code == 1, checked.output
    tensor = json.loads(checked.stdout)["tensors"][0]
    assert tensor["status"] == ("uninitialized" if scale > 1 else "fail")
    assert "kurtosis" not in [t["name"] for t in tensor["tests"]]  # no value, no test: never p = 1
    found = runner.invoke(cli, ["identify", str(path), "-f", "json"])
    assert found.exit_code == 0, found.output
    verdict = json.loads(found.stdout)["tensors"][0]["verdict"]
    if scale > 1:
        assert verdict == "uninitialized"
    else:
        assert verdict.startswith("normal_(std=") and 0.8e-160 < float(verdict[len("normal_(std="):-1]) < 1.2e-160
    assert "Warning" not in checked.stderr + found.stderr
