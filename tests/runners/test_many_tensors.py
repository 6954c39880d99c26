"""A checkpoint of many small tensors (issue 25) is reported exactly as if each tensor were tested on its own.

The many-tensor path shares work across tensors (forked workers that take tensors in batches, per-law caches of
the shape test's bins and cell-to-bin maps, identify's candidates per shape and laws per std, seeds and generators
made only for the tensors that need them); none of it may change a tensor's result. Each tensor's report from the
whole-file run is compared with a run on that tensor alone (``--tensor NAME``) with every cache emptied first
(``cold``), as a fresh process would start: its summary, every test's statistic and p-value, its combined
p-value, its identified law. Only what is across tensors by definition (the Holm-adjusted p-value, and so the
final status) is left out.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shapes and dtypes that take different branches: tiny and small matrices (grouped by shape), a tensor
    over the 1e5-value subsample, a conv kernel, float16 (dequantized) and float64, constants, a 1-D tensor,
    an integer scalar; and a few that break their law (a wrong std, a uniform law), so that failures count."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(25)

    def normal(shape: tuple[int, ...], fan_in: int, dtype: Any = np.float32, scale: float = 1.0) -> np.ndarray:
        return (rng.standard_normal(shape) * scale * np.sqrt(2 / fan_in)).astype(dtype)

    tensors: dict[str, np.ndarray] = {}
    for i in range(10):
        tensors[f"tiny.{i}.weight"] = normal((16, 16), 16)
    for i in range(6):
        tensors[f"small.{i}.weight"] = normal((64, 32), 32)
    tensors["small.wrong.weight"] = normal((64, 32), 32, scale=1.3)
    tensors["small.uniform.weight"] = rng.uniform(-0.3, 0.3, (64, 32)).astype(np.float32)
    tensors["big.weight"] = normal((400, 300), 300)
    tensors["conv.weight"] = normal((8, 4, 3, 3), 36)
    tensors["half.weight"] = normal((48, 48), 48, np.float16)
    tensors["double.weight"] = normal((32, 20), 20, np.float64)
    tensors["zeros.weight"] = np.zeros((16, 8), np.float32)
    tensors["norm.scale"] = np.ones(16, np.float32)
    tensors["steps"] = np.array(3, dtype=np.int64)
    tensors["tiny.wrong.weight"] = normal((16, 16), 16, scale=3.0)  # fails among passing tensors of its shape
    nan = normal((64, 32), 32)
    nan[5, 7] = np.nan
    tensors["small.nan.weight"] = nan
    path = tmp_path_factory.mktemp("many") / "mixed.safetensors"
    save_file(tensors, str(path))
    bf16 = (normal((64, 32), 32).view(np.uint32) + 0x8000) >> 16  # rounded to the nearest bf16 (ties away)
    with_bf16(path, "small.bf16.weight", bf16.astype(np.uint16))
    return path


def with_bf16(path: Path, name: str, bits: np.ndarray) -> None:
    """Append a BF16 tensor (its 16-bit patterns) to a safetensors file (numpy has no bfloat16 to save): the
    format is an 8-byte little-endian header length, the JSON header, then the data (offsets from its start)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    data = raw[8 + size:]
    header[name] = {"dtype": "BF16", "shape": list(bits.shape), "data_offsets": [len(data), len(data) + bits.nbytes]}
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data + bits.astype("<u2").tobytes())


def cold() -> None:
    """Empty every ``functools`` cache of kaiming's modules: the next run starts as a fresh process would."""
    for name, module in list(sys.modules.items()):
        if name.startswith("kaiming_cli"):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def report(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "-f", "json"])
    assert result.exit_code in (0, 1), result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


ACROSS_TENSORS = ("pvalue_adjusted", "status", "reason")


def own(tensor: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tensor.items() if k not in ACROSS_TENSORS}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_verify_of_many_tensors_equals_each_tensor_alone(mixed: Path, jobs: str) -> None:
    base = ["verify", str(mixed), "--mode", "fan_in", "--nonlinearity", "relu", "--no-config"]
    whole = report([*base, "--jobs", jobs])
    tensors = whole["tensors"]
    assert len(tensors) == 28
    statuses = {t["name"]: t["status"] for t in tensors}
    assert statuses["small.wrong.weight"] == statuses["small.uniform.weight"] == statuses["tiny.wrong.weight"] \
        == "fail"
    assert statuses["small.nan.weight"] == "uninitialized"  # a NaN among values that vary: torch.empty memory
    assert statuses["tiny.0.weight"] == statuses["small.bf16.weight"] == "pass" and statuses["steps"] == "skip"
    for t in tensors:
        cold()
        alone = report([*base, "--tensor", t["name"], "--jobs", "1"])["tensors"]
        assert len(alone) == 1
        assert own(alone[0]) == own(t), t["name"]
        if t["status"] in ("pass", "fail") and alone[0]["status"] in ("pass", "fail"):
            assert alone[0]["pvalue"] == t["pvalue"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_identify_of_many_tensors_equals_each_tensor_alone(mixed: Path, jobs: str) -> None:
    whole = report(["identify", str(mixed), "--jobs", jobs])
    tensors = whole["tensors"]
    assert len(tensors) == 28
    by_name = {t["name"]: t for t in tensors}
    assert by_name["zeros.weight"]["verdict"] == "zeros_"
    assert by_name["small.bf16.weight"]["dtype"] == "bfloat16"
    for name, t in by_name.items():
        cold()
        alone = report(["identify", str(mixed), "--tensor", name, "--jobs", "1"])["tensors"]
        assert alone == [t], name
