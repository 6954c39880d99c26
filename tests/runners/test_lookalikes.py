"""`kaiming identify` on look-alikes of real models (tests/lookalikes.py cites the init code each reproduces): every
tensor's true law is the verdict or listed as indistinguishable, and no fresh model is called trained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from tests.lookalikes import MODELS, truth_for  # noqa: E402


def save(state: dict[str, Any], path: Path) -> Path:
    safetensors_torch.save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def identify_json(path: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["identify", str(path), "-f", "json", *extra])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def named(t: dict[str, Any]) -> set[str]:
    """Every name the output gives this tensor's law: the verdict, its call, what it cannot be told from."""
    names = {t["verdict"], t["init"], *t["indistinguishable"]}
    names |= {c["init"] for c in t["candidates"] if c["label"] in names}
    return {n for n in names if n}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_identify_names_the_true_law(model: str, tmp_path: Path) -> None:
    state, truths = MODELS[model](0)
    doc = identify_json(save(state, tmp_path / f"{model}.safetensors"))
    assert len(doc["tensors"]) == len(state)
    for t in doc["tensors"]:
        truth = truth_for(truths, t["name"])
        assert t["verdict"] != "unknown", (t["name"], t["reason"])
        assert "trained" not in t["reason"], (t["name"], t["reason"])
        assert truth & named(t), (t["name"], t["verdict"], t["indistinguishable"][:8])
        assert "among the listed candidates" in t["confidence_scope"]


def test_gpt2_residual_projection_is_named_with_its_layer_count(tmp_path: Path) -> None:
    state, _ = MODELS["gpt2"](1)
    doc = identify_json(save(state, tmp_path / "gpt2.safetensors"), "--tensor", "h.0.mlp.c_proj.weight")
    (t,) = doc["tensors"]
    assert t["verdict"] == "normal_(std=0.02/sqrt(2*4))"
    low, high = t["law"]["std_ci"]
    assert low < 0.02 / 8**0.5 < high and t["law"]["distribution"] == "normal"


def test_gan_slope_is_the_verdict_not_unknown(tmp_path: Path) -> None:
    state, _ = MODELS["gan"](2)
    doc = identify_json(save(state, tmp_path / "gan.safetensors"), "--tensor", "4.weight")
    (t,) = doc["tensors"]
    assert t["verdict"] == "kaiming_normal_(a=0.2, mode='fan_in', nonlinearity='leaky_relu')", t["reason"]
