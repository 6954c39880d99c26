"""identify names orthogonal tensors of any size up to verify's whole-tensor limit (issue 26): the real torch
``orthogonal_`` and Keras's ``Orthogonal`` as keras/src/initializers/random_initializers.py writes it (a normal
(max(rows, cols), min(rows, cols)) matrix, its QR, q times sign(diag(r)), transposed when rows < cols, reshaped;
rows = prod(shape[:-1]), cols = shape[-1])."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli

torch = pytest.importorskip("torch")


def keras_orthogonal(shape: tuple[int, ...], rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    rows, cols = math.prod(shape[:-1]), shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols))).astype(np.float32)
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q.reshape(shape)).astype(np.float32)


def identify(path: Path, *layout: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, ["identify", str(path), *layout, "-f", "json"])
    doc = json.loads(result.stdout)
    return doc["tensors"][0] if "tensors" in doc else doc  # type: ignore[no-any-return]


@pytest.mark.parametrize("shape,gain,want", [
    ((384, 384), 1.0, "orthogonal_()"),
    ((512, 512), 1.0, "orthogonal_()"),
    ((1024, 256), 1.0, "orthogonal_()"),
    ((256, 1024), math.sqrt(2), "orthogonal_(gain=calculate_gain('relu'))"),
    ((128, 128, 3, 3), 1.0, "orthogonal_()"),
])
def test_torch_orthogonal_is_named_at_any_size(shape: tuple[int, ...], gain: float, want: str, tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(sum(shape))
    w = torch.empty(shape)
    torch.nn.init.orthogonal_(w, gain=gain, generator=g)
    np.save(tmp_path / "w.npy", w.numpy())
    tensor = identify(tmp_path / "w.npy")
    assert tensor["verdict"] == want, tensor.get("reason")


@pytest.mark.parametrize("shape", [(384, 384), (1024, 256), (3, 3, 128, 128)])
def test_keras_orthogonal_is_named(shape: tuple[int, ...], tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", keras_orthogonal(shape, np.random.default_rng(len(shape))))
    tensor = identify(tmp_path / "w.npy", "--layout", "keras")
    assert tensor["verdict"] == "orthogonal_()", tensor.get("reason")


def test_large_almost_orthogonal_matrices_are_not_orthogonal(tmp_path: Path) -> None:
    """One row of a 512x512 orthogonal matrix mixed with another by 1e-3, and a row-scaled Gaussian: not named."""
    g = torch.Generator().manual_seed(7)
    w = torch.empty(512, 512)
    torch.nn.init.orthogonal_(w, generator=g)
    bent = w.numpy().copy()
    bent[3] = (bent[3] + 1e-3 * bent[4]) / math.sqrt(1 + 1e-6)
    scaled = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32) / math.sqrt(512)
    scaled[:256] *= 1.3
    for name, m in (("bent", bent), ("scaled", scaled)):
        np.save(tmp_path / f"{name}.npy", m)
        assert not identify(tmp_path / f"{name}.npy")["verdict"].startswith("orthogonal"), name


def test_a_half_precision_orthogonal_matrix_says_what_fits_and_what_does_not(tmp_path: Path) -> None:
    """In bfloat16 the orthogonal fit does not apply (its rounding is far above the orthonormality test's), so the
    rows' structure rejects every iid law while the values alone fit N(0, 1/64) (unit rows of 64 values): the
    reason says both, instead of "no family fits ... rejected by" an empty test (before: "rejected by " and
    nothing)."""
    from safetensors.torch import save_file

    torch.manual_seed(3)
    w = torch.nn.init.orthogonal_(torch.empty(64, 64)).to(torch.bfloat16)
    path = tmp_path / "half.safetensors"
    save_file({"fc.weight": w}, str(path))
    record = identify(path)
    assert record["verdict"] == "unknown"
    reason = record["reason"]
    assert "structure: rows are far more alike than independent draws" in reason
    assert f"the values alone fit N(0, {1 / math.sqrt(64):g}²)" in reason and "but not as independent draws" in reason
    assert "no family fits" not in reason and not reason.rstrip().endswith("rejected by")
