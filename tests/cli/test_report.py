"""The report on a real model (issue 24): failures first, any width with nothing cut, and a FAIL that says what the
tensor looks like. A torchvision resnet18 look-alike with BERT-style names (tests/report_model.py) and a copy with
three broken layers; every command runs in a subprocess with ``COLUMNS`` set, as in a CI log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.columns import kaiming, tokens
from tests.report_model import BERT, BROKEN, save

WIDTHS = [60, 80, 100, 120, 150, 200]



@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report")
    save(path)
    save(path, broken=True)
    made = kaiming(["identify", "model.safetensors", "-f", "rules", "-o", "rules.toml"], path)
    assert made.returncode == 0, made.stderr
    return path



def fits(text: str, width: int) -> None:
    widest = max((len(line) for line in text.splitlines()), default=0)
    assert widest <= width, f"{widest} > {width}:\n{text}"


def test_the_model_passes_its_own_rules_and_the_broken_copy_fails_exactly_the_three(folder: Path) -> None:
    assert kaiming(["verify", "model.safetensors", "--rules", "rules.toml"], folder).returncode == 0
    doc = json.loads(kaiming(["verify", "broken.safetensors", "--rules", "rules.toml", "-f", "json"], folder).stdout)
    assert {t["name"] for t in doc["tensors"] if t["status"] == "fail"} == set(BROKEN)


def test_failures_first_then_one_line_per_group(folder: Path) -> None:
    out = kaiming(["verify", "broken.safetensors", "--rules", "rules.toml"], folder, 200)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert all(name in tokens(out.stdout) for name in BROKEN)
    assert "layer1.0.conv1.weight" not in tokens(out.stdout)  # a passing tensor is not listed ...
    group = re.compile(r"\d+ conv weights pass \(.*kaiming_normal_.*\).*")
    assert any(group.fullmatch(line) for line in lines)  # ... but counted in its group's line
    assert len(lines) < 40, out.stdout  # 65 tensors used to take over 130 lines
    detail = kaiming(["verify", "broken.safetensors", "--rules", "rules.toml", "--detail"], folder, 200)
    assert "layer1.0.conv1.weight" in tokens(detail.stdout)
    first = min(detail.stdout.index(n) for n in BROKEN)
    assert first < detail.stdout.index("layer1.0.conv1.weight")  # --detail lists every tensor, failures first


def test_quiet_prints_the_failing_names_and_the_summary(folder: Path) -> None:
    out = kaiming(["verify", "broken.safetensors", "--rules", "rules.toml", "-q"], folder)
    assert out.returncode == 1
    assert sorted(out.stdout.split()) == sorted(BROKEN)
    assert [line[:6] for line in out.stderr.strip().splitlines()] == ["FAIL: "]


def test_markdown_and_junit_put_failures_first(folder: Path) -> None:
    md = kaiming(["verify", "broken.safetensors", "--rules", "rules.toml", "-f", "markdown"], folder).stdout
    details = md.index("<details>")
    assert all(md.index(f"`{name}`") < details for name in BROKEN)
    assert md.index("`layer1.0.conv1.weight`") > details and md.rstrip().endswith("</details>")
    junit = kaiming(["verify", "broken.safetensors", "--rules", "rules.toml", "-f", "junit"], folder).stdout
    cases = re.findall(r'<testcase classname="[^"]*" name="([^"]*)">\s*(<failure)?', junit)
    assert [bool(f) for _, f in cases[:3]] == [True] * 3 and not any(f for _, f in cases[3:])


def test_every_fail_says_what_the_tensor_looks_like(folder: Path) -> None:
    """The three kinds of break, each named as the user would write it, with the ratio of its std to the expected
    one: sqrt(fan_out/fan_in) = sqrt(2) for the swap; 0.02 / sqrt(2/fan_out) for the fixed std; and nn.Conv2d's
    default, uniform with bound 1/sqrt(fan_in), std 1/sqrt(3 fan_in) against sqrt(2/fan_out)."""
    doc = json.loads(kaiming(["verify", "broken.safetensors", "--rules", "rules.toml", "-f", "json"], folder).stdout)
    seen = {t["name"]: t for t in doc["tensors"] if t["status"] == "fail"}
    swap = seen["layer2.0.conv1.weight"]["looks_like"]
    assert swap["call"] == "kaiming_normal_(mode='fan_in', nonlinearity='relu')"
    assert swap["change"] == "a fan_in/fan_out swap" and swap["std_ratio"] == pytest.approx(2 ** 0.5)
    fixed = seen["layer3.1.conv2.weight"]["looks_like"]
    assert fixed["call"] == "normal_(std=0.02)"
    assert fixed["std_ratio"] == pytest.approx(0.02 / (2 / (64 * 9)) ** 0.5)
    default = seen["layer4.0.conv1.weight"]["looks_like"]
    assert default["change"] == "PyTorch's Conv2d default"
    assert default["std_ratio"] == pytest.approx((1 / (3 * 64 * 9)) ** 0.5 / (2 / (128 * 9)) ** 0.5)
    reason = seen["layer4.0.conv1.weight"]["reason"]
    assert reason.startswith("looks like")  # a structure reason, if any, comes after the std's
    assert "rows are far more alike" not in reason[:reason.index("std/std0")]
    assert all(t["looks_like"] is None for t in doc["tensors"] if t["status"] != "fail")


@pytest.mark.parametrize("width", WIDTHS)
def test_verify_at_every_width(folder: Path, width: int) -> None:
    out = kaiming(["verify", "broken.safetensors", "--rules", "rules.toml"], folder, width)
    assert out.returncode == 1
    fits(out.stdout, width)
    toks = tokens(out.stdout)
    assert all(name in toks for name in BROKEN)  # a failing tensor's name is always whole
    assert "FAIL" in toks  # the status is never cut to `FA…`
    assert not any(line != line.rstrip() for line in out.stdout.splitlines())  # no padding in a pipe
    # the table (not only the reason lines under it) says what each failing tensor looks like, with the std ratio
    # of that law to the expected one: sqrt(2) for the swap, 0.02 / sqrt(2/fan_out), 1/sqrt(3 fan_in) / sqrt(2/fan_out)
    table = tokens(out.stdout[:out.stdout.index("vectors pass")])
    ratios = [2 ** 0.5, 0.02 / (2 / (64 * 9)) ** 0.5, (1 / (3 * 64 * 9)) ** 0.5 / (2 / (128 * 9)) ** 0.5]
    assert all(f"{r:.3g}x)" in table for r in ratios), out.stdout
    detail = kaiming(["verify", "broken.safetensors", "--rules", "rules.toml", "--detail"], folder, width)
    fits(detail.stdout, width)
    if width >= 100:
        assert all(name in tokens(detail.stdout) for name in BERT)


@pytest.mark.parametrize("width", WIDTHS)
def test_identify_at_every_width(folder: Path, width: int) -> None:
    out = kaiming(["identify", "broken.safetensors"], folder, width)
    fits(out.stdout, width)
    toks = tokens(out.stdout)
    doc = json.loads(kaiming(["identify", "broken.safetensors", "-f", "json"], folder, width).stdout)
    for t in doc["tensors"]:
        assert t["name"] in toks, (t["name"], out.stdout)  # names are never cut
    assert not any(re.fullmatch(r"\w+…|…\w+|con…|confi…", tok) for tok in toks), out.stdout
    head = out.stdout[:out.stdout.index("layer1.0.conv1.weight")]
    assert all(name in head for name in BROKEN)  # the odd ones out come first


def test_a_square_conv_is_named_as_torchvision_names_it(folder: Path) -> None:
    """Issue 24: a square conv (fan_in = fan_out) has exact aliases; its verdict is the form the file's other convs
    got (torchvision's mode='fan_out'), in the table and in JSON, with the whole class's confidence."""
    doc = json.loads(kaiming(["identify", "model.safetensors", "-f", "json"], folder).stdout)
    by = {t["name"]: t for t in doc["tensors"]}
    fan_out, fan_in = ("kaiming_normal_(mode='fan_out', nonlinearity='relu')",
                       "kaiming_normal_(mode='fan_in', nonlinearity='relu')")
    for name in ("layer1.0.conv1.weight", "layer2.1.conv2.weight", "layer4.1.conv1.weight"):
        t = by[name]
        assert t["shape"][0] == t["shape"][1]  # square fans
        assert t["verdict"] == fan_out and t["init"] == fan_out and fan_in in t["exact_aliases"], t
        assert t["confidence"] > 0.9, (name, t["confidence"])


def test_identify_rules_fail_a_tensor_added_later(folder: Path) -> None:
    """``identify -f rules`` writes ``unlisted = "fail"`` after its globs: a layer added later with another law fails,
    on the broad ``*.weight`` fallback (the law the model's weights follow) or, when no glob names it at all, as
    unlisted until a rule covers it; ``--unlisted skip`` (or the key set to "skip") lets the unnamed one pass."""
    import torch
    from safetensors.torch import save_file

    from tests.report_model import build

    state = build()
    state["head.proj.weight"] = torch.randn(10, 10) * 0.1
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "added.safetensors"))
    assert 'unlisted = "fail"' in (folder / "rules.toml").read_text()
    out = kaiming(["verify", "added.safetensors", "--rules", "rules.toml", "-q"], folder)
    assert out.returncode == 1 and out.stdout.split() == ["head.proj.weight"]
    state = build()
    state["logit_scale"] = torch.full((1,), 2.6592)  # CLIP's; no glob of the file names it
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "unnamed.safetensors"))
    out = kaiming(["verify", "unnamed.safetensors", "--rules", "rules.toml", "-q"], folder)
    assert out.returncode == 1 and out.stdout.split() == ["logit_scale"]
    assert kaiming(["verify", "unnamed.safetensors", "--rules", "rules.toml", "--unlisted", "skip"],
                   folder).returncode == 0


def test_a_misspelt_rules_key_gets_a_did_you_mean(folder: Path) -> None:
    (folder / "typo.toml").write_text('[[rule]]\nmatch = "*"\nmodes = "fan_in"\n')
    out = kaiming(["verify", "model.safetensors", "--rules", "typo.toml"], folder)
    assert out.returncode == 3 and "unknown key 'modes' (did you mean 'mode'?)" in out.stderr
    (folder / "typo2.toml").write_text('unlisteed = "fail"\n[[rule]]\nmatch = "*"\nskip = true\n')
    out = kaiming(["verify", "model.safetensors", "--rules", "typo2.toml"], folder)
    assert out.returncode == 3 and "(did you mean 'unlisted'?)" in out.stderr


def test_a_missing_only_input_is_one_short_line(folder: Path) -> None:
    out = kaiming(["verify", "nothere.safetensors", "--rules", "rules.toml"], folder)
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert out.returncode == 3 and len(lines) == 1 and len(lines[0]) < 120, lines
    assert "nothere.safetensors does not exist" in lines[0] and "matched no tensor" not in lines[0]


def test_tensor_does_not_make_the_other_rules_unmatched(folder: Path) -> None:
    out = kaiming(["verify", "model.safetensors", "--rules", "rules.toml", "--tensor", "conv1.weight"], folder)
    assert out.returncode == 0 and "matched no tensor" not in out.stderr
    out = kaiming(["verify", "model.safetensors", "--rules", "rules.toml", "--tensor", "conv1.weight",
                   "--tensor", "nope*"], folder)
    assert "--tensor 'nope*' matched no tensor" in out.stderr and "rule 1" not in out.stderr


def test_plot_says_where_and_plots_only_failing_tensors(folder: Path) -> None:
    pytest.importorskip("matplotlib")
    out = kaiming(["verify", "broken.safetensors", "--rules", "rules.toml", "-q", "--plot", "fails.png"], folder)
    assert (folder / "fails.png").exists()
    assert f"wrote {folder / 'fails.png'} (the 3 failing tensors)" in out.stderr
    out = kaiming(["verify", "model.safetensors", "--rules", "rules.toml", "-q", "--plot", "none.png"], folder)
    assert out.returncode == 0 and not (folder / "none.png").exists()
    assert "no tensor failed, nothing to plot (none.png not written)" in out.stderr


@pytest.mark.parametrize(("shape", "hinted"), [("3,3,64,128", True), ("5,32,64", True), ("64,3,3,3", False),
                                               ("128,64,3,3", False)])
def test_std_hints_at_a_keras_kernel(tmp_path: Path, shape: str, hinted: bool) -> None:
    out = kaiming(["std", "--shape", shape], tmp_path)
    assert out.returncode == 0 and ("looks like a Keras/JAX kernel" in out.stderr) is hinted
    given = kaiming(["std", "--shape", shape, "--layout", "keras"], tmp_path)
    assert "looks like a Keras/JAX kernel" not in given.stderr


def first_rule(rules: list[dict[str, object]], name: str) -> dict[str, object]:
    import fnmatch

    return next(r for r in rules if fnmatch.fnmatchcase(name, str(r["match"])))


def test_identify_rules_are_a_few_globs_in_the_libraries_form(folder: Path) -> None:
    """torchvision writes mode='fan_out' for every conv; a square conv (fan_in = fan_out) cannot tell the two
    apart, and is written as the rest are. One glob per layer kind and law, in first-match order (the specific
    exceptions first, then broad fallbacks), not a rule per tensor (35 before, 14 with per-group globs)."""
    import tomllib

    doc = tomllib.loads((folder / "rules.toml").read_text())
    rules = doc["rule"]
    from tests.report_model import build

    for name in build():
        if ("conv" in name or "downsample.0" in name) and name.endswith("weight"):
            assert first_rule(rules, name)["init"] == "kaiming_normal_(mode='fan_out', nonlinearity='relu')", name
    assert len(rules) <= 12, [r["match"] for r in rules]
    assert doc["unlisted"] == "fail"


def test_the_real_resnet18_names_make_a_few_rules_that_round_trip(tmp_path: Path) -> None:
    """The real resnet18's 122 state_dict names (BatchNorm buffers included; channels divided by 4): about 10 rules
    that the model passes, the broken copy fails on exactly its three breaks, and a tensor added later fails."""
    import tomllib
    import torch
    from safetensors.torch import save_file

    from tests.report_model import build

    assert len(build(bert=False, running=True)) == 122
    save(tmp_path, "r18", bert=False, running=True)
    save(tmp_path, "r18", bert=False, running=True, broken=True)
    made = kaiming(["identify", "r18model.safetensors", "-f", "rules", "-o", "r18.toml"], tmp_path)
    assert made.returncode == 0, made.stderr
    rules = tomllib.loads((tmp_path / "r18.toml").read_text())["rule"]
    assert len(rules) <= 12, [r["match"] for r in rules]
    assert kaiming(["verify", "r18model.safetensors", "--rules", "r18.toml"], tmp_path).returncode == 0
    doc = json.loads(kaiming(["verify", "r18broken.safetensors", "--rules", "r18.toml", "-f", "json"],
                             tmp_path).stdout)
    assert {t["name"] for t in doc["tensors"] if t["status"] == "fail"} == set(BROKEN)
    state = build(bert=False, running=True)
    state["head.proj.weight"] = torch.randn(10, 10) * 0.1
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "added.safetensors"))
    out = kaiming(["verify", "added.safetensors", "--rules", "r18.toml", "-q"], tmp_path)
    assert out.returncode == 1 and out.stdout.split() == ["head.proj.weight"]


@pytest.mark.parametrize("width", WIDTHS)
def test_audit_at_every_width(tmp_path: Path, width: int) -> None:
    pytest.importorskip("torch")
    models = Path(__file__).resolve().parents[1] / "audit_models.py"
    out = kaiming(["audit", f"{models}:TinyViT", "--exit-zero"], tmp_path, width)
    doc = json.loads(kaiming(["audit", f"{models}:TinyViT", "-f", "json", "--exit-zero"], tmp_path, width).stdout)
    assert out.returncode == 0
    fits(out.stdout, width)
    toks = tokens(out.stdout)
    flagged = [w["name"] for w in doc["weights"] if w["verdict"] == "different"]
    assert flagged and any(name in toks for name in flagged)  # groups show their first name, whole
    assert not any("…" in tok for tok in toks), out.stdout
