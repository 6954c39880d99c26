"""``kaiming verify``: test the tensors of weight files against rules, with multiple-testing control.

Each tensor gets the battery of ``check`` (same engine) and one combined p-value; across tensors the
gate is Holm at ``alpha`` by default (Bonferroni, Benjamini-Hochberg or none on request). Constant
rules are checked exactly and spend no alpha. bf16/fp16 values are dequantized (jittered inside
their rounding cell, seeded) before the EDF tests, whose p-values rounding would otherwise break.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np

from ..engine.distributed import World, share_sources
from ..engine.parallel import Progress, map_sources
from ..engine.sources import cell_counter, rel_eps_for, same_bytes, scan_source, scan_source_whole, structure_collector
from ..errors import InputError
from ..io.config import Config, Rule, first_match
from ..io.inputs import FileError, GlobCount
from ..io.sources import TensorSource, is_float, mantissa_bits
from ..stats.battery import DEFAULT_TESTS, KS_MAX_SAMPLES, TestResult, run_battery
from ..stats.empirical import Empirical, histogram_counts, law_of
from ..stats.laws import MATRIX_FAMILIES, Law, constant_matches
from ..stats.power import DEFAULT_MAX_DETECTABLE
from ..stats.shape import CellCounter
from ..stats.structure import STRUCTURE_TESTS, StructureCollector
from ..stats.summary import Summary
from ..stats.uninitialized import uninitialized_reason, zeros_where_random
from ..theory.fans import compute_fans
from ..theory.spec import InitSpec, SpecOptions, SpecOverrides

#: A run "looks trained" when at least this share of the tested tensors fails, and this share of those with a
#: spectrum test fail it (looks_trained).
TRAINED_SHARE = 0.5


class Scanner(Protocol):
    """How ``verify_source`` gets a tensor's summary and subsample (``engine.sources.scan_source``'s signature)."""

    def __call__(self, source: TensorSource, *, seed: int, jobs: int, max_ks: int,
                 progress: Callable[[int], None] | None = None,
                 structure: StructureCollector | None = None,
                 cells: CellCounter | None = None) -> tuple[Summary, np.ndarray]: ...


#: What became of one tensor: tested and passed or failed, inconclusive (passed, but too small to detect a
#: std error of --max-detectable), uninitialized (it holds memory no init wrote: ``stats/uninitialized.py``; a
#: failure of its own, outside the correction across tensors, since it is a finding rather than a p-value),
#: skipped (no rule asked for it), or an error.
Status = Literal["pass", "fail", "skip", "error", "inconclusive", "uninitialized"]


@dataclass(frozen=True)
class TensorResult:
    """The verdict on one tensor."""

    file: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    status: Status
    """pass, fail, inconclusive, uninitialized, skip or error."""
    rule: str
    """Which rule decided what this tensor should be."""
    reason: str = ""
    spec: InitSpec | None = None
    constant: float | None = None
    empirical: Empirical | None = None
    tests: tuple[TestResult, ...] = ()
    pvalue: float | None = None
    pvalue_adjusted: float | None = None
    histogram: list[int] = field(default_factory=list)
    detectable: float | None = None
    """The smallest relative std error this tensor detects with 90% power (stats/power.py); None if untested."""
    looks_like: dict[str, Any] | None = None
    """A failing tensor's best law by identify (``runners/looks_like.py``): ``{call, law, std_ratio, change}``."""
    zero_rows_excluded: int = 0
    """Exactly-zero stored rows left out of the structure and shape tests: padding-like, at most one (an
    ``nn.Embedding``'s ``padding_idx`` row; more are tested; docs/statistics.md §2.9). Said in every format."""
    zero_row: int | None = None
    """The first such row's index."""

    def zero_rows_note(self) -> str:
        """The note every format shows for a tensor with zero rows left out, or ``""``."""
        if not self.zero_rows_excluded:
            return ""
        k = self.zero_rows_excluded
        return (f"{self.name}: {k} stored row{'s' if k > 1 else ''} exactly zero (row {self.zero_row}: an "
                "embedding's padding_idx?) left out of the structure and shape tests")

    @property
    def failed(self) -> bool:
        """A failure of the run by this tensor's own verdict: FAIL, or memory never initialized (errors and
        --strict's inconclusive are the report's to add)."""
        return self.status in ("fail", "uninitialized")

    @property
    def std_ratio(self) -> float | None:
        if self.spec is None or self.empirical is None:
            return None
        return self.empirical.rms / self.spec.std

    def to_dict(self) -> dict[str, Any]:
        expected: dict[str, Any] | None
        if self.spec is not None:
            expected = self.spec.to_dict()
        elif self.constant is not None:
            expected = {"constant": self.constant}
        else:
            expected = None
        return {
            "file": self.file, "name": self.name, "shape": list(self.shape), "dtype": self.dtype,
            "status": self.status, "expected": expected, "rule": self.rule,
            "empirical": self.empirical.to_dict() if self.empirical else None,
            "tests": [t.to_dict() for t in self.tests], "pvalue": self.pvalue,
            "pvalue_adjusted": self.pvalue_adjusted, "reason": self.reason, "std_ratio": self.std_ratio,
            "detectable": self.detectable if self.detectable is not None and math.isfinite(self.detectable)
            else None,
            "looks_like": self.looks_like, "zero_rows_excluded": self.zero_rows_excluded,
        }


@dataclass(frozen=True)
class VerifyResult:
    tensors: tuple[TensorResult, ...]
    alpha: float
    correction: str
    trained: bool = False
    notes: tuple[str, ...] = ()
    errors: tuple[FileError, ...] = ()
    """Paths that could not be read (each also makes the exit code 3)."""
    rules: tuple[GlobCount, ...] = ()
    """Per rule of the config: how many tensors it decided."""
    globs: tuple[GlobCount, ...] = ()
    """Per ``--tensor`` glob: how many of the files' tensors it selected."""
    found: int | None = None
    """Tensors in the files before ``--tensor`` filtered them (None: no filter)."""
    allow_empty: bool = False
    """A run that tested no tensor passes only when this is set (``--allow-empty``)."""
    strict: bool = False
    """``--strict``: an inconclusive tensor fails the run."""
    max_detectable: float = DEFAULT_MAX_DETECTABLE

    @property
    def tested(self) -> int:
        """Tensors that got a verdict (statistical, constant, or memory never initialized): pass, fail,
        inconclusive or uninitialized."""
        return sum(t.status in ("pass", "fail", "inconclusive", "uninitialized") for t in self.tensors)

    @property
    def empty(self) -> bool:
        """Nothing was tested and that is not allowed: the gate must not pass on nothing."""
        return self.tested == 0 and not self.allow_empty

    @property
    def passed(self) -> bool:
        fine = ("pass", "skip") if self.strict else ("pass", "skip", "inconclusive")
        return not self.empty and not self.errors and all(t.status in fine for t in self.tensors)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(t.status == "error" for t in self.tensors)

    def count(self, status: Status) -> int:
        return sum(t.status == status for t in self.tensors)

    def unmatched(self) -> list[str]:
        """Rules and ``--tensor`` globs that matched no tensor, for a note."""
        rules = [f"rule {i + 1} {r.match!r}" for i, r in enumerate(self.rules) if not r.matched]
        return rules + [f"--tensor {g.match!r}" for g in self.globs if not g.matched]

    def empty_reason(self) -> str:
        """Why no tensor was tested, in words."""
        n = len(self.tensors)
        if self.found == 0 or (self.found is None and n == 0):
            return "the input files hold no tensors" if not self.errors else "no file could be read"
        if n == 0:
            globs = ", ".join(repr(g.match) for g in self.globs)
            return f"--tensor {globs} matched none of the {self.found} tensors"
        if self.count("skip") == n:
            by_rule = sum(t.reason.startswith("skipped by rule") for t in self.tensors)
            how = f" ({by_rule} by skip rules, {n - by_rule} matched by no rule)" if 0 < by_rule < n else \
                " by skip rules" if by_rule == n else " (no rule and no spec option covers them)"
            return f"all {n} tensors were skipped{how}"
        return f"none of the {n} tensors could be tested"

    def first_error(self) -> str | None:
        if self.errors:
            return self.errors[0].reason
        for t in self.tensors:
            if t.status == "error":
                return f"{t.name}: {t.reason}"
        return None

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("pass", "fail", "uninitialized", "inconclusive", "skip", "error")
                 if self.count(s)]
        failed = sum(t.failed for t in self.tensors)
        verdict = "PASS" if self.passed else ("ERROR" if self.has_errors and not failed else "FAIL")
        if self.passed and not self.count("pass") and self.count("inconclusive"):
            verdict = "INCONCLUSIVE"  # exit 0 (--strict fails it), but nothing was shown to follow its law
        line = f"{verdict}: {plural(len(self.tensors), 'tensor')}: {', '.join(parts) or 'none'} " \
               f"(alpha = {self.alpha:g}, {self.correction} across tested tensors)"
        if self.count("inconclusive"):
            line += f"; inconclusive: too few values to detect a std error of {self.max_detectable:g} " \
                    "with 90% power" + (", failed by --strict" if self.strict else " (--strict fails them)")
        if self.errors:
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            line += f"; unreadable: {self.errors[0].reason}{more}"
        elif self.has_errors:
            line += f"; first error: {self.first_error()}"
        if self.tested == 0 and not self.has_errors:
            line = f"FAIL: no tensor was tested: {self.empty_reason()}; pass --allow-empty if that is expected" \
                if self.empty else f"PASS: no tensor was tested ({self.empty_reason()}), allowed by --allow-empty"
        if self.trained:
            line += ". The weights look TRAINED, not freshly initialized: most tensors miss their init law " \
                    "by a wide margin."
        return line

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "alpha": self.alpha, "correction": self.correction, "tested": self.tested,
                "looks_trained": self.trained, "summary": self.summary(), "notes": list(self.notes),
                "rules": [r.to_dict() for r in self.rules], "tensor_globs": [g.to_dict() for g in self.globs],
                "errors": [e.to_dict() for e in self.errors],
                "tensors": [t.to_dict() for t in self.tensors]}


def plural(n: int, noun: str) -> str:
    """``1 tensor``, ``2 tensors``: "1 tensors" read as a bug."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --------------------------------------------------------------------------- corrections

def adjust(pvalues: Sequence[float], method: str) -> list[float]:
    """Adjusted p-values: Holm (step-down), Bonferroni, Benjamini-Hochberg, or none."""
    m = len(pvalues)
    if m == 0 or method == "none":
        return list(pvalues)
    if method == "bonferroni":
        return [min(1.0, p * m) for p in pvalues]
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [0.0] * m
    if method == "holm":
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * pvalues[i]))
            out[i] = running
        return out
    if method == "bh":
        running = 1.0
        for rank in range(m - 1, -1, -1):
            i = order[rank]
            running = min(running, pvalues[i] * m / (rank + 1))
            out[i] = min(1.0, running)
        return out
    raise ValueError(f"unknown correction {method!r}")


# --------------------------------------------------------------------------- one tensor

def choose(source: TensorSource, config: Config, fallback: Rule | None) -> Rule | None:
    """The user's first matching rule, else the rule the file states (a .keras config), else the fallback."""
    return first_match(config.rules, source.name) or source.rule or (
        fallback if fallback and _fallback_fits(source, fallback) else None)


def _fallback_fits(source: TensorSource, fallback: Rule) -> bool:
    """The command line's options cover floating-point tensors of 2 or more dimensions; with ``--init``, also 1-D
    ones whose law that call gives without further fans (``zeros_``, ``normal_(std=1e-6)``, a bias with
    ``--fan-in``)."""
    if not is_float(source.dtype):
        return False
    if len(source.shape) >= 2:
        return True
    if fallback.options.get("init") is None or len(source.shape) != 1:
        return False
    try:
        SpecOptions().overridden(fallback.options).spec(source.shape)
    except ValueError:
        return False
    return True


def verify_source(source: TensorSource, rule: Rule | None, base_options: SpecOptions, *, alpha: float,
                  seed: int = 0, jobs: int = 1, max_ks: int = KS_MAX_SAMPLES,
                  tests: tuple[str, ...] = DEFAULT_TESTS, progress: Callable[[int], None] | None = None,
                  layout_given: bool = False, scanner: Scanner = scan_source,
                  sibling_fan_in: int | None = None) -> TensorResult:
    """The battery (or the constant check) on one tensor; ``pvalue_adjusted`` is filled in later.

    The tensor's own layout (``source.layout``: Keras and Flax kernels, ONNX weights by their op) replaces the
    base options' unless ``layout_given`` (``--layout`` on the command line); a rule's layout wins over both.
    ``scanner`` makes the summary and subsample: by default it reads the source; inside a distributed job it
    gathers them from the ranks' shards (engine/distributed.py), and is then called on every rank or on none,
    because the branches before it depend only on the name, shape, dtype and rule, which every rank shares.
    """
    base = TensorResult(source.file, source.name, source.shape, source.dtype, "skip",
                        rule.describe() if rule else "no rule")
    if source.error:
        return replace(base, status="error", reason=source.error)
    if source.same_as is not None:
        return replace(base, reason=same_bytes(source.same_as))
    if rule is None:
        return replace(base, reason="no rule and no spec option covers it")
    if rule.skip:
        return replace(base, reason=f"skipped by rule {rule.origin}")
    if source.numel == 0:
        return replace(base, reason="empty tensor")
    if rule.constant is not None:
        return constant_source(base, source, scanner, rule.constant, seed=seed, jobs=jobs, progress=progress)
    not_random = replace(base, status="error", reason=f"{source.dtype} tensor matched a random-init rule; "
                                                      "give it a constant or skip rule")
    if source.layout is not None and not layout_given:
        base_options = replace(base_options, layout=source.layout)
    options = base_options.overridden(rule.options)
    if len(source.shape) == 1 and options.fan_in is None and sibling_fan_in is not None:
        options = replace(options, fan_in=sibling_fan_in)  # a bias: default('Linear') needs its weight's fan_in
    try:
        # a 0-d tensor holds one value: only a constant law (zeros_, ones_, constant_) can describe it, and that
        # law needs no fans; any other law on it is refused below with the spec's own reason
        spec = options.spec(source.shape or (1,))
        if spec.exact_law.distribution == "constant" and spec.exact_law.value is not None:
            # checked exactly, on integer tensors too (identify -f rules writes init = "zeros_" for a BatchNorm's
            # num_batches_tracked)
            return constant_source(base, source, scanner, spec.exact_law.value, seed=seed, jobs=jobs,
                                   progress=progress)
        if not source.shape:
            options.spec(source.shape)
    except ValueError as exc:
        return replace(base, status="error", reason=str(exc)) if is_float(source.dtype) else not_random
    if not is_float(source.dtype):
        return not_random
    try:
        law = law_of(spec)
    except ValueError as exc:  # a law the statistics cannot test: this tensor is an error, said why
        return replace(base, status="error", spec=spec, reason=str(exc))
    matrix_law = law.distribution in MATRIX_FAMILIES  # read whole; no iid structure or shape tests
    collector = structure_collector(source, spec.layout, seed) \
        if not matrix_law and set(tests) & set(STRUCTURE_TESTS) else None
    cells = cell_counter(source, seed) if not matrix_law and "shape" in tests else None
    values = None
    try:
        if matrix_law and scanner is scan_source:
            summary, sample, values = scan_source_whole(source, seed=seed, jobs=jobs, max_ks=max_ks,
                                                        progress=progress)
        else:
            summary, sample = scanner(source, seed=seed, jobs=jobs, max_ks=max_ks, progress=progress,
                                      structure=collector, cells=cells)
    except InputError as exc:  # the data fails to read (truncated, vanished): this tensor is an error
        return replace(base, status="error", spec=spec, reason=str(exc))
    never_set = (uninitialized_reason(summary, sample, mantissa_bits(source.dtype), repeats=False)
                 or zeros_where_random(summary, True))
    if never_set:  # torch.empty / to_empty() memory: named as such, not as a law that failed a test
        return replace(base, status="uninitialized", spec=spec, reason=never_set)
    structure = collector.data() if collector is not None else None
    battery = run_battery(law, summary, sample, alpha, tests, rel_eps=rel_eps_for(source.dtype), values=values,
                          dtype=source.dtype, seed=seed, structure=structure,
                          cells=cells if cells is not None and cells.fed == source.numel else None)
    if structure is not None and structure.zero_lines:  # said in every format (TensorResult.zero_rows_note)
        base = replace(base, zero_rows_excluded=len(structure.zero_lines), zero_row=structure.zero_lines[0])
    status: Status = "pass" if battery.passed else "fail"
    if battery.passed and battery.not_run:  # the defining test of a structured law could not run
        return replace(base, status="inconclusive", spec=spec, empirical=Empirical.from_summary(summary, battery),
                       tests=battery.tests, pvalue=battery.pvalue,
                       reason="not run: " + "; ".join(battery.not_run), detectable=battery.detectable)
    return replace(
        base, status=status, spec=spec,
        empirical=Empirical.from_summary(summary, battery), tests=battery.tests, pvalue=battery.pvalue,
        histogram=histogram_counts(sample, law) if sample.size else [],
        reason=failure_reason(battery.tests), detectable=battery.detectable,
    )


def failure_reason(tests: Sequence[TestResult]) -> str:
    """The failed tests' details, a marginal test (distribution, scale, tails) first whenever one failed; the
    structure tests (rows, cols, spectrum) follow, still listed. A wrong std or family is what the user must fix
    first, and the structure tests can react to it (issue 26); when the arrangement alone is wrong (sorted rows, a
    permuted copy) the marginal tests pass and a structure test leads. A copied half or a tiled block that also
    fails a marginal test (fewer independent values than it seems) is named by both, the marginal one first."""
    failed = [t for t in tests if not t.passed]
    failed.sort(key=lambda t: t.name in STRUCTURE_TESTS)
    return "; ".join(t.detail for t in failed)


# --------------------------------------------------------------------------- the run

def constant_source(base: TensorResult, source: TensorSource, scanner: Scanner, value: float, *, seed: int,
                    jobs: int, progress: Callable[[int], None] | None) -> TensorResult:
    """The exact check of a constant rule (``constant = v``, or an init call such as ``zeros_``)."""
    try:
        summary, _ = scanner(source, seed=seed, jobs=jobs, max_ks=0, progress=progress)
    except InputError as exc:
        return replace(base, status="error", constant=value, reason=str(exc))
    return constant_result(base, summary, value, source.dtype)


def constant_result(base: TensorResult, s: Summary, value: float, dtype: str = "float64") -> TensorResult:
    """Every value equals ``value`` as the tensor's dtype stores it (0.3 is 0.30000001 in float32)."""
    bad_nonfinite = s.n_nan + s.n_inf
    exact = bad_nonfinite == 0 and s.n > 0 and constant_matches(s.min, s.max, value, dtype)
    if exact:
        reason = f"all {s.n} values equal {value:g}"
    elif bad_nonfinite:
        reason = f"{s.n_nan} NaN and {s.n_inf} infinite values; expected every value to equal {value:g}"
    else:
        reason = f"values span [{s.min:.6g}, {s.max:.6g}]; expected every value to equal {value:g}"
    return replace(base, status="pass" if exact else "fail", constant=value, reason=reason,
                   pvalue=1.0 if exact else 0.0)


# --------------------------------------------------------------------------- the run

def finalize(results: Iterable[TensorResult], alpha: float, correction: str,
             max_detectable: float = DEFAULT_MAX_DETECTABLE) -> VerifyResult:
    """Apply the correction across statistically tested tensors, mark the passes too small to mean anything
    inconclusive, and spot trained checkpoints."""
    results = list(results)
    tested = [i for i, r in enumerate(results) if r.spec is not None and r.status in ("pass", "fail")]
    adjusted = adjust([results[i].pvalue or 0.0 for i in tested], correction)
    for i, p_adj in zip(tested, adjusted, strict=True):
        r = results[i]
        status: Status = "pass" if p_adj > alpha else "fail"
        reason = r.reason if status == "fail" else ""
        if status == "fail" and not reason:
            reason = "rejected after the correction across tensors"
        if status == "pass" and r.detectable is not None and r.detectable > max_detectable:
            status = "inconclusive"
            reason = f"{r.empirical.n if r.empirical else 0} values detect a std error of ±{r.detectable:.3g} " \
                     f"at best (90% power), over --max-detectable {max_detectable:g}"
        results[i] = replace(r, status=status, pvalue_adjusted=p_adj, reason=reason)
    for i, r in enumerate(results):
        if r.constant is not None:
            results[i] = replace(r, pvalue_adjusted=r.pvalue)
    notes = tuple(note for r in results if (note := r.zero_rows_note()))
    return VerifyResult(tuple(results), alpha, correction, trained=looks_trained([results[i] for i in tested]),
                        notes=notes, max_detectable=max_detectable)


def looks_trained(tested: Sequence[TensorResult]) -> bool:
    """Training leaves structure that initialization never has: the top singular value lifted far above the
    random-matrix edge (low rank, spectral heavy tails). So a run looks trained when at least half of the tested
    tensors fail and at least half of those with a spectrum test (two or more) fail it. The spectrum test is
    scale-free and holds for any i.i.d. law with a finite fourth moment, so a freshly initialized model checked
    against the wrong rules (wrong gain, fan or family: std, kurtosis and range fail) is never called trained;
    the former rule (a median scale error beyond 25%) called exactly that case trained."""
    failed = [r for r in tested if r.status == "fail"]
    if len(tested) < 3 or len(failed) < TRAINED_SHARE * len(tested):
        return False
    spectral = [r for r in tested if any(t.name == "spectrum" for t in r.tests)]
    lifted = [r for r in spectral if any(t.name == "spectrum" and not t.passed for t in r.tests)]
    return len(spectral) >= 2 and len(lifted) >= TRAINED_SHARE * len(spectral)


def fallback_rule(config: Config, explicit: SpecOverrides) -> Rule | None:
    """The rule for tensors no ``[[rule]]`` matches: the spec options given on the command line, or, with no
    rules at all, the defaults (floating-point tensors of 2 or more dimensions only)."""
    if explicit or not config.rules:
        return Rule(match="*", options=explicit, origin="command line")
    return None


def run_verify(sources: Sequence[TensorSource], config: Config, fallback: Rule | None,
                   base_options: SpecOptions, *, alpha: float, correction: str, seed: int = 0,
                   jobs: int | None = None, max_ks: int = KS_MAX_SAMPLES, tests: tuple[str, ...] = DEFAULT_TESTS,
                   progress: Callable[[int], None] | None = None, errors: Sequence[FileError] = (),
                   globs: tuple[GlobCount, ...] = (), found: int | None = None,
                   allow_empty: bool = False, layout_given: bool = False,
                   world: World | None = None, max_detectable: float = DEFAULT_MAX_DETECTABLE,
                   strict: bool = False) -> VerifyResult:
    """Every source under the engine's parallel policy, corrected across tensors.

    With a ``world`` (a torch.distributed job over files) each tensor is verified whole by one rank and
    every rank gets every result, so the report equals a single-process run's.

    ``errors`` (files that could not be read), ``globs`` and ``found`` (the ``--tensor`` selection and how many
    tensors it chose from) are reported with the result; ``allow_empty`` lets a run that tested nothing pass.
    """
    fans = sibling_fans(sources, base_options.layout or "torch", layout_given)

    def one(source: TensorSource, inner_jobs: int, inner_progress: Progress | None) -> TensorResult:
        return verify_source(source, choose(source, config, fallback), base_options, alpha=alpha, seed=seed,
                             jobs=inner_jobs, max_ks=max_ks, tests=tests, progress=inner_progress,
                             layout_given=layout_given, sibling_fan_in=fans.get((source.file, source.name)))

    if world is None:
        results = map_sources(one, sources, jobs, progress)
    else:
        results = share_sources(world, one, sources, jobs, progress)
    chosen = [choose(source, config, fallback) for source in sources]
    counts = tuple(GlobCount(rule.match, sum(c is rule for c in chosen), rule.origin) for rule in config.rules)
    return replace(finalize(results, alpha, correction, max_detectable), rules=counts, errors=tuple(errors),
                   globs=globs, found=found, allow_empty=allow_empty, strict=strict)


_BIAS_SIBLINGS = (("bias", "weight"), ("bias", "kernel"), ("bias:0", "kernel:0"))


def sibling_fans(sources: Sequence[TensorSource], layout: str, layout_given: bool) -> dict[tuple[str, str], int]:
    """The fan_in of each 1-D bias's sibling weight in the same file (``fc.bias`` -> ``fc.weight``): what
    ``default('Linear')``'s bias law U(+-1/sqrt(fan_in)) needs, as torch computes it in ``reset_parameters``."""
    shapes = {(s.file, s.name): s for s in sources if len(s.shape) >= 2}
    out: dict[tuple[str, str], int] = {}
    for s in sources:
        if len(s.shape) != 1:
            continue
        for sep in (".", "/"):
            head, _, tail = s.name.rpartition(sep)
            for bias, weight in _BIAS_SIBLINGS:
                sibling = shapes.get((s.file, f"{head}{sep}{weight}")) if head and tail == bias else None
                if sibling is None:
                    continue
                own = sibling.layout if sibling.layout is not None and not layout_given else layout
                try:
                    out[(s.file, s.name)] = compute_fans(sibling.shape, own).fan_in
                except ValueError:
                    pass
    return out


def failure_samples(result: VerifyResult, sources: Sequence[TensorSource], limit: int,
                    seed: int = 0) -> list[tuple[TensorResult, np.ndarray, Law]]:
    """The EDF subsamples of the failing tensors (or, if none fail, the first tested ones), for plots."""
    by_key = {(s.file, s.name): s for s in sources}
    tested = [t for t in result.tensors if t.spec is not None and t.status in ("pass", "fail", "inconclusive")]
    chosen = [t for t in tested if t.status == "fail"] or tested
    out = []
    for t in chosen[:limit]:
        assert t.spec is not None
        _summary, sample = scan_source(by_key[(t.file, t.name)], seed=seed, jobs=1, max_ks=KS_MAX_SAMPLES)
        out.append((t, sample, law_of(t.spec)))
    return out
