"""The form a verdict is written in: among exact aliases (one law, several calls), the one the file's other tensors
of the same kind got where the data could tell (issue 24). Apart from ``__init__.py`` so that the ranking module
stays under the size limit; it reads only results."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import IdentifyResult


def in_the_files_form(results: list[IdentifyResult]) -> list[IdentifyResult]:
    """Each verdict with exact aliases relabelled as the alias the same kind of tensor in the file got where the
    data could tell (torchvision writes ``mode='fan_out'`` for every conv: its square convs, where fan_in = fan_out,
    are named so too, not by the conventional fan_in-first order). Only the label changes: it is the same law."""
    kinds = [r.kind() if r.aliases else "" for r in results]
    wanted = {k for k in kinds if k}
    total: Counter[tuple[str, str]] = Counter()  # (kind, verdict): how many tensors got it
    naming: Counter[tuple[str, str, str]] = Counter()  # (kind, verdict, label): ... and could also be `label`
    for r in results:
        kind = r.kind() if wanted else ""
        if kind in wanted:
            total[kind, r.verdict] += 1
            naming.update((kind, r.verdict, label) for label in {r.verdict, *r.aliases})
    out = []
    for r, kind in zip(results, kinds, strict=True):
        # votes: the tensors of its kind named by one of its aliases that could not have been named as it is
        votes = {label: total[kind, label] - naming[kind, label, r.verdict] for label in r.aliases} if kind else {}
        best = max(votes, key=lambda label: votes[label], default=None)
        out.append(relabelled(r, best) if best is not None and votes[best] > 0 else r)
    return out


def relabelled(r: IdentifyResult, label: str) -> IdentifyResult:
    """``r`` with ``label`` (one of its exact aliases) as its verdict, the old verdict among the aliases."""
    if label == r.verdict:
        return r
    head = next(s for s in r.ranked if s.candidate.label == label)
    ranked = (head, *(s for s in r.ranked if s is not head))
    aliases = (r.verdict, *(a for a in r.aliases if a != label))
    rest = tuple(a for a in r.indistinguishable if a not in aliases and a != label)
    return replace(r, verdict=label, ranked=ranked, aliases=aliases, indistinguishable=aliases + rest)
