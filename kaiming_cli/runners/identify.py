"""``kaiming identify``: which init most likely produced a tensor, by exact likelihood.

For the three families the log-likelihood depends only on (n, S = sum x^2, M = max|x|), so one
streaming pass scores every candidate (docs/statistics.md §7):

    normal(s):      -n/2 ln(2 pi s^2) - S / (2 s^2)
    uniform(b):     -n ln(2b)                                   if M <= b, else -inf
    truncN(sp, 2):  normal(sp) - n ln(2 Phi(2) - 1)             if M <= 2 sp, else -inf

Candidates within ln(100) of the best (a Bayes factor below 100) cannot be told apart at this
size; exact aliases (same law for this shape) never can. The winner must also pass the test
battery, or the verdict is "unknown": trained weights are not forced into a scheme.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..engine.parallel import Progress, map_sources
from ..engine.sources import cell_counter, rel_eps_for, scan_source, structure_collector
from ..errors import InputError
from ..io.config import Rule
from ..io.inputs import FileError
from ..io.readers import TensorSource, is_float
from ..stats.battery import KS_MAX_SAMPLES, run_battery
from ..stats.laws import Law
from ..stats.structure import STRUCTURE_TESTS
from ..stats.summary import Summary
from ..theory.fans import compute_fans
from ..theory.gains import TORCH_DEFAULT_LAYER_SLOPE, gain
from ..theory.spec import SQRT3, TRUNC_CUT, TRUNC_STD_FACTOR, SpecOptions

LN100 = math.log(100.0)
#: log(2 Phi(2) - 1): the mass a +-2 sigma truncation keeps.
LOG_TRUNC_MASS = math.log(math.erf(TRUNC_CUT / math.sqrt(2.0)))
TRUNC_VAR_FACTOR = TRUNC_STD_FACTOR**2
FIXED_STDS = (0.02,)
GAIN_CHOICES: tuple[tuple[str, float], ...] = (
    ("relu", 0.0), ("leaky_relu", 0.01), ("linear", 0.0), ("tanh", 0.0), ("selu", 0.0))


@dataclass(frozen=True)
class Candidate:
    """One init scheme as a fully specified law for this shape."""

    label: str
    family: str
    """kaiming, torch_default, xavier, lecun, keras_jax, fixed, fitted or constant."""
    distribution: str
    mode: str | None
    gain: float | None
    std: float
    value: float | None = None
    """The constant, for the constant family."""
    short: str = ""
    """A compact name for narrow tables."""

    @property
    def law(self) -> Law:
        return Law(self.distribution, self.std)

    def loglik(self, s: Summary, rel_eps: float) -> float:
        n, ss, m = s.n, s.sumsq, s.max_abs
        if self.distribution == "constant":
            return math.inf if s.min == s.max == self.value else -math.inf
        if self.distribution == "normal":
            return -0.5 * n * math.log(2 * math.pi * self.std**2) - ss / (2 * self.std**2)
        bound = self.law.bound
        assert bound is not None
        if m > bound * (1 + rel_eps):
            return -math.inf
        if self.distribution == "uniform":
            return -n * math.log(2 * bound)
        sp = self.law.sigma_pre
        return -0.5 * n * math.log(2 * math.pi * sp**2) - ss / (2 * sp**2) - n * LOG_TRUNC_MASS

    def same_law(self, other: Candidate) -> bool:
        return self.distribution == other.distribution and math.isclose(self.std, other.std, rel_tol=1e-12)


def _kaiming_label(dist: str, mode: str, nl: str, a: float) -> str:
    slope = f"a={a:g}, " if nl == "leaky_relu" else ""
    return f"kaiming_{dist}_({slope}mode={mode!r}, nonlinearity={nl!r})"


def candidates(shape: tuple[int, ...], layout: str, bias_fan_in: int | None = None) -> list[Candidate]:
    """Every scheme of the issue, as laws for this shape (schemes needing fans only for >= 2-D).

    The order is the preference among laws that no realistic size can separate (relu before
    leaky_relu(0.01), fan_in before fan_out on square fans).
    """
    out: list[Candidate] = []
    if len(shape) >= 2 or layout == "keras":
        fans = compute_fans(shape, layout)
        for dist in ("normal", "uniform"):
            for mode in ("fan_in", "fan_out"):
                for nl, a in GAIN_CHOICES:
                    g = gain(nl, a)
                    short = f"kaiming_{dist}_ {mode} {nl}" + (f"({a:g})" if nl == "leaky_relu" else "")
                    out.append(Candidate(_kaiming_label(dist, mode, nl, a), "kaiming", dist, mode, g,
                                         g / math.sqrt(fans.select(mode)), short=short))
        g5 = gain("leaky_relu", TORCH_DEFAULT_LAYER_SLOPE)
        out.append(Candidate("kaiming_uniform_(a=sqrt(5)) [PyTorch nn.Linear/nn.Conv default]", "torch_default",
                             "uniform", "fan_in", g5, g5 / math.sqrt(fans.select("fan_in")), short="PyTorch default"))
        for dist in ("normal", "uniform"):
            out.append(Candidate(f"xavier_{dist}_()", "xavier", dist, "fan_avg", 1.0,
                                 1 / math.sqrt(fans.select("fan_avg")), short=f"xavier_{dist}_"))
            label = "lecun_normal (untruncated)" if dist == "normal" else "lecun_uniform"
            out.append(Candidate(label, "lecun", dist, "fan_in", 1.0, 1 / math.sqrt(fans.select("fan_in")),
                                 short=label))
        for name, mode, g in (("he_normal", "fan_in", math.sqrt(2)), ("lecun_normal", "fan_in", 1.0),
                              ("glorot_normal", "fan_avg", 1.0)):
            out.append(Candidate(f"{name} (Keras/JAX, truncated)", "keras_jax", "truncated_normal", mode, g,
                                 g / math.sqrt(fans.select(mode)), short=f"{name} (Keras/JAX)"))
    if bias_fan_in:
        bound = 1 / math.sqrt(bias_fan_in)
        out.append(Candidate(f"uniform_(-1/sqrt({bias_fan_in}), 1/sqrt({bias_fan_in})) [PyTorch bias default]",
                             "torch_default", "uniform", "fan_in", None, bound / SQRT3, short="PyTorch bias default"))
    for std in FIXED_STDS:
        out.append(Candidate(f"normal_(std={std:g})", "fixed", "normal", None, None, std, short=f"normal_ std={std:g}"))
    return out


def constant_candidate(value: float) -> Candidate:
    label = "zeros_" if value == 0 else "ones_" if value == 1 else f"constant_(val={value:g})"
    return Candidate(label, "constant", "constant", None, None, 0.0, value=value, short=label)


def _entropy(p: Candidate) -> float:
    """Differential entropy of a candidate's law."""
    law = p.law
    if p.distribution == "normal":
        return 0.5 * math.log(2 * math.pi * math.e * p.std**2)
    if p.distribution == "uniform":
        return math.log(2 * (law.bound or 0.0))
    return 0.5 * math.log(2 * math.pi * law.sigma_pre**2) + LOG_TRUNC_MASS + p.std**2 / (2 * law.sigma_pre**2)


def kl_divergence(p: Candidate, q: Candidate) -> float:
    """KL(p || q) per element, for the laws of two candidates (inf where p's support escapes q's)."""
    lp, lq = p.law, q.law
    if q.distribution == "normal":
        var_p = p.std**2  # every family here has variance std^2
        entropy_term = _entropy(p)
        cross = 0.5 * math.log(2 * math.pi * q.std**2) + var_p / (2 * q.std**2)
        return max(0.0, cross - entropy_term)
    if p.distribution == "normal":
        return math.inf  # unbounded p against a bounded q
    bp, bq = lp.bound or 0.0, lq.bound or 0.0
    if bp > bq * (1 + 1e-12):
        return math.inf
    if q.distribution == "uniform":
        if p.distribution == "uniform":
            return math.log(bq / bp)
        return max(0.0, math.log(2 * bq) - _entropy(p))
    # q truncated normal, p uniform or truncated normal inside q's support
    sq = lq.sigma_pre
    cross = 0.5 * math.log(2 * math.pi * sq**2) + LOG_TRUNC_MASS + p.std**2 / (2 * sq**2)
    if p.distribution == "uniform":
        return max(0.0, cross - math.log(2 * bp))
    return max(0.0, cross - _entropy(p))


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    loglik: float


@dataclass(frozen=True)
class Stated:
    """The initializer a file states for a tensor, and whether the data are consistent with it."""

    label: str
    origin: str
    agrees: bool | None
    """True: its law is within a Bayes factor of 100 of the best candidate and the verdict is not unknown;
    None: the file names an initializer kaiming cannot express (the rule skips it)."""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "origin": self.origin, "agrees": self.agrees}


@dataclass(frozen=True)
class IdentifyResult:
    """The ranking for one tensor."""

    file: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    verdict: str
    """The best label, ``unknown``, or ``skipped``."""
    ranked: tuple[Scored, ...] = ()
    indistinguishable: tuple[str, ...] = ()
    """Labels this shape and size cannot tell from the best (exact aliases first)."""
    aliases: tuple[str, ...] = ()
    """The subset that is the very same law for this shape."""
    near: tuple[tuple[str, float], ...] = ()
    """Near-aliases with the number of elements that would separate them."""
    confidence: float = math.nan
    """Posterior probability (flat prior) of the best law, aliases included."""
    pvalue: float | None = None
    """Goodness of fit (the check battery) of the best candidate."""
    reason: str = ""
    fitted: Candidate | None = None
    n: int = 0
    empirical_std: float = math.nan
    notes: tuple[str, ...] = field(default=())
    layout: str = "torch"
    """The layout the fans were computed in (``--layout``, else the file's own, else torch)."""
    stated: Stated | None = None
    """What the file itself says the init was (a .keras config), and whether the data agree."""

    def kind(self) -> str:
        nd = len(self.shape)
        return "conv weight" if nd >= 3 else "linear weight" if nd == 2 else "vector" if nd == 1 else "scalar"

    def to_dict(self, top: int = 5) -> dict[str, Any]:
        def cand(s: Scored, pvalue: float | None) -> dict[str, Any]:
            c = s.candidate
            return {"label": c.label, "family": c.family, "distribution": c.distribution, "mode": c.mode,
                    "gain": c.gain, "std": c.std if c.distribution != "constant" else 0.0,
                    "value": c.value, "loglik": s.loglik if math.isfinite(s.loglik) else None,
                    "pvalue": pvalue}

        shown = [cand(s, self.pvalue if i == 0 else None) for i, s in enumerate(self.ranked[:top])]
        if self.fitted is not None:
            shown.append({"label": self.fitted.label, "family": "fitted", "distribution": "normal", "mode": None,
                          "gain": None, "std": self.fitted.std, "value": None, "loglik": None, "pvalue": None})
        return {"file": self.file, "name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "verdict": self.verdict, "confidence": self.confidence, "pvalue": self.pvalue,
                "candidates": shown, "indistinguishable": list(self.indistinguishable),
                "exact_aliases": list(self.aliases),
                "near_aliases": [{"label": lab, "n_needed": n} for lab, n in self.near],
                "reason": self.reason, "n": self.n, "layout": self.layout,
                "stated": self.stated.to_dict() if self.stated else None}


def rank(cands: list[Candidate], s: Summary, rel_eps: float) -> list[Scored]:
    scored = [Scored(c, c.loglik(s, rel_eps)) for c in cands]
    scored.sort(key=lambda x: -x.loglik)
    return scored


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
                    jobs: int = 1, max_ks: int = KS_MAX_SAMPLES, bias_fan_in: int | None = None) -> IdentifyResult:
    """Rank every candidate for one tensor; ``layout`` None: the file's own layout for it, else torch."""
    result, summary = _identify(source, layout or source.layout or "torch", alpha, seed, jobs, max_ks, bias_fan_in)
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
              bias_fan_in: int | None) -> tuple[IdentifyResult, Summary | None]:
    """The ranking, and the summary it was computed from (None when the tensor was not read)."""
    base: dict[str, Any] = {"file": source.file, "name": source.name, "shape": source.shape, "dtype": source.dtype,
                            "layout": layout}
    if source.error:
        return IdentifyResult(**base, verdict="skipped", reason=source.error), None
    if source.numel == 0:
        return IdentifyResult(**base, verdict="skipped", reason="empty tensor"), None
    collector = structure_collector(source, layout, seed)
    cells = cell_counter(source, seed)
    summary, sample = scan_source(source, seed=seed, jobs=jobs, max_ks=max_ks if is_float(source.dtype) else 0,
                                  structure=collector, cells=cells)
    if summary.n_nan or summary.n_inf:
        return IdentifyResult(**base, verdict="unknown", n=summary.n,
                              reason=f"{summary.n_nan} NaN and {summary.n_inf} infinite values"), summary
    if summary.n and summary.min == summary.max:
        c = constant_candidate(summary.min)
        return IdentifyResult(**base, verdict=c.label, ranked=(Scored(c, math.inf),), confidence=1.0, pvalue=1.0,
                              n=summary.n, empirical_std=0.0,
                              reason=f"all {summary.n} values equal {summary.min:g}"), summary
    if not is_float(source.dtype):
        return IdentifyResult(**base, verdict="unknown", n=summary.n, reason=f"{source.dtype} values vary"), summary
    eps = rel_eps_for(source.dtype)
    cands = candidates(source.shape, layout, bias_fan_in)
    order = {c.label: i for i, c in enumerate(cands)}
    ranked = rank(cands, summary, eps)
    fitted = Candidate(f"normal_(std={summary.rms:.4g}) [fitted]", "fitted", "normal", None, None, summary.rms)
    best = ranked[0]
    if not math.isfinite(best.loglik):
        return IdentifyResult(**base, verdict="unknown", ranked=tuple(ranked), fitted=fitted, n=summary.n,
                              empirical_std=summary.std, reason="no candidate's support holds the data"), summary
    exact = [r for r in ranked[1:] if r.candidate.same_law(best.candidate)]
    near: list[tuple[str, float]] = []
    hopeless: list[Scored] = []
    for r in ranked[1:]:
        if r in exact or best.loglik - r.loglik >= LN100:
            continue
        kl = kl_divergence(best.candidate, r.candidate)
        needed = math.ceil(LN100 / kl) if kl > 0 else math.inf
        near.append((r.candidate.label, needed))
        if needed > HOPELESS_FACTOR * summary.n:
            hopeless.append(r)
    # among laws no realistic size separates, name the conventional one (candidate order)
    group = [best, *exact, *hopeless]
    chosen = min(group, key=lambda r: order[r.candidate.label])
    if chosen is not best:
        ranked.remove(chosen)
        ranked.insert(0, chosen)
        best = chosen
    aliases = [r.candidate.label for r in ranked[1:] if r in group]
    consistent = [r.candidate.label for r in ranked[1:]
                  if best.loglik - r.loglik < LN100 and r.candidate.label not in aliases]
    battery = run_battery(best.candidate.law, summary, sample, alpha, rel_eps=eps,
                          structure=collector.data() if collector is not None else None, cells=cells)
    confidence = posterior_of_group(ranked, {best.candidate.label, *aliases})
    verdict = best.candidate.label if battery.passed else "unknown"
    structural = [t for t in battery.tests if not t.passed and t.name in STRUCTURE_TESTS]
    reason = "" if battery.passed else (
        f"even the best candidate fails the test battery (p = {battery.pvalue:.2g}): "
        f"the closest normal is N(0, {summary.rms:.4g}^2); "
        + (f"structure: {structural[0].detail}; the weights look trained or built, not drawn" if structural
           else "the weights may be trained"))
    return IdentifyResult(**base, verdict=verdict, ranked=tuple(ranked), indistinguishable=tuple(aliases + consistent),
                          aliases=tuple(aliases), near=tuple(near),
                          confidence=confidence, pvalue=battery.pvalue, reason=reason,
                          fitted=None if battery.passed else fitted, n=summary.n, empirical_std=summary.std), summary


def run_identify(sources: Sequence[TensorSource], *, layout: str | None = None, alpha: float = 1e-3, seed: int = 0,
                     jobs: int | None = None) -> tuple[list[IdentifyResult], list[FileError]]:
    """Every tensor, under the engine's one parallel policy; biases see their sibling weight's fan_in.

    A tensor whose data fails to read is reported as skipped with an error, and the others are still identified.
    """
    shapes = {(s.file, s.name): s.shape for s in sources}

    def one(source: TensorSource, inner_jobs: int, _progress: Progress | None) -> tuple[IdentifyResult, str | None]:
        try:
            return identify_source(source, layout=layout, alpha=alpha, seed=seed, jobs=inner_jobs,
                                   bias_fan_in=sibling_fan_in(source, shapes, layout or source.layout or "torch")
                                   ), None
        except InputError as exc:
            return IdentifyResult(source.file, source.name, source.shape, source.dtype, "skipped",
                                  reason=str(exc)), str(exc)

    outcomes = map_sources(one, sources, jobs)
    return [r for r, _ in outcomes], [FileError(r.file, why) for r, why in outcomes if why is not None]


@dataclass(frozen=True)
class IdentifyReport:
    """A whole ``identify`` run: every tensor's result, the grouped summary and the files that failed."""

    results: list[IdentifyResult]
    summary: list[str]
    layout: str
    alpha: float
    errors: list[FileError] = field(default_factory=list)

    def to_dict(self, top: int = 5) -> dict[str, Any]:
        return {"layout": self.layout, "alpha": self.alpha, "summary": self.summary,
                "errors": [e.to_dict() for e in self.errors], "tensors": [r.to_dict(top) for r in self.results]}


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
            label, _count = max(counts.items(), key=lambda kv: (kv[1], -_first_seen(pending, kv[0])))
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


def law_text(c: Candidate) -> str:
    if c.distribution == "constant":
        return f"constant {c.value:g}"
    if c.distribution == "uniform":
        return f"U(±{SQRT3 * c.std:.4g})"
    if c.distribution == "truncated_normal":
        return f"N(0, {c.std / TRUNC_STD_FACTOR:.4g}²) cut at ±2σ"
    return f"N(0, {c.std:.4g}²)"
