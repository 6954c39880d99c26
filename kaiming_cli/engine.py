"""The streaming engine: summarise a tensor chunk by chunk, in parallel, with bounded memory.

A tensor of n elements is cut into fixed chunks of ``CHUNK`` elements. Each chunk is produced
(sampled, or read from a file) by a worker thread, summarised in float64 and dropped; only the
``Summary`` and the chunk's share of the EDF subsample survive. numpy releases the GIL in
generation, casting and reductions, so threads use every core. Chunk boundaries, per-chunk seeds
and the subsample positions depend only on n and the seed, never on the number of workers, so
``--jobs 1`` and ``--jobs 2`` give identical results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from .summary import EMPTY, Summary, merge, summarize

CHUNK = 1 << 20

Producer = Callable[[int, int, int], np.ndarray]
"""``produce(index, start, stop)`` returns the values of elements ``start:stop`` (1-D).

The array may be a per-thread buffer that the next call in the same thread overwrites: use it
before asking for the next chunk, and copy what must be kept.
"""


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


class ChunkBounds:
    """``(start, stop)`` of each chunk of range(n), computed on demand: a list would cost memory per chunk
    before any work is done (2^42 entries for a crafted 2^31 x 2^31 shape)."""

    def __init__(self, n: int, chunk: int = CHUNK) -> None:
        if chunk <= 0:
            raise ValueError(f"chunk must be positive, not {chunk}")
        self.n, self.chunk = max(n, 0), chunk

    def __len__(self) -> int:
        return -(-self.n // self.chunk)

    def __getitem__(self, i: int) -> tuple[int, int]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        start = i * self.chunk
        return start, min(self.n, start + self.chunk)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return (self[i] for i in range(len(self)))


def chunk_bounds(n: int, chunk: int = CHUNK) -> ChunkBounds:
    return ChunkBounds(n, chunk)


def subsample_positions(n: int, m: int, seed: np.random.SeedSequence) -> np.ndarray | None:
    """Sorted positions of a jittered stratified m-subset of range(n); ``None`` means all of them.

    One uniform position in each of m equal strata: sorted by construction, ~1 ms for 1e5, and
    (chosen independently of the values) iid draws of the law under the null hypothesis. A plain
    stride would not be random; weight layouts are structured.
    """
    if m >= n:
        return None
    if m <= 0:
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    width = n / m
    positions = ((np.arange(m) + rng.random(m)) * width).astype(np.int64)
    np.minimum(positions, n - 1, out=positions)
    return positions


def scan(
    n: int,
    produce: Producer,
    *,
    positions: np.ndarray | None,
    jobs: int = 1,
    chunk: int = CHUNK,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[Summary, np.ndarray]:
    """Summary of all n values and the float64 values at ``positions`` (all when None).

    ``transform`` (e.g. bf16 dequantization) is applied to the subsample only.
    """
    bounds = chunk_bounds(n, chunk)

    def work(i: int) -> tuple[Summary, np.ndarray]:
        start, stop = bounds[i]
        values = produce(i, start, stop)
        if positions is None:
            picked = values.astype(np.float64)
        else:
            lo, hi = np.searchsorted(positions, (start, stop))
            picked = values[positions[lo:hi] - start].astype(np.float64)
        return summarize(values), picked

    total = EMPTY
    parts: list[np.ndarray] = []
    if jobs <= 1 or len(bounds) == 1:
        results = map(work, range(len(bounds)))
        for s, picked in results:
            total = merge(total, s)
            parts.append(picked)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for s, picked in pool.map(work, range(len(bounds))):
                total = merge(total, s)
                parts.append(picked)
    sample = np.concatenate(parts) if parts else np.empty(0)
    if transform is not None:
        sample = transform(sample)
    return total, sample[np.isfinite(sample)]


T = TypeVar("T")
R = TypeVar("R")
_FORKED_WORK: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates the pool


def _run_forked(index: int) -> Any:
    assert _FORKED_WORK is not None
    fn, items = _FORKED_WORK
    return fn(items[index])


def map_parallel(fn: Callable[[T], R], items: Sequence[T], jobs: int, forkable: bool = False) -> list[R]:
    """``[fn(x) for x in items]`` on ``jobs`` workers, in order.

    Forked processes when the items allow it (file readers hold no threads or locks): measured
    1.6x on two cores where threads gave 1.2x, because many short numpy calls per chunk contend
    for the GIL. ``fn`` and the items are inherited by fork, never pickled; only results travel.
    Threads otherwise (torch-backed tensors: forking after torch has started its thread pools is
    unsafe).
    """
    global _FORKED_WORK
    if jobs <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    if forkable and "fork" in _start_methods():
        import multiprocessing
        import threading

        for thread in threading.enumerate():  # no import may be half done in a forked child
            if thread.name == "kaiming-preload":
                thread.join()

        _FORKED_WORK = (fn, items)
        pool = multiprocessing.get_context("fork").Pool(min(jobs, len(items)), initializer=_ignore_sigint)
        try:
            results: list[R] = pool.map(_run_forked, range(len(items)), chunksize=1)
            pool.close()
            return results
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
            _FORKED_WORK = None
    with ThreadPoolExecutor(max_workers=jobs) as threads:
        return list(threads.map(fn, items))


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()
