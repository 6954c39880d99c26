"""``kaiming_cli.distributed.diff_module`` on 2 gloo ranks (127.0.0.1): sharded parameters against an unsharded
reference (on every rank, or on rank 0 only); shards that repeat the same draw on every rank differ
(tests/distributed_jobs.py, ``diff_shards``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import distributed_jobs as jobs

torch = pytest.importorskip("torch")
mp = pytest.importorskip("torch.multiprocessing")


def test_identical_shards_across_ranks_fail(tmp_path: Path) -> None:
    mp.start_processes(jobs.diff_shards, args=(2, jobs.free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0] == ranks[1]  # every rank gets the same result
    good, bad = ranks[0]["good"], ranks[0]["bad"]
    assert good["passed"] is True and [p["status"] for p in good["pairs"]] == ["same"]
    assert bad["passed"] is False
    (pair,) = bad["pairs"]
    assert pair["status"] == "differ" and "ranks 0 and 1 hold identical shards" in pair["reason"]
    one_rank = ranks[0]["one_rank"]  # the reference on rank 0 only
    assert one_rank["passed"] is True and [p["status"] for p in one_rank["pairs"]] == ["same"]
    assert one_rank["pairs"] == good["pairs"]  # the same summaries as a reference built on every rank
