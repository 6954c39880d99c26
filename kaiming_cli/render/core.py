"""Rendering: the one place that turns result objects into tables, JSON and Markdown.

Renderers are pure functions of a result. Floats are rounded for display only; JSON carries
full precision, and NaN/Infinity become ``null`` (strict JSON). Text from files (tensor names,
paths, dtype strings) reaches every format through ``escape``; Rich cells are ``Text``, never
markup. Rich is imported lazily so that JSON output and the lookups stay cheap.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..theory.spec import InitSpec
from . import escape

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from ..runners.check import CheckResult

SCHEMA = 1
BLOCKS = " ▁▂▃▄▅▆▇█"


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v("kaiming")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def clean(obj: Any) -> Any:
    """Plain JSON values: tuples to lists, numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if hasattr(obj, "item") and not isinstance(obj, float):  # numpy scalar
        return clean(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def to_json(doc: dict[str, Any]) -> str:
    """One JSON document in ASCII (names round-trip exactly, see ``escape``); no ``##[`` in a log line."""
    full = {"schema": SCHEMA, "kaiming_version": version(), **doc}
    text = json.dumps(clean(full), indent=2, allow_nan=False, ensure_ascii=True)
    # '##[' can only occur inside a string ('#' is never JSON syntax): write its second '#' as \u0023
    return text.replace("##[", "#\\u0023[") + "\n"


def fmt(x: float | None, digits: int = 4) -> str:
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


def fmt_p(p: float) -> str:
    return "<1e-300" if p == 0 else (f"{p:.3g}" if p >= 1e-3 else f"{p:.2e}")


def shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape)


# --------------------------------------------------------------------------- specs

def spec_rows(spec: InitSpec) -> list[tuple[str, str]]:
    rows = [
        ("shape", f"{shape_text(spec.shape)} ({spec.layout} layout)"),
        ("fan_in / fan_out", f"{spec.fan_in} / {spec.fan_out} (receptive field {spec.receptive_field})"),
        ("mode → fan", f"{spec.mode} → {fmt(spec.fan, 8)}"),
        ("gain", f"{fmt(spec.gain, 10)} ({spec.nonlinearity}"
                 + (f", a={spec.negative_slope:g})" if spec.nonlinearity == "leaky_relu" else ")")),
        ("std = gain/√fan", fmt(spec.std, 10)),
    ]
    if spec.distribution == "uniform" and spec.bound is not None:
        rows.append(("uniform bound = √3·std", fmt(spec.bound, 10)))
    elif spec.distribution == "truncated_normal" and spec.sigma_pre is not None and spec.bound is not None:
        rows.append(("sigma_pre = std/0.8796", fmt(spec.sigma_pre, 10)))
        rows.append(("cut at ±2·sigma_pre", fmt(spec.bound, 10)))
    rows.append(("law", law_text(spec)))
    rows.append(("call", spec.call))
    return rows


def law_text(spec: InitSpec) -> str:
    if spec.distribution == "uniform":
        return f"U(-{fmt(spec.bound, 6)}, {fmt(spec.bound, 6)})"
    if spec.distribution == "truncated_normal":
        return f"N(0, {fmt(spec.sigma_pre, 6)}²) cut at ±{fmt(spec.bound, 6)}"
    return f"N(0, {fmt(spec.std, 6)}²)"


def rich_kv_table(title: str, rows: Iterable[tuple[str, str]]) -> RenderableType:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", expand=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for k, v in rows:
        table.add_row(k, v)
    return table


class Markup(str):
    """A Markdown cell that is kaiming's own markup (``**FAIL**``, a code span): ``md_table`` keeps it."""


def md_cell(text: str) -> str:
    return text if isinstance(text, Markup) else escape.markdown_text(text)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub pipe table; every cell that is not ``Markup`` is escaped as text."""
    out = ["| " + " | ".join(md_cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def cell(text: str) -> Text:
    """A Rich table cell from text that may come from a file: never parsed as markup, controls shown."""
    from rich.text import Text

    return Text(escape.terminal(text))


def spec_table(spec: InitSpec) -> RenderableType:
    return rich_kv_table(f"kaiming std: {spec.call}", spec_rows(spec))


def spec_markdown(spec: InitSpec) -> str:
    return f"### `{spec.call}`\n\n" + md_table(["quantity", "value"], spec_rows(spec))


# --------------------------------------------------------------------------- gains and fans

def gain_rows(entries: Sequence[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(e["nonlinearity"], e["formula"], fmt(e["gain"], 10), e["reference"]) for e in entries]


def gain_table(entries: Sequence[dict[str, Any]]) -> RenderableType:
    from rich.table import Table

    table = Table(title="gains (torch.nn.init.calculate_gain)", title_justify="left")
    for col, justify in (("nonlinearity", "left"), ("formula", "left"), ("gain", "right"), ("source", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in gain_rows(entries):
        table.add_row(*row)
    return table


def gain_markdown(entries: Sequence[dict[str, Any]]) -> str:
    return md_table(["nonlinearity", "formula", "gain", "source"], gain_rows(entries))


# --------------------------------------------------------------------------- check

def sparkline(values: Sequence[float], top: float) -> str:
    if top <= 0:
        return " " * len(values)
    steps = len(BLOCKS) - 1
    return "".join(BLOCKS[min(steps, round(v / top * steps))] for v in values)


def histogram_lines(observed: Sequence[int], expected: Sequence[float]) -> tuple[str, str]:
    top = max(max(observed, default=0), max(expected, default=0.0))
    return sparkline(observed, top), sparkline(expected, top)


def empirical_rows(result: CheckResult) -> list[tuple[str, str, str]]:
    spec, emp = result.spec, result.empirical
    lo, hi = emp.std_ci
    rows = [
        ("n", f"{emp.n}" + (f" (EDF tests on {emp.n_ks})" if emp.n_ks < emp.n else ""), ""),
        ("std", fmt(emp.std, 6), fmt(spec.std, 6)),
        ("std / theory", f"{fmt(emp.rms / spec.std, 5)}  CI [{fmt(lo / spec.std, 5)}, {fmt(hi / spec.std, 5)}]", "1"),
        ("mean", fmt(emp.mean, 4), "0"),
        ("min / max", f"{fmt(emp.min, 5)} / {fmt(emp.max, 5)}",
         f"±{fmt(spec.bound, 6)}" if spec.bound is not None else "unbounded"),
        ("excess kurtosis", fmt(emp.excess_kurtosis, 4), fmt(_law_excess_kurtosis(spec.distribution), 4)),
        ("skewness", fmt(emp.skewness, 4), "0"),
    ]
    return rows


def _law_excess_kurtosis(distribution: str) -> float:
    from ..stats.laws import Law

    return Law(distribution, 1.0).excess_kurtosis


def verdict_line(result: CheckResult) -> str:
    b = result.battery
    word = "PASS" if b.passed else "FAIL"
    how = "consistent with" if b.passed else "inconsistent with"
    return (
        f"{word}: the sample is {how} {law_text(result.spec)} at alpha = {b.alpha:g} "
        f"(combined p = {fmt_p(b.pvalue)}, {len(b.tests)} tests, Bonferroni)"
    )


def check_renderable(result: CheckResult) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from ..stats.empirical import expected_histogram, law_of

    spec = result.spec
    emp = Table(title="empirical vs theory", title_justify="left")
    emp.add_column("quantity", style="bold")
    emp.add_column("empirical", justify="right")
    emp.add_column("theory", justify="right")
    for row in empirical_rows(result):
        emp.add_row(*row)

    tests = Table(title=f"tests (alpha = {result.battery.alpha:g}, each at alpha/k)", title_justify="left")
    columns = (("test", "left"), ("statistic", "right"), ("p-value", "right"), ("", "left"), ("detail", "left"))
    for col, justify in columns:
        tests.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for t in result.battery.tests:
        mark = Text("ok", style="green") if t.passed else Text("FAIL", style="bold red")
        tests.add_row(t.name, fmt(t.statistic, 4), fmt_p(t.pvalue), mark, t.detail)

    parts: list[RenderableType] = [rich_kv_table(f"kaiming check: {spec.call}", spec_rows(spec)), emp, tests]
    if result.histogram:
        expected = expected_histogram(law_of(spec), sum(result.histogram), len(result.histogram))
        obs, exp = histogram_lines(result.histogram, expected)
        parts.append(Text(f"histogram  sample │{obs}│\n           theory │{exp}│", style="cyan"))
    parts.append(Text(f"backend: {result.backend_info}", style="dim"))
    for note in check_notes(result):
        parts.append(Text(f"note: {note}", style="yellow"))
    style = "bold green" if result.passed else "bold red"
    parts.append(Text(verdict_line(result), style=style))
    return Group(*parts)


def check_notes(result: CheckResult) -> list[str]:
    return list(result.spec.notes) + list(result.battery.notes) + list(result.notes)


def check_markdown(result: CheckResult) -> str:
    spec = result.spec
    out = [f"### kaiming check: `{spec.call}`\n", md_table(["quantity", "value"], spec_rows(spec)), ""]
    out.append(md_table(["quantity", "empirical", "theory"], empirical_rows(result)))
    out.append("")
    out.append(md_table(
        ["test", "statistic", "p-value", "result", "detail"],
        [(t.name, fmt(t.statistic, 4), fmt_p(t.pvalue), "ok" if t.passed else Markup("**FAIL**"), t.detail)
         for t in result.battery.tests],
    ))
    out.append("")
    out += [f"> note: {n}" for n in check_notes(result)]
    out.append(f"**{verdict_line(result)}**\n")
    return "\n".join(out)



# --------------------------------------------------------------------------- verify

if TYPE_CHECKING:
    from ..runners.verify import TensorResult, VerifyResult

STATUS_STYLE = {"pass": "green", "fail": "bold red", "skip": "dim", "error": "bold magenta"}
#: In a run that looks trained, list only this many failures in the table.
TRAINED_ROWS = 10


def spec_label(spec: InitSpec) -> str:
    """A compact name of the law for narrow tables: ``normal fan_out relu``."""
    nl = spec.nonlinearity + (f"(a={spec.negative_slope:g})" if spec.nonlinearity == "leaky_relu"
                              and spec.negative_slope else "")
    layout = "" if spec.layout == "torch" else f" [{spec.layout}]"
    return f"{spec.distribution} {spec.mode} {nl}{layout}"


def expected_text(t: TensorResult) -> str:
    if t.spec is not None:
        return spec_label(t.spec)
    if t.constant is not None:
        return f"constant {t.constant:g}"
    return "-"


def ratio_text(t: TensorResult) -> str:
    if t.std_ratio is None or t.empirical is None or t.spec is None:
        return "-"
    lo, hi = t.empirical.std_ci
    return f"{t.std_ratio:.3f} [{lo / t.spec.std:.3f}, {hi / t.spec.std:.3f}]"


def verify_rows(result: VerifyResult, detail: bool) -> list[TensorResult]:
    rows = list(result.tensors)
    if result.trained and not detail:
        failed = sorted((t for t in rows if t.status == "fail"), key=lambda t: t.pvalue_adjusted or 0.0)
        return failed[:TRAINED_ROWS]
    return rows


def verify_renderable(result: VerifyResult, detail: bool = False) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    multi_file = len({t.file for t in result.tensors}) > 1
    table = Table(title="kaiming verify", title_justify="left")
    columns = (["file"] if multi_file else []) + ["tensor", "shape", "dtype", "expected", "std/std0 [CI]",
                                                   "p adj.", "status"]
    for col in columns:
        table.add_column(col, overflow="fold", justify="right" if col in ("p adj.",) else "left")
    shown = verify_rows(result, detail)
    for t in shown:
        cells = ([os.path.basename(t.file)] if multi_file else []) + [
            t.name, shape_text(t.shape), t.dtype, expected_text(t), ratio_text(t),
            fmt_p(t.pvalue_adjusted) if t.pvalue_adjusted is not None else "-",
        ]
        table.add_row(*map(cell, cells), Text(t.status.upper() if t.status != "pass" else "ok",
                                              style=STATUS_STYLE[t.status]))
    parts: list[RenderableType] = [table]
    if result.trained and not detail:
        parts.append(Text(f"showing the {len(shown)} strongest of {result.count('fail')} failures; "
                          "--detail lists every tensor", style="yellow"))
    for t in result.tensors if detail else [t for t in shown if t.status in ("fail", "error")]:
        if t.status in ("fail", "error") or detail:
            name = escape.shorten(t.name, escape.NAME_LIMIT)
            line = escape.message(f"{name}: {t.reason}" if t.reason else name)
            if detail and t.histogram and t.spec is not None:
                from ..stats.empirical import expected_histogram, law_of

                obs, exp = histogram_lines(t.histogram, expected_histogram(law_of(t.spec), sum(t.histogram),
                                                                             len(t.histogram)))
                line += f"\n    sample │{obs}│  theory │{exp}│"
            parts.append(Text(line, style=STATUS_STYLE.get(t.status, "")))
    parts += [Text(escape.message(line), style=STATUS_STYLE["error"]) for line in gate_lines(result)]
    return Group(*parts)


def gate_lines(result: VerifyResult) -> list[str]:
    """Files that could not be read, and why an empty run fails: shown with every format."""
    lines = [f"unreadable: {e.reason}" for e in result.errors]
    if result.empty and not result.has_errors:
        lines.append(result.summary())
    return lines


def verify_markdown(result: VerifyResult, detail: bool = False) -> str:
    rows: list[tuple[str, ...]] = [
        (Markup(escape.markdown_code(t.file)), Markup(escape.markdown_code(t.name)), shape_text(t.shape),
             Markup(escape.markdown_code(t.dtype)), Markup(escape.markdown_code(expected_text(t))), ratio_text(t),
             fmt_p(t.pvalue_adjusted) if t.pvalue_adjusted is not None else "-",
             ("✅ " if t.status == "pass" else "❌ " if t.status == "fail" else "") + t.status, t.reason)
            for t in verify_rows(result, detail)]
    rows += [(Markup(escape.markdown_code(e.file)), "-", "-", "-", "-", "-", "-", "❌ error", e.reason)
             for e in result.errors]
    head = f"### kaiming verify\n\n**{escape.markdown_text(result.summary())}**\n\n"
    return head + md_table(["file", "tensor", "shape", "dtype", "expected", "std/std0 [CI]", "p adj.", "status",
                            "reason"], rows)


def verify_junit(result: VerifyResult) -> str:
    """JUnit XML, well-formed whatever the names hold (``escape.xml_attr``)."""
    attr = escape.xml_attr
    by_file: dict[str, list[TensorResult]] = {}
    for t in result.tensors:
        by_file.setdefault(t.file, []).append(t)
    gate = result.empty and not result.has_errors  # one failing testcase says why an empty run fails
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="kaiming verify" tests="{len(result.tensors) + len(result.errors) + gate}" '
           f'failures="{result.count("fail") + gate}" errors="{result.count("error") + len(result.errors)}" '
           f'skipped="{result.count("skip")}">']
    for e in result.errors:
        out += [f'  <testsuite name={attr(e.file)} tests="1" failures="0" errors="1" skipped="0">',
                f'    <testcase classname={attr(e.file)} name="(read the file)">',
                f"      <error message={attr(e.reason)}/>",
                "    </testcase>", "  </testsuite>"]
    if gate:
        out += ['  <testsuite name="kaiming verify" tests="1" failures="1" errors="0" skipped="0">',
                '    <testcase classname="kaiming verify" name="(tested tensors)">',
                f"      <failure message={attr(gate_lines(result)[-1])}/>",
                "    </testcase>", "  </testsuite>"]
    for file, tensors in by_file.items():
        out.append(f'  <testsuite name={attr(file)} tests="{len(tensors)}" '
                   f'failures="{sum(t.status == "fail" for t in tensors)}" '
                   f'errors="{sum(t.status == "error" for t in tensors)}" '
                   f'skipped="{sum(t.status == "skip" for t in tensors)}">')
        for t in tensors:
            out.append(f'    <testcase classname={attr(file)} name={attr(t.name)}>')
            msg = attr(f"{expected_text(t)}: {t.reason}")
            if t.status == "fail":
                out.append(f"      <failure message={msg}/>")
            elif t.status == "error":
                out.append(f"      <error message={msg}/>")
            elif t.status == "skip":
                out.append(f"      <skipped message={attr(t.reason)}/>")
            out.append("    </testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def verify_github(result: VerifyResult) -> str:
    """GitHub Actions workflow commands: one annotation per failing tensor, then a notice."""
    lines = []
    for t in result.tensors:
        if t.status in ("fail", "error"):
            name = escape.shorten(t.name, escape.NAME_LIMIT)
            title = escape.github_property(f"kaiming: {name}")
            msg = escape.github_data(f"{name} {shape_text(t.shape)} {t.dtype}: expected {expected_text(t)}; "
                                     f"{t.reason}")
            file = escape.github_property(t.file, escape.MESSAGE_LIMIT)  # a path is kept whole to link the file
            lines.append(f"::error file={file},title={title}::{msg}")
    for e in result.errors:
        title = escape.github_property("kaiming: unreadable file")
        file = escape.github_property(e.file, escape.MESSAGE_LIMIT)
        lines.append(f"::error file={file},title={title}::{escape.github_data(e.reason)}")
    level = "notice" if result.passed else "error"
    lines.append(f"::{level} title=kaiming verify::{escape.github_data(result.summary())}")
    return "\n".join(lines) + "\n"


def tensor_report(t: TensorResult) -> str:
    """A plain-text report of one tensor (what assert_init raises with)."""
    lines = [f"{escape.terminal(t.name)} {shape_text(t.shape)} {escape.terminal(t.dtype)}: {t.status.upper()} "
             f"vs {expected_text(t)}"]
    if t.spec is not None and t.empirical is not None:
        lines.append(f"  std {t.empirical.std:.6g} vs theory {t.spec.std:.6g} (ratio {ratio_text(t)}), "
                     f"mean {t.empirical.mean:.3g}, max|x| {max(abs(t.empirical.min), abs(t.empirical.max)):.6g}")
    for test in t.tests:
        mark = "ok  " if test.passed else "FAIL"
        lines.append(f"  {mark} {test.name:9s} p = {fmt_p(test.pvalue):>9s}  {test.detail}")
    if t.reason:
        lines.append(f"  reason: {escape.message(t.reason)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- identify

if TYPE_CHECKING:
    from ..runners.identify import IdentifyResult


def runner_up(r: IdentifyResult) -> str:
    """The best candidate that is a different law from the verdict, with its log-likelihood gap."""
    if not r.ranked:
        return "-"
    best = r.ranked[0]
    for s in r.ranked[1:]:
        if s.candidate.label not in r.indistinguishable and math.isfinite(s.loglik):
            return f"{s.candidate.short or s.candidate.label} (ΔLL {best.loglik - s.loglik:.3g})"
    return "-"


def cannot_tell(r: IdentifyResult, limit: int = 2) -> str:
    shorts = {s.candidate.label: s.candidate.short or s.candidate.label for s in r.ranked}
    labels = [shorts.get(lab, lab) for lab in r.indistinguishable]
    if not labels:
        return "-"
    extra = f" +{len(labels) - limit} more" if len(labels) > limit else ""
    return "; ".join(labels[:limit]) + extra


def verdict_short(r: IdentifyResult) -> str:
    if r.ranked and r.verdict == r.ranked[0].candidate.label:
        return r.ranked[0].candidate.short or r.verdict
    return r.verdict


def identify_rows(results: Sequence[IdentifyResult]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in results:
        conf = "-" if math.isnan(r.confidence) else f"{r.confidence:.3f}"
        fit = fmt_p(r.pvalue) if r.pvalue is not None else "-"
        verdict = verdict_short(r) + (f" ({r.reason})" if r.verdict in ("unknown", "skipped") and r.reason else "")
        rows.append((r.name, shape_text(r.shape) or "scalar", verdict, conf, fit, runner_up(r), cannot_tell(r)))
    return rows


IDENTIFY_HEADERS = ("tensor", "shape", "verdict", "confidence", "fit p", "runner-up", "cannot be told from")


def identify_renderable(results: Sequence[IdentifyResult], summary: Sequence[str]) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="kaiming identify", title_justify="left")
    for col in IDENTIFY_HEADERS:
        table.add_column(col, overflow="fold")
    for row in identify_rows(results):
        table.add_row(*map(cell, row), style="yellow" if row[2].startswith("unknown") else None)
    return Group(table, Text("\n".join(escape.message(line) for line in summary), style="bold"))


def identify_markdown(results: Sequence[IdentifyResult], summary: Sequence[str]) -> str:
    head = "### kaiming identify\n\n" + "".join(f"- {escape.markdown_text(line)}\n" for line in summary) + "\n"
    rows = [(Markup(escape.markdown_code(name)), *rest) for name, *rest in identify_rows(results)]
    return head + md_table(IDENTIFY_HEADERS, rows)


# --------------------------------------------------------------------------- propagate

if TYPE_CHECKING:
    from ..runners.propagate import PropagateResult


def selected_layers(depth: int) -> list[int]:
    """1-based layers shown in tables: first, quarters, last."""
    picks = {1, max(1, depth // 4), max(1, depth // 2), max(1, 3 * depth // 4), depth}
    return sorted(picks)


def propagate_rows(result: PropagateResult, direction: str) -> tuple[list[str], list[list[str]]]:
    layers = selected_layers(result.depth)
    headers = ["init"] + [f"L{layer}" for layer in layers]
    rows = []
    for run in result.runs:
        values = run.forward_std if direction == "forward" else run.backward_std
        rows.append([run.init.label] + [fmt(values[layer - 1], 3) for layer in layers])
    return headers, rows


CHART_WIDTH = 48


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


def propagate_chart(result: PropagateResult) -> str:
    from .plots import log_sparkline

    everything = [v for r in result.runs for v in r.forward_std + r.backward_std if v > 0]
    lo = math.floor(math.log10(min(everything))) if everything else -1
    hi = math.ceil(math.log10(max(everything))) if everything else 1
    names = [r.init.label.split(" (")[0].replace("kaiming, gain ", "kaiming g=") for r in result.runs]
    width = max(len(n) for n in names)
    lines = [f"std per layer (log scale: ▁ = 1e{lo}, █ = 1e{hi}), layer 1 on the left"]
    for title, attr in (("forward ", "forward_std"), ("backward", "backward_std")):
        for name, run in zip(names, result.runs, strict=True):
            spark = log_sparkline(_downsample_log(getattr(run, attr), CHART_WIDTH), lo, hi)
            lines.append(f"{title} {name:<{width}} │{spark}│")
    return "\n".join(lines)


def propagate_title(result: PropagateResult) -> str:
    kind = f"{result.conv}x{result.conv} conv, {result.width} channels, {result.spatial}x{result.spatial}" \
        if result.conv else f"fully connected, width {result.width}"
    return f"kaiming propagate: {result.nonlinearity}, depth {result.depth}, {kind}, batch {result.batch}"


def propagate_renderable(result: PropagateResult) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = [Text(propagate_title(result), style="bold")]
    for direction, caption in (("forward", "forward: std of the pre-activations"),
                               ("backward", "backward: std of the gradient w.r.t. each layer's input")):
        headers, rows = propagate_rows(result, direction)
        table = Table(title=caption, title_justify="left")
        for i, h in enumerate(headers):
            table.add_column(h, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        parts.append(table)
    parts.append(Text(propagate_chart(result), no_wrap=True, overflow="ellipsis"))
    return Group(*parts)


def propagate_markdown(result: PropagateResult) -> str:
    out = [f"### {propagate_title(result)}\n"]
    for direction in ("forward", "backward"):
        headers, rows = propagate_rows(result, direction)
        out.append(f"**{direction}**\n\n" + md_table(headers, rows))
    out.append("```\n" + propagate_chart(result) + "\n```\n")
    return "\n".join(out)
