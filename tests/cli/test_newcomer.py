"""The first five minutes (issue 15): what a newcomer types, and what must not mislead them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


class TestNonlinearityNames:
    def test_gelu_gets_an_honest_answer_not_selu(self) -> None:
        code, _, err = run("gain", "gelu")
        assert code == 2
        assert "gelu has no gain in torch.nn.init.calculate_gain" in err and "relu" in err
        assert "selu" not in err

    @pytest.mark.parametrize("spelling", ["lrelu", "leakyrelu", "LeakyReLU"])
    def test_spellings_of_leaky_relu(self, spelling: str) -> None:
        code, out, _ = run("gain", spelling, "-a", "0.2")
        assert code == 0 and float(out) == pytest.approx(math.sqrt(2 / 1.04), rel=1e-15)

    def test_mode_in_capitals_as_torch_lowercases_it(self) -> None:
        code, out, _ = run("std", "--shape", "64,3,3,3", "--mode", "FAN_OUT", "--nonlinearity", "ReLU", "-f", "json")
        doc = json.loads(out)
        assert code == 0 and (doc["mode"], doc["nonlinearity"], doc["fan"]) == ("fan_out", "relu", 576)

    def test_negative_slope_is_legal(self) -> None:
        code, out, _ = run("gain", "leaky_relu", "-a", "-0.5")
        assert code == 0 and float(out) == pytest.approx(1.2649110640673518, rel=1e-15)

    def test_gain_help_has_no_long_metavar(self) -> None:
        code, out, _ = run("gain", "--help")
        assert code == 0 and "linear|conv1d" not in out

    def test_rules_accept_spellings(self) -> None:
        from kaiming_cli.io.config import parse_rule

        rule = parse_rule({"match": "*", "mode": "FAN_OUT", "nonlinearity": "LeakyReLU"}, "test")
        assert rule.options == {"mode": "fan_out", "nonlinearity": "leaky_relu"}


COMMAND_NAMES = ["", "std", "gain", "fan", "explain", "check", "completion", "verify", "identify", "propagate"]


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_help_follows_the_terminal_width(command: str, width: int) -> None:
    """--help used to be laid out for 100 columns whatever the terminal (131-character lines)."""
    out = subprocess.run([sys.executable, "-m", "kaiming_cli", *command.split(), "--help"], capture_output=True,
                         text=True, env={**os.environ, "COLUMNS": str(width)}, check=True).stdout
    assert max(len(line) for line in out.splitlines()) <= width
    if width == 60:
        assert max(len(line) for line in out.splitlines()) > 40  # it used the width, not a fixed minimum


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ResNet initialized as torchvision does (tests/models.py)."""
    from tests.models import save_all

    folder = tmp_path_factory.mktemp("newcomer")
    save_all(folder)
    return folder / "model.safetensors"


class TestVerifyWithoutRules:
    """A correct model verified with no rules used to fail with "the weights look TRAINED"."""

    def test_says_what_it_needs_and_exits_2(self, model: Path) -> None:
        code, out, err = run("verify", str(model), "--no-config")
        assert code == 2 and out == ""
        assert "no rules and no spec options" in err and "--rules" in err and "kaiming identify" in err
        assert "TRAINED" not in err and len(err.strip().splitlines()) == 2  # the error and the --help hint

    def test_a_spec_option_is_enough(self, model: Path) -> None:
        code, _, err = run("verify", str(model), "--no-config", "--tensor", "layer*conv*.weight", "--mode",
                           "fan_out", "--nonlinearity", "relu")
        assert code == 0 and "PASS" in err

    def test_api_raises_on_a_bad_option(self) -> None:
        import numpy as np

        from kaiming_cli import verify_tensor

        with pytest.raises(ValueError, match="gelu has no gain"):
            verify_tensor(np.zeros((4, 4), np.float32), nonlinearity="gelu")


class TestInconclusive:
    """check --shape 2,2 and -n 5 printed PASS with a std CI of [0.50, 5.97]."""

    @pytest.mark.parametrize("args", [["--shape", "2,2"], ["--shape", "64,3,3,3", "-n", "5"]])
    def test_tiny_samples_are_inconclusive_not_pass(self, args: list[str]) -> None:
        code, out, err = run("check", *args, "-f", "json")
        doc = json.loads(out)
        assert code == 0 and doc["status"] == "inconclusive" and doc["detectable"] > 0.25
        assert "INCONCLUSIVE" in err and "PASS" not in err
        code, _, _ = run("check", *args, "--strict")
        assert code == 1

    def test_a_real_tensor_passes_and_says_what_it_can_detect(self) -> None:
        from kaiming_cli.stats.laws import Law
        from kaiming_cli.stats.power import detectable_error

        code, out, _ = run("check", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu", "-f", "json")
        doc = json.loads(out)
        assert code == 0 and doc["status"] == "pass"
        # at the std test's level in the battery: alpha/k with k = len(tests) (9 on a 64x3x3x3 weight)
        assert len(doc["tests"]) == 9
        assert doc["detectable"] == pytest.approx(detectable_error(Law("normal", 1.0), 1728, 0.001 / 9))
        assert 0.05 < doc["detectable"] < 0.12

    def test_max_detectable_moves_the_threshold(self) -> None:
        code, out, _ = run("check", "--shape", "64,3,3,3", "--max-detectable", "0.05", "-f", "json")
        assert code == 0 and json.loads(out)["status"] == "inconclusive"

    def test_verify_counts_inconclusive_tensors(self, tmp_path: Path) -> None:
        import numpy as np

        rng = np.random.default_rng(3)
        np.savez(tmp_path / "m.npz", small=rng.normal(0, 1, (2, 2)).astype(np.float32),
                 big=rng.normal(0, math.sqrt(2 / 512), (256, 512)).astype(np.float32))
        code, out, err = run("verify", str(tmp_path / "m.npz"), "--no-config", "--nonlinearity", "relu", "-f", "json")
        doc = json.loads(out)
        status = {t["name"]: (t["status"], t["detectable"]) for t in doc["tensors"]}
        assert code == 0 and doc["passed"] and doc["tested"] == 2
        assert status["small"][0] == "inconclusive" and status["small"][1] > 2
        assert status["big"][0] == "pass" and status["big"][1] < 0.02
        assert "1 pass, 1 inconclusive" in err
        code, out, _ = run("verify", str(tmp_path / "m.npz"), "--no-config", "--nonlinearity", "relu", "--strict",
                           "-f", "json")
        assert code == 1 and json.loads(out)["passed"] is False


class TestInstallHints:
    """`pip install 'kaiming[torch]'` finds no distribution: kaiming is not on PyPI."""

    class Dist:
        def __init__(self, record: str | None) -> None:
            self.record = record

        def read_text(self, name: str) -> str | None:
            return self.record if name == "direct_url.json" else None

    def hint(self, monkeypatch: pytest.MonkeyPatch, record: str | None) -> str:
        import importlib.metadata

        from kaiming_cli.about import install_hint

        monkeypatch.setattr(importlib.metadata, "distributions", lambda name: [self.Dist(None), self.Dist(record)])
        return install_hint("plot")

    def test_from_a_git_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        record = json.dumps({"url": "https://example.org/x/kaiming", "vcs_info": {"vcs": "git", "commit_id": "abc"}})
        assert self.hint(monkeypatch, record).startswith(
            "pip install 'kaiming[plot] @ git+https://example.org/x/kaiming@abc'")

    def test_from_a_clone(self, monkeypatch: pytest.MonkeyPatch) -> None:
        record = json.dumps({"url": "file:///src/kaiming", "dir_info": {}})
        assert self.hint(monkeypatch, record).startswith("pip install '/src/kaiming[plot]'")

    def test_otherwise_the_packages_themselves(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert self.hint(monkeypatch, None) == "pip install 'matplotlib>=3.5'"


class TestSmallWrongs:
    def test_color_after_the_command_says_where_it_goes(self) -> None:
        code, _, err = run("verify", "x.npy", "--color", "never")
        assert code == 2 and "put it before the command" in err and "kaiming --color never verify" in err

    def test_samples_in_scientific_notation(self) -> None:
        code, out, _ = run("check", "--shape", "64,3", "-n", "1e4", "-f", "json")
        assert code == 0 and json.loads(out)["empirical"]["n"] == 10_000
        assert run("check", "--shape", "64,3", "-n", "1.5")[0] == 2

    def test_fan_of_a_zero_dimension_as_torch_answers(self) -> None:
        import torch
        expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(0, 3))
        code, out, _ = run("fan", "--shape", "0,3", "-f", "json")
        doc = json.loads(out)
        assert code == 0 and (doc["fan_in"], doc["fan_out"]) == expected == (3, 0)

    def test_a_file_given_twice_counts_once(self, tmp_path: Path) -> None:
        import numpy as np

        np.save(tmp_path / "w.npy", np.random.default_rng(0).normal(0, math.sqrt(2 / 64), (64, 64)).astype("f4"))
        code, out, err = run("verify", str(tmp_path / "w.npy"), str(tmp_path / "." / "w.npy"), "--nonlinearity",
                             "relu", "-f", "json")
        assert code == 0 and len(json.loads(out)["tensors"]) == 1 and "1 tensor:" in err

    def test_range_names_the_side_only_of_an_unusual_max(self) -> None:
        code, out, _ = run("check", "--shape", "2,2", "-f", "json")
        test = next(t for t in json.loads(out)["tests"] if t["name"] == "range")
        assert test["pvalue"] > 0.05 and "this max is" not in test["detail"]

    def test_values_beyond_the_histogram_are_not_piled_into_its_edges(self) -> None:
        import numpy as np

        from kaiming_cli.stats.empirical import histogram_counts
        from kaiming_cli.stats.laws import Law

        sample = np.concatenate([np.random.default_rng(1).normal(0, 1, 100_000), np.full(10, 50.0)])
        counts = histogram_counts(sample, Law("normal", 1.0))
        inside = int(np.sum(np.abs(sample) <= 4.2))  # the window is ±4 std, widened by 5%
        assert sum(counts) == inside and counts[-1] < 10  # the ten outliers are in no bin
        from kaiming_cli.render.text import beyond_edges

        assert beyond_edges(counts, sample.size) == f" +{sample.size - inside} beyond the edges"
        assert sample.size - inside >= 10

    def test_png_histograms_have_axis_labels(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np

        from kaiming_cli.render.plots import _hist_qq
        from kaiming_cli.stats.laws import Law

        fig, (ax_h, ax_q) = plt.subplots(1, 2)
        _hist_qq(ax_h, ax_q, np.random.default_rng(0).normal(0, 1, 1000), Law("normal", 1.0), "t")
        assert (ax_h.get_xlabel(), ax_h.get_ylabel()) == ("weight value", "density")
        plt.close(fig)

    def test_markdown_shows_paths_relative_to_the_working_directory(self, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        import numpy as np

        (tmp_path / "ckpt").mkdir()
        np.save(tmp_path / "ckpt" / "w.npy", np.random.default_rng(0).normal(0, 0.125, (64, 64)).astype("f4"))
        monkeypatch.chdir(tmp_path)
        code, out, _ = run("verify", str(tmp_path / "ckpt" / "w.npy"), "--mode", "fan_in", "-a", "0", "-f",
                           "markdown")
        assert "`ckpt/w.npy`" in out and str(tmp_path) not in out


def test_identify_rows_name_the_mode_the_summary_names(model: Path) -> None:
    """On square convs (fan_in = fan_out) each row said `fan_in relu` while the summary said mode='fan_out'."""
    from kaiming_cli.io.inputs import read_paths
    from kaiming_cli.render.text import identify_rows
    from kaiming_cli.runners.identify import group_summary, run_identify

    sources, _ = read_paths([str(model)])
    results, _ = run_identify(sources, jobs=1)
    assert "10 conv weights: kaiming_normal_(mode='fan_out', nonlinearity='relu')" in group_summary(results)
    convs = [row for row in identify_rows(results) if row[0].endswith("conv1.weight") or "conv2" in row[0]]
    assert len(convs) == 9 and all(row[2] == "kaiming_normal_ fan_out relu" for row in convs)
    square = [row for row in convs if row[1] in ("16×16×3×3", "32×32×3×3")]
    assert square and all("fan_in relu" in row[6] for row in square)  # the mode it cannot tell, said as such


def test_whole_model_pickle_says_save_the_state_dict(tmp_path: Path) -> None:
    import torch

    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 4)), tmp_path / "whole.pt")
    code, _, err = run("identify", str(tmp_path / "whole.pt"))
    assert code == 3 and "save model.state_dict() instead" in err and "Traceback" not in err


def test_lightning_ckpt_with_a_state_dict_is_read(tmp_path: Path) -> None:
    import torch

    layer = torch.nn.Linear(64, 32)
    torch.save({"state_dict": layer.state_dict(), "epoch": 3}, tmp_path / "model.ckpt")
    code, out, _ = run("verify", str(tmp_path / "model.ckpt"), "--distribution", "uniform", "-a", str(5 ** 0.5),
                       "-f", "json")
    doc = json.loads(out)
    assert code == 0 and [t["name"] for t in doc["tensors"]] == ["state_dict.weight", "state_dict.bias"]
    assert doc["tensors"][0]["status"] == "pass"


def test_a_typo_in_a_rules_file_names_it_once_with_a_did_you_mean(tmp_path: Path) -> None:
    """One line: where, the value, the did-you-mean, the choices once (they were listed twice)."""
    import numpy as np

    weights = tmp_path / "w.npz"
    np.savez(weights, w=np.zeros((4, 4), np.float32))
    rules = tmp_path / "typo.toml"
    rules.write_text('[[rule]]\nmatch = "*"\nnonlinearity = "rleu"\n')
    result = CliRunner().invoke(cli, ["verify", str(weights), "--rules", str(rules), "--no-config"])
    assert result.exit_code == 3
    line = result.stderr.strip()
    assert "\n" not in line and "typo.toml rule 1" in line and "Did you mean 'relu'?" in line
    assert line.count("leaky_relu") == 1
