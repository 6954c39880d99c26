"""The ranking of ``identify``'s candidates for one tensor: each scored by its exact log-likelihood on the
tensor's summary, the likeliest first, ties broken by prior (docs/statistics.md §7). Apart from the verdicts
(``__init__.py``) so that the per-tensor arithmetic reads in one place (issue 25: the summary's figures and the
subsample's magnitudes are read once per tensor, not once per candidate)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat

import numpy as np

from ...stats.fit import LOG_BEYOND, LOG_INSIDE
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


#: Tensors sharing their candidates that ``rank_rows`` scores as one array; fewer are ranked one by one: the array's
#: dozen numpy calls cost more than ``rank`` for a few tensors (bench/rank_rows.py on the 606-tensor file of mixed
#: inits, whose batches hold many small groups, was slower with 3).
TOGETHER_MIN = 8


def rank_rows(cands: Sequence[list[Candidate]], summaries: Sequence[Summary], rel_eps: float,
              samples: Sequence[np.ndarray]) -> list[list[Scored]]:
    """``[rank(c, s, rel_eps, x) for c, s, x in zip(cands, summaries, samples)]`` for a batch of tensors of one
    dtype (identify's group path), to the bit: the tensors that rank the same candidates (the same objects in the
    same order) are scored as one (tensors, candidates) array by ``rank``'s own expressions, each
    one IEEE operation as in Python, sorted by one stable argsort and their ties ordered by one lexsort. A tensor
    whose scores hold a NaN, or whose near-ties chain (a run the one-tensor path's greedy pass would cut
    elsewhere), is ranked by ``rank`` itself; so are groups under ``TOGETHER_MIN``. Each tensor has a non-empty
    sample and at least one candidate, as the group path's always do. Issue 25, ``bench/rank_rows.py``: 248 against
    150 us a tensor on tiny9k's batches, 177 against 128 on many1000's (docs/performance.md)."""
    out: list[list[Scored] | None] = [None] * len(cands)
    together: dict[tuple[int, ...], list[int]] = {}
    for t, c in enumerate(cands):
        together.setdefault(tuple(map(id, c)), []).append(t)
    for members in together.values():
        if len(members) < TOGETHER_MIN:
            for t in members:
                out[t] = rank(cands[t], summaries[t], rel_eps, samples[t])
            continue
        shared = cands[members[0]]
        for t, ranked in zip(members, _rank_together(shared, [summaries[t] for t in members], rel_eps,
                                                     [samples[t] for t in members]), strict=True):
            out[t] = ranked if ranked is not None else rank(cands[t], summaries[t], rel_eps, samples[t])
    return [r for r in out if r is not None]


def _rank_together(cands: list[Candidate], summaries: list[Summary], rel_eps: float,
                   samples: list[np.ndarray]) -> list[list[Scored] | None]:
    """``rank`` of tensors that share ``cands``, None for a tensor left to ``rank`` (see ``rank_rows``)."""
    scores = _scores(cands, summaries, rel_eps, samples)
    order = np.argsort(-scores, axis=1, kind="stable")  # Python's stable sort by -loglik, row by row
    v = np.take_along_axis(scores, order, axis=1)
    tolerance = LOGLIK_TIE * np.maximum(1.0, np.abs(v))
    finite = np.isfinite(v)
    with np.errstate(invalid="ignore"):  # -inf - -inf: NaN, not tied (as the one-tensor path: a head not finite)
        link = finite[:, :-1] & (v[:, :-1] - v[:, 1:] <= tolerance[:, :-1])
    start = np.ones(v.shape, dtype=bool)
    start[:, 1:] = ~link
    run = np.cumsum(start, axis=1)
    kept = ~np.isnan(scores).any(axis=1) & _greedy_runs(v, tolerance, finite, start)
    place, prior = _first_places(cands), [-c.prior for c in cands]
    keys = np.array([[place[id(c)] for c in cands], prior])[:, order]  # each candidate's, in each row's order
    final = np.take_along_axis(order, np.lexsort((keys[0], keys[1], run), axis=-1), axis=1)
    out: list[list[Scored] | None] = []
    for row, positions, ok in zip(scores.tolist(), final.tolist(), kept.tolist(), strict=True):
        scored = list(map(tuple.__new__, repeat(Scored), zip(cands, row, strict=True)))
        out.append(list(map(scored.__getitem__, positions)) if ok else None)
    return out


def _greedy_runs(v: np.ndarray, tolerance: np.ndarray, finite: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Per row, whether its runs of adjacent ties (``start`` marks each run's head) are the runs ``rank``'s greedy
    pass makes: every member within the head's tolerance (the last is the farthest, the row being sorted) and the
    next run's head beyond it. Only a chain of near-ties (a within the tolerance of b, b of c, c not of a) fails."""
    rows, k = v.shape
    heads_r, heads_c = np.nonzero(start)
    ends = np.append(heads_c[1:], k)
    ends[np.append(heads_r[1:] != heads_r[:-1], True)] = k  # a row's last run ends with the row
    head, reach = v[heads_r, heads_c], tolerance[heads_r, heads_c]
    last = v[heads_r, ends - 1]
    nxt = ends < k
    after = v[heads_r[nxt], ends[nxt]]
    with np.errstate(invalid="ignore"):
        inside = (ends - 1 == heads_c) | (head - last <= reach)
        beyond = np.ones(len(heads_c), dtype=bool)
        beyond[nxt] = ~finite[heads_r[nxt], heads_c[nxt]] | ~(head[nxt] - after <= reach[nxt])
    good = np.ones(rows, dtype=bool)
    np.logical_and.at(good, heads_r, inside & beyond)
    return good


def _scores(cands: list[Candidate], summaries: list[Summary], rel_eps: float, samples: list[np.ndarray]
            ) -> np.ndarray:
    """The (tensors, candidates) log-likelihoods ``Candidate.loglik_of`` gives, by its expressions in its order of
    operations (so each element is its float to the bit); a family without one here is asked row by row."""
    n = np.array([s.n for s in summaries], dtype=np.int64)
    ss = np.array([s.sumsq for s in summaries])
    m = np.array([s.max_abs for s in summaries])
    low, high = np.array([s.min for s in summaries]), np.array([s.max for s in summaries])
    half_n = -0.5 * n
    beyond = _beyond_counts(sorted({c.bound for c in cands if c.distribution == "truncated_normal"
                                    and c.bound is not None}), n, m, rel_eps, samples)
    scores = np.empty((len(summaries), len(cands)))
    for j, c in enumerate(cands):
        if c.distribution == "normal":
            log_var, twice_var = c.normal_terms
            scores[:, j] = half_n * log_var - ss / twice_var
        elif c.distribution == "truncated_normal":
            log_var, twice_var = c.normal_terms
            assert c.bound is not None
            k = beyond[c.bound]
            scores[:, j] = half_n * log_var - ss / twice_var + (n - k) * LOG_INSIDE + k * LOG_BEYOND
        elif c.distribution == "uniform":
            bound = c.bound
            assert bound is not None
            scores[:, j] = np.where(m <= bound * (1 + rel_eps), -n * math.log(2 * bound), -math.inf)
        elif c.distribution == "constant":
            scores[:, j] = np.where((low == high) & (high == c.value), math.inf, -math.inf)
        else:
            scores[:, j] = [c.loglik_of(s.n, s.sumsq, s.max_abs, (s.min, s.max), rel_eps) for s in summaries]
    return scores


def _beyond_counts(bounds: list[float], n: np.ndarray, m: np.ndarray, rel_eps: float,
                   samples: list[np.ndarray]) -> dict[float, np.ndarray]:
    """Each truncated candidate's count of values beyond its cut ``bound`` in each row, as ``loglik_of`` takes it:
    0 where the row's max is within the cut and its rounding, else n times the sample's fraction beyond it, at
    least 1 (``_beyond``). Row by row, each row's magnitudes made once: on this machine a row of a few thousand
    values counts faster than the whole batch at once, which does not stay in the cache."""
    counts = {b: np.zeros(len(n), dtype=np.int64) for b in bounds}
    cuts = [(b, b * (1 + rel_eps)) for b in bounds]
    for t in np.flatnonzero(m > min(cut for _, cut in cuts)).tolist() if cuts else ():
        magnitudes = np.abs(samples[t])
        for b, cut in cuts:
            if m[t] > cut:
                fraction = float(np.count_nonzero(magnitudes > b)) / magnitudes.size
                counts[b][t] = max(1, round(int(n[t]) * fraction))
    return counts
