"""``read_rows`` (engine/grouped.py) reads a batch of small tensors through one descriptor per file (issue 25).
The rows must be the values each tensor's own opener gives, and what fails to read must be marked unread, as when
each tensor opened the file itself."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kaiming_cli.engine.grouped as grouped
from kaiming_cli.io.readers import read_path
from kaiming_cli.io.sources import TensorSource, memory_opener


@pytest.fixture()
def checkpoint(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """float32, float64, float16 and bf16 tensors (bf16 stored as its uint16 bits), written out by hand."""
    rng = np.random.default_rng(3)
    tensors = {f"f32.{i}": rng.standard_normal((8, 4)).astype(np.float32) for i in range(5)}
    tensors |= {f"f64.{i}": rng.standard_normal((8, 4)) for i in range(3)}
    tensors |= {f"f16.{i}": rng.standard_normal((8, 4)).astype(np.float16) for i in range(3)}
    tensors |= {f"bf16.{i}": rng.integers(0x3000, 0x4000, (8, 4)).astype(np.uint16) for i in range(3)}
    codes = {"f32": "F32", "f64": "F64", "f16": "F16", "bf16": "BF16"}
    header, data = {}, b""
    for name, value in tensors.items():
        header[name] = {"dtype": codes[name.split(".")[0]], "shape": list(value.shape),
                        "data_offsets": [len(data), len(data) + value.nbytes]}
        data += value.astype(value.dtype.newbyteorder("<")).tobytes()
    raw = json.dumps(header).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path, tensors


def expected(name: str, stored: np.ndarray) -> np.ndarray:
    """The decoded values, written out: bf16 is the top half of a float32, float16 widens to float32."""
    if name.startswith("bf16"):
        return (stored.astype(np.uint32) << 16).view(np.float32).ravel()
    if name.startswith("f16"):
        return stored.astype(np.float32).ravel()
    return stored.ravel()


def batches(path: Path) -> dict[str, list[TensorSource]]:
    out: dict[str, list[TensorSource]] = {}
    for source in read_path(str(path)):
        out.setdefault(source.name.split(".")[0], []).append(source)
    return out


def test_rows_are_each_tensors_values_through_one_descriptor(checkpoint: tuple[Path, dict[str, np.ndarray]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path, tensors = checkpoint
    opened: list[Any] = []
    real = grouped.open_vetted

    def counting(f: Any) -> int:
        opened.append(f)
        return real(f)

    monkeypatch.setattr(grouped, "open_vetted", counting)
    before = len(os.listdir("/proc/self/fd"))
    for kind, sources in batches(path).items():
        rows, read = grouped.read_rows(sources)
        assert read == [True] * len(sources)
        assert rows.dtype == (np.float64 if kind == "f64" else np.float32)
        for row, source in zip(rows, sources, strict=True):
            np.testing.assert_array_equal(row, expected(source.name, tensors[source.name]))
    assert len(opened) == 4  # one per batch, not one per tensor
    assert len(os.listdir("/proc/self/fd")) == before  # and closed


def test_a_truncated_file_leaves_the_rows_past_its_end_unread(checkpoint: tuple[Path, dict[str, np.ndarray]]
                                                              ) -> None:
    path, tensors = checkpoint
    sources = batches(path)["f32"]
    cut = sources[2].extent.start + 4  # type: ignore[union-attr]  # inside the third tensor
    with open(path, "r+b") as fh:
        fh.truncate(cut)
    rows, read = grouped.read_rows(sources)
    assert read == [True, True, False, False, False]
    np.testing.assert_array_equal(rows[1], tensors[sources[1].name].ravel())


def test_a_replaced_file_leaves_every_row_unread(checkpoint: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _tensors = checkpoint
    sources = batches(path)["f32"]
    shutil.copy(path, path.with_suffix(".copy"))
    os.replace(path.with_suffix(".copy"), path)  # the same bytes, another inode
    rows, read = grouped.read_rows(sources)
    assert read == [False] * 5
    with pytest.raises(Exception, match="replaced"):
        sources[0].open()


def test_sources_without_a_file_are_read_alone(checkpoint: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, tensors = checkpoint
    sources = batches(path)["f32"]
    values = np.arange(32, dtype=np.float32)
    in_memory = TensorSource("mem", "mem.0", (8, 4), "float32", memory_opener(values, "float32"))
    rows, read = grouped.read_rows([sources[0], in_memory, sources[1]])
    assert read == [True, True, True]
    np.testing.assert_array_equal(rows[1], values)
    np.testing.assert_array_equal(rows[2], tensors[sources[1].name].ravel())
