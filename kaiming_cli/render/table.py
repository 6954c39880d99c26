"""Rich renderables for a terminal (and, rendered to text, for ``-o`` files): the ``table`` format.

Every cell that may hold text from a file is a ``Text`` (never parsed as markup) with controls shown
(``escape.terminal``). Rich is imported inside the functions, so that other formats never load it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from . import escape
from . import text as t_

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from ..runners.check import CheckResult
    from ..runners.identify import IdentifyReport
    from ..runners.propagate import PropagateResult
    from ..runners.verify import VerifyResult
    from ..theory.explain import Section
    from ..theory.gains import GainTable
    from ..theory.spec import InitSpec

STATUS_STYLE = {"pass": "green", "fail": "bold red", "skip": "dim", "error": "bold magenta", "inconclusive": "yellow"}


def kv_table(title: str, rows: Iterable[tuple[str, str]]) -> RenderableType:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", expand=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for k, v in rows:
        table.add_row(k, v)
    return table


def cell(text: str) -> Text:
    """A Rich table cell from text that may come from a file: never parsed as markup, controls shown."""
    from rich.text import Text

    return Text(escape.terminal(text))


def std(spec: InitSpec) -> RenderableType:
    return kv_table(f"kaiming std: {spec.call}", t_.spec_rows(spec))


def gain(table: GainTable) -> RenderableType | str:
    if table.single:
        return f"{table.entries[0].gain!r}\n"
    from rich.table import Table

    out = Table(title="gains (torch.nn.init.calculate_gain)", title_justify="left")
    for col, justify in zip(t_.GAIN_HEADERS, ("left", "left", "right", "left"), strict=True):
        out.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in t_.gain_rows(table):
        out.add_row(*row)
    return out


def fan(facts: dict[str, object]) -> RenderableType:
    shape = facts["shape"]
    assert isinstance(shape, list)
    return kv_table(f"kaiming fan: {','.join(map(str, shape))}", t_.fan_rows(facts))


def explain(spec: InitSpec, sections: Sequence[Section], notes: Sequence[str]) -> RenderableType:
    from rich.console import Group
    from rich.panel import Panel

    return Group(*[Panel(s.text, title=s.title, title_align="left") for s in sections])


def check(result: CheckResult) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    spec = result.spec
    emp = Table(title="empirical vs theory", title_justify="left")
    emp.add_column("quantity", style="bold")
    emp.add_column("empirical", justify="right")
    emp.add_column("theory", justify="right")
    for row in t_.empirical_rows(result):
        emp.add_row(*row)

    tests = Table(title=f"tests (alpha = {result.battery.alpha:g}, each at alpha/k)", title_justify="left")
    columns = (("test", "left"), ("statistic", "right"), ("p-value", "right"), ("", "left"), ("detail", "left"))
    for col, justify in columns:
        tests.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for name, statistic, p, passed, detail in t_.test_rows(result):
        mark = Text("ok", style="green") if passed else Text("FAIL", style="bold red")
        tests.add_row(name, statistic, p, mark, detail)

    parts: list[RenderableType] = [kv_table(f"kaiming check: {spec.call}", t_.spec_rows(spec)), emp, tests]
    lines = t_.check_histogram(result)
    if lines is not None:
        parts.append(Text(f"histogram  sample │{lines[0]}│\n           theory │{lines[1]}│", style="cyan"))
    parts.append(Text(f"backend: {result.backend_info}", style="dim"))
    for note in t_.check_notes(result):
        parts.append(Text(f"note: {note}", style="yellow"))
    parts.append(Text(t_.verdict_line(result), style={"pass": "bold green", "fail": "bold red"}.get(result.status,
                                                                                                   "bold yellow")))
    return Group(*parts)


def verify(result: VerifyResult, detail: bool = False) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    multi_file = len({t.file for t in result.tensors}) > 1
    table = Table(title="kaiming verify", title_justify="left")
    columns = (["file"] if multi_file else []) + ["tensor", "shape", "dtype", "expected", "std/std0 [CI]",
                                                   "p adj.", "status"]
    for col in columns:
        table.add_column(col, overflow="fold", justify="right" if col in ("p adj.",) else "left")
    shown = t_.verify_rows(result, detail)
    for t in shown:
        cells = ([os.path.basename(t.file)] if multi_file else []) + [
            t.name, t_.shape_text(t.shape), t.dtype, t_.expected_text(t), t_.ratio_text(t), t_.adjusted_text(t)]
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
            lines = t_.tensor_histogram(t) if detail else None
            if lines is not None:
                line += f"\n    sample │{lines[0]}│  theory │{lines[1]}│"
            parts.append(Text(line, style=STATUS_STYLE.get(t.status, "")))
    parts += [Text(escape.message(line), style=STATUS_STYLE["error"]) for line in t_.gate_lines(result)]
    return Group(*parts)


def identify(report: IdentifyReport, top: int = 5) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="kaiming identify", title_justify="left")
    for col in t_.IDENTIFY_HEADERS:
        table.add_column(col, overflow="fold")
    for row in t_.identify_rows(report.results):
        table.add_row(*map(cell, row), style="yellow" if row[2].startswith("unknown") else None)
    return Group(table, Text("\n".join(escape.message(line) for line in report.summary), style="bold"))


def propagate(result: PropagateResult) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = [Text(t_.propagate_title(result), style="bold")]
    for direction, caption in (("forward", "forward: std of the pre-activations"),
                               ("backward", "backward: std of the gradient w.r.t. each layer's input")):
        headers, rows = t_.propagate_rows(result, direction)
        table = Table(title=caption, title_justify="left")
        for i, h in enumerate(headers):
            table.add_column(h, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        parts.append(table)
    parts.append(Text(t_.propagate_chart(result), no_wrap=True, overflow="ellipsis"))
    return Group(*parts)
