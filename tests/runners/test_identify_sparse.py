"""identify names ``sparse_`` with its exact sparsity (issue 26): the zero count comes from the whole tensor, not
the subsample, so torch's ``sparse_(0.1)`` on a 1000x400 weight (400k values, beyond the 1e5 subsample) is
``sparsity=0.1`` at every seed (before: 0.0996 or 0.1035 in 2 of 15)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("seed", range(15))
def test_sparse_is_named_exactly(seed: int, tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(seed)
    w = torch.empty(1000, 400)
    torch.nn.init.sparse_(w, 0.1, 0.01, generator=g)
    np.save(tmp_path / "w.npy", w.numpy())
    doc = json.loads(CliRunner().invoke(cli, ["identify", str(tmp_path / "w.npy"), "-f", "json"]).stdout)
    tensor = doc["tensors"][0] if "tensors" in doc else doc
    assert tensor["verdict"].startswith("sparse_(sparsity=0.1, std=0.01"), tensor["verdict"]
    assert tensor["law"]["sparsity"] == 0.1  # 100 zeros in each of 400 columns of 1000: exactly 0.1
