"""GitHub-flavoured Markdown (job summaries, PR comments): the ``markdown`` format.

Every cell is escaped as text unless it is kaiming's own markup (``Markup``); names, paths and dtypes are
code spans (``escape.markdown_code``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .. import escape
from ..runners.tensor_report import expected_text, ratio_text, shape_text
from . import text as t_

if TYPE_CHECKING:
    from ..runners.audit import AuditResult
    from ..runners.check import CheckResult
    from ..runners.diff import DiffResult, Pair
    from ..runners.identify import IdentifyReport
    from ..runners.propagate import PropagateResult
    from ..runners.verify import TensorResult, VerifyResult
    from ..theory.explain import Section
    from ..theory.gains import GainTable
    from ..theory.spec import InitSpec


class Markup(str):
    """A Markdown cell that is kaiming's own markup (``**FAIL**``, a code span): ``table`` keeps it."""


def md_cell(text: str) -> str:
    return text if isinstance(text, Markup) else escape.markdown_text(text)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub pipe table; every cell that is not ``Markup`` is escaped as text."""
    out = ["| " + " | ".join(md_cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def code(text: str) -> Markup:
    return Markup(escape.markdown_code(text))


def std(spec: InitSpec) -> str:
    return f"### `{spec.call}`\n\n" + table(["quantity", "value"], t_.spec_rows(spec))


def gain(gains: GainTable) -> str:
    return table(t_.GAIN_HEADERS, t_.gain_rows(gains))


def fan(facts: dict[str, object]) -> str:
    return table(["quantity", "value"], t_.fan_rows(facts))


def explain(spec: InitSpec, sections: Sequence[Section], notes: Sequence[str]) -> str:
    body = "".join(f"### {s.title}\n\n{s.text}\n\n" for s in sections)
    return "".join(f"> note: {n}\n\n" for n in notes) + body


def check(result: CheckResult) -> str:
    spec = result.spec
    out = [f"### kaiming check: `{spec.call}`\n", table(["quantity", "value"], t_.spec_rows(spec)), ""]
    out.append(table(["quantity", "empirical", "theory"], t_.empirical_rows(result)))
    out.append("")
    out.append(table(["test", "statistic", "p-value", "result", "detail"],
                     [(name, statistic, p, "ok" if passed else Markup("**FAIL**"), detail)
                      for name, statistic, p, passed, detail in t_.test_rows(result)]))
    out.append("")
    out += [f"> note: {n}" for n in t_.check_notes(result)]
    out.append(f"**{t_.verdict_line(result)}**\n")
    return "\n".join(out)


def shown_path(path: str) -> str:
    """A path as a job summary shows it: relative to the working directory when under it (shards were listed
    with the runner's absolute paths), else as given. JSON keeps the exact path."""
    import os

    if os.path.isabs(path):
        relative = os.path.relpath(path)
        return path if relative.startswith("..") else relative
    return path


VERIFY_HEADERS = ("file", "tensor", "shape", "dtype", "expected", "std/std0 [CI]", "p adj.", "status", "reason")


def verify_cells(t: TensorResult) -> tuple[str, ...]:
    return (code(shown_path(t.file)), code(t.name), shape_text(t.shape), code(t.dtype), code(expected_text(t)),
            ratio_text(t), t_.adjusted_text(t),
            ("✅ " if t.status == "pass" else "❌ " if t.failed else "") + t.status, t.reason)


def verify(result: VerifyResult, detail: bool = False) -> str:
    """Failures first: the failing, inconclusive and unreadable tensors in a table, then the passing (and with
    --detail the skipped) ones folded into a ``<details>`` block, so a job summary opens on what to fix."""
    from .failures import folded_lines, needs_attention

    listed = t_.verify_rows(result, detail)
    rows = [verify_cells(t) for t in listed if needs_attention(t)]
    rows += [(code(shown_path(e.file)), "-", "-", "-", "-", "-", "-", "❌ error", e.reason) for e in result.errors]
    rest = [verify_cells(t) for t in listed if not needs_attention(t)]
    if not result.trained:
        rest += [verify_cells(t) for t in result.tensors if t.status == "pass" and not detail]
    out = f"### kaiming verify\n\n**{escape.markdown_text(result.summary())}**\n\n"
    if rows:
        out += table(VERIFY_HEADERS, rows) + "\n"
    if not detail and not result.trained:
        out += "".join(f"- {escape.markdown_text(line)}\n" for line in folded_lines(result)) + "\n"
    if rest:
        word = "tensors" if len(rest) > 1 else "tensor"
        out += (f"<details><summary>{len(rest)} other {word}</summary>\n\n" + table(VERIFY_HEADERS, rest)
                + "\n</details>\n")
    out += "".join(f"\n> note: {escape.markdown_text(n)}\n" for n in result.notes)
    return out


def identify(report: IdentifyReport, top: int = 5) -> str:
    head = "### kaiming identify\n\n" + "".join(f"- {escape.markdown_text(line)}\n" for line in report.summary) + "\n"
    from .failures import identify_order

    every = list(zip(report.results, t_.identify_rows(report.results), strict=True))
    rows = [(code(name), *rest, t_.fitted_law(r))
            for r, (name, *rest) in (every[i] for i in identify_order(report.results))]  # what matters first
    note = f"\n{escape.markdown_text(t_.CONFIDENCE_NOTE)}\n"
    return head + table([*t_.IDENTIFY_HEADERS, "fitted std [CI]"], rows) + note


def propagate(result: PropagateResult) -> str:
    out = [f"### {t_.propagate_title(result)}\n"]
    for direction in ("forward", "backward"):
        headers, rows = t_.propagate_rows(result, direction)
        out.append(f"**{direction}**\n\n" + table(headers, rows))
    out.append("```\n" + t_.propagate_chart(result) + "\n```\n")
    return "\n".join(out)


def audit(result: AuditResult) -> str:
    """One table per verdict, the ones that need attention first; names and calls are code spans."""
    out = [f"### kaiming audit `{escape.markdown_code(result.target)}`\n",
           f"**{escape.markdown_text(result.summary())}**\n"]
    out += [f"> note: {escape.markdown_text(n)}\n" for n in result.notes]
    out += [f"- {escape.markdown_text(line)}\n" for line in t_.audit_signal_lines(result)]
    for verdict, rows in t_.audit_groups(result):
        out.append(f"#### {verdict} ({len(rows)})\n")
        cells = [(code(name), layer, activation, code(rec) if rec != "-" else rec, code(act), ratio, note)
                 for name, layer, activation, rec, act, ratio, note in t_.audit_rows(rows)]
        out.append(table(t_.AUDIT_HEADERS, cells))
    return "\n".join(out)


def diff(result: DiffResult) -> str:
    from .diff_rows import DIFF_HEADERS, ordered_pairs, pair_cells

    def row(p: Pair) -> tuple[str, ...]:
        name, shape, ratio, adjusted, status, a_like, b_like = pair_cells(p)
        return (code(name), shape, ratio, adjusted, ("✅ " if status == "same" else "❌ ") + status,
                code(a_like) if a_like != "-" else a_like, code(b_like) if b_like != "-" else b_like, p.reason)
    rows = [row(p) for p in ordered_pairs(result)]
    rows += [(code(shown_path(e.file)), "-", "-", "-", "❌ error", "-", "-", e.reason) for e in result.errors]
    head = (f"### kaiming diff {escape.markdown_code(result.a)} {escape.markdown_code(result.b)}\n\n"
            f"**{escape.markdown_text(result.summary())}**\n\n")
    return head + table([*DIFF_HEADERS, "reason"], rows)
