"""``kaiming diff``: two builds of a model, matched by name and tested pair by pair (docs/diff.md).

The models are in tests/diff_models.py (torchvision's ResNet init, a transformers-style decoder); what each build
did is known from its code, so every expected status and every side's name below comes from that code, not from
the diff under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli.app import cli

torch = pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

CONTRACT = {"name", "status", "shape_a", "shape_b", "std_ratio", "std_ratio_ci", "pvalue_adjusted", "a_looks_like",
            "b_looks_like", "reason"}
FAN_OUT = "kaiming_normal_(mode='fan_out', nonlinearity='relu')"
FAN_IN = "kaiming_normal_(mode='fan_in', nonlinearity='relu')"


def run_json(runner: CliRunner, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = runner.invoke(cli, ["diff", *args, "-f", "json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}


def by_status(doc: dict, status: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {p["name"]: p for p in doc["pairs"] if p["status"] == status}


def test_two_seeds_of_a_cnn_are_the_same(runner: CliRunner) -> None:
    code, doc = run_json(runner, "tests.diff_models:cnn", "tests.diff_models:cnn", "--seed-b", "1")
    assert code == 0, doc.get("summary")
    assert doc["passed"] is True and doc["alpha"] == 1e-3
    assert {p["status"] for p in doc["pairs"]} == {"same"}
    assert all(set(p) >= CONTRACT for p in doc["pairs"])
    # the same seed twice draws the very same values: same at once, no test
    code, doc = run_json(runner, "tests.diff_models:cnn", "tests.diff_models:cnn")
    assert code == 0
    conv = next(p for p in doc["pairs"] if p["name"] == "conv1.weight")
    assert conv["std_ratio"] == 1.0 and "identical" in conv["reason"]


def test_a_layer_at_its_default_and_one_with_the_other_mode_differ_and_are_named(runner: CliRunner) -> None:
    code, doc = run_json(runner, "tests.diff_models:cnn", "tests.diff_models:cnn_broken", "--seed-b", "1")
    assert code == 1
    differ = {p["name"]: p for p in doc["pairs"] if p["status"] != "same"}
    assert set(differ) == {"layer1.2.weight", "conv1.weight"}
    assert all(p["status"] == "differ" for p in differ.values())
    assert differ["layer1.2.weight"]["a_looks_like"] == FAN_OUT
    assert differ["layer1.2.weight"]["b_looks_like"] == "default('Conv2d')"
    assert differ["conv1.weight"]["a_looks_like"] == FAN_OUT
    assert differ["conv1.weight"]["b_looks_like"] == FAN_IN
    # conv1 is 32x3x7x7: fan_out = 32*49, fan_in = 3*49; std_A/std_B = sqrt(fan_in/fan_out) = sqrt(3/32)
    ratio = differ["conv1.weight"]
    low, high = ratio["std_ratio_ci"]
    assert low < (3 / 32) ** 0.5 < high
    assert ratio["pvalue_adjusted"] <= 1e-3


def test_meta_device_with_its_own_init_is_the_same_as_eager(runner: CliRunner) -> None:
    code, doc = run_json(runner, "tests.diff_models:TinyLM", "tests.diff_models:TinyLM", "--device", "meta",
                         "--init", "init_weights", "--seed-b", "1")
    assert code == 0, [p for p in doc["pairs"] if p["status"] != "same"]
    assert len(doc["pairs"]) == len(dict(torch.nn.Module.state_dict(_tiny())))


def _tiny():  # type: ignore[no-untyped-def]
    from tests.diff_models import TinyLM

    return TinyLM()


def test_meta_device_without_init_is_uninitialized_everywhere(runner: CliRunner) -> None:
    code, doc = run_json(runner, "tests.diff_models:TinyLM", "tests.diff_models:TinyLM", "--device", "meta",
                         "--init", "tests.diff_models:garbage")
    assert code == 1
    assert {p["status"] for p in doc["pairs"]} == {"uninitialized"}
    assert all(p["b_looks_like"] == "uninitialized" for p in doc["pairs"])
    assert all(p["reason"].startswith("B: ") for p in doc["pairs"])


def test_meta_device_on_zeroed_memory(runner: CliRunner) -> None:
    """Zeroed pages: the random weights are uninitialized, LayerNorm weights (1 in A) differ, zero biases agree."""
    code, doc = run_json(runner, "tests.diff_models:TinyLM", "tests.diff_models:TinyLM", "--device", "meta",
                         "--init", "tests.diff_models:zeros")
    assert code == 1
    status = {p["name"]: p["status"] for p in doc["pairs"]}
    for name, s in status.items():
        if "ln" in name and name.endswith("weight"):
            assert s == "differ", name
        elif name.endswith("bias"):
            assert s == "same", name
        else:
            assert s == "uninitialized", name


def save(path: Path, tensors: dict[str, np.ndarray]) -> str:
    safetensors_numpy.save_file(tensors, str(path))
    return str(path)


def test_files_missing_reshaped_and_scale(tmp_path: Path, runner: CliRunner) -> None:
    rng = np.random.default_rng(0)
    a = save(tmp_path / "a.safetensors", {
        "w": rng.normal(0, 0.1, (256, 128)).astype(np.float32), "gone": np.zeros(3, np.float32),
        "r": rng.normal(0, 1, (4, 8)).astype(np.float32), "s": rng.normal(0, 0.1, (512, 256)).astype(np.float32)})
    b = save(tmp_path / "b.safetensors", {
        "w": rng.normal(0, 0.1, (256, 128)).astype(np.float32), "new": np.zeros(3, np.float32),
        "r": rng.normal(0, 1, (8, 4)).astype(np.float32),
        "s": rng.normal(0, 0.1 * 1.05, (512, 256)).astype(np.float32)})
    code, doc = run_json(runner, a, b)
    assert code == 1
    status = {p["name"]: p["status"] for p in doc["pairs"]}
    assert status == {"w": "same", "gone": "missing_b", "r": "reshaped", "s": "differ", "new": "missing_a"}
    s = by_status(doc, "differ")["s"]
    assert s["std_ratio_ci"][0] < 1 / 1.05 < s["std_ratio_ci"][1]
    for fmt, marker in (("table", "FAIL"), ("markdown", "| `s` |"), ("junit", "<failure"), ("github", "::error")):
        result = runner.invoke(cli, ["diff", a, b, "-f", fmt])
        assert result.exit_code == 1 and marker in result.stdout, fmt


def test_uniform_against_normal_of_the_same_std_differs_in_shape(tmp_path: Path, runner: CliRunner) -> None:
    rng = np.random.default_rng(1)
    n = (512, 512)
    a = save(tmp_path / "a.safetensors", {"w": rng.normal(0, 1, n).astype(np.float32)})
    b = save(tmp_path / "b.safetensors", {"w": rng.uniform(-3 ** 0.5, 3 ** 0.5, n).astype(np.float32)})
    code, doc = run_json(runner, a, b)
    assert code == 1
    assert "shape" in doc["pairs"][0]["reason"]


def test_unreadable_input_is_exit_3_and_bad_option_exit_2(tmp_path: Path, runner: CliRunner) -> None:
    a = save(tmp_path / "a.safetensors", {"w": np.ones(3, np.float32)})
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    assert runner.invoke(cli, ["diff", a, str(bad)]).exit_code == 3
    assert runner.invoke(cli, ["diff", a, a, "--alpha", "2"]).exit_code == 2
    assert runner.invoke(cli, ["diff", a, a, "--device", "meta"]).exit_code == 2
    result = runner.invoke(cli, ["diff", a, a, "--seed-b", "1"])  # a file B has no build to seed
    assert result.exit_code == 2 and "--seed-b" in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if "--seed-b" in line]) == 1


def test_torch_empty_garbage_is_uninitialized_in_identify_and_verify(tmp_path: Path, runner: CliRunner) -> None:
    rng = np.random.default_rng(3)
    garbage = np.frombuffer(rng.bytes(64 * 64 * 4), dtype=np.float32).reshape(64, 64).copy()
    ints = rng.integers(0, 1000, 64 * 64).astype(np.int32).view(np.float32).reshape(64, 64).copy()
    f = save(tmp_path / "m.safetensors", {"garbage": garbage, "ints": ints})
    result = runner.invoke(cli, ["identify", f, "-f", "json"])
    verdicts = {t["name"]: t["verdict"] for t in json.loads(result.stdout)["tensors"]}
    assert verdicts == {"garbage": "uninitialized", "ints": "uninitialized"}
    result = runner.invoke(cli, ["verify", f, "--mode", "fan_in", "-f", "json"])
    assert result.exit_code == 1
    tensors = json.loads(result.stdout)["tensors"]
    assert {t["status"] for t in tensors} == {"uninitialized"}
    assert all("memory never initialized" in t["reason"] for t in tensors)


def test_structure_flaws_differ_while_the_marginal_tests_pass(tmp_path: Path, runner: CliRunner) -> None:
    """B holds A-like values in a wrong arrangement: sorted over the tensor (row scales ramp up), or its second half
    of output units the first half negated (rank 32 of 64). The bag of values is a correct draw, so the scale,
    location and shape tests pass; only the structure comparison can tell, and two independent seeds still pass.
    An exact copy of the first half is a repeated pattern: named uninitialized before any test."""
    from kaiming_cli.io.memory import array_source
    from kaiming_cli.runners.diff import scanned
    from kaiming_cli.stats.twosample import compare

    rng = np.random.default_rng(5)
    draw = lambda: rng.normal(0, (2 / 288) ** 0.5, (64, 288)).astype(np.float32)  # noqa: E731
    a, b = draw(), draw()
    sorted_b = np.sort(b, axis=None).reshape(b.shape)
    copied_b = b.copy()
    copied_b[32:] = -copied_b[:32]
    f_a = save(tmp_path / "a.safetensors", {"w": a})
    code, doc = run_json(runner, f_a, save(tmp_path / "b.safetensors", {"w": b}))
    assert code == 0 and doc["pairs"][0]["status"] == "same"
    for label, flawed, test in (("sorted", sorted_b, "rows"), ("copied", copied_b, "spectrum")):
        code, doc = run_json(runner, f_a, save(tmp_path / f"{label}.safetensors", {"w": flawed}))
        (pair,) = doc["pairs"]
        assert code == 1 and pair["status"] == "differ", label
        assert pair["reason"].startswith(f"structure differs: B fails the {test} test"), pair["reason"]
        side_a, side_b = scanned(array_source(a, "w"), 0, 1), scanned(array_source(flawed, "w"), 0, 1)
        t = compare(side_a.summary, side_b.summary, side_a.sample, side_b.sample)  # no structure data: marginals
        assert t.p_structure is None and t.pvalue > 1e-3, (label, t)
    copied_b[32:] = copied_b[:32]
    code, doc = run_json(runner, f_a, save(tmp_path / "exact.safetensors", {"w": copied_b}))
    (pair,) = doc["pairs"]
    assert code == 1 and pair["status"] == "uninitialized" and "repeated pattern" in pair["reason"]
