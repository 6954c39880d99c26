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
from ...engine.parallel import map_parallel
from ...io.sources import TensorSource
from ...stats.empirical import Empirical
from ...stats.grouped import Outcome, batch_size, groupable
from ...stats.laws import Law
from .plan import Plan, Tested
from .result import TensorResult, failure_reason


def verify_grouped(sources: Sequence[TensorSource], plans: Sequence[Plan], *, alpha: float, tests: tuple[str, ...],
                   max_ks: int, seed: int = 0, jobs: int = 1, progress: Callable[[int], None] | None = None
                   ) -> list[TensorResult | None]:
    """The result of every tensor the group path covers, None for the others (in the order of ``sources``).
    With ``jobs`` > 1 the batches go to forked workers (engine/parallel.py), each group cut into at least two
    batches per worker so that one large group keeps every core busy."""
    groups: dict[tuple[tuple[int, ...], str, Law, str], list[int]] = {}
    for i, (source, plan) in enumerate(zip(sources, plans, strict=True)):
        if isinstance(plan, Tested) and groupable(plan.law, source.shape, source.dtype, plan.spec.layout, tests,
                                                  max_ks):
            key = (tuple(source.shape), source.dtype, plan.law, plan.spec.layout)
            groups.setdefault(key, []).append(i)
    batches: list[list[int]] = []
    for (shape, _dtype, _law, _layout), members in groups.items():
        size = batch_size(shape)
        if jobs > 1:
            size = max(1, min(size, -(-len(members) // (2 * jobs))))
        batches += [members[a:a + size] for a in range(0, len(members), size)]
    out: list[TensorResult | None] = [None] * len(sources)
    if not batches:
        return out

    def run(batch: list[int], report: Callable[[int], None] | None) -> list[TensorResult | None]:
        return verify_batch([sources[i] for i in batch], [plans[i] for i in batch], alpha=alpha, tests=tests,
                            seed=seed, progress=report)

    forkable = all(sources[i].forkable for batch in batches for i in batch)
    if jobs > 1 and len(batches) > 1:
        done = map_parallel(lambda batch: run(batch, None), batches, jobs, forkable=forkable)
        if progress is not None:
            progress(sum(sources[i].numel for batch, results in zip(batches, done, strict=True)
                         for i, r in zip(batch, results, strict=True) if r is not None))
    else:
        done = [run(batch, progress) for batch in batches]
    for batch, results in zip(batches, done, strict=True):
        for i, result in zip(batch, results, strict=True):
            out[i] = result
    return out


def verify_batch(sources: Sequence[TensorSource], plans: Sequence[Plan], *, alpha: float, tests: tuple[str, ...],
                 seed: int = 0, progress: Callable[[int], None] | None = None) -> list[TensorResult | None]:
    """One batch of a group (one shape, dtype, law and layout): each tensor's result, or None to test it alone."""
    tested = [p for p in plans if isinstance(p, Tested)]
    assert len(tested) == len(plans)
    first = tested[0]
    outcomes = group_outcomes(sources, first.law, first.spec.layout, alpha=alpha, tests=tests, seed=seed,
                              progress=progress)
    return [None if o is None else from_outcome(p, o) for p, o in zip(tested, outcomes, strict=True)]


def from_outcome(plan: Tested, outcome: Outcome) -> TensorResult:
    """The tensor's result, as ``verify_source`` makes it from a battery (``pvalue_adjusted`` comes later)."""
    b, base = outcome.battery, plan.base
    return TensorResult(base.file, base.name, base.shape, base.dtype, "pass" if b.passed else "fail", base.rule,
                        reason=failure_reason(b.tests), spec=plan.spec,
                        empirical=Empirical.from_summary(outcome.summary, b), tests=b.tests, pvalue=b.pvalue,
                        histogram=outcome.histogram, detectable=b.detectable)
