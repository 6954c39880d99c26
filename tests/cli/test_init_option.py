"""``--init CALL`` on std, explain, check and verify, and ``init = "..."`` in rules (docs/cli.md "Init calls")."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from kaiming_cli.cli import cli


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_std_init_json_has_init_and_law(runner: CliRunner) -> None:
    code, out, _ = run(runner, "std", "--shape", "768,768", "--init", "nn.init.trunc_normal_(w, std=.02)", "-f", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["init"] == doc["call"] == "torch.nn.init.trunc_normal_(std=0.02)"
    assert doc["law"]["distribution"] == "truncated_normal" and (doc["law"]["low"], doc["law"]["high"]) == (-2, 2)
    assert doc["law"]["std"] == pytest.approx(0.02, rel=1e-12)
    assert doc["mode"] is None and doc["gain"] is None and doc["law"]["value"] is None


def test_std_without_init_has_the_same_law_as_before(runner: CliRunner) -> None:
    code, out, _ = run(runner, "std", "--shape", "64,3,3,3", "--distribution", "truncated_normal", "-f", "json")
    doc = json.loads(out)
    sigma = math.sqrt(2 / 27) / 0.87962566103423978
    assert code == 0 and doc["init"] is None
    assert doc["law"]["distribution"] == "truncated_normal"
    assert doc["law"]["low"] == pytest.approx(-2 * sigma, rel=1e-15) and doc["law"]["high"] == pytest.approx(2 * sigma)
    assert doc["law"]["std"] == pytest.approx(math.sqrt(2 / 27), rel=1e-12)


def test_keras_attention_query_kernel_with_fans(runner: CliRunner) -> None:
    """MultiHeadAttention's query kernel (32, 8, 16) with lecun_normal: EinsumDense passes fan_in 32."""
    code, out, _ = run(runner, "std", "--shape", "32,8,16", "--init", "LecunNormal", "--fan-in", "32",
                       "--fan-out", "128", "-f", "json")
    assert code == 0 and json.loads(out)["std"] == pytest.approx(math.sqrt(1 / 32), rel=1e-14)


@pytest.mark.parametrize("flag,value", [("--mode", "fan_out"), ("--nonlinearity", "relu"), ("-a", "0.2"),
                                        ("--distribution", "uniform")])
def test_init_conflicts_with_the_mode_options(runner: CliRunner, flag: str, value: str) -> None:
    code, _, err = run(runner, "std", "--shape", "4,4", "--init", "zeros_", flag, value)
    assert code == 2 and "conflict" in err


@pytest.mark.parametrize("command", ["std", "explain", "check"])
@pytest.mark.parametrize("call,token", [("eval('x')", "eval"), ("normal_(std=x)", "'x'"),
                                        ("kaiming_normal_(mode='fan_avg')", "fan_avg")])
def test_bad_init_is_exit_2_naming_the_token(runner: CliRunner, command: str, call: str, token: str) -> None:
    code, out, err = run(runner, command, "--shape", "8,8", "--init", call)
    assert code == 2 and token in err and "Traceback" not in err + out


def test_bad_init_from_the_real_cli_has_no_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "kaiming_cli", "std", "--shape", "4,4", "--init", "9**9**9**9"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "9**9**9**9" in proc.stderr


def test_one_d_shape_needs_fans_only_when_the_law_does(runner: CliRunner) -> None:
    assert run(runner, "std", "--shape", "10", "--init", "normal_(std=1e-6)")[0] == 0
    code, _, err = run(runner, "std", "--shape", "10", "--init", "default('Linear')")
    assert code == 2 and "--fan-in" in err
    code, out, _ = run(runner, "std", "--shape", "10", "--init", "default('Linear')", "--fan-in", "400", "-f", "json")
    assert code == 0 and json.loads(out)["law"]["high"] == pytest.approx(1 / 20, rel=1e-15)


def test_explain_init_says_the_default_in_words(runner: CliRunner) -> None:
    code, out, _ = run(runner, "explain", "--shape", "128,64", "--init", "default('Linear')")
    text = " ".join(out.split())
    assert code == 0
    assert "a=math.sqrt(5)" in text and "1/6 of He's" in text and "fan_in = 64" in text
    assert f"{1 / 8:.6g}" in text  # bound 1/sqrt(64)


def test_explain_init_truncation(runner: CliRunner) -> None:
    code, out, _ = run(runner, "explain", "--shape", "128,64", "--init", "trunc_normal_(std=0.02)", "-f", "json")
    doc = json.loads(out)
    text = json.dumps(doc)
    assert code == 0 and "ABSOLUTE" in text and "effectively untruncated" in text


@pytest.mark.parametrize("call", ["default('Linear')", "trunc_normal_(std=0.02)", "he_uniform()",
                                  "RandomNormal(stddev=0.02)", "xavier_normal_(gain=2)"])
def test_check_with_init_passes_its_own_law(runner: CliRunner, call: str) -> None:
    code, out, err = run(runner, "check", "--shape", "256,128", "--init", call, "-f", "json")
    assert code == 0, err
    assert json.loads(out)["init"] is not None


def test_check_orthogonal_runs_the_structured_test(runner: CliRunner) -> None:
    code, out, _ = run(runner, "check", "--shape", "64,64", "--init", "orthogonal_()", "-f", "json")
    names = [t["name"] for t in json.loads(out)["tests"]]
    assert code == 0 and "orthogonal" in names


def test_verify_orthogonal_with_the_wrong_gain_fails(runner: CliRunner, tmp_path: Path) -> None:
    w = torch.empty(64, 32)
    torch.nn.init.orthogonal_(w, gain=1.0, generator=torch.Generator().manual_seed(0))
    path = _save(tmp_path / "w.safetensors", {"w": w})
    assert run(runner, "verify", path, "--init", "orthogonal_()", "--no-config")[0] == 0
    assert run(runner, "verify", path, "--init", "orthogonal_(gain=1.01)", "--no-config")[0] == 1


def _save(path: Path, tensors: dict[str, torch.Tensor]) -> str:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return str(path)


@pytest.fixture()
def model_file(tmp_path: Path) -> str:
    """A small model as torch builds it: Linear defaults, a BERT-like N(0, 0.02) weight, an embedding, zero bias."""
    torch.manual_seed(0)
    fc = torch.nn.Linear(256, 512)
    bert = torch.empty(512, 512).normal_(std=0.02)
    emb = torch.nn.Embedding(1000, 64).weight.detach()
    return _save(tmp_path / "m.safetensors", {"fc.weight": fc.weight.detach(), "fc.bias": fc.bias.detach(),
                                              "attn.weight": bert, "attn.bias": torch.zeros(512), "emb.weight": emb})


def _rules(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return str(path)


RULES = """
[[rule]]
match = "fc.weight"
init = "default('Linear')"
[[rule]]
match = "fc.bias"
init = "default('Linear')"
fan_in = 256
[[rule]]
match = "attn.weight"
init = "nn.init.normal_(module.weight, mean=0.0, std=0.02)"
[[rule]]
match = "attn.bias"
init = "zeros_"
[[rule]]
match = "emb.weight"
init = "default('Embedding')"
"""


def test_verify_with_init_rules_passes_and_catches_a_wrong_std(runner: CliRunner, model_file: str,
                                                               tmp_path: Path) -> None:
    code, out, err = run(runner, "verify", model_file, "--rules", _rules(tmp_path, RULES), "-f", "json")
    doc = json.loads(out)
    assert code == 0, err
    assert {t["name"]: t["status"] for t in doc["tensors"]} == dict.fromkeys(
        ["fc.weight", "fc.bias", "attn.weight", "attn.bias", "emb.weight"], "pass")
    wrong = RULES.replace("std=0.02", "std=0.025")
    code, out, _ = run(runner, "verify", model_file, "--rules", _rules(tmp_path, wrong), "-f", "json")
    statuses = {t["name"]: t["status"] for t in json.loads(out)["tensors"]}
    assert code == 1 and statuses["attn.weight"] == "fail"
    assert [n for n, s in statuses.items() if s == "fail"] == ["attn.weight"]


def test_verify_command_line_init(runner: CliRunner, model_file: str) -> None:
    code, out, _ = run(runner, "verify", model_file, "--tensor", "attn.weight", "--init", "normal_(std=0.02)",
                       "--no-config", "-f", "json")
    assert code == 0 and json.loads(out)["tensors"][0]["expected"]["init"] == "torch.nn.init.normal_(std=0.02)"


@pytest.mark.parametrize("rule,message", [
    ('init = "eval(1)"', "rule 1: `init`"),
    ('init = 3', "rule 1: `init`"),
    ('init = "zeros_"\nmode = "fan_out"', "conflict"),
    ('init = "kaiming_normal_()"\nfan_in = 0', "fan_in"),
    ('init = "kaiming_normal_()"\nfan_out = true', "fan_out"),
])
def test_bad_init_rules_are_exit_3_naming_the_rule(runner: CliRunner, model_file: str, tmp_path: Path, rule: str,
                                                    message: str) -> None:
    rules = _rules(tmp_path, f'[[rule]]\nmatch = "*"\n{rule}\n')
    code, _, err = run(runner, "verify", model_file, "--rules", rules)
    assert code == 3 and message in err and "Traceback" not in err


def test_rule_with_a_mode_does_not_inherit_the_command_line_init(runner: CliRunner, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "w.npy"
    np.save(path, (rng.standard_normal((256, 128)) * math.sqrt(2 / 128)).astype(np.float32))
    rules = _rules(tmp_path, '[[rule]]\nmatch = "*"\nnonlinearity = "relu"\n')
    code, _, err = run(runner, "verify", str(path), "--rules", rules, "--init", "zeros_")
    assert code == 0, err


def test_api_takes_init() -> None:
    from kaiming_cli import assert_init, verify_tensor

    torch.manual_seed(0)
    w = torch.empty(768, 768)
    torch.nn.init.trunc_normal_(w, std=0.02)
    assert verify_tensor(w, init="trunc_normal_(std=0.02)").status == "pass"
    assert verify_tensor(w, init="trunc_normal_(std=0.022)").status == "fail"
    layer = torch.nn.Linear(300, 200)
    assert_init(layer.weight, init="default('Linear')")
    assert_init(layer.bias, init="default('Linear')", fan_in=300)
    with pytest.raises(ValueError, match="conflict"):
        verify_tensor(w, init="zeros_", mode="fan_out")
    with pytest.raises(ValueError, match="eval"):
        verify_tensor(w, init="eval('1')")


def test_command_line_init_covers_1d_tensors_only_when_it_can(runner: CliRunner, model_file: str) -> None:
    """`--init` on the command line reaches a bias when the call needs no further fan (or --fan-in is given);
    otherwise biases stay skipped, as with the mode options."""
    code, out, _ = run(runner, "verify", model_file, "--tensor", "fc.*", "--init", "default('Linear')",
                       "--no-config", "-f", "json")
    assert code == 0
    assert {t["name"]: t["status"] for t in json.loads(out)["tensors"]} == {"fc.weight": "pass", "fc.bias": "skip"}
    code, out, _ = run(runner, "verify", model_file, "--tensor", "fc.bias", "--init", "default('Linear')",
                       "--fan-in", "256", "--no-config", "-f", "json")
    assert code == 0 and json.loads(out)["tensors"][0]["status"] == "pass"
    code, out, _ = run(runner, "verify", model_file, "--tensor", "fc.bias", "--init", "default('Linear')",
                       "--fan-in", "64", "--no-config", "-f", "json")
    assert code == 1 and json.loads(out)["tensors"][0]["status"] == "fail"  # a wrong fan: bound 1/8, not 1/16
