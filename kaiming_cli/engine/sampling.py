"""Seeded float32 samplers for the three laws, one independent generator per chunk.

``SeedSequence(seed)`` spawns one child for the EDF subsample and one per chunk, so a chunk's
values depend only on (seed, chunk index): the result is the same for any number of workers.
Values are float32, the dtype real weights have.
"""

from __future__ import annotations

import numpy as np

from ..stats.laws import Law
from ..theory.spec import TRUNC_CUT
from .stream import CHUNK, Producer, chunk_bounds


class ChunkSeeds:
    """Chunk i's seed, made on demand: equal to ``parent.spawn(count)[i]`` without a list of ``count`` seeds."""

    def __init__(self, parent: np.random.SeedSequence, count: int) -> None:
        self.parent, self.count = parent, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> np.random.SeedSequence:
        if not 0 <= i < self.count:
            raise IndexError(i)
        p = self.parent
        return np.random.SeedSequence(p.entropy, spawn_key=(*p.spawn_key, i), pool_size=p.pool_size)


def seeds(seed: int, n: int, chunk: int = CHUNK) -> tuple[np.random.SeedSequence, ChunkSeeds]:
    """(subsample seed, per-chunk seeds) derived from the user's seed."""
    root = np.random.SeedSequence(seed)
    sub, chunks = root.spawn(2)
    return sub, ChunkSeeds(chunks, len(chunk_bounds(n, chunk)))


def draw(rng: np.random.Generator, law: Law, size: int) -> np.ndarray:
    """``size`` float32 draws of ``law``."""
    if law.distribution == "normal":
        out = rng.standard_normal(size, dtype=np.float32)
        out *= np.float32(law.std)
        return out
    if law.distribution == "uniform":
        # [-b, b) like torch's uniform_: from + (to - from) * U[0, 1)
        bound = law.bound
        assert bound is not None
        out = rng.random(size, dtype=np.float32)
        out *= np.float32(2 * bound)
        out -= np.float32(bound)
        return out
    if law.distribution == "truncated_normal":
        out = np.empty(size, dtype=np.float32)
        filled = 0
        while filled < size:
            need = size - filled
            z = rng.standard_normal(int(need * 1.05) + 64, dtype=np.float32)
            z = z[np.abs(z) < np.float32(TRUNC_CUT)][:need]
            out[filled : filled + z.size] = z
            filled += z.size
        out *= np.float32(law.sigma_pre)
        return out
    raise ValueError(f"unknown law {law.distribution!r}")


def producer(law: Law, chunk_seeds: ChunkSeeds) -> Producer:
    def produce(i: int, start: int, stop: int) -> np.ndarray:
        return draw(np.random.default_rng(chunk_seeds[i]), law, stop - start)

    return produce
