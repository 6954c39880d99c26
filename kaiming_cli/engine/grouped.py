"""A batch of small tensors of one shape, dtype and law through the engine at once (issue 25).

Each tensor is read whole in one call into its row of a (G, n) array, and the group battery (stats/grouped.py)
tests them all. A tensor that fails to read, or that the group battery hands back, is None here: the caller tests
it alone, where its error or its rarer branch is reported as for any tensor.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import InputError
from ..io.sources import InputFile, PreadOpener, TensorSource, open_vetted
from ..stats.grouped import Outcome, grouped_batteries
from ..stats.laws import Law
from .sources import dequantizer, rel_eps_for, tensor_seed


def read_rows(sources: Sequence[TensorSource]) -> tuple[np.ndarray, list[bool]]:
    """The decoded values of each source (all of one shape and dtype) as the rows of one array (float64 for
    float64, float32 for the narrower floats, as ``decode`` gives them), and which rows were read (a truncated or
    vanished file leaves its row unread).

    Tensors read with ``os.preadv`` (``PreadOpener``) share one descriptor per file for the batch: opening,
    checking and closing the file for each tensor cost as much as reading a small one (issue 25)."""
    n = sources[0].numel
    rows = np.empty((len(sources), n), dtype=np.float64 if sources[0].dtype == "float64" else np.float32)
    read = []
    shared: dict[InputFile, int | None] = {}
    try:
        for g, source in enumerate(sources):
            opener = source.open
            if isinstance(opener, PreadOpener):
                ok = _read_shared(opener, rows[g], shared)
            else:
                ok = _read_alone(source, rows[g])
            if not ok:
                rows[g] = 1.0  # any regular values: the row's result is dropped
            read.append(ok)
    finally:
        for fd in shared.values():
            if fd is not None:
                os.close(fd)
    return rows, read


def _read_shared(opener: PreadOpener, row: np.ndarray, shared: dict[InputFile, int | None]) -> bool:
    """Fill ``row`` through the batch's descriptor on the opener's file (opened at its first tensor; a file that
    failed to open fails its every tensor, each then tested alone and reporting why)."""
    if opener.file not in shared:
        try:
            shared[opener.file] = open_vetted(opener.file)
        except InputError:
            shared[opener.file] = None
    fd = shared[opener.file]
    if fd is None:
        return False
    try:
        opener.fill(fd, row)
    except InputError:
        return False
    return True


def _read_alone(source: TensorSource, row: np.ndarray) -> bool:
    """Fill ``row`` through the source's own opener."""
    try:
        produce, _sequential, close = source.open()
        try:
            row[:] = produce(0, 0, row.size)  # a groupable tensor is one chunk (engine/stream.py CHUNK)
        finally:
            close()
    except InputError:
        return False
    return True


def dequantized(sources: Sequence[TensorSource], rows: np.ndarray, seed: int) -> np.ndarray | None:
    """The EDF samples of bf16 and fp16 tensors, each value spread over its rounding cell by the tensor's own
    seeded generator, as ``scan_source`` makes them (``subsample_and_jitter``); None for float32 and float64, whose
    sample is the values."""
    if dequantizer(sources[0].dtype, None) is None:
        return None
    with np.errstate(invalid="ignore"):  # signalling NaNs widen to NaN: their rows go to the one-tensor path
        samples = rows.astype(np.float64)
    for g, source in enumerate(sources):
        jitter = dequantizer(source.dtype, tensor_seed(seed, source.name).spawn(2)[1])
        assert jitter is not None
        with np.errstate(invalid="ignore"):
            samples[g] = jitter(samples[g])
    return samples


def group_outcomes(sources: Sequence[TensorSource], law: Law, layout: str, *, alpha: float,
                   tests: tuple[str, ...], seed: int = 0, progress: Callable[[int], None] | None = None,
                   histograms: bool = True) -> list[Outcome | None]:
    """The group battery of each source (one shape, one storage dtype, one law and layout), None where the caller
    must test the tensor alone; with each one's histogram if ``histograms``."""
    rows, read = read_rows(sources)
    first = sources[0]
    outcomes = grouped_batteries(law, rows, shape=tuple(first.shape), dtype=first.dtype, layout=layout,
                                 alpha=alpha, tests=tests, rel_eps=rel_eps_for(first.dtype),
                                 samples=dequantized(sources, rows, seed), histograms=histograms)
    out = [o if ok else None for o, ok in zip(outcomes, read, strict=True)]
    if progress is not None:
        progress(sum(s.numel for s, o in zip(sources, out, strict=True) if o is not None))
    return out
