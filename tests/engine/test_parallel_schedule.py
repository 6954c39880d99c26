"""engine/parallel.py: how the group paths' batches and the other tensors are cut and handed to the workers
(issue 25). Pure scheduling: the expected pieces are counted out here, not taken from the module."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

from kaiming_cli.engine import parallel
from kaiming_cli.engine.parallel import cut_batches, map_batched


def test_a_group_is_cut_in_at_least_per_worker_batches_per_worker() -> None:
    members = list(range(9000))
    for jobs, per_worker, size in ((2, 8, 1024), (2, 2, 1024), (1, 8, 1024), (3, 4, 100)):
        batches = cut_batches([(members, size)], jobs, per_worker=per_worker)
        assert [i for b in batches for i in b] == members  # every member once, in order
        expected = size if jobs == 1 else min(size, math.ceil(9000 / (per_worker * jobs)))
        assert max(len(b) for b in batches) == expected
        assert len(batches) == math.ceil(9000 / expected)
    assert len(cut_batches([(members, 1024)], 2)) == 9  # verify's two per worker: the batch size decides


@pytest.mark.parametrize("singles", [0, 7, 300])
def test_each_batch_is_a_work_item_of_its_own(monkeypatch: pytest.MonkeyPatch, singles: int) -> None:
    """With forked workers, a worker takes one batch at a time (chunksize 1), whatever the number of other tensors:
    packing the whole list by its length handed one worker every batch of a group once 240 single tensors stood
    beside 16 batches (found by review). The others travel in packs; every result comes back in order."""
    batches = [list(range(k * 10, k * 10 + 10)) for k in range(16)]
    n = 160 + singles
    sources: list[Any] = [SimpleNamespace(forkable=True, numel=1, i=k) for k in range(n)]
    seen: dict[str, Any] = {}

    def serial(fn: Any, items: Any, jobs: int, forkable: bool = False, chunksize: int | None = None) -> list[Any]:
        seen.update(items=list(items), chunksize=chunksize, forkable=forkable)
        work: list[Any] = [fn(k) for k in items]
        seen["work"] = work
        return work

    def one(source: Any, _inner: int, _progress: Any) -> tuple[str, int]:
        return ("one", source.i)

    monkeypatch.setattr(parallel, "map_parallel", serial)
    out = map_batched(sources, batches, lambda item, _p: [("batch", i) for i in item], one, jobs=2)
    assert out == [("batch", i) for i in range(160)] + [("one", i) for i in range(160, n)]
    assert seen["chunksize"] == 1 and seen["forkable"]
    work = seen["work"]
    assert [len(w) for w in work[:16]] == [10] * 16  # one batch per item
    packs = work[16:]
    pack = max(1, (16 + singles) // (2 * 8))
    assert [len(p) for p in packs] == [min(pack, singles - a) for a in range(0, singles, pack)]
