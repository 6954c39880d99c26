"""``kaiming audit TARGET``: the command's formats, exit codes and one-line errors (docs/cli.md, docs/audit.md)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli

pytest.importorskip("torch")

MODELS = str(Path(__file__).resolve().parents[1] / "audit_models.py")
AUDIT_KEYS = {"name", "layer_type", "activation", "gain", "recommended", "actual", "std_ratio", "verdict", "note"}


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def write(tmp_path: Path, code: str, name: str = "user_model.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return str(path)


def test_json_keys_and_verdicts(runner: CliRunner) -> None:
    code, out, err = run(runner, "audit", f"{MODELS}:resnet_one_default_conv", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == 1 and doc["target"].endswith(":resnet_one_default_conv") and doc["traced"] is True
    assert AUDIT_KEYS <= set(doc["weights"][0])
    flagged = [w["name"] for w in doc["weights"] if w["layer_type"] == "Conv2d" and w["verdict"] != "as recommended"]
    assert flagged == ["layer2.0.conv1.weight"]
    assert "parameters audited" in err


def test_table_groups_by_verdict_and_markdown(runner: CliRunner) -> None:
    code, out, _ = run(runner, "--color", "never", "audit", f"{MODELS}:resnet_one_default_conv")
    assert code == 0
    # the conv left at torch's default feeds a BatchNorm before its ReLU: scale-free (issue 27); fc and its bias
    # stay at the framework default
    assert out.index("framework default (2)") < out.index("scale-free (1)") < out.index("as recommended (35)")
    assert "layer2.0.conv1.weight" in out and "signal at init: stable" in out
    code, out, _ = run(runner, "audit", f"{MODELS}:resnet_one_default_conv", "-f", "markdown")
    assert code == 0 and "#### scale-free (1)" in out and "| `layer2.0.conv1.weight` |" in out


def test_audit_gates_like_a_linter(runner: CliRunner) -> None:
    """A finding exits 1 unless --exit-zero, and the last line counts the findings by kind (issues 24 and 27)."""
    # the 40-layer ReLU MLP at torch's default init: its signal vanishes
    code, out, err = run(runner, "audit", f"{MODELS}:relu_mlp", "-f", "json")
    doc = json.loads(out)
    assert code == 1 and doc["signal"]["verdict"] == "vanishing"
    assert [f["kind"] for f in doc["findings"]] == ["signal"]
    assert doc["findings"][0]["fix"] == "kaiming_normal_(mode='fan_in', nonlinearity='relu')"
    assert err.strip().splitlines()[-1] == "1 finding (1 signal): exit 1; --exit-zero reports without failing"
    code, _, err = run(runner, "audit", f"{MODELS}:relu_mlp", "-f", "json", "--exit-zero")
    assert code == 0 and err.strip().splitlines()[-1] == "1 finding (1 signal): reported only (--exit-zero)"


def test_strict_adds_framework_defaults_not_a_standard_transformer_init(runner: CliRunner) -> None:
    # timm's N(0, 0.02) inside LayerNorm'd residual blocks, with a stable measured stream: no finding
    assert run(runner, "audit", f"{MODELS}:TinyViT", "--strict", "-f", "json")[0] == 0
    code, _, err = run(runner, "audit", f"{MODELS}:resnet_one_default_conv", "-f", "json")
    assert code == 0 and err.strip().splitlines()[-1] == "no findings"
    # torchvision's fc left at nn.Linear's default: a framework default that differs from the head's gain 1
    code, out, err = run(runner, "audit", f"{MODELS}:resnet_one_default_conv", "--strict", "-f", "json")
    assert code == 1 and {f["name"] for f in json.loads(out)["findings"]} == set()  # --strict's own, not findings
    assert "framework default" in err.strip().splitlines()[-1]


def test_plot_draws_the_measured_signal(runner: CliRunner, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "signal.png"
    code, _, err = run(runner, "audit", f"{MODELS}:plain_mlp", "-f", "json", "--exit-zero", "--plot", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {png}" in err


def test_args_json_and_printing_user_code_keep_stdout_json(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, """
        import torch
        print("hello from the user's module")
        def net(width=8):
            print("building")
            return torch.nn.Sequential(torch.nn.Linear(16, width), torch.nn.Tanh(), torch.nn.Linear(width, 2))
    """)
    code, out, err = run(runner, "audit", f"{path}:net", "--args", '{"width": 32}', "-f", "json")
    assert code == 0, err
    doc = json.loads(out)  # the prints went to stderr
    assert "building" in err
    assert [w["shape"] for w in doc["weights"] if w["name"] == "0.weight"] == [[32, 16]]
    assert doc["weights"][0]["activation"] == "tanh"


def test_module_target_on_sys_path(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, """
        import torch
        def mlp():
            return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    """, name="kaiming_audit_pkg_mod.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = run(runner, "audit", "kaiming_audit_pkg_mod:mlp", "-f", "json")
    assert code == 0, err
    assert json.loads(out)["weights"][0]["activation"] == "relu"
    sys.modules.pop("kaiming_audit_pkg_mod", None)


@pytest.mark.parametrize(("code_text", "target_attr", "needle"), [
    ("def f():\n    raise RuntimeError('boom in constructor')\n", "f", "raised RuntimeError: boom in constructor"),
    ("def f():\n    return 42\n", "f", "returned a int, not a torch.nn.Module"),
    ("def f():\n    return 1\n", "missing", "has no attribute 'missing'"),
    ("raise ImportError('module-level failure')\n", "f", "raised ImportError: module-level failure"),
    ("import sys\nsys.exit(3)\n", "f", "called sys.exit(3)"),
])
def test_user_code_failures_are_one_line_exit_3(runner: CliRunner, tmp_path: Path, code_text: str,
                                                target_attr: str, needle: str) -> None:
    path = write(tmp_path, code_text, name=f"m_{target_attr}_{abs(hash(code_text))}.py")
    code, _out, err = run(runner, "audit", f"{path}:{target_attr}")
    assert code == 3
    assert needle in one_line_error(err)


def test_missing_module_and_file_exit_3(runner: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(runner, "audit", "no_such_module_kaiming_xyz:build")
    assert code == 3 and "no module named 'no_such_module_kaiming_xyz'" in one_line_error(err)
    code, _, err = run(runner, "audit", f"{tmp_path}/absent.py:build")
    assert code == 3 and "no such file" in one_line_error(err)


def test_bad_target_and_args_are_usage_errors(runner: CliRunner) -> None:
    code, _, err = run(runner, "audit", "no_colon_here")
    assert code == 2 and "package.module:callable" in err
    code, _, err = run(runner, "audit", f"{MODELS}:plain_mlp", "--args", "[1, 2]")
    assert code == 2 and "JSON object" in err


def test_help_says_it_runs_the_users_code(runner: CliRunner) -> None:
    code, out, _ = run(runner, "audit", "--help")
    assert code == 0 and "RUNS ITS CODE" in out.replace("\n", " ")
