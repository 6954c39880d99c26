"""The candidates ``kaiming identify`` ranks: the inits that could have produced a tensor of a given shape.

A fixed list of common schemes (kaiming and xavier with the usual gains, PyTorch's layer defaults, a std of
0.02) with their priors, the constants, and the laws compared between candidates (``kl_divergence``). It exists
apart from the fitting and ranking (``runners/identify/__init__.py``), which adds the named calls a fitted scale
implies and scores every candidate on one streaming pass (docs/statistics.md §7).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields

from ...stats.fit import LOG_BEYOND, LOG_INSIDE, LOG_TRUNC_MASS
from ...stats.laws import Law, family_law
from ...stats.summary import Summary
from ...theory.fans import compute_fans
from ...theory.gains import TORCH_DEFAULT_LAYER_SLOPE, gain
from ...theory.spec import SQRT3, TRUNC_STD_FACTOR

FIXED_STDS = (0.02,)
#: Two candidates of one family whose stds agree to this (relative) are the same law (``Candidate.same_law``).
SAME_LAW_REL = 1e-12
#: Priors of the fixed candidates by nonlinearity (theory/explanations.py gives the others).
FIXED_PRIORS = {"relu": 1.0, "linear": 0.5, "leaky_relu": 0.05, "tanh": 0.2, "selu": 0.1}


def module_name(shape: tuple[int, ...]) -> str:
    """The PyTorch module whose default init a weight of this rank would have had."""
    return {3: "Conv1d", 4: "Conv2d", 5: "Conv3d"}.get(len(shape), "Linear")
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
    init: str = ""
    """The same law as a call in the init-call grammar (docs/cli.md), what ``-f rules`` writes; "" = the label."""
    prior: float = 1.0
    """Plausibility before the data (theory/explanations.py): names the verdict among laws the data cannot
    separate."""
    fan_in: int | None = None
    """Fans the call needs stated in a rule (an einsum split, a bias's sibling weight); None: the shape's own."""
    fan_out: int | None = None
    note: str = ""
    std_ci: tuple[float, float] | None = None
    """A fitted candidate's confidence interval of the std."""
    explanations: tuple[str, ...] = ()
    """A fitted candidate: other calls whose law lies in ``std_ci``."""

    def __hash__(self) -> int:
        """The dataclass's hash of every field, made once: ``rank`` and the verdict's choice look each of a
        tensor's ~40 candidates up in dicts, most of them the shared candidates of its shape (issue 25)."""
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in fields(self)))
            self.__dict__["_hash"] = cached
        return cached

    def __getstate__(self) -> dict[str, object]:
        """Pickled with its fields only: not the cached hash (a string's hash differs between processes: a
        torch.distributed rank), nor the cached law and terms, made again where they are read (a forked worker's
        results of a thousand tensors unpickled 3x faster)."""
        return {f.name: self.__dict__[f.name] for f in fields(self)}

    @property
    def call(self) -> str:
        return self.init or self.label

    @functools.cached_property
    def law(self) -> Law:
        """The candidate's law; a truncated normal is Keras's torch-backend mixture (``stats.laws.family_law``).
        Made once per candidate (the fixed and named candidates are shared by every tensor of their shape)."""
        return family_law(self.distribution, self.std)

    @functools.cached_property
    def bound(self) -> float | None:
        """The law's max|x| (uniform bound, truncation point), None if unbounded; made once."""
        return self.law.bound

    def loglik(self, s: Summary, rel_eps: float, beyond: float = 0.0) -> float:
        """Log-likelihood of the data; ``beyond`` is the subsample's fraction beyond a truncated candidate's cut
        (the mixture's count of such values is n times it, at least 1 when the max is there)."""
        return self.loglik_of(s.n, s.sumsq, s.max_abs, (s.min, s.max), rel_eps, beyond)

    def loglik_of(self, n: int, ss: float, m: float, span: tuple[float, float], rel_eps: float,
                  beyond: float = 0.0) -> float:
        """``loglik`` from the summary's n, sum of squares, max|x| and (min, max), which ``rank`` reads once for
        all the candidates of a tensor (each is a computed property of the summary)."""
        if self.distribution == "constant":
            return math.inf if span[0] == span[1] == self.value else -math.inf
        if self.distribution == "normal":
            log_var, twice_var = self.normal_terms
            return -0.5 * n * log_var - ss / twice_var
        bound = self.bound
        assert bound is not None
        if self.distribution == "uniform":
            return -n * math.log(2 * bound) if m <= bound * (1 + rel_eps) else -math.inf
        log_var, twice_var = self.normal_terms
        k = max(1, round(n * beyond)) if m > bound * (1 + rel_eps) else 0
        return -0.5 * n * log_var - ss / twice_var + (n - k) * LOG_INSIDE + k * LOG_BEYOND

    @functools.cached_property
    def normal_terms(self) -> tuple[float, float]:
        """ln(2 pi s^2) and 2 s^2 of the normal law (s = std) or of the truncated one's pre-cut sigma: the same
        expressions ``loglik_of`` evaluated per tensor, made once per candidate (the shared candidates of a shape
        are scored on every tensor of that shape)."""
        s = self.std if self.distribution == "normal" else self.law.sigma_pre
        return math.log(2 * math.pi * s**2), 2 * s**2

    def same_law(self, other: Candidate) -> bool:
        return self.distribution == other.distribution and math.isclose(self.std, other.std, rel_tol=SAME_LAW_REL)


def _kaiming_label(dist: str, mode: str, nl: str, a: float) -> str:
    slope = f"a={a:g}, " if nl == "leaky_relu" else ""
    return f"kaiming_{dist}_({slope}mode={mode!r}, nonlinearity={nl!r})"


def candidates(shape: tuple[int, ...], layout: str, bias_fan_in: int | None = None) -> list[Candidate]:
    """Every scheme of the issue, as laws for this shape (schemes needing fans only for >= 2-D).

    The order is the preference among laws that no realistic size can separate (relu before
    leaky_relu(0.01), fan_in before fan_out on square fans). A new list each call, of candidates made once per
    shape, layout and bias fan (frozen): the tensors of a checkpoint share a few shapes (issue 25).
    """
    return list(_candidates(tuple(shape), layout, bias_fan_in))


@functools.lru_cache(maxsize=256)
def _candidates(shape: tuple[int, ...], layout: str, bias_fan_in: int | None) -> tuple[Candidate, ...]:
    out: list[Candidate] = []
    if len(shape) >= 2 or layout == "keras":
        fans = compute_fans(shape, layout)
        for dist in ("normal", "uniform"):
            for mode in ("fan_in", "fan_out"):
                for nl, a in GAIN_CHOICES:
                    g = gain(nl, a)
                    short = f"kaiming_{dist}_ {mode} {nl}" + (f"({a:g})" if nl == "leaky_relu" else "")
                    out.append(Candidate(_kaiming_label(dist, mode, nl, a), "kaiming", dist, mode, g,
                                         g / math.sqrt(fans.select(mode)), short=short,
                                         prior=FIXED_PRIORS.get(nl, 0.5)))
        g5 = gain("leaky_relu", TORCH_DEFAULT_LAYER_SLOPE)
        out.append(Candidate("kaiming_uniform_(a=sqrt(5)) [PyTorch nn.Linear/nn.Conv default]", "torch_default",
                             "uniform", "fan_in", g5, g5 / math.sqrt(fans.select("fan_in")), short="PyTorch default",
                             init=f"default({module_name(shape)!r})"))
        for dist in ("normal", "uniform"):
            out.append(Candidate(f"xavier_{dist}_()", "xavier", dist, "fan_avg", 1.0,
                                 1 / math.sqrt(fans.select("fan_avg")), short=f"xavier_{dist}_", prior=0.5))
            label = "lecun_normal (untruncated)" if dist == "normal" else "lecun_uniform"
            out.append(Candidate(label, "lecun", dist, "fan_in", 1.0, 1 / math.sqrt(fans.select("fan_in")),
                                 short=label, init=f"kaiming_{dist}_(mode='fan_in', nonlinearity='linear')",
                                 prior=0.5))
        native = layout in ("keras", "jax")
        for name, mode, g in (("he_normal", "fan_in", math.sqrt(2)), ("lecun_normal", "fan_in", 1.0),
                              ("glorot_normal", "fan_avg", 1.0)):
            keras = "keras.initializers." + {"he_normal": "HeNormal()", "lecun_normal": "LecunNormal()",
                                             "glorot_normal": "GlorotNormal()"}[name]
            out.append(Candidate(f"{name} (Keras/JAX, truncated)", "keras_jax", "truncated_normal", mode, g,
                                 g / math.sqrt(fans.select(mode)), short=f"{name} (Keras/JAX)", init=keras,
                                 prior=1.0 if native else 0.1, fan_in=None if native else fans.fan_in,
                                 fan_out=None if native else fans.fan_out))
    if bias_fan_in:
        bound = 1 / math.sqrt(bias_fan_in)
        out.append(Candidate(f"uniform_(-1/sqrt({bias_fan_in}), 1/sqrt({bias_fan_in})) [PyTorch bias default]",
                             "torch_default", "uniform", "fan_in", None, bound / SQRT3, short="PyTorch bias default",
                             init="default('Linear')", fan_in=bias_fan_in))
    for std in FIXED_STDS:
        out.append(Candidate(f"normal_(std={std:g})", "fixed", "normal", None, None, std, short=f"normal_ std={std:g}",
                             prior=0.5))
    return tuple(out)


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


@functools.lru_cache(maxsize=8192)
def kl_divergence(p: Candidate, q: Candidate) -> float:
    """KL(p || q) per element, for the laws of two candidates (inf where p's support escapes q's). Cached: the
    pairs are mostly a shape's shared candidates, compared again on every tensor of that shape."""
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


def law_text(c: Candidate) -> str:
    if c.distribution == "constant":
        return f"constant {c.value:g}"
    if c.distribution == "uniform":
        return f"U(±{SQRT3 * c.std:.4g})"
    if c.distribution == "truncated_normal":
        return f"N(0, {c.std / TRUNC_STD_FACTOR:.4g}²) cut at ±2σ"
    return f"N(0, {c.std:.4g}²)"
