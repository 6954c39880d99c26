"""The statistics commands collect cyclic garbage less often (cli/warmup.py ``fewer_collections``, issue 25); the
lookups keep the interpreter's setting."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.cli.warmup import GC_YOUNG_THRESHOLD


@pytest.fixture()
def default_threshold() -> Iterator[tuple[int, ...]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_verify_and_identify_raise_the_young_threshold(tmp_path: Path, default_threshold: tuple[int, ...]) -> None:
    from safetensors.numpy import save_file

    path = str(tmp_path / "m.safetensors")
    save_file({"w": (np.random.default_rng(0).standard_normal((16, 16)) * 0.25).astype(np.float32)}, path)
    for args in (["verify", path, "--no-config", "--init", "normal_(std=0.25)"], ["identify", path, "-f", "json"]):
        gc.set_threshold(*default_threshold)
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)


def test_a_lookup_keeps_the_interpreters_setting(default_threshold: tuple[int, ...]) -> None:
    assert CliRunner().invoke(cli, ["std", "--shape", "64,64"]).exit_code == 0
    assert gc.get_threshold() == default_threshold
