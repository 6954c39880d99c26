"""The streaming engine: summarise a tensor chunk by chunk, in parallel, with bounded memory.

A tensor of n elements is cut into fixed chunks of ``CHUNK`` elements. Each chunk is produced
(sampled, or read from a file) by a worker thread, summarised in float64 and dropped; only the
``Summary`` and the chunk's share of the EDF subsample survive. numpy releases the GIL in
generation, casting and reductions, so threads use every core. Chunk boundaries, per-chunk seeds
and the subsample positions depend only on n and the seed, never on the number of workers, so
``--jobs 1`` and ``--jobs 2`` give identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..stats.shape import CellCounter
from ..stats.structure import StructureCollector
from ..stats.summary import EMPTY, Summary, merge, summarize

CHUNK = 1 << 20

Producer = Callable[[int, int, int], np.ndarray]
"""``produce(index, start, stop)`` returns the values of elements ``start:stop`` (1-D).

The array may be a per-thread buffer that the next call in the same thread overwrites: use it
before asking for the next chunk, and copy what must be kept.
"""


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
    """Sorted, distinct positions of a jittered stratified m-subset of range(n); ``None`` means all of them.

    One uniform position in each of m strata of whole elements, ``[floor(i n/m), floor((i+1) n/m))``: sorted
    by construction, ~1 ms for 1e5, and (chosen independently of the values) iid draws of the law under the
    null hypothesis. A plain stride would not be random; weight layouts are structured. The strata are disjoint
    sets of elements, so no element is taken twice: with strata of a real width n/m (before issue 26) the element
    astride two strata could be, 4-10% of the subsample for 1e5 < n < 2e5, and the KS test on values partly
    drawn with replacement rejected 2.5x its level at 0.01 (10/400 clean 512x256 tensors; docs/statistics.md §4).
    """
    if m >= n:
        return None
    if m <= 0:
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    edges = (np.arange(m + 1, dtype=np.int64) * n) // m  # exact in int64 for n < 2^63 / m
    widths = np.diff(edges)  # >= 1 because n > m
    positions = edges[:-1] + (rng.random(m) * widths).astype(np.int64)
    np.minimum(positions, edges[1:] - 1, out=positions)
    return positions


def scan(
    n: int,
    produce: Producer,
    *,
    positions: np.ndarray | None,
    jobs: int = 1,
    chunk: int = CHUNK,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    structure: StructureCollector | None = None,
    cells: CellCounter | None = None,
) -> tuple[Summary, np.ndarray]:
    """Summary of all n values and the float64 values at ``positions`` (all when None).

    ``transform`` (e.g. bf16 dequantization) is applied to the subsample only. ``structure``, if given, is fed
    every chunk with its start offset in the same pass (row and column sums of squares, spectral submatrix);
    ``cells`` counts every value's rounding cell (the full-n shape test).
    """
    collectors = [c for c in (structure, cells) if c is not None]
    bounds = chunk_bounds(n, chunk)

    def work(i: int) -> tuple[Summary, np.ndarray, list[object]]:
        start, stop = bounds[i]
        values = produce(i, start, stop)
        # signalling NaNs (uninitialized memory holds any bit pattern) warn when widened; they stay NaN, and
        # are counted and named (stats/uninitialized.py), so the warning is noise on the user's terminal
        with np.errstate(invalid="ignore"):
            if positions is None:
                picked = values.astype(np.float64)
            else:
                lo, hi = np.searchsorted(positions, (start, stop))
                picked = values[positions[lo:hi] - start].astype(np.float64)
        parts: list[object] = [c.partial(start, values) for c in collectors]
        return summarize(values), picked, parts

    total = EMPTY
    parts: list[np.ndarray] = []
    if jobs <= 1 or len(bounds) == 1:
        results = map(work, range(len(bounds)))
        for s, picked, extra in results:
            total = merge(total, s)
            parts.append(picked)
            for c, part in zip(collectors, extra, strict=True):
                c.add(part)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for s, picked, extra in pool.map(work, range(len(bounds))):
                total = merge(total, s)
                parts.append(picked)
                for c, part in zip(collectors, extra, strict=True):
                    c.add(part)
    sample = np.concatenate(parts) if parts else np.empty(0)
    if transform is not None:
        sample = transform(sample)
    return total, sample[np.isfinite(sample)]
