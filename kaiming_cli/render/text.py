"""Text that every output format shares: numbers, shapes, labels, sparklines, the rows of each report.

Format-independent pieces only; each format module (table, markdown, json, junit, github) arranges them.
Text from files is not escaped here: that is each format's job, through ``escape``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..runners.tensor_report import expected_text, pvalue, ratio_text, shape_text
from ..theory.law import LawSpec
from ..theory.spec import InitSpec

if TYPE_CHECKING:
    from ..runners.audit import AuditedWeight, AuditResult
    from ..runners.check import CheckResult
    from ..runners.identify import IdentifyResult
    from ..runners.propagate import PropagateResult
    from ..runners.verify import TensorResult, VerifyResult
    from ..theory.gains import GainTable

#: Block heights of a linear sparkline (blank for zero) and of a log-scale one (every value has a bar).
BLOCKS = " ▁▂▃▄▅▆▇█"
LOG_BLOCKS = BLOCKS[1:]
#: In a run that looks trained, list only this many failures.
TRAINED_ROWS = 10
CHART_WIDTH = 48


def num(x: float | None, digits: int = 4) -> str:
    """A number for display: ``digits`` significant digits, scientific when very small or large."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e6):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def sparkline(values: Sequence[float], lo: float, hi: float, blocks: str = BLOCKS,
              scale: Callable[[float], float] = float) -> str:
    """One block per value, its height the value's place between ``lo`` and ``hi`` (after ``scale``)."""
    steps = len(blocks) - 1
    span = hi - lo
    if span <= 0:
        return blocks[0] * len(values)
    return "".join(blocks[min(steps, max(0, round((scale(v) - lo) / span * steps)))] for v in values)


def log10_floor(v: float) -> float:
    return math.log10(max(v, 1e-300))


# --------------------------------------------------------------------------- specs, gains, fans

def exact_law_text(law: LawSpec) -> str:
    """Any law of theory/law.py in a short formula: N(m, s²), U(lo, hi), a truncated normal with its cut, ..."""
    d = law.distribution
    if d == "normal":
        return f"N({num(law.mean or 0.0, 6)}, {num(law.std, 6)}²)"
    if d == "uniform":
        return f"U({num(law.low, 6)}, {num(law.high, 6)})"
    if d == "truncated_normal":
        return f"N({num(law.loc or 0.0, 6)}, {num(law.scale, 6)}²) cut to ({num(law.low, 6)}, {num(law.high, 6)})"
    if d == "constant":
        return f"constant {num(law.value, 6)}"
    if d == "orthogonal":
        return f"orthogonal × {num(law.gain, 6)} (entry std {num(law.std, 6)})"
    if d == "identity":
        return f"identity × {num(law.gain, 6)}"
    return f"sparse {num(law.sparsity, 4)} zeros, N(0, {num(law.std, 6)}²) elsewhere"


def law_text(spec: InitSpec) -> str:
    if spec.init is not None:
        return exact_law_text(spec.exact_law)
    if spec.distribution == "uniform":
        return f"U(-{num(spec.bound, 6)}, {num(spec.bound, 6)})"
    if spec.distribution == "truncated_normal":
        return f"N(0, {num(spec.sigma_pre, 6)}²) cut at ±{num(spec.bound, 6)}"
    return f"N(0, {num(spec.std, 6)}²)"


def init_spec_rows(spec: InitSpec) -> list[tuple[str, str]]:
    """The rows of ``kaiming std --init``: only what applies to the call."""
    rows = [("shape", f"{shape_text(spec.shape)} ({spec.layout} layout)")]
    if spec.fan_in is not None or spec.fan_out is not None:
        rows.append(("fan_in / fan_out", f"{spec.fan_in} / {spec.fan_out}"))
    if spec.mode is not None and spec.fan is not None:
        rows.append(("mode → fan", f"{spec.mode} → {num(spec.fan, 8)}"))
    if spec.gain is not None:
        rows.append(("gain", num(spec.gain, 10)))
    law = spec.exact_law
    if law.mean is not None:
        rows.append(("mean", num(law.mean, 10)))
    rows.append(("std", num(spec.std, 10)))
    if law.low is not None and law.high is not None:
        rows.append(("bounds", f"[{num(law.low, 10)}, {num(law.high, 10)}]"))
    rows.append(("law", exact_law_text(law)))
    rows.append(("init", spec.init or ""))
    return rows


def spec_rows(spec: InitSpec) -> list[tuple[str, str]]:
    if spec.init is not None:
        return init_spec_rows(spec)
    rows = [
        ("shape", f"{shape_text(spec.shape)} ({spec.layout} layout)"),
        ("fan_in / fan_out", f"{spec.fan_in} / {spec.fan_out} (receptive field {spec.receptive_field})"),
        ("mode → fan", f"{spec.mode} → {num(spec.fan, 8)}"),
        ("gain", f"{num(spec.gain, 10)} ({spec.nonlinearity}"
                 + (f", a={spec.negative_slope:g})" if spec.nonlinearity == "leaky_relu" else ")")),
        ("std = gain/√fan", num(spec.std, 10)),
    ]
    if spec.distribution == "uniform" and spec.bound is not None:
        rows.append(("uniform bound = √3·std", num(spec.bound, 10)))
    elif spec.distribution == "truncated_normal" and spec.sigma_pre is not None and spec.bound is not None:
        rows.append(("sigma_pre = std/0.8796", num(spec.sigma_pre, 10)))
        rows.append(("cut at ±2·sigma_pre", num(spec.bound, 10)))
    rows.append(("law", law_text(spec)))
    rows.append(("call", spec.call))
    return rows


GAIN_HEADERS = ("nonlinearity", "formula", "gain", "source")


def gain_title(table: GainTable) -> str:
    """The gain table is calculate_gain's, except that leaky_relu is shown at the slope used (kaiming_*'s 0)."""
    slopes = {e.negative_slope for e in table.entries if e.negative_slope is not None}
    at = f"; leaky_relu at a = {next(iter(slopes)):g}" if len(slopes) == 1 else ""
    return f"gains (torch.nn.init.calculate_gain{at})"


def gain_rows(table: GainTable) -> list[tuple[str, str, str, str]]:
    return [(e.nonlinearity, e.formula, num(e.gain, 10), e.reference) for e in table.entries]


def fan_rows(facts: dict[str, object]) -> list[tuple[str, str]]:
    shape = facts["shape"]
    assert isinstance(shape, list)
    rows = [("shape", f"{','.join(map(str, shape))} ({facts['layout']})")]
    return rows + [(k, str(v)) for k, v in facts.items() if k not in ("shape", "layout")]


# --------------------------------------------------------------------------- check

def histogram_lines(observed: Sequence[int], expected: Sequence[float]) -> tuple[str, str]:
    top = max(max(observed, default=0), max(expected, default=0.0))
    return sparkline(observed, 0.0, top), sparkline(expected, 0.0, top)


def _expected_excess_kurtosis(spec: InitSpec) -> str:
    from ..stats.empirical import law_of

    try:
        return num(law_of(spec).excess_kurtosis, 4)
    except ValueError:  # exact laws (constant, identity) have no kurtosis to compare
        return "-"


def _expected_range(law: LawSpec) -> str:
    if law.low is not None and law.high is not None:
        if law.low == -law.high:
            return f"±{num(law.high, 6)}"
        return f"[{num(law.low, 6)}, {num(law.high, 6)}]"
    if law.distribution in ("constant", "identity"):
        return "exact values"
    return "unbounded"


def _symmetric_about_mean(law: LawSpec) -> bool:
    if law.distribution in ("normal", "uniform", "sparse", "orthogonal"):
        return True
    if law.distribution == "truncated_normal" and None not in (law.low, law.high, law.loc):
        return math.isclose((law.loc or 0.0) - (law.low or 0.0), (law.high or 0.0) - (law.loc or 0.0))
    return False


def empirical_rows(result: CheckResult) -> list[tuple[str, str, str]]:
    """Measured against expected, from the spec's exact law (any mean, any bounds)."""
    spec, emp = result.spec, result.empirical
    law = spec.exact_law
    std0 = law.std if law.std else spec.std
    lo, hi = emp.std_ci
    mu = law.mean or 0.0
    # the std test's statistic: root mean square about the law's own mean
    about = math.sqrt(max(emp.rms**2 - 2 * mu * emp.mean + mu * mu, 0.0)) if emp.n else math.nan
    ratio = (f"{num(about / std0, 5)}  CI [{num(lo / std0, 5)}, {num(hi / std0, 5)}]" if std0
             else "-")
    return [
        ("n", f"{emp.n}" + (f" (EDF tests on {emp.n_ks})" if emp.n_ks < emp.n else ""), ""),
        ("std", num(emp.std, 6), num(std0, 6)),
        ("std / theory", ratio, "1"),
        ("detectable std error", detectable_text(result.detectable), f"≤ {detectable_text(result.max_detectable)}"),
        ("mean", num(emp.mean, 4), num(law.mean or 0.0, 4)),
        ("min / max", f"{num(emp.min, 5)} / {num(emp.max, 5)}", _expected_range(law)),
        ("excess kurtosis", num(emp.excess_kurtosis, 4), _expected_excess_kurtosis(spec)),
        ("skewness", num(emp.skewness, 4), "0" if _symmetric_about_mean(law) else "-"),
    ]


def test_rows(result: CheckResult) -> list[tuple[str, str, str, bool, str]]:
    return [(t.name, num(t.statistic, 4), pvalue(t.pvalue), t.passed, t.detail) for t in result.battery.tests]


def detectable_text(delta: float | None) -> str:
    """``±12%``: the smallest relative std error detectable with 90% power (``none`` when nothing is)."""
    if delta is None or not math.isfinite(delta):
        return "none"
    return f"±{delta * 100:.2g}%" if delta < 0.1 else f"±{delta * 100:.0f}%"


def verdict_line(result: CheckResult) -> str:
    b = result.battery
    if result.status == "inconclusive":
        return (
            f"INCONCLUSIVE: no evidence against {law_text(result.spec)}, but {result.empirical.n} values can only "
            f"detect a std error of {detectable_text(result.detectable)} (90% power; --max-detectable "
            f"{result.max_detectable:g}): give more values (--samples)"
            + ("; --strict makes this a failure" if not result.strict else "; failed by --strict")
        )
    word = "PASS" if b.passed else "FAIL"
    how = "consistent with" if b.passed else "inconsistent with"
    return (
        f"{word}: the sample is {how} {law_text(result.spec)} at alpha = {b.alpha:g} "
        f"(combined p = {pvalue(b.pvalue)}, {len(b.tests)} tests, Bonferroni)"
    )


def check_notes(result: CheckResult) -> list[str]:
    return list(result.spec.notes) + list(result.battery.notes) + list(result.notes)


def check_histogram(result: CheckResult) -> tuple[str, str] | None:
    if not result.histogram:
        return None
    from ..stats.empirical import expected_histogram, law_of

    n = result.empirical.n_ks
    expected = expected_histogram(law_of(result.spec), n, len(result.histogram))
    return histogram_lines(result.histogram, expected)


def beyond_edges(histogram: Sequence[int], n: int) -> str:
    """How many values of the sample fell outside the histogram's range (they are in no bin)."""
    outside = n - sum(histogram)
    return f" +{outside} beyond the edges" if outside > 0 else ""


# --------------------------------------------------------------------------- verify

def adjusted_text(t: TensorResult) -> str:
    return pvalue(t.pvalue_adjusted) if t.pvalue_adjusted is not None else "-"


def verify_rows(result: VerifyResult, detail: bool) -> list[TensorResult]:
    """The tensors a report lists one by one, failures first: all with --detail; else the failing, inconclusive
    and unreadable ones (the rest are one line per group, ``failures.folded_lines``), and of a trained
    checkpoint only its strongest failures."""
    from .failures import attention_first, needs_attention

    rows = attention_first(result.tensors)
    if detail:
        return rows
    if result.trained:
        failed = sorted((t for t in rows if t.failed), key=lambda t: t.pvalue_adjusted or 0.0)
        return failed[:TRAINED_ROWS]
    return [t for t in rows if needs_attention(t)]


def verify_facts(t: TensorResult) -> str:
    """A tensor's facts in one wrappable line, for narrow tables."""
    facts = [f"{shape_text(t.shape) or 'scalar'} {t.dtype}", t_expected(t)]
    if t.std_ratio is not None:
        facts.append(f"std/std0 {ratio_text(t)}")
    if t.pvalue_adjusted is not None:
        facts.append(f"p {adjusted_text(t)}")
    if t.looks_like:
        facts.append(f"looks like {looks_like_text(t)}")
    return "; ".join(facts)


def looks_like_text(t: TensorResult) -> str:
    """A failing tensor's best law and its std ratio to the expected one (``looks_like``), "" for the others."""
    ll = t.looks_like
    if not ll:
        return ""
    ratio = ll.get("std_ratio")
    return str(ll.get("call")) + (f" (std {ratio:.3g}x)" if isinstance(ratio, float) else "")


def t_expected(t: TensorResult) -> str:
    return expected_text(t)


def tensor_histogram(t: TensorResult) -> tuple[str, str] | None:
    if not t.histogram or t.spec is None:
        return None
    from ..stats.empirical import expected_histogram, law_of

    n = t.empirical.n_ks if t.empirical is not None else sum(t.histogram)
    return histogram_lines(t.histogram, expected_histogram(law_of(t.spec), n, len(t.histogram)))


def gate_lines(result: VerifyResult) -> list[str]:
    """Files that could not be read, and why an empty run fails: shown with every format."""
    lines = [f"unreadable: {e.reason}" for e in result.errors]
    if result.empty and not result.has_errors:
        lines.append(result.summary())
    return lines


# --------------------------------------------------------------------------- identify

IDENTIFY_HEADERS = ("tensor", "shape", "verdict", "confidence", "fit p", "runner-up", "cannot be told from")
#: Shown under every identify table: what the confidence column can and cannot claim.
CONFIDENCE_NOTE = ("confidence: posterior probability among the listed candidates only (a verdict named by a fitted "
                   "law has none); it says nothing about inits that are not listed.")


def runner_up(r: IdentifyResult) -> str:
    """The best candidate that is a different law from the verdict, with its log-likelihood gap."""
    if not r.ranked:
        return "-"
    best = r.ranked[0]
    for s in r.ranked[1:]:
        if s.candidate.label not in r.indistinguishable and math.isfinite(s.loglik):
            return f"{s.candidate.short or s.candidate.label} (ΔLL {best.loglik - s.loglik:.3g})"
    return "-"


def cannot_tell(r: IdentifyResult, limit: int = 2, shown: str | None = None) -> str:
    """The labels this tensor cannot be told from, other than the one its row shows (``shown``)."""
    shorts = {s.candidate.label: s.candidate.short or s.candidate.label for s in r.ranked}
    others = [r.verdict, *r.indistinguishable] if shown and shown != r.verdict and shown in r.indistinguishable \
        else list(r.indistinguishable)
    labels = [shorts.get(lab, lab) for lab in others if lab != shown]
    if not labels:
        return "-"
    extra = f" +{len(labels) - limit} more" if len(labels) > limit else ""
    return "; ".join(labels[:limit]) + extra


def verdict_short(r: IdentifyResult, label: str | None = None) -> str:
    """The verdict's short form; ``label`` (the tensor's group label, one it cannot be told from) wins."""
    if label is not None and label != r.verdict and label in r.indistinguishable:
        for scored in r.ranked:
            if scored.candidate.label == label:
                return scored.candidate.short or label
        return label
    if r.ranked and r.verdict == r.ranked[0].candidate.label:
        best = r.ranked[0].candidate
        return (best.short or r.verdict) + (" (fitted)" if best.family == "fitted" else "")
    return r.verdict


def fitted_law(r: IdentifyResult) -> str:
    """The best family's maximum-likelihood std with its CI, e.g. ``normal 0.0199 [0.0197, 0.0201]``."""
    fit = r.law
    if fit is None:
        return "-"
    if fit.distribution == "constant":
        return f"constant {fit.value:g}"
    mark = "" if fit.passed else " (rejected)"
    return f"{fit.distribution} {fit.std:.4g} [{fit.ci.low:.4g}, {fit.ci.high:.4g}]{mark}"


def identify_rows(results: Sequence[IdentifyResult]) -> list[tuple[str, ...]]:
    from ..runners.identify import group_labels

    labels = group_labels(list(results))
    rows: list[tuple[str, ...]] = []
    for r in results:
        conf = "-" if math.isnan(r.confidence) else f"{r.confidence:.3f}"
        fit = pvalue(r.pvalue) if r.pvalue is not None else "-"
        named = r.verdict in ("unknown", "skipped", "uninitialized")
        verdict = verdict_short(r, labels.get(id(r))) + (f" ({r.reason})" if named and r.reason else "")
        rows.append((r.name, shape_text(r.shape) or "scalar", verdict, conf, fit, runner_up(r),
                     cannot_tell(r, shown=labels.get(id(r)))))
    return rows


# --------------------------------------------------------------------------- propagate

def selected_layers(depth: int, count: int = 5) -> list[int]:
    """1-based layers shown in tables: first, quarters, last (first, middle, last when ``count`` is 3)."""
    if count <= 3:
        return sorted({1, max(1, depth // 2), depth})
    picks = {1, max(1, depth // 4), max(1, depth // 2), max(1, 3 * depth // 4), depth}
    return sorted(picks)


def propagate_rows(result: PropagateResult, direction: str, count: int = 5) -> tuple[list[str], list[list[str]]]:
    layers = selected_layers(result.depth, count)
    headers = ["init"] + [f"L{layer}" for layer in layers]
    rows = []
    for run in result.runs:
        values = run.forward_std if direction == "forward" else run.backward_std
        rows.append([run.init.label] + [num(values[layer - 1], 3) for layer in layers])
    return headers, rows


def _downsample_log(values: Sequence[float], width: int) -> list[float]:
    """At most ``width`` points, each the geometric mean of its bin (log-scale charts)."""
    if len(values) <= width:
        return list(values)
    out = []
    for i in range(width):
        lo, hi = i * len(values) // width, (i + 1) * len(values) // width
        logs = [math.log(max(v, 1e-300)) for v in values[lo:hi]]
        out.append(math.exp(sum(logs) / len(logs)))
    return out


#: Decades a text chart spans at most: 8 bar heights over 15 decades drew 0.107 and 1.08 as one bar.
CHART_DECADES = 6


def propagate_chart(result: PropagateResult, width: int = 80) -> str:
    everything = [v for r in result.runs for v in r.forward_std + r.backward_std if v > 0]
    hi = math.ceil(math.log10(max(everything))) if everything else 1
    lo = max(math.floor(math.log10(min(everything))), hi - CHART_DECADES) if everything else -1
    names = [r.init.label.split(" (")[0].replace("kaiming, gain ", "kaiming g=") for r in result.runs]
    label = max(len(n) for n in names)
    bars = max(8, min(CHART_WIDTH, width - label - 12))
    lines = [f"std per layer (log scale: ▁ ≤ 1e{lo}, █ = 1e{hi}), layer 1 on the left"]
    for title, attr in (("forward ", "forward_std"), ("backward", "backward_std")):
        for name, run in zip(names, result.runs, strict=True):
            spark = sparkline(_downsample_log(getattr(run, attr), bars), lo, hi, LOG_BLOCKS, log10_floor)
            lines.append(f"{title} {name:<{label}} │{spark}│")
    return "\n".join(lines)


def propagate_measured(result: PropagateResult) -> list[str]:
    """One line per run: what its forward signal and its gradient did, read from the numbers."""
    from ..runners.propagate import measured

    return [f"{run.init.label}: forward {measured(run.forward_std)}; backward (layer {result.depth} to 1) "
            f"{measured(run.backward_std, backward=True)}" for run in result.runs]


def propagate_title(result: PropagateResult) -> str:
    kind = f"{result.conv}x{result.conv} conv, {result.width} channels, {result.spatial}x{result.spatial}" \
        if result.conv else f"fully connected, width {result.width}"
    return f"kaiming propagate: {result.nonlinearity}, depth {result.depth}, {kind}, batch {result.batch}"


# --------------------------------------------------------------------------- audit

AUDIT_HEADERS = ("parameter", "layer", "activation", "recommended", "actual", "std ratio", "note")
#: The order verdict groups are shown in: what needs attention first.
AUDIT_ORDER = ("different", "framework default", "scale-free", "ambiguous", "as recommended")


def audit_groups(result: AuditResult) -> list[tuple[str, list[AuditedWeight]]]:
    """The weights grouped by verdict, the ones that need attention first."""
    return [(v, [w for w in result.weights if w.verdict == v]) for v in AUDIT_ORDER
            if any(w.verdict == v for w in result.weights)]


def audit_row(w: AuditedWeight) -> tuple[str, ...]:
    ratio = "-" if w.std_ratio is None else f"{w.std_ratio:.3g}"
    return (w.name, w.layer_type, w.activation, w.recommended or "-", w.actual_call or w.actual, ratio, w.note)


def audit_rows(rows: Sequence[AuditedWeight]) -> list[tuple[str, ...]]:
    """One row per set of parameters with the same layer type, activation, recommendation, init and note kind:
    ``layer1.0.conv1.weight (+15 more)``, with the range of their std ratios."""
    groups: dict[tuple[str, ...], list[AuditedWeight]] = {}
    for w in rows:
        key = (w.layer_type, w.activation, w.recommended or "-", w.actual_call or w.actual, w.note.split(";")[0])
        groups.setdefault(key, []).append(w)
    out = []
    for members in groups.values():
        first = audit_row(members[0])
        if len(members) == 1:
            out.append(first)
            continue
        ratios = [w.std_ratio for w in members if w.std_ratio is not None]
        ratio = "-" if not ratios else (f"{min(ratios):.3g}" if f"{min(ratios):.3g}" == f"{max(ratios):.3g}"
                                        else f"{min(ratios):.3g}-{max(ratios):.3g}")
        notes = {w.note for w in members}
        note = first[6] if len(notes) == 1 else members[0].note.split(";")[0]
        out.append((f"{members[0].name} (+{len(members) - 1} more)", *first[1:5], ratio, note))
    return out


def audit_lines(result: AuditResult) -> list[str]:
    """The run's notes, the signal measured at init (with a sparkline by depth, as ``propagate`` draws), the
    findings with their fixes, and the summary line."""
    return [f"note: {n}" for n in result.notes] + audit_signal_lines(result) + [result.summary()]


def audit_signal_lines(result: AuditResult) -> list[str]:
    from ..runners.audit.signal import sparkline

    signal = result.signal
    if signal is None:
        return []

    def growth(x: float | None) -> str:
        return "-" if x is None else f"{x:.3g}x"

    turn = f", turns at {signal.turns_at} ({signal.direction})" if signal.turns_at else ""
    over = f"({len(signal.forward)} layers, input {','.join(map(str, signal.input_shape))})"
    if signal.direction == "normalized":  # no depth series: "growth -" read as a missing number
        lines = [f"signal at init: {signal.verdict}: every layer but at most one is followed by a norm, which holds "
                 f"the scale, so there is no growth over depth to judge {over}"]
    else:
        lines = [f"signal at init: {signal.verdict}{turn}; growth over depth forward "
                 f"{growth(signal.forward_growth)}, backward {growth(signal.backward_growth)} {over}"]
    if signal.across:
        lines.append(f"forward std by depth  {sparkline([s for _m, s in signal.across])}")
    if signal.backward_signal:
        lines.append(f"backward std by depth {sparkline([s for _m, s in signal.backward_signal])}")
    for f in result.findings():
        fix = f"; fix: {f.fix}" if f.fix else ""
        gain = f" (measured LSUV gain x{f.gain_fix:.3g})" if f.gain_fix is not None else ""
        lines.append(f"finding: {f.name or 'signal'}: {f.message}{fix}{gain}")
    return lines
