"""Rich renderables for a terminal (and, rendered to text, for ``-o`` files): the ``table`` format.

Every cell that may hold text from a file is a ``Text`` (never parsed as markup) with controls shown
(``escape.terminal``). Rich is imported inside the functions, so that other formats never load it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import escape
from ..runners.tensor_report import expected_text, ratio_text, shape_text
from . import text as t_
from .plain import KeyValues, Panels, kv_table

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    from ..runners.audit import AuditResult
    from ..runners.check import CheckResult
    from ..runners.diff import DiffResult
    from ..runners.identify import IdentifyReport
    from ..runners.propagate import PropagateResult
    from ..runners.verify import TensorResult, VerifyResult
    from ..theory.explain import Section
    from ..theory.gains import GainTable
    from ..theory.spec import InitSpec

STATUS_STYLE = {"pass": "green", "fail": "bold red", "uninitialized": "bold red", "skip": "dim",
                "error": "bold magenta", "inconclusive": "yellow"}


def cell(text: str) -> Text:
    """A Rich table cell from text that may come from a file: never parsed as markup, controls shown."""
    from rich.text import Text

    return Text(escape.terminal(text))


#: Below this width tables drop their side borders (60- and 80-column CI logs).
NARROW = 80
#: Below this width verify and identify put each tensor's details in one wrapped cell.
COMPACT = 100


class Middle:
    """A name that fits its cell by losing its middle (``layer4.1.do…0.running_var``), never split in pieces.

    Rich folds or cuts text at the end; a name cut into 9-character lines (``bn1.num_b/atches_tr/acked``) or
    missing its tail (``conv_transp...``) is unreadable. The minimum width is small so that the names give
    way first when a table is too wide.
    """

    MIN = 12

    def __init__(self, text: str, style: str = "") -> None:
        self.text = escape.terminal(text)
        self.style = style

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        return Measurement(min(self.MIN, len(self.text)), len(self.text))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        yield Text(escape.shorten(self.text, max(1, options.max_width)), style=self.style, no_wrap=True)


class Responsive:
    """A renderable laid out for the width it is given (``build(width)``): narrow logs get compact tables."""

    def __init__(self, build: Callable[[int], RenderableType]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)


def data_table(width: int, title: str | None = None, **kwargs: Any) -> Table:
    """A table whose borders suit ``width``: full boxes from NARROW columns up, a header rule below."""
    from rich import box
    from rich.table import Table

    if width >= NARROW:
        return Table(title=title, title_justify="left", **kwargs)
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                 **kwargs)


@dataclass(frozen=True)
class Col:
    """A column of a fitted table: ``kind`` says how its cells may give way when the table is too wide.

    ``name``: ellipsized in the middle (``Middle``); ``wrap``: wrapped between words, never inside one;
    ``fixed``: numbers and labels, never wrapped or cut.
    """

    header: str
    kind: str = "wrap"
    justify: str = "left"


def _overhead(width: int, n: int) -> int:
    """Characters a table of ``n`` columns spends on borders and padding (measured, not assumed)."""
    import io

    from rich.console import Console

    table = data_table(width)
    for _ in range(n):
        table.add_column(width=1)
    table.add_row(*["x"] * n)
    buf = io.StringIO()
    Console(file=buf, width=10 * (n + 2), color_system=None).print(table)
    return max(len(line) for line in buf.getvalue().splitlines()) - n


def fit_widths(mins: Sequence[int], maxs: Sequence[int], room: int, names: Sequence[bool]) -> list[int]:
    """Column widths within ``room``: wrapping columns give way first (in proportion to their slack), then
    names; no column goes below its minimum (the longest word or number, or a short middle-ellipsized name)."""
    widths = list(maxs)
    excess = sum(widths) - room
    for group in ([i for i, n in enumerate(names) if not n], [i for i, n in enumerate(names) if n]):
        slack = {i: widths[i] - mins[i] for i in group if widths[i] > mins[i]}
        total = sum(slack.values())
        if excess <= 0 or not total:
            continue
        cut = min(excess, total)
        for i, room_i in slack.items():
            widths[i] -= min(room_i, -(-cut * room_i // total))  # ceil: the cuts cover the excess
        excess = sum(widths) - room
    return widths


def column_bounds(cols: Sequence[Col], rows: Sequence[Sequence[str]]) -> tuple[list[int], list[int]]:
    """Each column's least and greatest width: a ``fixed`` or ``whole`` column its widest cell, a ``name`` a short
    middle-ellipsized name, a ``wrap`` column its longest word (never less than its header's longest word)."""
    def lines(text: str) -> list[str]:
        return text.splitlines() or [""]

    mins, maxs = [], []
    for j, col in enumerate(cols):
        texts = [cell_text(col, r[j]) for r in rows]
        widest = max([len(line) for c in texts for line in lines(c)] + [len(col.header)])
        header_word = max(len(w) for w in col.header.split()) if col.header.split() else 1
        if col.kind in ("fixed", "whole"):
            least = widest if rows else header_word
        elif col.kind == "name":
            least = max(min(Middle.MIN, widest), header_word)
        else:
            least = max(longest_token(texts), header_word)
        mins.append(least)
        maxs.append(max(widest, least))
    return mins, maxs


def cell_text(col: Col, text: str) -> str:
    """A cell's text with controls shown: a wrapping column keeps a long text whole (it wraps), a name or label
    is held to ``escape.NAME_LIMIT``."""
    return escape.message(text) if col.kind == "wrap" else escape.terminal(text)


def fits(width: int, cols: Sequence[Col], rows: Sequence[Sequence[str]]) -> bool:
    """True when a fitted table of these columns needs no cell cut or split within ``width``."""
    return sum(column_bounds(cols, rows)[0]) <= width - _overhead(width, len(cols))


def fitted_table(width: int, title: str | None, cols: Sequence[Col], rows: Sequence[Sequence[str]],
                 styles: Sequence[str | None] | None = None) -> Table:
    """A table that fits ``width`` without splitting a name, a word or a number (see ``Col``)."""
    from rich.text import Text

    mins, maxs = column_bounds(cols, rows)
    room = width - _overhead(width, len(cols))
    widths = fit_widths(mins, maxs, room, [c.kind == "name" for c in cols])
    table = data_table(width, title)
    for col, w in zip(cols, widths, strict=True):
        table.add_column(col.header, width=w, justify=col.justify, no_wrap=col.kind != "wrap",  # type: ignore[arg-type]
                         overflow="fold" if col.kind == "wrap" else "ellipsis")
    for i, row in enumerate(rows):
        cells: list[Any] = []
        for col, text in zip(cols, row, strict=True):
            cells.append(Middle(text) if col.kind == "name" else Text(cell_text(col, text),
                                                                       no_wrap=col.kind in ("fixed", "whole")))
        table.add_row(*cells, style=styles[i] if styles else None)
    return table


def stacked(title: str, records: Sequence[tuple[str, str, str]], styles: Sequence[str | None],
            width: int = 10**6) -> RenderableType:
    """One record per tensor, for widths below what a table needs: the name and its label whole on one line,
    the facts wrapped between words under it. Only a name wider than the whole line loses its middle."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    parts: list[RenderableType] = [Text(title)]
    for (name, label, facts), style in zip(records, styles, strict=True):
        room = max(Middle.MIN, width - (len(label) + 2 if label else 0))
        head = Text(escape.shorten(escape.terminal(name), room), style=style or "")
        if label:
            head.append(f"  {label}", style=style or "bold")
        parts.append(head)
        if facts:
            parts.append(Padding(Text(escape.message(facts)), (0, 0, 0, 2)))
    return Group(*parts)


def first_fitting(width: int, title: str, layouts: Sequence[tuple[Sequence[Col], Sequence[Sequence[str]]]],
                  records: Sequence[tuple[str, str, str]], styles: Sequence[str | None]) -> RenderableType:
    """The first table layout that fits ``width`` with every name whole, else the stacked records."""
    for cols, rows in layouts:
        if fits(width, cols, rows):
            return fitted_table(width, title, cols, rows, styles)
    return stacked(title, records, styles, width)


def longest_token(values: Iterable[str]) -> int:
    """The longest word of a column: its minimum width, so that Rich wraps between words, never inside one."""
    return max((len(word) for v in values for word in v.split()), default=1)


def number(text: str, style: str = "") -> Text:
    """A number or a label: never wrapped (``<1e-30`` over ``0`` reads as another number)."""
    from rich.text import Text

    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def std(spec: InitSpec) -> RenderableType:
    return KeyValues(f"kaiming std: {spec.call}", t_.spec_rows(spec))


def gain(table: GainTable) -> RenderableType | str:
    if table.single:
        return f"{table.entries[0].gain!r}\n"
    cols = [Col("nonlinearity", "fixed"), Col("formula"), Col("gain", "fixed", "right"), Col("source")]
    rows = t_.gain_rows(table)
    return Responsive(lambda width: fitted_table(width, t_.gain_title(table), cols, rows))


def fan(facts: dict[str, object]) -> RenderableType:
    shape = facts["shape"]
    assert isinstance(shape, list)
    return KeyValues(f"kaiming fan: {','.join(map(str, shape))}", t_.fan_rows(facts))


def explain(spec: InitSpec, sections: Sequence[Section], notes: Sequence[str]) -> RenderableType:
    return Panels([(s.title, s.text) for s in sections])


def check(result: CheckResult) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    spec = result.spec
    emp_cols = [Col("quantity", "fixed"), Col("empirical", justify="right"), Col("theory", "fixed", "right")]
    emp_rows = t_.empirical_rows(result)
    emp = Responsive(lambda width: fitted_table(width, "empirical vs theory", emp_cols, emp_rows))
    test_cols = [Col("test", "fixed"), Col("statistic", "fixed", "right"), Col("p-value", "fixed", "right"),
                 Col("", "fixed"), Col("detail")]
    test_rows = [(name, statistic, p, "ok" if passed else "FAIL", detail)
                 for name, statistic, p, passed, detail in t_.test_rows(result)]
    styles = [None if passed else "bold red" for *_, passed, _ in t_.test_rows(result)]
    tests = Responsive(lambda width: fitted_table(width, f"tests (alpha = {result.battery.alpha:g}, each at alpha/k)",
                                                  test_cols, test_rows, styles))

    parts: list[RenderableType] = [kv_table(f"kaiming check: {spec.call}", t_.spec_rows(spec)), emp, tests]
    lines = t_.check_histogram(result)
    if lines is not None:
        beyond = t_.beyond_edges(result.histogram, result.empirical.n_ks)
        parts.append(Text(f"histogram  sample │{lines[0]}│{beyond}\n           theory │{lines[1]}│", style="cyan"))
    parts.append(Text(f"backend: {result.backend_info}", style="dim"))
    if result.backend_reason:
        parts.append(Text(f"why: {result.backend_reason}", style="dim"))
    for note in t_.check_notes(result):
        parts.append(Text(f"note: {note}", style="yellow"))
    parts.append(Text(t_.verdict_line(result), style={"pass": "bold green", "fail": "bold red"}.get(result.status,
                                                                                                   "bold yellow")))
    return Group(*parts)


def status_label(status: str) -> str:
    return "ok" if status == "pass" else status.upper()


def verify_table(result: VerifyResult, shown: Sequence[TensorResult], width: int) -> RenderableType:
    """Wide: one column per fact. Narrower: name, status and the facts in one wrapped cell. Narrower still: one
    record per tensor. Names are never cut (a failing tensor's name is what the reader acts on)."""
    multi_file = len({t.file for t in result.tensors}) > 1
    files = [os.path.basename(t.file) for t in shown]
    styles = [STATUS_STYLE[t.status] if t.status != "pass" else None for t in shown]
    file_col = [Col("file", "whole")] if multi_file else []  # a failing tensor's file is acted on too: whole
    wide_cols = file_col + [Col("tensor", "whole"), Col("shape", "fixed"), Col("dtype", "fixed"), Col("expected"),
                            Col("std/std0 [CI]"), Col("p adj.", "fixed", "right"), Col("status", "fixed")]
    wide = [([f] if multi_file else []) + [
        t.name, shape_text(t.shape), t.dtype, expected_text(t), ratio_text(t), t_.adjusted_text(t),
        status_label(t.status)] for f, t in zip(files, shown, strict=True)]
    if any(t.looks_like for t in shown):  # a failing tensor's best law and its std ratio (issue 24)
        wide_cols.insert(-2, Col("looks like"))
        for row, t in zip(wide, shown, strict=True):
            row.insert(-2, t_.looks_like_text(t) or "-")
    compact_cols = file_col + [Col("tensor", "whole"), Col("status", "fixed"), Col("details")]
    compact = [([f] if multi_file else []) + [t.name, status_label(t.status), t_.verify_facts(t)]
               for f, t in zip(files, shown, strict=True)]
    records = [(t.name, status_label(t.status), (f"{f}; " if multi_file else "") + t_.verify_facts(t))
               for f, t in zip(files, shown, strict=True)]
    layouts = [(wide_cols, wide), (compact_cols, compact)] if width >= COMPACT else [(compact_cols, compact)]
    return first_fitting(width, "kaiming verify", layouts, records, styles)


def verify(result: VerifyResult, detail: bool = False) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    from .failures import folded_lines

    shown = t_.verify_rows(result, detail)
    parts: list[RenderableType] = [Responsive(lambda width: verify_table(result, shown, width))] if shown else []
    if not detail and not result.trained:
        parts += [Text(escape.message(line), style="green" if " pass" in line else "dim")
                  for line in folded_lines(result)]
    if result.trained and not detail:
        parts.append(Text(f"showing the {len(shown)} strongest of {result.count('fail')} failures; "
                          "--detail lists every tensor", style="yellow"))
    for t in shown:
        if t.failed or t.status == "error" or detail:
            name = escape.shorten(t.name, escape.NAME_LIMIT)
            line = escape.message(f"{name}: {t.reason}" if t.reason else name)
            lines = t_.tensor_histogram(t) if detail else None
            if lines is not None:
                beyond = t_.beyond_edges(t.histogram, t.empirical.n_ks if t.empirical else sum(t.histogram))
                line += f"\n    sample │{lines[0]}│{beyond}\n    theory │{lines[1]}│"
            parts.append(Text(line, style=STATUS_STYLE.get(t.status, "")))
    parts += [Text(escape.message(f"note: {note}"), style="dim") for note in result.notes]
    parts += [Text(escape.message(line), style=STATUS_STYLE["error"]) for line in t_.gate_lines(result)]
    return Group(*parts)


def verify_quiet(result: VerifyResult) -> str:
    """``-q``: the failing tensors' names, one a line."""
    from .failures import quiet_lines

    return "".join(escape.message(line) + "\n" for line in quiet_lines(result))


def identify_table(report: IdentifyReport, width: int) -> RenderableType:
    """What matters first (``failures.identify_order``); the widest layout that keeps every name and label whole:
    all columns, then name, verdict and the facts in one wrapped cell, then one record per tensor."""
    from .failures import identify_order

    order = identify_order(report.results)
    every = t_.identify_rows(report.results)
    rows = [every[i] for i in order]
    styles = ["yellow" if row[2].startswith("unknown") else None for row in rows]
    kinds = ("whole", "fixed", "wrap", "fixed", "fixed", "wrap", "wrap")
    wide_cols = [Col(h, k) for h, k in zip(t_.IDENTIFY_HEADERS, kinds, strict=True)]
    facts = ["; ".join([r[1]] + [f"{h} {v}" for h, v in zip(t_.IDENTIFY_HEADERS[3:], r[3:], strict=True)
                                 if v != "-"]) for r in rows]
    compact_cols = [Col("tensor", "whole"), Col("verdict"), Col("details")]
    compact = [(r[0], r[2], f) for r, f in zip(rows, facts, strict=True)]
    records = [(r[0], "", f"{r[2]}; {f}") for r, f in zip(rows, facts, strict=True)]
    layouts: list[tuple[Sequence[Col], Sequence[Sequence[str]]]] = [(compact_cols, compact)]
    if width >= COMPACT:
        layouts.insert(0, (wide_cols, rows))
    return first_fitting(width, "kaiming identify", layouts, records, styles)


def identify(report: IdentifyReport, top: int = 5) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    return Group(Responsive(lambda width: identify_table(report, width)),
                 Text("\n".join(escape.message(line) for line in report.summary), style="bold"),
                 Text(t_.CONFIDENCE_NOTE, style="dim"))


def propagate(result: PropagateResult) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    def tables(width: int) -> RenderableType:
        parts: list[RenderableType] = []
        layers = 5 if width >= NARROW else 3
        for direction, caption in (("forward", "forward: std of the pre-activations"),
                                   ("backward", "backward: std of the gradient w.r.t. each layer's input")):
            headers, rows = t_.propagate_rows(result, direction, layers)
            cols = [Col(headers[0])] + [Col(h, "fixed", "right") for h in headers[1:]]
            parts.append(fitted_table(width, caption, cols, rows))
        parts.append(Text("\n".join(t_.propagate_measured(result))))
        parts.append(Text(t_.propagate_chart(result, width), no_wrap=True, overflow="ellipsis"))
        return Group(*parts)

    return Group(Text(t_.propagate_title(result), style="bold"), Responsive(tables))


AUDIT_STYLE = {"different": "bold red", "framework default": "yellow", "ambiguous": "magenta",
               "scale-free": "cyan", "as recommended": "green"}


def audit(result: AuditResult) -> RenderableType:
    """One table per verdict (layers that share a verdict together), the ones that need attention first."""
    from rich.console import Group
    from rich.text import Text

    parts: list[RenderableType] = []
    for verdict, rows in t_.audit_groups(result):
        cells = t_.audit_rows(rows)

        def one(width: int, verdict: str = verdict, cells: list[tuple[str, ...]] = cells, count: int = len(rows)
                ) -> RenderableType:
            """All columns, else the parameter and its facts in one cell, else one record per row (names whole)."""
            wide = [Col("parameter", "whole"), Col("layer", "fixed"), Col("activation", "fixed"),
                    Col("recommended"), Col("actual"), Col("std ratio", "fixed", "right"), Col("note")]
            facts = ["; ".join(f"{h} {v}" for h, v in zip(t_.AUDIT_HEADERS[1:], c[1:], strict=True)
                               if v not in ("", "-")) for c in cells]
            compact = [(c[0], f) for c, f in zip(cells, facts, strict=True)]
            layouts: list[tuple[Sequence[Col], Sequence[Sequence[str]]]] = [
                ([Col("parameter", "whole"), Col("details")], compact)]
            if width >= COMPACT:
                layouts.insert(0, (wide, cells))
            return first_fitting(width, f"{verdict} ({count})", layouts, [(name, "", f) for name, f in compact],
                                 [AUDIT_STYLE[verdict] if verdict != "as recommended" else None] * len(cells))

        parts.append(Responsive(one))
    parts += [Text(escape.message(line), style="bold" if i == len(t_.audit_lines(result)) - 1 else "yellow")
              for i, line in enumerate(t_.audit_lines(result))]
    return Group(*parts)


def diff(result: DiffResult) -> RenderableType:
    """The pairs (differing first), then one line per differing pair with its reason."""
    from rich.console import Group
    from rich.text import Text

    from .diff_rows import DIFF_HEADERS, diff_rows

    rows = diff_rows(result)
    styles = [None if r[4] == "same" else "bold red" for r in rows]

    def build(width: int) -> Table:
        if width >= COMPACT:
            kinds = ("name", "fixed", "fixed", "fixed", "fixed", "wrap", "wrap")
            return fitted_table(width, "kaiming diff", [Col(h, k) for h, k in zip(DIFF_HEADERS, kinds, strict=True)],
                                rows, styles)
        narrow = [(r[0], r[4], "; ".join(f"{h} {v}" for h, v in zip(DIFF_HEADERS[1:], r[1:], strict=True)
                                          if v != "-" and h != "status")) for r in rows]
        return fitted_table(width, "kaiming diff", [Col("tensor", "name"), Col("status", "fixed"), Col("details")],
                            narrow, styles)

    parts: list[RenderableType] = [Responsive(build)] if rows else []
    parts += [Text(escape.message(f"{escape.shorten(p.name, escape.NAME_LIMIT)}: {p.reason}"), style="bold red")
              for p in result.differing()]
    parts += [Text(escape.message(f"unreadable: {e.reason}"), style=STATUS_STYLE["error"]) for e in result.errors]
    parts.append(Text(result.summary(), style="bold green" if result.passed else "bold red"))
    return Group(*parts)
