"""The ranking of ``identify``'s candidates for one tensor: each scored by its exact log-likelihood on the
tensor's summary, the likeliest first, ties broken by prior (docs/statistics.md §7). Apart from the verdicts
(``__init__.py``) so that the per-tensor arithmetic reads in one place (issue 25: the summary's figures and the
subsample's magnitudes are read once per tensor, not once per candidate)."""

from __future__ import annotations

import math
from itertools import repeat

import numpy as np

from ...stats.summary import Summary
from .candidates import Candidate
from .result import Scored

#: Log-likelihoods closer than this (relative) are the same number up to rounding: exact aliases (kaiming relu on
#: square fans and VarianceScaling(scale=2)) compute one std by different roundings.
LOGLIK_TIE = 1e-9


def rank(cands: list[Candidate], s: Summary, rel_eps: float, sample: np.ndarray | None = None) -> list[Scored]:
    """Candidates by likelihood; among ties (``LOGLIK_TIE``) the higher prior first, then the order given, so that
    the last bits of a std or of the data's moments never reorder laws that are the same law. ``sample`` gives a
    truncated candidate the fraction of values beyond its cut (Keras's torch backend leaves a few there)."""
    n, ss, m, span = s.n, s.sumsq, s.max_abs, (s.min, s.max)  # computed properties: read once, not per candidate
    magnitudes = np.abs(sample) if sample is not None and sample.size else None
    logliks = [_normal_loglik(c, n, ss) if c.distribution == "normal" else
               c.loglik_of(n, ss, m, span, rel_eps, _beyond(c, m, rel_eps, magnitudes)) for c in cands]
    scored = list(map(tuple.__new__, repeat(Scored), zip(cands, logliks, strict=True)))  # ~40 per tensor: no calls
    scored.sort(key=lambda x: -x.loglik)
    first = _first_places(cands)
    out: list[Scored] = []
    if any(math.isnan(x.loglik) for x in scored):  # no order to rely on: each run gathered from all that remain
        while scored:
            head = scored[0].loglik
            tied = [x for x in scored
                    if math.isfinite(head) and abs(x.loglik - head) <= LOGLIK_TIE * max(1.0, abs(head))]
            run = tied or scored[:1]
            out += sorted(run, key=lambda x: (-x.candidate.prior, first[id(x.candidate)]))
            taken = {id(x) for x in run}
            scored = [x for x in scored if id(x) not in taken]
        return out
    # sorted by falling likelihood, the candidates tied with a head are the ones right after it: one pass
    i = 0
    while i < len(scored):
        head, j = scored[i].loglik, i + 1
        if math.isfinite(head):
            tolerance = LOGLIK_TIE * max(1.0, abs(head))
            while j < len(scored) and abs(scored[j].loglik - head) <= tolerance:
                j += 1
        if j == i + 1:
            out.append(scored[i])  # tied with nothing: nothing to sort
        else:
            out += sorted(scored[i:j], key=lambda x: (-x.candidate.prior, first[id(x.candidate)]))
        i = j
    return out


def _normal_loglik(c: Candidate, n: int, ss: float) -> float:
    """``Candidate.loglik_of`` of a normal candidate, the same expression without its calls: most of a tensor's
    ~40 candidates are normal, scored on every tensor of their shape."""
    log_var, twice_var = c.normal_terms
    return -0.5 * n * log_var - ss / twice_var


def _first_places(cands: list[Candidate]) -> dict[int, int]:
    """Each candidate's first place in ``cands``, by the candidate's id (equal candidates take the first one's
    place). When the labels are all distinct no two candidates are equal (a label is one of their fields), so none
    of ~40 candidates per tensor is hashed."""
    if len({c.label for c in cands}) == len(cands):
        return {id(c): i for i, c in enumerate(cands)}
    by_value: dict[Candidate, int] = {}
    return {id(c): by_value.setdefault(c, i) for i, c in enumerate(cands)}


def _beyond(c: Candidate, m: float, rel_eps: float, magnitudes: np.ndarray | None) -> float:
    """The subsample's fraction beyond a truncated candidate's cut (0 for the other families); ``magnitudes`` is
    ``|subsample|``, made once for all the candidates. Counted only where ``Candidate.loglik_of`` reads it: a max
    ``m`` beyond the cut and its rounding (its very condition); elsewhere 0, which it ignores."""
    bound = c.bound if c.distribution == "truncated_normal" else None
    if bound is None or magnitudes is None or m <= bound * (1 + rel_eps):
        return 0.0
    return float(np.count_nonzero(magnitudes > bound)) / magnitudes.size
