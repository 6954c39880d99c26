"""The command contract of docs/cli.md: every command, exit code and format."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.runners import check as check_module

SPEC_KEYS = {"shape", "layout", "mode", "nonlinearity", "negative_slope", "distribution", "fan_in", "fan_out",
             "fan", "gain", "std", "bound", "call"}
HEADLINE = ["--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"]


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def as_json(text: str) -> dict:
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert doc["schema"] == 1 and "kaiming_version" in doc
    return doc


class TestLookups:
    def test_std_json(self, runner: CliRunner) -> None:
        code, out, _ = run(runner, "std", *HEADLINE, "-f", "json")
        doc = as_json(out)
        assert code == 0 and SPEC_KEYS <= set(doc)
        assert doc["std"] == pytest.approx(math.sqrt(2 / 576), rel=1e-15)
        assert (doc["fan_in"], doc["fan_out"], doc["fan"]) == (27, 576, 576)
        assert doc["bound"] is None

    def test_std_table_and_markdown(self, runner: CliRunner) -> None:
        code, out, _ = run(runner, "std", *HEADLINE, "--distribution", "uniform")
        assert code == 0 and "0.1020620726" in out and "kaiming_uniform_" in out
        code, out, _ = run(runner, "std", *HEADLINE, "-f", "markdown")
        assert code == 0 and out.startswith("### `torch.nn.init.kaiming_normal_") and "| std = gain/√fan |" in out

    def test_gain(self, runner: CliRunner) -> None:
        assert run(runner, "gain", "relu")[1].strip() == repr(math.sqrt(2))
        assert float(run(runner, "gain", "leaky_relu", "-a", "0.2")[1]) == pytest.approx(math.sqrt(2 / 1.04))
        code, out, err = run(runner, "gain", "leaky_relu")
        assert float(out) == math.sqrt(2) and "0.01" in err  # the default-slope trap is named
        doc = as_json(run(runner, "gain", "-f", "json")[1])
        assert {g["nonlinearity"] for g in doc["gains"]} >= {"relu", "selu", "tanh"}
        assert "selu" in run(runner, "gain")[1]

    def test_fan(self, runner: CliRunner) -> None:
        doc = as_json(run(runner, "fan", "--shape", "3,3,64,128", "--layout", "keras", "-f", "json")[1])
        assert (doc["fan_in"], doc["fan_out"], doc["receptive_field"]) == (576, 1152, 9)
        code, out, _ = run(runner, "fan", "--shape", "64x3x3x3")
        assert code == 0 and "576" in out

    def test_explain(self, runner: CliRunner) -> None:
        doc = as_json(run(runner, "explain", *HEADLINE, "-f", "json")[1])
        keys = {s["key"] for s in doc["sections"]}
        assert {"nonlinearity_only_sets_gain", "torch_default_init", "leaky_relu_default_slope"} <= keys
        code, out, err = run(runner, "explain")
        assert code == 0 and "no --shape given" in err
        assert run(runner, "explain", *HEADLINE, "-f", "markdown")[1].startswith("### How the numbers")

    def test_version(self, runner: CliRunner) -> None:
        code, out, _ = run(runner, "--version")
        assert code == 0 and out.startswith("kaiming, version ")


class TestCheck:
    def test_headline_passes(self, runner: CliRunner) -> None:
        code, out, _ = run(runner, "check", *HEADLINE)
        assert code == 0 and "PASS" in out and "kaiming_normal_" in out

    @pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
    def test_json_contract(self, runner: CliRunner, distribution: str) -> None:
        code, out, err = run(runner, "check", *HEADLINE, "--distribution", distribution, "-f", "json", "--seed", "7")
        doc = as_json(out)
        assert code == 0 and doc["passed"] is True and "PASS" in err
        assert SPEC_KEYS <= set(doc) and doc["seed"] == 7
        assert doc["backend"] == "torch" and "library of this call" in doc["backend_reason"]  # torch: make test's
        emp = doc["empirical"]
        assert {"n", "mean", "std", "min", "max", "skewness", "excess_kurtosis", "std_ci"} <= set(emp)
        assert emp["n"] == 1728 and len(emp["std_ci"]) == 2
        assert {t["name"] for t in doc["tests"]} >= {"mean", "std", "range", "ks"}
        assert all({"name", "statistic", "pvalue", "passed"} <= set(t) for t in doc["tests"])

    def test_same_seed_same_result(self, runner: CliRunner) -> None:
        a = run(runner, "check", *HEADLINE, "-f", "json", "--seed", "3")[1]
        b = run(runner, "check", *HEADLINE, "-f", "json", "--seed", "3")[1]
        assert a == b

    def test_fail_exits_1(self, runner: CliRunner) -> None:
        # alpha = 0.999 rejects unless every p-value is above 0.999/k: a correct sample fails
        code, out, err = run(runner, "check", *HEADLINE, "--alpha", "0.999", "--tests", "mean,std,kurtosis,range,ks",
                             "-f", "json")
        assert code == 1 and as_json(out)["passed"] is False and "FAIL" in err

    def test_markdown_and_output_file(self, runner: CliRunner, tmp_path) -> None:
        target = tmp_path / "report.md"
        code, out, err = run(runner, "check", *HEADLINE, "-f", "markdown", "-o", str(target))
        assert code == 0 and out == "" and "PASS" in err
        text = target.read_text()
        assert "| test | statistic | p-value | result | detail |" in text
        assert not list(tmp_path.glob(".kaiming-*"))  # no temporary left behind

    def test_samples_and_tests_options(self, runner: CliRunner) -> None:
        doc = as_json(run(runner, "check", *HEADLINE, "-n", "500", "--tests", "std,ad", "-f", "json")[1])
        assert doc["empirical"]["n"] == 500 and [t["name"] for t in doc["tests"]] == ["std", "ad"]

    def test_unwritable_output_is_exit_3(self, runner: CliRunner, tmp_path) -> None:
        code, _, err = run(runner, "check", *HEADLINE, "-o", str(tmp_path / "missing" / "x.json"))
        assert code == 3 and "cannot write" in err

    def test_internal_error_is_exit_4_without_traceback(self, runner: CliRunner, monkeypatch) -> None:
        def boom(*_a, **_k):
            raise RuntimeError("synthetic bug")

        monkeypatch.setattr(check_module, "run_check", boom)
        code, out, err = run(runner, "check", *HEADLINE)
        assert code == 4 and "synthetic bug" in err and "Traceback" not in err + out

    def test_interrupt_is_130(self, runner: CliRunner, monkeypatch) -> None:
        def interrupted(*_a, **_k):
            raise KeyboardInterrupt

        monkeypatch.setattr(check_module, "run_check", interrupted)
        assert run(runner, "check", *HEADLINE)[0] == 130

    def test_torch_missing_is_exit_3(self, runner: CliRunner, monkeypatch) -> None:
        import sys

        monkeypatch.setitem(sys.modules, "torch", None)
        code, _, err = run(runner, "check", *HEADLINE, "--backend", "torch")
        # kaiming is not on PyPI: the hint names this clone, as `make test` installs it (pip install -e .)
        clone = __import__("pathlib").Path(__file__).resolve().parents[2]
        assert code == 3 and f"pip install -e '{clone}[torch]'" in err and "'kaiming[torch]'" not in err


class TestBadInput:
    @pytest.mark.parametrize(
        "args,needle",
        [
            (["--shape", "64,,3"], "empty dimension"),
            (["--shape", "-1"], "positive integer"),
            (["--shape", "0"], "positive integer"),
            (["--shape", "abc"], "non-integer"),
            (["--shape", "10"], "fewer than 2 dimensions"),
            (["--shape", "10000000000,10000000000"], "overflows"),
            (["--shape", "64,3", "--nonlinearity", "gelu"], "gelu has no gain in torch.nn.init.calculate_gain"),
            (["--shape", "64,3", "--nonlinearity", "rleu"], "Did you mean 'relu'"),
            (["--shape", "64,3", "-a", "-2000"], "negative slope"),
            (["--shape", "64,3", "-a", "nan"], "negative slope"),
            (["--shape", "64,3", "-a", "x"], "not a number"),
            (["--shape", "64,3", "--alpha", "0"], "alpha"),
            (["--shape", "64,3", "--alpha", "1"], "alpha"),
            (["--shape", "64,3", "--alpha", "nan"], "alpha"),
            (["--shape", "64,3", "--samples", "0"], "samples"),
            (["--shape", "64,3", "--mode", "fan_avgx"], "mode"),
            (["--shape", "64,3", "--tests", "foo"], "unknown test"),
            (["--shape", "7", "--layout", "keras", "--backend", "torch"], "1-D"),
            ([], "Missing option '--shape'"),
        ],
    )
    def test_exit_2_one_line(self, runner: CliRunner, args: list[str], needle: str) -> None:
        """Bad values give exit 2, name the problem, and never a traceback."""
        code, out, err = run(runner, "check", *args)
        assert code == 2, err
        assert needle in err and "Traceback" not in err
        assert out == ""

    def test_std_refuses_the_same(self, runner: CliRunner) -> None:
        assert run(runner, "std", "--shape", "64,,3")[0] == 2
        assert run(runner, "gain", "gelu")[0] == 2
        assert run(runner, "fan", "--shape", "5")[0] == 2


def test_check_backend_torch_cli(runner: CliRunner) -> None:
    pytest.importorskip("torch")
    import torch

    code, out, _ = run(runner, "check", *HEADLINE, "--backend", "torch", "-f", "json")
    doc = as_json(out)
    assert code == 0 and doc["backend"] == "torch" and torch.__version__ in doc["backend_info"]
    assert "kaiming_normal_(w, mode='fan_out', nonlinearity='relu')" in doc["backend_info"]


def test_progress_bar_only_in_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from kaiming_cli.cli.output import progress_bar

    with progress_bar(1 << 40) as advance:
        assert advance is None  # pytest's stderr is not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with progress_bar(1 << 40) as advance:
        assert callable(advance)
        advance(1000)
    with progress_bar(10) as advance:
        assert advance is None  # small runs need no bar


def test_a_misspelt_command_is_answered_with_the_close_one() -> None:
    """Commands load when they run (cli/app.py ``COMMANDS``); a misspelt one still gets Click's suggestion among
    all of them (Click 8.4 and later suggest; earlier ones say only "No such command")."""
    import click

    result = CliRunner().invoke(cli, ["verfy", "model.safetensors"])
    assert result.exit_code == 2 and "No such command 'verfy'" in result.output
    if hasattr(click.exceptions, "NoSuchCommand"):
        assert "Did you mean 'verify'?" in result.output
