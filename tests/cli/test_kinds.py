"""A ViT's ``cls_token`` (1×1×D) and ``pos_embed`` (1×N×D) are embeddings, not conv weights, in the report's
group lines (issue 24), though they have three dimensions; a real conv kernel stays a conv weight."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.runners.identify import IdentifyResult
from tests.hostile.cases_pointers import _safetensors


def _vit_like(path: Path) -> None:
    rng = np.random.default_rng(0)
    # timm's trunc_normal_(std=.02) cuts at a=-2, b=2 in absolute units: 100 sigma, so a plain N(0, 0.02)
    trunc = lambda shape: rng.standard_normal(shape) * 0.02  # noqa: E731
    conv = rng.standard_normal((64, 3, 4, 4)) * math.sqrt(2 / (64 * 16))  # kaiming_normal_(fan_out, relu)
    _safetensors_file = _safetensors({"cls_token": trunc((1, 1, 4096)), "pos_embed": trunc((1, 17, 64)),
                                      "patch_embed.proj.weight": conv})
    path.write_bytes(_safetensors_file)


def test_tokens_and_position_tables_are_embeddings_in_the_group_lines(tmp_path: Path) -> None:
    _vit_like(tmp_path / "vit.safetensors")
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nmatch = "*_token"\ninit = "trunc_normal_(std=0.02)"\n'
        '[[rule]]\nmatch = "pos_embed"\ninit = "trunc_normal_(std=0.02)"\n'
        '[[rule]]\nmatch = "*"\nmode = "fan_out"\nnonlinearity = "relu"\n')
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "vit.safetensors"), "--rules",
                                      str(tmp_path / "rules.toml"), "--no-config"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "2 embeddings pass" in result.stdout and "1 conv weight passes" in result.stdout
    assert "3 conv weights" not in result.stdout


def test_the_kind_follows_the_name_only_where_it_says_embedding() -> None:
    kinds = {name: IdentifyResult(file="f", name=name, shape=shape, dtype="float32", verdict="unknown",
                                   layout="torch").kind()
             for name, shape in [("cls_token", (1, 1, 768)), ("pos_embed", (1, 197, 768)),
                                 ("encoder.pos_embedding", (1, 197, 768)), ("conv1.weight", (64, 3, 7, 7)),
                                 ("fc.weight", (10, 64)), ("fc.bias", (10,))]}
    assert kinds == {"cls_token": "embedding", "pos_embed": "embedding", "encoder.pos_embedding": "embedding",
                     "conv1.weight": "conv weight", "fc.weight": "linear weight", "fc.bias": "vector"}
