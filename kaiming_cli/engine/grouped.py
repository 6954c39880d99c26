"""A batch of small tensors of one shape, dtype and law through the engine at once (issue 25).

Each tensor is read whole in one call into its row of a (G, n) array, and the group battery (stats/grouped.py)
tests them all. A tensor that fails to read, or that the group battery hands back, is None here: the caller tests
it alone, where its error or its rarer branch is reported as for any tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import InputError
from ..io.sources import TensorSource
from ..stats.grouped import Outcome, grouped_batteries
from ..stats.laws import Law
from .sources import dequantizer, rel_eps_for, tensor_seed


def read_rows(sources: Sequence[TensorSource]) -> tuple[np.ndarray, list[bool]]:
    """The decoded values of each source (all of one shape and dtype) as the rows of one array (float64 for
    float64, float32 for the narrower floats, as ``decode`` gives them), and which rows were read (a truncated or
    vanished file leaves its row unread)."""
    n = sources[0].numel
    rows = np.empty((len(sources), n), dtype=np.float64 if sources[0].dtype == "float64" else np.float32)
    read = []
    for g, source in enumerate(sources):
        try:
            produce, _sequential, close = source.open()
            try:
                rows[g] = produce(0, 0, n)  # a groupable tensor is one chunk (engine/stream.py CHUNK)
            finally:
                close()
        except InputError:
            rows[g] = 1.0  # any regular values: the row's result is dropped
            read.append(False)
            continue
        read.append(True)
    return rows, read


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
                   tests: tuple[str, ...], seed: int = 0, progress: Callable[[int], None] | None = None
                   ) -> list[Outcome | None]:
    """The group battery of each source (one shape, one storage dtype, one law and layout), None where the caller
    must test the tensor alone."""
    rows, read = read_rows(sources)
    first = sources[0]
    outcomes = grouped_batteries(law, rows, shape=tuple(first.shape), dtype=first.dtype, layout=layout,
                                 alpha=alpha, tests=tests, rel_eps=rel_eps_for(first.dtype),
                                 samples=dequantized(sources, rows, seed))
    out = [o if ok else None for o, ok in zip(outcomes, read, strict=True)]
    if progress is not None:
        progress(sum(s.numel for s, o in zip(sources, out, strict=True) if o is not None))
    return out
