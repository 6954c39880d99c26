"""Seeded float32 samplers for every law, one independent generator per chunk.

``SeedSequence(seed)`` spawns one child for the EDF subsample and one per chunk, so a chunk's
values depend only on (seed, chunk index): the result is the same for any number of workers.
Values are float32, the dtype real weights have.

Normal, uniform, truncated normal and constant stream chunk by chunk. Orthogonal, identity and sparse are
sampled whole (their structure spans the tensor) from the first chunk seed, at most
``SAMPLE_MATRIX_MAX_ELEMENTS`` values (beyond: ``MatrixTooLarge``, a usage error); orthogonal as torch's
``orthogonal_``: QR of a Gaussian matrix (float64 here, stored float32) with the sign of R's diagonal moved into
Q, which makes Q Haar-distributed (Mezzadri 2007), transposed when rows < cols.
"""

from __future__ import annotations

import threading

import numpy as np

from ..stats.exact import from_matrix, identity_expected
from ..stats.laws import MATRIX_FAMILIES, Law
from ..stats.shape import CellCounter
from ..stats.structure import StructureCollector
from ..stats.summary import Summary
from ..theory.spec import TRUNC_CUT
from .stream import CHUNK, Producer, chunk_bounds

#: Most values a whole-tensor sampler (orthogonal, identity, sparse) makes: 128 MiB of float64 work.
SAMPLE_MATRIX_MAX_ELEMENTS = 1 << 24


class MatrixTooLarge(ValueError):
    """A whole-tensor law asked for more values than ``SAMPLE_MATRIX_MAX_ELEMENTS``."""


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


def draw(rng: np.random.Generator, law: Law, size: int, out: np.ndarray | None = None) -> np.ndarray:
    """``size`` float32 draws of a law whose values are iid (not orthogonal, identity, sparse).

    ``out`` (float32, at least ``size`` long) receives the normal and uniform draws, the same values as a fresh
    array: a reused buffer spares the allocator 4 MiB a chunk (its page faults, and the RSS that malloc's arenas
    keep after two threads have freed many such blocks)."""
    if law.distribution == "normal":
        out = rng.standard_normal(size, dtype=np.float32) if out is None else \
            rng.standard_normal(dtype=np.float32, out=out[:size])
        out *= np.float32(law.std)
        if law.mean:
            out += np.float32(law.mean)
        return out
    if law.distribution == "uniform":
        # [low, high) like torch's uniform_: from + (to - from) * U[0, 1)
        lo, hi = law.support
        out = rng.random(size, dtype=np.float32) if out is None else rng.random(dtype=np.float32, out=out[:size])
        out *= np.float32(hi - lo)
        out += np.float32(lo)
        return out
    if law.distribution == "truncated_normal":
        if law.low is None and law.loc in (None, 0.0):
            return _draw_trunc_symmetric(rng, law, size)
        return _draw_trunc_inverse(rng, law, size)
    if law.distribution == "constant":
        return np.full(size, law.value if law.value is not None else 0.0, dtype=np.float32)
    raise ValueError(f"unknown law {law.distribution!r}")


def _draw_trunc_symmetric(rng: np.random.Generator, law: Law, size: int) -> np.ndarray:
    """The +-2 sigma_pre law by rejection (95% acceptance): the historical stream of ``check`` seeds."""
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


def _draw_trunc_inverse(rng: np.random.Generator, law: Law, size: int) -> np.ndarray:
    """Any truncation, by the inverse CDF as torch's ``trunc_normal_``; worked on the lower tail's side of the
    median so that a cut far in the upper tail keeps its precision (Phi(b) near 1 loses it; Phi(-b) does not)."""
    from scipy.special import ndtr, ndtri

    lo, hi = law.support
    c, sp = law.center, law.sigma_pre
    a, b = (lo - c) / sp, (hi - c) / sp
    flip = a + b > 0  # mostly in the upper tail: sample -z on (-b, -a)
    if flip:
        a, b = -b, -a
    u = rng.random(size)
    fa, fb = float(ndtr(a)), float(ndtr(b))
    z = ndtri(fa + u * (fb - fa))
    z = np.clip(z, a, b)
    if flip:
        z = -z
    out: np.ndarray = np.clip(c + sp * z, lo, hi).astype(np.float32)
    return out


def draw_matrix(rng: np.random.Generator, law: Law) -> np.ndarray:
    """The whole tensor of an orthogonal, identity or sparse law, float32, flattened (C order)."""
    shape = law.shape or ()
    n = int(np.prod(shape)) if shape else 1
    if n > SAMPLE_MATRIX_MAX_ELEMENTS:
        raise MatrixTooLarge(f"{law.distribution} is sampled whole and {n} values are over the "
                             f"{SAMPLE_MATRIX_MAX_ELEMENTS} limit: use a smaller --shape.")
    if law.distribution == "identity":
        return identity_expected(law).astype(np.float32).reshape(-1)
    rows, cols = law.rows_cols
    if law.distribution == "sparse":
        w = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(law.std)
        k = law.zeros_per_column
        if k:
            zero_rows = np.argsort(rng.random((rows, cols)), axis=0)[:k]
            w[zero_rows, np.arange(cols)[None, :]] = 0.0
        return w.reshape(-1)
    if law.distribution == "orthogonal":
        flat = rng.standard_normal((rows, cols))
        if rows < cols:
            flat = flat.T
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        g = law.gain if law.gain is not None else 1.0
        return from_matrix(law, (q * g).astype(np.float32))
    raise ValueError(f"the {law.distribution} law is not sampled whole")


def producer(law: Law, chunk_seeds: ChunkSeeds) -> Producer:
    """Chunk ``i`` of a law's seeded sample; the whole-tensor laws are drawn once (first chunk seed) and sliced."""
    if law.distribution in MATRIX_FAMILIES:
        whole = WholeTensor(law, chunk_seeds)

        def produce_slice(i: int, start: int, stop: int) -> np.ndarray:
            return whole.values()[start:stop]

        return produce_slice

    local = threading.local()  # one reused chunk buffer per worker thread (stream.Producer allows it)

    def produce(i: int, start: int, stop: int) -> np.ndarray:
        buf: np.ndarray | None = getattr(local, "buf", None)
        if buf is None or buf.size < stop - start:
            buf = local.buf = np.empty(stop - start, dtype=np.float32)
        return draw(np.random.default_rng(chunk_seeds[i]), law, stop - start, out=buf)

    return produce


class WholeTensor:
    """A whole-tensor law's sample, drawn on first use (thread-safe) and kept: the battery's ``values``."""

    def __init__(self, law: Law, chunk_seeds: ChunkSeeds) -> None:
        self.law, self.chunk_seeds = law, chunk_seeds
        self._values: np.ndarray | None = None
        self._lock = threading.Lock()

    def values(self) -> np.ndarray:
        with self._lock:
            if self._values is None:
                self._values = draw_matrix(np.random.default_rng(self.chunk_seeds[0]), self.law)
            return self._values


def sample_law(law: Law, n: int, seed: int, *, max_ks: int, jobs: int = 1,
               structure: StructureCollector | None = None, cells: CellCounter | None = None
               ) -> tuple[Summary, np.ndarray, np.ndarray | None]:
    """(summary, EDF subsample, whole tensor or None) of ``n`` seeded draws of ``law``: all ``check`` needs for
    ``run_battery(law, summary, sample, alpha, values=whole)``. The whole tensor is returned for the
    structured families (n must then be the shape's size)."""
    from .stream import scan, subsample_positions

    sub_seed, chunk_seeds = seeds(seed, n)
    positions = subsample_positions(n, max_ks, sub_seed)
    if law.distribution in MATRIX_FAMILIES:
        whole = WholeTensor(law, chunk_seeds)
        values = whole.values()
        if values.size != n:
            raise ValueError(f"the {law.distribution} law is sampled as one tensor of {values.size} values, "
                             f"not {n}: drop --samples.")
        summary, sample = scan(n, lambda i, a, b: values[a:b], positions=positions, jobs=1, structure=structure,
                               cells=cells)
        return summary, sample, values
    summary, sample = scan(n, producer(law, chunk_seeds), positions=positions, jobs=jobs, structure=structure,
                           cells=cells)
    return summary, sample, None
