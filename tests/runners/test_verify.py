"""`kaiming verify` on real checkpoints: formats, rules, verdicts, corrections and CI outputs."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as st
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.io.config import Rule
from kaiming_cli.io.memory import array_source
from kaiming_cli.runners.verify import adjust, finalize, verify_source
from kaiming_cli.theory.spec import SpecOptions
from tests.models import save_all

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    save_all(folder)
    return folder


@pytest.fixture(scope="module")
def wrong_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wrong")
    save_all(folder, wrong="conv1")
    return folder


def verify(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["verify", *args, "-f", "json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


@pytest.mark.parametrize("fmt", ["pt", "safetensors", "bf16", "npz"])
def test_every_format_passes(model_dir: Path, fmt: str) -> None:
    path = {"pt": "model.pt", "safetensors": "model.safetensors", "bf16": "model-bf16.safetensors",
            "npz": "model.npz"}[fmt]
    code, doc = verify(str(model_dir / path), "--rules", str(model_dir / "rules.toml"))
    statuses = {t["name"]: t["status"] for t in doc["tensors"]}
    assert code == 0 and doc["passed"], [t for t in doc["tensors"] if t["status"] != "pass"]
    assert statuses["conv1.weight"] == "pass" and statuses["fc.bias"] == "skip"
    assert statuses["bn1.weight"] == "pass" and statuses["fc.weight"] == "pass"
    tested = [t for t in doc["tensors"] if t["expected"] and "std" in t["expected"]]
    assert len(tested) == 11 and all(t["pvalue_adjusted"] >= t["pvalue"] for t in tested)
    if fmt == "bf16":
        assert {t["dtype"] for t in tested} == {"bfloat16"}


@pytest.mark.parametrize("fmt", ["model.pt", "model.safetensors", "model-bf16.safetensors", "model.npz"])
def test_one_wrong_conv_fails_alone(wrong_dir: Path, fmt: str) -> None:
    code, doc = verify(str(wrong_dir / fmt), "--rules", str(wrong_dir / "rules.toml"))
    failed = [t["name"] for t in doc["tensors"] if t["status"] == "fail"]
    assert code == 1 and failed == ["conv1.weight"]
    assert all(t["status"] in ("pass", "skip") for t in doc["tensors"] if t["name"] != "conv1.weight")


def test_pyproject_config_is_found_walking_up(model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    rules = (model_dir / "rules.toml").read_text().replace("[[rule]]", "[[tool.kaiming.rule]]")
    rules = rules.replace("alpha = 0.001", "[tool.kaiming]\nalpha = 0.001", 1)
    (tmp_path / "pyproject.toml").write_text(rules)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    code, doc = verify(str(model_dir / "model.safetensors"))
    assert code == 0 and any(t["status"] == "skip" for t in doc["tensors"])
    result = CliRunner().invoke(cli, ["verify", str(model_dir / "model.safetensors"), "--no-config"])
    assert result.exit_code == 2 and "no rules and no spec options" in result.stderr  # nothing assumed


def test_precedence_cli_over_env_over_config(model_dir: Path) -> None:
    runner = CliRunner()
    base = ["verify", str(model_dir / "model.safetensors"), "--rules", str(model_dir / "rules.toml"), "-f", "json"]
    doc = json.loads(runner.invoke(cli, base).stdout)
    assert (doc["alpha"], doc["correction"]) == (0.001, "holm")  # from the rules file
    doc = json.loads(runner.invoke(cli, base, env={"KAIMING_ALPHA": "0.01", "KAIMING_CORRECTION": "bh"}).stdout)
    assert (doc["alpha"], doc["correction"]) == (0.01, "bh")
    doc = json.loads(runner.invoke(cli, [*base, "--alpha", "0.05"], env={"KAIMING_ALPHA": "0.01"}).stdout)
    assert doc["alpha"] == 0.05


def test_spec_options_are_the_fallback_rule(model_dir: Path) -> None:
    code, doc = verify(str(model_dir / "model.pt"), "--tensor", "*conv*.weight", "--mode", "fan_out",
                       "--nonlinearity", "relu", "--no-config")
    assert code == 0 and len(doc["tensors"]) == 9 and all(t["status"] == "pass" for t in doc["tensors"])
    # with rules present, uncovered tensors are skipped unless a spec option is given
    code, doc = verify(str(model_dir / "model.pt"), "--rules", str(model_dir / "rules.toml"), "--tensor", "fc.*")
    assert {t["name"]: t["status"] for t in doc["tensors"]} == {"fc.weight": "pass", "fc.bias": "skip"}


def test_sharded_folder_and_index(model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    sd = load_file(str(model_dir / "model.safetensors"))
    names = sorted(sd)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    for shard, keys in shards.items():
        save_file({k: sd[k] for k in keys}, str(tmp_path / shard))
    index = {"metadata": {}, "weight_map": {k: s for s, keys in shards.items() for k in keys}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    rules = str(model_dir / "rules.toml")
    for target in (tmp_path, tmp_path / "model.safetensors.index.json"):
        code, doc = verify(str(target), "--rules", rules)
        assert code == 0 and len(doc["tensors"]) == len(names)


def test_nan_tensor_fails_with_count(tmp_path: Path) -> None:
    w = np.random.default_rng(0).standard_normal((64, 27)).astype(np.float32) * math.sqrt(2 / 27)
    w[0, :3] = np.nan
    np.save(tmp_path / "w.npy", w)
    code, doc = verify(str(tmp_path / "w.npy"), "--nonlinearity", "relu")
    assert code == 1 and "3 NaN" in doc["tensors"][0]["reason"]


def test_trained_checkpoint_gets_one_summary(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrays = {f"layer{i}.weight": (rng.standard_t(3, (64, 64)) * 0.3).astype(np.float32) for i in range(12)}
    np.savez(tmp_path / "trained.npz", **arrays)
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "trained.npz"), "--nonlinearity", "relu"])
    assert result.exit_code == 1
    assert "look TRAINED" in result.stderr
    assert "showing the 10 strongest of 12 failures" in result.stdout


class TestOutputs:
    def test_junit(self, wrong_dir: Path) -> None:
        out = CliRunner().invoke(cli, ["verify", str(wrong_dir / "model.pt"), "--rules",
                                       str(wrong_dir / "rules.toml"), "-f", "junit"]).stdout
        root = ET.fromstring(out)
        assert root.get("failures") == "1"
        failed = [tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None]
        assert failed == ["conv1.weight"]

    def test_github(self, wrong_dir: Path) -> None:
        out = CliRunner().invoke(cli, ["verify", str(wrong_dir / "model.pt"), "--rules",
                                       str(wrong_dir / "rules.toml"), "-f", "github"]).stdout
        lines = out.strip().splitlines()
        assert lines[0].startswith("::error file=") and "conv1.weight" in lines[0]
        assert lines[-1].startswith("::error title=kaiming verify::FAIL")

    def test_markdown_and_atomic_output(self, model_dir: Path, tmp_path: Path) -> None:
        target = tmp_path / "summary.md"
        result = CliRunner().invoke(cli, ["verify", str(model_dir / "model.npz"), "--rules",
                                          str(model_dir / "rules.toml"), "-f", "markdown", "-o", str(target)])
        assert result.exit_code == 0 and result.stdout == ""
        assert target.read_text().startswith("### kaiming verify") and "PASS" in result.stderr

    def test_detail_view_has_histograms(self, model_dir: Path) -> None:
        out = CliRunner().invoke(cli, ["verify", str(model_dir / "model.npz"), "--rules",
                                       str(model_dir / "rules.toml"), "--detail"]).stdout
        assert "theory │" in out and "sample │" in out

    @pytest.mark.parametrize("how", [["-f", "json"], [], ["-f", "markdown", "--detail"]])
    def test_reports_without_histograms_count_none(self, model_dir: Path, how: list[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        """Only the table's --detail draws histograms: every other report is made without counting them (the
        group path's and the one-tensor path's counters would fail here)."""
        import kaiming_cli.runners.verify as runner
        import kaiming_cli.stats.grouped as grouped

        def never(*_args: object) -> None:
            raise AssertionError("a histogram was counted for a report that does not show it")

        monkeypatch.setattr(grouped, "histogram_rows", never)
        monkeypatch.setattr(runner, "histogram_counts", never)
        args = ["verify", str(model_dir / "model.npz"), "--rules", str(model_dir / "rules.toml"), "--jobs", "1"]
        result = CliRunner().invoke(cli, args + how)
        assert result.exit_code == 0, result.output
        detail = CliRunner().invoke(cli, args + ["--detail"])
        assert detail.exit_code == 4 and "a histogram was counted" in detail.output  # the table's --detail counts


# --------------------------------------------------------------------------- multiple testing

def test_adjust_matches_scipy_and_statsmodels_definitions() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    assert adjust(p, "bonferroni") == pytest.approx([0.05, 0.2, 0.15, 0.025, 1.0])
    # Holm written out: sorted 0.005*5, 0.01*4, 0.03*3, 0.04*2, 0.5*1 with running max
    assert adjust(p, "holm") == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.5])
    assert adjust(p, "bh") == pytest.approx(list(st.false_discovery_control(p, method="bh")))


def _checkpoint(seed: int) -> list:
    rng = np.random.default_rng(seed)
    shapes = [(64, 3, 3, 3), (64, 64, 3, 3), (128, 64, 3, 3), (128, 128), (256, 64), (10, 512)] * 4
    out = []
    for i, shape in enumerate(shapes):
        std = math.sqrt(2 / (shape[0] * math.prod(shape[2:])))  # fan_out, relu
        out.append(array_source((rng.standard_normal(shape) * std).astype(np.float32), f"t{i}"))
    return out


@pytest.mark.slow
def test_holm_controls_the_run_false_alarm_rate() -> None:
    """300 clean 24-tensor checkpoints at alpha = 0.05: Holm keeps P(any red) <= alpha; raw does not."""
    seeds, alpha = 300, 0.05
    fallback = Rule(match="*", options={"mode": "fan_out", "nonlinearity": "relu"})
    red = {"holm": 0, "none": 0}
    for seed in range(seeds):
        raw = [verify_source(s, fallback, SpecOptions(), alpha=alpha, seed=seed) for s in _checkpoint(seed)]
        for method in red:
            red[method] += not finalize(raw, alpha, method).passed
    upper = st.binom(seeds, alpha).isf(1e-4)
    assert red["holm"] <= upper
    assert red["none"] > upper  # ~1 - (1 - 0.05)^24 = 71% of runs flag something without correction


def test_jobs_do_not_change_verify(model_dir: Path) -> None:
    args = [str(model_dir / "model-bf16.safetensors"), "--rules", str(model_dir / "rules.toml")]
    one = CliRunner().invoke(cli, ["verify", *args, "-f", "json", "--jobs", "1"]).stdout
    two = CliRunner().invoke(cli, ["verify", *args, "-f", "json", "--jobs", "2"]).stdout
    assert one == two and json.loads(one)["passed"]


@pytest.mark.slow
def test_bf16_dequantization_keeps_ks_calibrated() -> None:
    """bf16 rounding alone breaks KS at large n (docs/statistics.md §5); jittering restores it."""
    from kaiming_cli.engine.sources import dequantizer, tensor_seed
    from kaiming_cli.stats.battery import ks_test
    from kaiming_cli.stats.laws import Law

    seeds, alpha, n = 60, 0.05, 1_000_000  # measured: 63% raw rejections, 3% after jittering
    law = Law("normal", 0.05)
    raw_rejections = fixed_rejections = 0
    for seed in range(seeds):
        x = (np.random.default_rng(seed).standard_normal(n) * 0.05).astype(np.float32)
        bits = (x.view(np.uint32) + 0x8000) & 0xFFFF0000  # round to nearest bf16 (ties away), as torch does
        rounded = bits.view(np.float32).astype(np.float64)
        raw_rejections += ks_test(law, rounded)[1] <= alpha
        jitter = dequantizer("bfloat16", tensor_seed(seed, "w"))
        assert jitter is not None
        fixed_rejections += ks_test(law, jitter(rounded))[1] <= alpha
    upper = st.binom(seeds, alpha).isf(1e-4)
    assert fixed_rejections <= upper
    assert raw_rejections > upper  # without dequantization the false alarms pile up


def test_a_run_where_nothing_passed_is_headed_inconclusive(tmp_path: Path) -> None:
    """One inconclusive tensor and one skipped: the run exits 0 (inconclusive is not a failure unless --strict) but
    its headline must not say PASS, since no tensor was shown to follow its law."""
    path = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(path, w=(rng.standard_normal((4, 3)) * np.sqrt(2 / 3)).astype(np.float32), b=np.zeros(4, np.float32))
    args = ["verify", str(path), "--nonlinearity", "relu", "--no-config", "-f", "json"]
    result = CliRunner().invoke(cli, args)
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["passed"]
    assert [t["status"] for t in doc["tensors"]].count("inconclusive") == 1
    assert doc["summary"].startswith("INCONCLUSIVE: 2 tensors: 1 inconclusive, 1 skip")
    assert CliRunner().invoke(cli, [*args, "--strict"]).exit_code == 1
