"""One tensor of a file through the engine: seeded subsample, dequantization of low-precision floats.

Shared by verify and identify, so that both see exactly the same sample of a tensor.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from ..io.sources import TensorSource, mantissa_bits
from ..stats.battery import FLOAT32_REL_EPS
from ..stats.shape import MAX_COUNTED, CellCounter
from ..stats.structure import StructureCollector, has_structure
from ..stats.summary import Summary
from .stream import CHUNK, scan, subsample_positions


def same_bytes(first: str) -> str:
    """Why a tensor stored at the very bytes of an earlier one (``TensorSource.same_as``) is neither read nor
    tested: one draw counted twice would double its weight in the correction across tensors."""
    return f"the same stored bytes as {first} (tied or linked): read and tested once, under that name"


def tensor_seed(seed: int, name: str) -> np.random.SeedSequence:
    """Subsample and dequantization seeds keyed by the run seed and the tensor name."""
    # surrogatepass: a name may hold a lone surrogate (a \udxxx escape in a safetensors header)
    return np.random.SeedSequence([seed, zlib.crc32(name.encode("utf-8", "surrogatepass"))])


def dequantizer(dtype: str, seed: np.random.SeedSequence | None) -> Callable[[np.ndarray], np.ndarray] | None:
    """Spread each rounded value uniformly over its rounding cell, so EDF tests see a continuous law."""
    bits = mantissa_bits(dtype)
    if bits is None or bits >= 23:
        return None

    def jitter(x: np.ndarray) -> np.ndarray:
        _m, e = np.frexp(x)
        ulp = np.ldexp(1.0, e - 1 - bits)
        ulp[x == 0] = 0.0
        u = np.random.default_rng(seed).random(x.size) - 0.5
        out: np.ndarray = x + u * ulp
        return out

    return jitter


def rel_eps_for(dtype: str) -> float:
    bits = mantissa_bits(dtype)
    return FLOAT32_REL_EPS if bits is None or bits >= 23 else 2.0 ** -bits


def structure_collector(source: TensorSource, layout: str, seed: int) -> StructureCollector | None:
    """A collector for the structure tests of a floating-point tensor of 2 or more dimensions, else None.
    Its submatrix seed is the tensor key's third child (the first two seed the subsample and the jitter)."""
    if not has_structure(tuple(source.shape)) or mantissa_bits(source.dtype) is None:
        return None
    # the seed is made only if the collector picks a submatrix (a large tensor): a SeedSequence and its spawn
    # cost as much as the structure tests of a 64 x 64 tensor
    return StructureCollector(tuple(source.shape), layout, lambda: tensor_seed(seed, source.name).spawn(3)[2])


def cell_counter(source: TensorSource, seed: int = 0) -> CellCounter | None:
    """A counter of rounding cells for the shape test of a floating-point tensor, else None. The chunks it
    counts (beyond 2^22 values) are chosen by the tensor key's fourth child."""
    if mantissa_bits(source.dtype) is None:
        return None
    # only a tensor of more than MAX_COUNTED values chooses chunks by seed
    key = tensor_seed(seed, source.name).spawn(4)[3] if source.numel > MAX_COUNTED else None
    return CellCounter(source.dtype, source.numel, key, CHUNK)


def scan_source(source: TensorSource, *, seed: int, jobs: int, max_ks: int,
                progress: Callable[[int], None] | None = None,
                structure: StructureCollector | None = None,
                cells: CellCounter | None = None) -> tuple[Summary, np.ndarray]:
    produce, sequential, close = source.open()
    try:
        positions, jitter = subsample_and_jitter(source, seed, max_ks)
        wrapped = produce
        if progress is not None:
            def wrapped(i: int, start: int, stop: int) -> np.ndarray:
                values = produce(i, start, stop)
                progress(stop - start)
                return values
        return scan(source.numel, wrapped, positions=positions, jobs=1 if sequential else jobs,
                    transform=jitter, structure=structure, cells=cells)
    finally:
        close()


def subsample_and_jitter(source: TensorSource, seed: int, max_ks: int
                         ) -> tuple[np.ndarray | None, Callable[[np.ndarray], np.ndarray] | None]:
    """The subsample positions and the dequantizer of a tensor, from the first two children of its key. A small
    float32 tensor (subsampled whole, not dequantized) needs neither, and skips making the key: most tensors of
    a checkpoint are small, and a SeedSequence with its children costs tens of microseconds."""
    if source.numel <= max_ks and dequantizer(source.dtype, None) is None:
        return None, None
    sub_seed, jitter_seed = tensor_seed(seed, source.name).spawn(2)
    return subsample_positions(source.numel, max_ks, sub_seed), dequantizer(source.dtype, jitter_seed)


#: Most elements ``scan_source_whole`` keeps in memory for the structured tests (orthogonal, identity, sparse):
#: 2^26 values of 32 bits or fewer (kept as float32), half as many float64 or integer values: 256 MiB either
#: way. Beyond, those tests are reported not run.
MATRIX_MAX_ELEMENTS = 1 << 26


def scan_source_whole(source: TensorSource, *, seed: int, jobs: int, max_ks: int,
                      max_elements: int = MATRIX_MAX_ELEMENTS,
                      progress: Callable[[int], None] | None = None
                      ) -> tuple[Summary, np.ndarray, np.ndarray | None]:
    """``scan_source`` that also keeps the whole tensor (decoded, flattened, exact: float32 for 32-bit and
    narrower floats, float64 otherwise) when it has at most ``max_elements`` values (half as many for float64
    and integers), else None. One read: each chunk is copied into place as the scan passes it; the summary and
    subsample are ``scan_source``'s, bit for bit."""
    bits = mantissa_bits(source.dtype)
    narrow = bits is not None and bits <= 23
    if source.numel > (max_elements if narrow else max_elements // 2):  # the same bytes for float64 values
        summary, sample = scan_source(source, seed=seed, jobs=jobs, max_ks=max_ks, progress=progress)
        return summary, sample, None
    values = np.empty(source.numel, dtype=np.float32 if narrow else np.float64)
    produce, sequential, close = source.open()
    try:
        positions, jitter = subsample_and_jitter(source, seed, max_ks)

        def keep(i: int, start: int, stop: int) -> np.ndarray:
            chunk = produce(i, start, stop)
            values[start:stop] = chunk
            if progress is not None:
                progress(stop - start)
            return chunk

        summary, sample = scan(source.numel, keep, positions=positions, jobs=1 if sequential else jobs,
                               transform=jitter)
    finally:
        close()
    return summary, sample, values
