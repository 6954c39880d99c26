"""verify's group path: the tensors of a checkpoint that share a shape, dtype and law, tested together.

``verify_grouped`` sorts the planned tensors (plan.py) into groups that the group battery covers
(stats/grouped.py ``groupable``), reads and tests each group in batches of bounded memory (engine/grouped.py) and
builds each tensor's result as ``verify_source`` builds it; the tensors it hands back are tested alone. A tensor
gets the same result in a group of a thousand as alone: each is one row of the arrays, and no number depends on
another row (tests/runners/test_many_tensors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ...engine.grouped import group_outcomes
from ...engine.parallel import cut_batches, map_batched
from ...io.sources import TensorSource
from ...stats.empirical import Empirical
from ...stats.grouped import Outcome, batch_size, groupable
from ...stats.laws import Law
from .plan import Plan, Tested
from .result import TensorResult, failure_reason

One = Callable[[TensorSource, int, Callable[[int], None] | None], TensorResult]
"""The one-tensor path: ``one(source, inner_jobs, progress)`` (``run_verify``'s closure over ``verify_source``)."""


def group_batches(sources: Sequence[TensorSource], plans: Sequence[Plan], *, tests: tuple[str, ...], max_ks: int,
                  jobs: int = 1) -> list[list[int]]:
    """The tensors the group path covers, as batches of indices into ``sources``: one shape, dtype, law and layout
    each, of bounded memory; with ``jobs`` > 1 each group is cut in at least two batches per worker, so that one
    large group keeps every core busy."""
    groups: dict[tuple[tuple[int, ...], str, Law, str], list[int]] = {}
    decided: dict[tuple[tuple[int, ...], str, Law, str], bool] = {}  # groupable per key, not per tensor
    for i, (source, plan) in enumerate(zip(sources, plans, strict=True)):
        if not isinstance(plan, Tested):
            continue
        key = (tuple(source.shape), source.dtype, plan.law, plan.spec.layout)
        ok = decided.get(key)
        if ok is None:
            ok = decided[key] = groupable(plan.law, source.shape, source.dtype, plan.spec.layout, tests, max_ks)
        if ok:
            groups.setdefault(key, []).append(i)
    return cut_batches(((members, batch_size(key[0])) for key, members in groups.items()), jobs)


def verify_all(sources: Sequence[TensorSource], plans: Sequence[Plan], one: One, *, alpha: float,
               tests: tuple[str, ...], max_ks: int, seed: int = 0, jobs: int = 1,
               progress: Callable[[int], None] | None = None, histograms: bool = True) -> list[TensorResult]:
    """Every tensor's result, in the order of ``sources``: the group path's batches and ``one`` (the one-tensor
    path) for the rest, as one list of work under the engine's parallel policy (one pool of forked workers, not
    one for each path); a tensor a batch hands back is then tested alone. ``histograms``: the batches' results
    carry their histograms (``one`` decides its own)."""
    batches = group_batches(sources, plans, tests=tests, max_ks=max_ks, jobs=jobs)

    def batch(item: list[int], report: Callable[[int], None] | None) -> list[TensorResult | None]:
        return verify_batch([sources[i] for i in item], [plans[i] for i in item], alpha=alpha, tests=tests,
                            seed=seed, progress=report, histograms=histograms)

    return map_batched(sources, batches, batch, one, jobs, progress)


def verify_batch(sources: Sequence[TensorSource], plans: Sequence[Plan], *, alpha: float, tests: tuple[str, ...],
                 seed: int = 0, progress: Callable[[int], None] | None = None,
                 histograms: bool = True) -> list[TensorResult | None]:
    """One batch of a group (one shape, dtype, law and layout): each tensor's result (with its histogram if
    ``histograms``), or None to test it alone."""
    tested = [p for p in plans if isinstance(p, Tested)]
    assert len(tested) == len(plans)
    first = tested[0]
    outcomes = group_outcomes(sources, first.law, first.spec.layout, alpha=alpha, tests=tests, seed=seed,
                              progress=progress, histograms=histograms)
    return [None if o is None else from_outcome(p, o) for p, o in zip(tested, outcomes, strict=True)]


def from_outcome(plan: Tested, outcome: Outcome) -> TensorResult:
    """The tensor's result, as ``verify_source`` makes it from a battery (``pvalue_adjusted`` comes later)."""
    b, base = outcome.battery, plan.base
    return TensorResult(base.file, base.name, base.shape, base.dtype, "pass" if b.passed else "fail", base.rule,
                        reason=failure_reason(b.tests), spec=plan.spec,
                        empirical=Empirical.from_summary(outcome.summary, b), tests=b.tests, pvalue=b.pvalue,
                        histogram=outcome.histogram, detectable=b.detectable)
