"""Exactly-zero rows (issue 26, docs/statistics.md §2.9): one zero row is padding-like (an ``nn.Embedding``'s
``padding_idx``, zeroed by torch's own ``reset_parameters``), left out of the structure and shape tests and said
so in every format (a note, JSON ``zero_rows_excluded``); more zero rows are not padding, the tests see them all,
and a tensor with 1% of its rows zeroed at random is caught (bench/zero_rows.py measures it over 100 seeds)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.api import verify_tensor
from kaiming_cli.cli import cli

torch = pytest.importorskip("torch")

NOTE = "1 stored row exactly zero (row 3: an embedding's padding_idx?) left out of the structure and shape tests"


@pytest.fixture(scope="module")
def embedding_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torch's own nn.Embedding(2000, 64, padding_idx=3): N(0, 1) with row 3 zeroed by the library."""
    torch.manual_seed(26)
    emb = torch.nn.Embedding(2000, 64, padding_idx=3)
    assert not emb.weight[3].any()
    path = tmp_path_factory.mktemp("zero") / "emb.npz"
    np.savez(path, **{"emb.weight": emb.weight.detach().numpy()})
    return path


def run(path: Path, fmt: str) -> tuple[int, str]:
    out = CliRunner().invoke(cli, ["verify", str(path), "--init", "normal_()", "-f", fmt])
    return out.exit_code, out.stdout


def test_a_padding_row_passes_and_is_reported_in_json(embedding_file: Path) -> None:
    code, out = run(embedding_file, "json")
    doc = json.loads(out)
    (t,) = doc["tensors"]
    assert code == 0 and t["status"] == "pass" and t["zero_rows_excluded"] == 1
    assert doc["notes"] == [f"emb.weight: {NOTE}"]


@pytest.mark.parametrize("fmt", ["table", "markdown", "github"])
def test_the_note_is_in_every_text_format(embedding_file: Path, fmt: str) -> None:
    code, out = run(embedding_file, fmt)
    assert code == 0 and NOTE in " ".join(out.split()), out  # the table may wrap the line


def test_the_note_is_a_junit_property(embedding_file: Path) -> None:
    code, out = run(embedding_file, "junit")
    suite = ET.fromstring(out).find("testsuite")
    assert code == 0 and suite is not None
    values = [p.get("value") for p in suite.iter("property") if p.get("name") == "note"]
    assert values == [f"emb.weight: {NOTE}"]


def test_no_zero_row_no_note() -> None:
    torch.manual_seed(0)
    w = torch.empty(512, 256)
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
    r = verify_tensor(w, nonlinearity="relu")
    assert r.status == "pass" and r.zero_rows_excluded == 0 and r.to_dict()["zero_rows_excluded"] == 0


@pytest.mark.parametrize("shape", [(1000, 256), (256, 64, 3, 3)])
def test_rows_zeroed_at_random_are_not_padding(shape: tuple[int, ...]) -> None:
    """1% of the rows (at least 2) zeroed at random positions in torch's kaiming_normal_ draw: every seed fails,
    with the zero rows in the tests (the row dispersion and the shape at 0 see them), none left out."""
    k = max(2, shape[0] // 100)
    for seed in range(5):
        torch.manual_seed(seed)
        w = torch.empty(shape)
        torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
        x = w.numpy().copy()
        x[np.random.default_rng(seed).choice(shape[0], k, replace=False)] = 0.0
        r = verify_tensor(x, nonlinearity="relu", seed=seed)
        failed = {t.name for t in r.tests if not t.passed}
        assert r.status == "fail" and r.zero_rows_excluded == 0 and {"rows", "shape"} <= failed, failed
