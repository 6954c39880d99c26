"""``kaiming verify``: test the tensors of weight files against rules, with multiple-testing control.

Each tensor gets the battery of ``check`` (same engine) and one combined p-value; across tensors the
gate is Holm at ``alpha`` by default (Bonferroni, Benjamini-Hochberg or none on request). Constant
rules are checked exactly and spend no alpha. bf16/fp16 values are dequantized (jittered inside
their rounding cell, seeded) before the EDF tests, whose p-values rounding would otherwise break.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ...engine.parallel import Progress, default_jobs
from ...engine.sources import cell_counter, rel_eps_for, scan_source, scan_source_whole, structure_collector
from ...errors import InputError
from ...io.config import Config, Rule, first_match
from ...io.inputs import FileError, GlobCount
from ...io.sources import TensorSource, is_float, mantissa_bits
from ...stats.battery import DEFAULT_TESTS, KS_MAX_SAMPLES, run_battery
from ...stats.empirical import Empirical, histogram_counts, law_of
from ...stats.grouped import groupable
from ...stats.laws import MATRIX_FAMILIES, Law, constant_matches
from ...stats.power import DEFAULT_MAX_DETECTABLE
from ...stats.shape import CellCounter
from ...stats.structure import STRUCTURE_TESTS, StructureCollector
from ...stats.summary import Summary
from ...stats.uninitialized import uninitialized_reason, zeros_where_random
from ...theory.fans import compute_fans
from ...theory.spec import SpecOptions, SpecOverrides
from .grouped import verify_all, verify_batch
from .plan import Constant, Memo, Tested, plan_source
from .result import Status, TensorResult, VerifyResult, failure_reason, plural

if TYPE_CHECKING:
    from ...engine.distributed import World

__all__ = ["Constant", "Status", "Tested", "TensorResult", "VerifyResult", "failure_reason", "plan_source", "plural"]

#: A run "looks trained" when at least this share of the tested tensors fails, and this share of those with a
#: spectrum test fail it (looks_trained).
TRAINED_SHARE = 0.5


class Scanner(Protocol):
    """How ``verify_source`` gets a tensor's summary and subsample (``engine.sources.scan_source``'s signature)."""

    def __call__(self, source: TensorSource, *, seed: int, jobs: int, max_ks: int,
                 progress: Callable[[int], None] | None = None,
                 structure: StructureCollector | None = None,
                 cells: CellCounter | None = None) -> tuple[Summary, np.ndarray]: ...


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
                  sibling_fan_in: int | None = None, histograms: bool = True) -> TensorResult:
    """The battery (or the constant check) on one tensor; ``pvalue_adjusted`` is filled in later.

    The tensor's own layout (``source.layout``: Keras and Flax kernels, ONNX weights by their op) replaces the
    base options' unless ``layout_given`` (``--layout`` on the command line); a rule's layout wins over both.
    ``scanner`` makes the summary and subsample: by default it reads the source; inside a distributed job it
    gathers them from the ranks' shards (engine/distributed.py), and is then called on every rank or on none,
    because the branches before it depend only on the name, shape, dtype and rule, which every rank shares.
    ``histograms``: the result carries the sample's histogram in the law's bins (what ``--detail`` draws), else
    an empty list.
    """
    plan = plan_source(source, rule, base_options, layout_given=layout_given, sibling_fan_in=sibling_fan_in)
    if isinstance(plan, TensorResult):
        return plan
    if isinstance(plan, Constant):
        return constant_source(plan.base, source, scanner, plan.value, seed=seed, jobs=jobs, progress=progress)
    base, spec, law = plan.base, plan.spec, plan.law
    if scanner is scan_source and groupable(law, source.shape, source.dtype, spec.layout, tests, max_ks):
        done = verify_batch([source], [plan], alpha=alpha, tests=tests, seed=seed, progress=progress,
                            histograms=histograms)[0]
        if done is not None:  # else a rarer branch (non-finite values, a zero row...): the path below
            return done
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
        histogram=histogram_counts(sample, law) if sample.size and histograms else [],
        reason=failure_reason(battery.tests), detectable=battery.detectable,
    )


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
        results[i] = r.updated(status=status, pvalue_adjusted=p_adj, reason=reason)
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
                   strict: bool = False, histograms: bool = True) -> VerifyResult:
    """Every source under the engine's parallel policy, corrected across tensors.

    With a ``world`` (a torch.distributed job over files) each tensor is verified whole by one rank and
    every rank gets every result, so the report equals a single-process run's.

    ``errors`` (files that could not be read), ``globs`` and ``found`` (the ``--tensor`` selection and how many
    tensors it chose from) are reported with the result; ``allow_empty`` lets a run that tested nothing pass.
    ``histograms=False`` leaves every tensor's histogram empty, for a report that does not show them (the CLI
    but for the table's ``--detail``): their counting is a seventh of the group battery's time (issue 25).
    """
    fans = sibling_fans(sources, base_options.layout or "torch", layout_given)
    chosen = [choose(source, config, fallback) for source in sources]
    rule_of = {id(source): rule for source, rule in zip(sources, chosen, strict=True)}

    def one(source: TensorSource, inner_jobs: int, inner_progress: Progress | None) -> TensorResult:
        return verify_source(source, rule_of[id(source)], base_options, alpha=alpha, seed=seed,
                             jobs=inner_jobs, max_ks=max_ks, tests=tests, progress=inner_progress,
                             layout_given=layout_given, sibling_fan_in=fans.get((source.file, source.name)),
                             histograms=histograms)

    if world is None:
        results = verify_many(sources, chosen, base_options, one, alpha=alpha, tests=tests, max_ks=max_ks,
                              seed=seed, jobs=jobs, progress=progress, layout_given=layout_given, fans=fans,
                              histograms=histograms)
    else:  # a torchrun job: its machinery loads only then (engine/launch.py)
        from ...engine.distributed import share_sources

        results = share_sources(world, one, sources, jobs, progress)
    counts = tuple(GlobCount(rule.match, sum(c is rule for c in chosen), rule.origin) for rule in config.rules)
    return replace(finalize(results, alpha, correction, max_detectable), rules=counts, errors=tuple(errors),
                   globs=globs, found=found, allow_empty=allow_empty, strict=strict)


def verify_many(sources: Sequence[TensorSource], chosen: Sequence[Rule | None], base_options: SpecOptions,
                one: Callable[[TensorSource, int, Progress | None], TensorResult], *, alpha: float,
                tests: tuple[str, ...], max_ks: int, seed: int, jobs: int | None,
                progress: Callable[[int], None] | None, layout_given: bool,
                fans: dict[tuple[str, str], int], histograms: bool = True) -> list[TensorResult]:
    """The group path for the tensors it covers (grouped.py) and ``one`` for the rest, under the engine's parallel
    policy; the results in the order of ``sources``. ``chosen`` is each source's rule (``choose``)."""
    memo: Memo = {}
    plans = [plan_source(s, rule, base_options, layout_given=layout_given, sibling_fan_in=fans.get((s.file, s.name)),
                         memo=memo) for s, rule in zip(sources, chosen, strict=True)]
    return verify_all(sources, plans, one, alpha=alpha, tests=tests, max_ks=max_ks, seed=seed,
                      jobs=jobs or default_jobs(), progress=progress, histograms=histograms)


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
