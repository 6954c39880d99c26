"""identify's group path: the small tensors of a checkpoint that share a shape, dtype and layout, read, summarized
and tested together (issue 25).

Each batch is read into one (tensors, values) array (engine/grouped.py), summarized row by row and screened for the
rarer branches (stats/grouped.py ``Rows``: non-finite values, marks of uninitialized memory, constants, zero lines
are handed back to the one-tensor path). The batch's families are then fitted at once (stats/fit.py
``fit_families_rows``: one sort, each family's EDF test for all its rows in one call), each tensor's candidates
ranked for the whole batch at once (``ranking.rank_rows``, to the bit ``rank``'s) between the one-tensor path's
own steps (``prepare``, ``decide``), and the verdict's battery runs for all the tensors whose chosen law
is the same, at once (``Rows.batteries``, the group battery verify uses). A tensor gets the result it gets alone,
to the bit (tests/runners/test_identify_grouped.py): the summary, sample, fits and battery are the one-tensor
path's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...engine.grouped import dequantized, read_rows
from ...engine.parallel import cut_batches
from ...engine.sources import cell_counter, rel_eps_for, structure_collector
from ...io.sources import TensorSource
from ...stats.battery import BatteryResult, run_battery
from ...stats.fit import UNFITTED, Fit, fit_families_rows, orthogonal_fits
from ...stats.grouped import Rows, batch_size, groupable_law, groupable_shape
from ...stats.laws import Law
from . import Choice, IdentifyResult, Prepared, conclude, decide, prepare, with_stated
from .ranking import rank_rows
from .whole import whole_matrix

#: Values per batch: a quarter of verify's (stats/grouped.py ``BATCH_VALUES``). identify's time per tensor is its
#: fits and ranking, one tensor at a time, so a smaller batch costs nothing (tiny9k, ``--jobs 1``: 20.4 s of CPU
#: against 20.1 s) and holds a quarter of the arrays (peak RSS 177 MB against 252 MB).
BATCH_VALUES = 1 << 18
#: Batches per worker a group is cut in at least, with ``--jobs`` > 1: a 9000-tensor group of 16x16 made 9 batches of
#: 1024, five for one worker and four for the other; eight each keeps both busy to the end.
PER_WORKER = 8


def identify_batches(sources: Sequence[TensorSource], layout: str | None, *, tests: tuple[str, ...], max_ks: int,
                     jobs: int = 1) -> list[list[int]]:
    """The tensors the group path covers, as batches of indices into ``sources`` (one shape, dtype and layout, of
    bounded memory); with ``jobs`` > 1 a group is cut in at least two batches per worker."""
    groups: dict[tuple[tuple[int, ...], str, str], list[int]] = {}
    for i, source in enumerate(sources):
        where = layout or source.layout or "torch"
        if source.error or source.same_as is not None or source.numel == 0:
            continue
        if groupable_shape(tuple(source.shape), source.dtype, where, tests, max_ks):
            groups.setdefault((tuple(source.shape), source.dtype, where), []).append(i)
    return cut_batches(((members, batch_size(key[0], BATCH_VALUES)) for key, members in groups.items()), jobs,
                       per_worker=PER_WORKER)


def identify_batch(sources: Sequence[TensorSource], layout: str, *, alpha: float, seed: int,
                   tests: tuple[str, ...]) -> list[IdentifyResult | None]:
    """One batch (one shape, dtype and layout): each tensor's result, or None to identify it alone."""
    stored, read = read_rows(sources)
    first = sources[0]
    rows = Rows.of(stored, shape=tuple(first.shape), dtype=first.dtype, layout=layout,
                   samples=dequantized(sources, stored, seed))
    out: list[IdentifyResult | None] = [None] * len(sources)
    if rows is None:
        return out
    eps = rel_eps_for(first.dtype)
    kept = [j for j, i in enumerate(rows.index.tolist()) if read[i]]
    matrices = [whole_matrix(sources[int(rows.index[j])], rows.x[j], layout) for j in kept]
    orthogonal = orthogonal_fits_of(sources, rows, layout, alpha)
    fitted = fit_families_rows([rows.summaries[j] for j in kept], rows.x[kept], alpha, eps, matrices=matrices,
                               dtype=first.dtype, orthogonal=[orthogonal[j] for j in kept])
    by_law: dict[Law, list[tuple[int, Choice]]] = {}
    ready: list[tuple[int, Prepared]] = []
    for j, fits in zip(kept, fitted, strict=True):
        i = int(rows.index[j])
        source = sources[i]
        base: dict[str, Any] = {"file": source.file, "name": source.name, "shape": source.shape,
                                "dtype": source.dtype, "layout": layout}
        step = prepare(source, base, rows.summaries[j], rows.x[j], alpha=alpha, seed=seed, jobs=1, bias_fan_in=None,
                       fitted=fits)
        if isinstance(step, IdentifyResult):
            out[i] = with_stated(source, step, rows.summaries[j])
        else:
            ready.append((j, step))
    rankings = rank_rows([p.cands for _, p in ready], [p.summary for _, p in ready], eps, [rows.x[j] for j, _ in ready])
    for (j, step), ranked in zip(ready, rankings, strict=True):
        i = int(rows.index[j])
        choice = decide(step, ranked)
        if isinstance(choice, IdentifyResult):
            out[i] = with_stated(step.source, choice, rows.summaries[j])
            continue
        law = choice.best.candidate.law
        if groupable_law(law):
            by_law.setdefault(law, []).append((j, choice))
        else:
            out[i] = with_stated(step.source, conclude(choice, alone(choice, rows, j, tests)), rows.summaries[j])
    for law, members in by_law.items():
        outcomes = rows.batteries(law, [j for j, _ in members], alpha=alpha, tests=tests, rel_eps=eps,
                                  histograms=False)  # identify's reports show none
        for (j, choice), outcome in zip(members, outcomes, strict=True):
            i = int(rows.index[j])
            out[i] = with_stated(sources[i], conclude(choice, outcome.battery), rows.summaries[j])
    return out


def orthogonal_fits_of(sources: Sequence[TensorSource], rows: Rows, layout: str, alpha: float
                       ) -> list[Fit | None | str]:
    """The orthogonal family's fit of each kept row, all in one batched call, where the one-tensor path fits it
    (its matrix is the whole tensor: ``whole_matrix``); else ``UNFITTED`` (``fit_families_rows`` fits no orthogonal
    family without a matrix)."""
    first = sources[int(rows.index[0])]
    view = whole_matrix(first, rows.x[0], layout)
    if view is None:
        return [UNFITTED] * len(rows.index)
    return list(orthogonal_fits(rows.x.reshape(len(rows.index), *view.shape), alpha, first.dtype))


def alone(choice: Choice, rows: Rows, j: int, tests: tuple[str, ...]) -> BatteryResult:
    """The battery of a chosen law the group battery does not cover (a truncated normal, a law off zero), on the
    row as the one-tensor path's scan collects it: the structure and cell counts fed the whole row as one chunk."""
    source = choice.source
    values = rows.stored[j]
    collector = structure_collector(source, rows.layout, choice.seed)
    cells = cell_counter(source, choice.seed)
    for c in (collector, cells):
        if c is not None:
            c.add(c.partial(0, values))
    return run_battery(choice.best.candidate.law, choice.summary, rows.x[j], choice.alpha, tests, rel_eps=choice.eps,
                       structure=collector.data() if collector is not None else None, cells=cells)
