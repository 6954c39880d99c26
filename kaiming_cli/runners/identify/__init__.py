"""``kaiming identify``: which init most likely produced a tensor, by exact likelihood.

For the three families the log-likelihood depends only on (n, S = sum x^2, M = max|x|), so one
streaming pass scores every candidate (docs/statistics.md §7):

    normal(s):      -n/2 ln(2 pi s^2) - S / (2 s^2)
    uniform(b):     -n ln(2b)                                   if M <= b, else -inf
    truncN(sp, 2):  normal(sp) - n ln(2 Phi(2) - 1)             if M <= 2 sp, else -inf

The candidates are a fixed list of common schemes plus every named call whose exact law lies in the
confidence interval of a family's fitted scale (stats/fit.py fits, theory/explanations.py names; §7.1).
Candidates within ln(100) of the best (a Bayes factor below 100) cannot be told apart at this size;
exact aliases (same law for this shape) never can; among those the verdict is the one with the largest
prior x likelihood. The winner must also pass the test battery; if it fails, the verdict is the bare
fitted law of the best family that fits, and "unknown" (naming the closest law and what rejected it)
only when no family fits. Whether weights look trained is the trained-checkpoint detector's call, never
this module's.

identify is a package so that the runners' independence contract covers all of it: ``candidates.py`` holds
the candidate schemes and their laws, this module the fitting, ranking and verdicts (``run_identify``), and
``rules.py`` the rules file that reproduces them (``-f rules``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from ...engine.parallel import Progress, default_jobs, map_batched
from ...engine.sources import (
    cell_counter,
    rel_eps_for,
    same_bytes,
    scan_source,
    structure_collector,
)
from ...errors import InputError
from ...io.config import Rule
from ...io.inputs import FileError
from ...io.sources import TensorSource, is_float, mantissa_bits
from ...stats.battery import DEFAULT_TESTS, KS_MAX_SAMPLES, BatteryResult, run_battery
from ...stats.fit import GOF_TESTS, Fit, fit_families
from ...stats.structure import STRUCTURE_TESTS
from ...stats.summary import Summary
from ...stats.uninitialized import uninitialized_reason
from ...theory.explanations import FITTED_PRIOR, Explanation, bare_call, explain, number, round_values
from ...theory.fans import compute_fans
from ...theory.spec import SpecOptions
from .candidates import SAME_LAW_REL, Candidate, candidates, constant_candidate, kl_divergence, law_text
from .forms import in_the_files_form
from .ranking import rank
from .result import CONFIDENCE_SCOPE, IdentifyResult, Scored, Stated
from .whole import exact_sparsity, read_orthogonal, whole_matrix

__all__ = ["CONFIDENCE_SCOPE", "LN100", "IdentifyReport", "IdentifyResult", "Read", "Scored", "Stated",
           "group_labels", "group_summary", "identify_read", "identify_source", "run_identify", "sibling_fan_in",
           "stated_disagreements"]

LN100 = math.log(100.0)



def posterior_of_group(ranked: list[Scored], group: set[str]) -> float:
    finite = [r for r in ranked if math.isfinite(r.loglik)]
    if not finite:
        return math.nan
    top = finite[0].loglik
    weights = {r.candidate.label: math.exp(r.loglik - top) for r in finite}
    total = sum(weights.values())
    return sum(w for lab, w in weights.items() if lab in group) / total


def sibling_fan_in(source: TensorSource, shapes: dict[tuple[str, str], tuple[int, ...]], layout: str) -> int | None:
    """For ``x.bias``, the fan_in of ``x.weight`` in the same file (PyTorch's bias default uses it)."""
    if not source.name.endswith("bias") or len(source.shape) != 1:
        return None
    weight = shapes.get((source.file, source.name[: -len("bias")] + "weight"))
    if weight is None or len(weight) < 2:
        return None
    try:
        return compute_fans(weight, layout).fan_in
    except ValueError:
        return None


#: Near-aliases that would need this many times more elements than the tensor has are treated as
#: aliases when choosing the verdict (relu vs leaky_relu(0.01) needs ~1.8e9 elements).
HOPELESS_FACTOR = 100


def identify_source(source: TensorSource, *, layout: str | None = None, alpha: float = 1e-3, seed: int = 0,
                    jobs: int = 1, max_ks: int = KS_MAX_SAMPLES, bias_fan_in: int | None = None,
                    tests: tuple[str, ...] = DEFAULT_TESTS) -> IdentifyResult:
    """Rank every candidate for one tensor; ``layout`` None: the file's own layout for it, else torch. ``tests``:
    the best candidate's battery (``audit`` leaves out the costly spectrum: a fresh build never looks trained)."""
    return identify_read(source, layout=layout, alpha=alpha, seed=seed, jobs=jobs, max_ks=max_ks,
                         bias_fan_in=bias_fan_in, tests=tests)[0]


#: The summary of every value and the EDF subsample a verdict was computed from.
Read = tuple[Summary, np.ndarray]


def identify_read(source: TensorSource, *, layout: str | None = None, alpha: float = 1e-3, seed: int = 0,
                  jobs: int = 1, max_ks: int = KS_MAX_SAMPLES, bias_fan_in: int | None = None,
                  tests: tuple[str, ...] = DEFAULT_TESTS) -> tuple[IdentifyResult, Read | None]:
    """``identify_source``, and the data it read (None when the tensor was not read): audit tests the laws its
    plan expects on the very same summary and subsample instead of reading the tensor a second time."""
    result, data = _identify(source, layout or source.layout or "torch", alpha, seed, jobs, max_ks, bias_fan_in,
                             tests)
    return with_stated(source, result, data[0] if data else None), data


def with_stated(source: TensorSource, result: IdentifyResult, summary: Summary | None) -> IdentifyResult:
    """The result with the verdict on the law the file states for the tensor (a .keras config), if it states one."""
    if source.rule is None:
        return result
    return replace(result, stated=stated_verdict(source.rule, result, summary, rel_eps_for(source.dtype)))


def stated_verdict(rule: Rule, result: IdentifyResult, summary: Summary | None, rel_eps: float) -> Stated:
    """Whether the law the file states is as likely as the best candidate (Bayes factor below 100)."""
    if rule.skip:
        return Stated("(not expressible)", rule.origin, None)
    if rule.constant is not None:
        c = constant_candidate(rule.constant)
        return Stated(c.label, rule.origin, result.verdict == c.label)
    try:
        spec = SpecOptions(layout=result.layout).overridden(rule.options).spec(result.shape)
    except ValueError:
        return Stated("(no law for this shape)", rule.origin, None)
    stated = Candidate(spec.call, "stated", spec.distribution, spec.mode, spec.gain, spec.std)
    best = result.ranked[0] if result.ranked else None
    if best is None or result.verdict in ("unknown", "skipped") or summary is None:
        return Stated(spec.call, rule.origin, False if result.verdict == "unknown" else None)
    loglik = stated.loglik(summary, rel_eps)
    return Stated(spec.call, rule.origin, best.loglik - loglik < LN100)


def _identify(source: TensorSource, layout: str, alpha: float, seed: int, jobs: int, max_ks: int,
              bias_fan_in: int | None, tests: tuple[str, ...] = DEFAULT_TESTS) -> tuple[IdentifyResult, Read | None]:
    """The ranking, and the summary and subsample it was computed from (None when the tensor was not read)."""
    base: dict[str, Any] = {"file": source.file, "name": source.name, "shape": source.shape, "dtype": source.dtype,
                            "layout": layout}
    if source.error:
        return IdentifyResult(**base, verdict="skipped", reason=source.error), None
    if source.same_as is not None:
        return IdentifyResult(**base, verdict="skipped", reason=same_bytes(source.same_as)), None
    if source.numel == 0:
        return IdentifyResult(**base, verdict="skipped", reason="empty tensor"), None
    collector = structure_collector(source, layout, seed)
    cells = cell_counter(source, seed) if "shape" in tests else None  # audit leaves the shape test out
    summary, sample = scan_source(source, seed=seed, jobs=jobs, max_ks=max_ks if is_float(source.dtype) else 0,
                                  structure=collector, cells=cells)
    data = (summary, sample)
    never_set = uninitialized_reason(summary, sample, mantissa_bits(source.dtype))
    if never_set:  # torch.empty / to_empty() memory: not a law, and not "unknown" or "looks trained"
        return IdentifyResult(**base, verdict="uninitialized", n=summary.n, reason=never_set), data
    if summary.n_nan or summary.n_inf:
        return IdentifyResult(**base, verdict="unknown", n=summary.n,
                              reason=f"{summary.n_nan} NaN and {summary.n_inf} infinite values"), data
    if summary.n and summary.min == summary.max:
        c = constant_candidate(summary.min)
        return IdentifyResult(**base, verdict=c.label, ranked=(Scored(c, math.inf),), confidence=1.0, pvalue=1.0,
                              n=summary.n, empirical_std=0.0,
                              reason=f"all {summary.n} values equal {summary.min:g}"), data
    if not is_float(source.dtype):
        return IdentifyResult(**base, verdict="unknown", n=summary.n, reason=f"{source.dtype} values vary"), data
    choice = choose(source, base, summary, sample, alpha=alpha, seed=seed, jobs=jobs, bias_fan_in=bias_fan_in)
    if isinstance(choice, IdentifyResult):
        return choice, data
    battery = run_battery(choice.best.candidate.law, summary, sample, alpha, tests, rel_eps=choice.eps,
                          structure=collector.data() if collector is not None else None, cells=cells)
    return conclude(choice, battery), data


@dataclass(frozen=True)
class Choice:
    """A tensor's candidates ranked and its verdict chosen, before the verdict's test battery (``conclude``): the
    group path (grouped.py) runs the batteries of many tensors together between the two steps."""

    source: TensorSource
    base: dict[str, Any]
    summary: Summary
    fits: list[Fit]
    matrix: np.ndarray | None
    ranked: list[Scored]
    """The verdict first."""
    aliases: list[str]
    consistent: list[str]
    near: list[tuple[str, float]]
    """The near-aliases, each with the elements that would separate it from the verdict (``near_aliases``)."""
    top: float
    """The likeliest candidate's log-likelihood (the verdict may be another among those the data cannot separate)."""
    alpha: float
    seed: int
    jobs: int
    bias_fan_in: int | None

    @property
    def best(self) -> Scored:
        return self.ranked[0]

    @property
    def eps(self) -> float:
        """The storage rounding of the tensor's dtype (``rel_eps_for``)."""
        return rel_eps_for(self.source.dtype)


def choose(source: TensorSource, base: dict[str, Any], summary: Summary, sample: np.ndarray, *, alpha: float,
           seed: int, jobs: int, bias_fan_in: int | None, fitted: list[Fit] | None = None
           ) -> IdentifyResult | Choice:
    """The families fitted and the candidates ranked for a float tensor whose values vary and are finite: a result
    when no battery is needed (an exact structure, no candidate's support holds the data), else the ``Choice``
    whose best candidate the battery tests. ``base`` gains the fits; ``fitted`` are the tensor's ``fit_families``
    when the caller made them. The group path (grouped.py) takes the three steps itself, to rank a whole batch at
    once between them (``ranking.rank_rows``)."""
    ready = prepare(source, base, summary, sample, alpha=alpha, seed=seed, jobs=jobs, bias_fan_in=bias_fan_in,
                    fitted=fitted)
    if isinstance(ready, IdentifyResult):
        return ready
    return decide(ready, rank(ready.cands, summary, ready.eps, sample))


class Prepared(NamedTuple):
    """A tensor fitted and its candidates listed (``prepare``), waiting for their ranking (``decide``)."""

    source: TensorSource
    base: dict[str, Any]
    summary: Summary
    fits: list[Fit]
    matrix: np.ndarray | None
    cands: list[Candidate]
    eps: float
    alpha: float
    seed: int
    jobs: int
    bias_fan_in: int | None


def prepare(source: TensorSource, base: dict[str, Any], summary: Summary, sample: np.ndarray, *, alpha: float,
            seed: int, jobs: int, bias_fan_in: int | None, fitted: list[Fit] | None = None
            ) -> IdentifyResult | Prepared:
    """``choose``'s first step: the fits (``fitted``, or ``fit_families`` here) and the result of an exact
    structure, or the candidates to rank: the shape's schemes and the named calls the fits explain."""
    layout = base["layout"]
    eps = rel_eps_for(source.dtype)
    matrix = whole_matrix(source, sample, layout)
    fits = fitted if fitted is not None else fit_families(summary, sample, alpha, eps, matrix=matrix,
                                                          dtype=source.dtype)
    base.update(fits=tuple(fits), law=fits[0] if fits else None, n=summary.n, empirical_std=summary.std)
    if fits and fits[0].passed and fits[0].distribution in ("orthogonal", "sparse"):
        if fits[0].distribution == "sparse" and matrix is None:  # the exact zero count, from a whole read
            fits[0] = exact_sparsity(source, fits[0], summary, alpha, seed, jobs)
            base.update(fits=tuple(fits), law=fits[0])
        return structured(base, fits[0], layout, summary)
    cands = candidates(source.shape, layout, bias_fan_in)
    known = {c.label for c in cands}
    cands += [c for c in explained(fits, source.shape, layout, bias_fan_in, source.name) if c.label not in known]
    return Prepared(source, base, summary, fits, matrix, cands, eps, alpha, seed, jobs, bias_fan_in)


def decide(p: Prepared, ranked: list[Scored]) -> IdentifyResult | Choice:
    """``choose``'s last step, from the candidates ``ranked`` (``rank``): the verdict among the laws the data
    cannot separate, or the fitted law or ``unknown`` when no candidate's support holds the data."""
    source, base, summary, fits, matrix, cands = p.source, p.base, p.summary, p.fits, p.matrix, p.cands
    alpha, seed, jobs, bias_fan_in, layout = p.alpha, p.seed, p.jobs, p.bias_fan_in, base["layout"]
    order = {c.label: i for i, c in enumerate(cands)}
    best = ranked[0]
    if not math.isfinite(best.loglik):
        return fitted_or_unknown(base, ranked, fits, layout, alpha, source.shape, bias_fan_in, source.name,
                                 "no candidate's support holds the data")
    same = same_laws(ranked, best.candidate)  # each law against the best's, once
    exact = [r for r, alike in zip(ranked[1:], same[1:], strict=True) if alike]
    hopeless: list[Scored] = []
    consistent_scored: list[Scored] = []
    exact_ids = {id(r) for r in exact}
    for r in ranked[1:]:
        if id(r) in exact_ids or best.loglik - r.loglik >= LN100:
            continue
        kl = kl_divergence(best.candidate, r.candidate)
        needed = math.ceil(LN100 / kl) if kl > 0 else math.inf
        if needed > HOPELESS_FACTOR * summary.n:
            hopeless.append(r)
        else:
            consistent_scored.append(r)
    # among laws the data cannot separate, name the most plausible: prior x likelihood, then the conventional
    # order (relu before leaky_relu(0.01), fan_in before fan_out on square fans)
    group = [best, *exact, *hopeless]
    in_group = {id(r) for r in group}  # membership by identity: every candidate's label is its own
    top = best.loglik
    chosen = max([*group, *consistent_scored],
                 key=lambda r: (round(math.log(r.candidate.prior) + (r.loglik - top if id(r) not in in_group
                                                                       else 0.0), 9),
                                -order[r.candidate.label]))
    if chosen is not best:
        ranked.remove(chosen)
        ranked.insert(0, chosen)
        best = chosen
        same = same_laws(ranked, best.candidate)
    # exact aliases are the very same law (kaiming relu fan_in = fan_out = xavier gain sqrt(2) on square fans); the
    # hopeless near-aliases (relu vs leaky_relu(0.01)) are not, and are listed as near-aliases, not as aliases
    aliases = [r.candidate.label for r, alike in zip(ranked[1:], same[1:], strict=True) if alike]
    consistent = [r.candidate.label for r in ranked[1:]
                  if best.loglik - r.loglik < LN100 and r.candidate.label not in aliases]
    return Choice(source, base, summary, fits, matrix, ranked, aliases, consistent,
                  near_aliases(best, ranked, top, same), top, alpha, seed, jobs, bias_fan_in)


def conclude(c: Choice, battery: BatteryResult) -> IdentifyResult:
    """The verdict of a ``Choice`` once its best candidate's battery ran."""
    source, base, fits, ranked, layout = c.source, c.base, c.fits, c.ranked, c.base["layout"]
    if not battery.passed:
        structural = [t for t in battery.tests if not t.passed and t.name in STRUCTURE_TESTS]
        orthogonal = read_orthogonal(source, layout, c.seed, c.jobs) if structural and c.matrix is None else None
        if orthogonal is not None:
            return structured({**base, "fits": (orthogonal, *fits), "law": orthogonal}, orthogonal, layout,
                              c.summary)
        why = f"even the best candidate fails the test battery (p = {battery.pvalue:.2g})" + (
            f"; structure: {structural[0].detail}; the weights look trained or built, not drawn" if structural
            else "")
        return fitted_or_unknown(base, ranked, fits, layout, c.alpha, source.shape, c.bias_fan_in, source.name,
                                 why, pvalue=battery.pvalue, structure_failed=bool(structural))
    # the class the verdict speaks for: its exact aliases and the near-aliases this size cannot separate from it
    # (they are reported as near-aliases; their probability is the verdict's, not subtracted from it)
    near = c.near
    inseparable = {label for label, needed in near if needed > c.summary.n}
    confidence = posterior_of_group(ranked, {c.best.candidate.label, *c.aliases, *inseparable})
    return IdentifyResult(**base, verdict=c.best.candidate.label, ranked=tuple(ranked),
                          indistinguishable=tuple(c.aliases + c.consistent), aliases=tuple(c.aliases),
                          near=tuple(near), confidence=confidence, pvalue=battery.pvalue)


def same_laws(ranked: list[Scored], best: Candidate) -> list[bool]:
    """``[r.candidate.same_law(best) for r in ranked]``, its test written out once for the ~40 candidates of a
    tensor instead of a method call each."""
    distribution, std, isclose = best.distribution, best.std, math.isclose
    return [r.candidate.distribution == distribution and isclose(r.candidate.std, std, rel_tol=SAME_LAW_REL)
            for r in ranked]


def near_aliases(best: Scored, ranked: list[Scored], top: float, same: list[bool]) -> list[tuple[str, float]]:
    """The laws within a Bayes factor of 100 of the likeliest that are not the verdict's own law, each with the
    number of elements that would separate it from the verdict: ln 100 / KL(verdict || law). ``same``: whether each
    ranked candidate's law is the verdict's (``Candidate.same_law``), made once for the aliases too."""
    out: list[tuple[str, float]] = []
    for r, alike in zip(ranked, same, strict=True):
        if r is best or alike or top - r.loglik >= LN100:
            continue
        kl = kl_divergence(best.candidate, r.candidate)
        out.append((r.candidate.label, math.ceil(LN100 / kl) if kl > 0 else math.inf))
    return out


def explained(fits: list[Fit], shape: tuple[int, ...], layout: str, bias_fan_in: int | None,
              name: str) -> list[Candidate]:
    """Named calls whose law lies in the CI of a family that fits (solved constants excluded: they describe the
    fitted law, they do not compete with named calls)."""
    out: list[Candidate] = []
    for fit in fits:
        if not fit.passed or fit.distribution not in GOF_TESTS:
            continue
        for e in explain(shape, layout, fit.distribution, fit.ci.low, fit.ci.high, fit.std,
                         bias_fan_in=bias_fan_in, name=name):
            if not e.fitted:
                out.append(explanation_candidate(e))
    return out


#: ``explanation_candidate``'s memo: by the explanation object itself (a shape's table gives every tensor of that
#: shape the same ones), holding it so that its id is not reused while it is here; cleared at ``MEMO_SIZE``.
_CANDIDATES: dict[int, tuple[Explanation, Candidate]] = {}
MEMO_SIZE = 4096


def explanation_candidate(e: Explanation) -> Candidate:
    """One candidate per named call and law, shared by the tensors whose fit it explains (its law made once).
    Looked up by identity: an ``lru_cache`` hashed and compared the explanation's nine fields for each of a
    tensor's ~25 calls (a third of the cost of naming them, issue 25)."""
    hit = _CANDIDATES.get(id(e))
    if hit is not None and hit[0] is e:
        return hit[1]
    family = e.call.split("(")[0].rstrip("_").split(".")[-1]
    made = Candidate(e.call, family, e.distribution, None, None, e.std, short=e.call, init=e.call, prior=e.prior,
                     fan_in=e.fan_in, fan_out=e.fan_out, note=e.note)
    if len(_CANDIDATES) >= MEMO_SIZE:
        _CANDIDATES.clear()
    _CANDIDATES[id(e)] = (e, made)
    return made


def fitted_candidate(fit: Fit, shape: tuple[int, ...], layout: str, bias_fan_in: int | None, name: str) -> Candidate:
    """The fitted law itself, labelled with the bare call; its explanations are the solved-constant calls."""
    calls = explain(shape, layout, fit.distribution, fit.ci.low, fit.ci.high, fit.std, bias_fan_in=bias_fan_in,
                    name=name)
    call = bare_call(fit.distribution, fit.std, fit.ci.low, fit.ci.high, layout)
    return Candidate(call, "fitted", fit.distribution, None, None, fit.std, short=call, init=call,
                     prior=FITTED_PRIOR, std_ci=(fit.ci.low, fit.ci.high), explanations=tuple(e.call for e in calls))


def fitted_or_unknown(base: dict[str, Any], ranked: list[Scored], fits: list[Fit], layout: str, alpha: float,
                      shape: tuple[int, ...], bias_fan_in: int | None, name: str, why: str,
                      pvalue: float | None = None, structure_failed: bool = False) -> IdentifyResult:
    """No named call fits: the bare fitted law of the best family that fits, or ``unknown`` naming the closest law
    and the test that rejected it (never a guess about training: that is the trained-checkpoint detector's)."""
    # a marginal fit does not name a tensor whose structure (rows, columns, spectrum) no iid draw has
    good = [] if structure_failed else [f for f in fits if f.passed and f.distribution in GOF_TESTS]
    if good:
        fit = good[0]
        c = fitted_candidate(fit, shape, layout, bias_fan_in, name)
        return IdentifyResult(**base, verdict=c.label, ranked=(Scored(c, fit.loglik), *ranked), fitted=c,
                              confidence=math.nan, pvalue=fit.pvalue,
                              reason=f"no named init has its law inside the {fit.level:.1%} CI of the fitted std "
                                     f"[{fit.ci.low:.4g}, {fit.ci.high:.4g}]; {why}")
    closest = next((f for f in fits if f.distribution in GOF_TESTS), None)
    if closest is None:
        return IdentifyResult(**base, verdict="unknown", ranked=tuple(ranked), reason=why, pvalue=pvalue)
    c = fitted_candidate(closest, shape, layout, bias_fan_in, name)
    if closest.passed:  # only a failed structure leaves a family that fits: the values fit, their layout does not
        tail = (f"; the values alone fit {law_text(c)} ({closest.distribution}, p = {closest.pvalue:.2g}), but not "
                "as independent draws")
    else:
        tail = (f", and no family fits at alpha = {alpha:g}: the closest law is {law_text(c)} "
                f"({closest.distribution}, p = {closest.pvalue:.2g}), rejected by {closest.rejected_by}")
    return IdentifyResult(**base, verdict="unknown", ranked=tuple(ranked), fitted=c, pvalue=pvalue,
                          reason=why + tail)


def sparsity_text(fraction: float, shape: tuple[int, ...]) -> str:
    """The shortest sparsity that gives torch's sparse_ the same count of zeros per column, ceil(sparsity * rows),
    for a 2-D weight of ``shape`` (rows = shape[0]); else the fraction itself to two digits."""
    if len(shape) != 2:
        return f"{fraction:.2g}"
    rows = shape[0]
    zeros = round(fraction * rows)
    for digits in range(1, 8):
        value = round(zeros / rows, digits)
        if (zeros - 1) / rows < value <= zeros / rows and math.ceil(value * rows) == zeros:
            return f"{value:g}"
    return repr(zeros / rows)


def structured(base: dict[str, Any], fit: Fit, layout: str, summary: Summary) -> IdentifyResult:
    """An exact structure the marginal laws cannot see (orthogonal rows/columns, exact zeros of sparse_)."""
    if fit.distribution == "orthogonal":
        g = fit.gain or 0.0
        named = {1.0: "orthogonal_()", math.sqrt(2): "orthogonal_(gain=calculate_gain('relu'))",
                 5 / 3: "orthogonal_(gain=calculate_gain('tanh'))"}
        call = next((text for v, text in named.items() if abs(g - v) <= 1e-4 * v), f"orthogonal_(gain={number(g)})")
        detail = f"rows or columns orthonormal times {g:.6g} (max|W Wᵀ/g² − I| = {fit.ci.high / fit.std - 1:.3g})"
    else:
        stds = [v for v in round_values(fit.ci.low, fit.ci.high)]
        std_text = f"{stds[0]:g}" if stds else number(fit.std, fit.ci.low, fit.ci.high)
        call = f"sparse_(sparsity={sparsity_text(fit.sparsity or 0.0, base['shape'])}, std={std_text})"
        detail = f"{fit.sparsity:.1%} exact zeros; the rest N(0, {fit.std:.4g}^2) (p = {fit.pvalue:.2g})"
    c = Candidate(call, fit.distribution, fit.distribution, None, fit.gain, fit.std, short=call, init=call,
                  std_ci=(fit.ci.low, fit.ci.high))
    return IdentifyResult(**base, verdict=call, ranked=(Scored(c, math.inf),), confidence=1.0, pvalue=fit.pvalue,
                          reason=detail)


def run_identify(sources: Sequence[TensorSource], *, layout: str | None = None, alpha: float = 1e-3, seed: int = 0,
                 jobs: int | None = None) -> tuple[list[IdentifyResult], list[FileError]]:
    """Every tensor, under the engine's one parallel policy; biases see their sibling weight's fan_in. The small
    tensors of a shape take the group path (grouped.py), the others are identified one by one.

    A tensor whose data fails to read is reported as skipped with an error, and the others are still identified.
    """
    from .grouped import identify_batch, identify_batches

    shapes = {(s.file, s.name): s.shape for s in sources}
    jobs = jobs or default_jobs()

    def one(source: TensorSource, inner_jobs: int, _progress: Progress | None) -> tuple[IdentifyResult, str | None]:
        try:
            return identify_source(source, layout=layout, alpha=alpha, seed=seed, jobs=inner_jobs,
                                   bias_fan_in=sibling_fan_in(source, shapes, layout or source.layout or "torch")
                                   ), None
        except InputError as exc:
            return IdentifyResult(source.file, source.name, source.shape, source.dtype, "skipped",
                                  reason=str(exc)), str(exc)

    def batch(item: list[int], _progress: Progress | None) -> list[tuple[IdentifyResult, str | None] | None]:
        chosen = [sources[i] for i in item]
        where = layout or chosen[0].layout or "torch"
        return [None if r is None else (r, None)
                for r in identify_batch(chosen, where, alpha=alpha, seed=seed, tests=DEFAULT_TESTS)]

    batches = identify_batches(sources, layout, tests=DEFAULT_TESTS, max_ks=KS_MAX_SAMPLES, jobs=jobs)
    outcomes = map_batched(sources, batches, batch, one, jobs)
    return in_the_files_form([r for r, _ in outcomes]), [FileError(r.file, why) for r, why in outcomes
                                                         if why is not None]


@dataclass(frozen=True)
class IdentifyReport:
    """A whole ``identify`` run: every tensor's result, the grouped summary and the files that failed."""

    results: list[IdentifyResult]
    summary: list[str]
    layout: str
    alpha: float
    errors: list[FileError] = field(default_factory=list)

    def to_dict(self, top: int = 5, tensors: bool = True) -> dict[str, Any]:
        """Without ``tensors``, all but the last key (render/json.py writes the tensors one by one)."""
        head = {"layout": self.layout, "alpha": self.alpha, "summary": self.summary,
                "errors": [e.to_dict() for e in self.errors]}
        return {**head, "tensors": [r.to_dict(top) for r in self.results]} if tensors else head


def _groups(results: list[IdentifyResult]) -> list[tuple[str, str, list[IdentifyResult]]]:
    """(kind, label, members): tensors grouped by kind under the label that explains most of them (a tensor
    is explained by its verdict and everything it cannot be told from), greedily; unknowns last."""
    groups = []
    for kind in sorted({r.kind() for r in results}):
        pending = [r for r in results if r.kind() == kind and r.verdict not in ("skipped",)]
        unknown = [r for r in pending if r.verdict == "unknown"]
        pending = [r for r in pending if r.verdict != "unknown"]
        while pending:
            counts = Counter(lab for r in pending for lab in {r.verdict, *r.indistinguishable})
            verdicts = Counter(r.verdict for r in pending)
            label, _count = max(counts.items(),
                                key=lambda kv: (kv[1], verdicts[kv[0]], -_first_seen(pending, kv[0])))
            groups.append((kind, label, [r for r in pending if label in {r.verdict, *r.indistinguishable}]))
            pending = [r for r in pending if label not in {r.verdict, *r.indistinguishable}]
        if unknown:
            groups.append((kind, "unknown", unknown))
    return groups


def group_summary(results: list[IdentifyResult]) -> list[str]:
    """Lines like ``52 conv weights: kaiming_normal_(...)`` (see ``_groups``)."""
    return [f"{len(members)} {kind}{'s' if len(members) > 1 else ''}: {label}"
            for kind, label, members in _groups(results)]


def group_labels(results: list[IdentifyResult]) -> dict[int, str]:
    """The label each tensor's group gives it, by ``id``: a square conv (fan_in = fan_out) cannot tell
    ``mode='fan_in'`` from ``mode='fan_out'``, and its row must name the one the summary names."""
    return {id(r): label for _kind, label, members in _groups(results) for r in members}


def stated_disagreements(results: list[IdentifyResult]) -> list[str]:
    """One line per tensor whose data disagree with the initializer its file states (a .keras config)."""
    return [f"{r.name}: the file states {r.stated.label}, the data say {r.verdict}"
            for r in results if r.stated is not None and r.stated.agrees is False]


def _first_seen(results: list[IdentifyResult], label: str) -> int:
    """Rank of a label in the first result that names it (prefers verdicts over aliases)."""
    for r in results:
        names = [r.verdict, *r.indistinguishable]
        if label in names:
            return names.index(label)
    return 10**6
