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
from .sources import rel_eps_for


def read_rows(sources: Sequence[TensorSource]) -> tuple[np.ndarray, list[bool]]:
    """The decoded values of each source (all of one shape and of dtype float32 or float64) as the rows of one
    array, and which rows were read (a truncated or vanished file leaves its row unread)."""
    n = sources[0].numel
    rows = np.empty((len(sources), n), dtype=np.float32 if sources[0].dtype == "float32" else np.float64)
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


def group_outcomes(sources: Sequence[TensorSource], law: Law, layout: str, *, alpha: float,
                   tests: tuple[str, ...], progress: Callable[[int], None] | None = None) -> list[Outcome | None]:
    """The group battery of each source (one shape, one storage dtype, one law and layout), None where the caller
    must test the tensor alone."""
    rows, read = read_rows(sources)
    first = sources[0]
    outcomes = grouped_batteries(law, rows, shape=tuple(first.shape), dtype=first.dtype, layout=layout,
                                 alpha=alpha, tests=tests, rel_eps=rel_eps_for(first.dtype))
    out = [o if ok else None for o, ok in zip(outcomes, read, strict=True)]
    if progress is not None:
        progress(sum(s.numel for s, o in zip(sources, out, strict=True) if o is not None))
    return out
