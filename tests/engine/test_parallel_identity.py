"""``--jobs`` changes the speed only: a tensor of several chunks summarized by one thread or by two (chunks in
parallel threads, every collector fed out of order), and several tensors in one process or in forked workers,
give byte-identical reports. Each case spans more than one chunk (2^20 values) with an odd tail, so that the
merge order of chunk summaries, row/column sums of squares, rounding-cell counts and subsample parts is really
exercised."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.engine.stream import CHUNK


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(11)
    rows = 2 * CHUNK // 1000 + 7  # 2 chunks and a bit: 3 chunks, the last one short
    tensors = {"big.weight": (rng.standard_normal((rows, 1000)) * np.sqrt(2 / 1000)).astype(np.float32),
               "mid.weight": (rng.standard_normal((700, 1500)) * np.sqrt(2 / 1500)).astype(np.float32),
               "small.weight": (rng.standard_normal((64, 3, 3, 3)) * np.sqrt(2 / 27)).astype(np.float32)}
    path = tmp_path_factory.mktemp("parallel") / "model.safetensors"
    save_file(tensors, str(path))
    return path


def report(args: list[str]) -> dict[str, object]:
    result = CliRunner().invoke(cli, [*args, "-f", "json"])
    assert result.exit_code in (0, 1), result.output
    doc: dict[str, object] = json.loads(result.stdout)
    return doc


@pytest.mark.parametrize("command", [["verify", "--nonlinearity", "relu", "--no-config"], ["identify"]])
def test_one_tensor_and_many_tensors_do_not_depend_on_jobs(checkpoint: Path, command: list[str]) -> None:
    name, *options = command
    base = [name, str(checkpoint), *options]
    one = report([*base, "--jobs", "1"])
    assert report([*base, "--jobs", "2"]) == one  # several tensors: forked workers
    for tensor in ("big.weight", "mid.weight"):  # one tensor: its chunks on two threads
        glob = ["--tensor", tensor]
        assert report([*base, *glob, "--jobs", "2"]) == report([*base, *glob, "--jobs", "1"])


def test_the_big_tensor_really_spans_several_chunks_and_runs_the_structure_tests(checkpoint: Path) -> None:
    doc = report(["verify", str(checkpoint), "--nonlinearity", "relu", "--no-config", "--tensor", "big.weight"])
    tensors = doc["tensors"]
    assert isinstance(tensors, list) and len(tensors) == 1
    big = tensors[0]
    assert big["empirical"]["n"] > 2 * CHUNK
    assert {"shape", "rows", "cols", "spectrum"} <= {t["name"] for t in big["tests"]}
