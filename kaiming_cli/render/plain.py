"""The lookups' tables and panels as plain text, byte for byte what Rich prints without colour, without importing
Rich (~30 ms, a third of a lookup's start-up).

``KeyValues`` (``std``, ``fan``) and ``Panels`` (``explain``) are what ``render.table`` returns for the lookups;
``kv_table``, the Rich form of ``KeyValues``, lives here with it, so that ``render.table`` imports this module and
this module never imports ``render.table`` (no import cycle).
``plain(width)`` gives the text Rich would print at that width with no colour (a pipe, a file, ``--color never``),
or None when the content needs something this module does not reproduce (markup or emoji codes, tabs, wide or
combining characters, a word wider than its cell): then ``__rich__`` hands Rich the same content, and Rich draws
it as before. A terminal with colour always goes through Rich. The layout follows Rich 13-15's own code: a
table's column widths (``Table._calculate_column_widths``, ``_collapse_widths``, ``ratio_reduce``), word
wrapping (``rich._wrap.divide_line``), the square box of a headerless table and the rounded box of a panel.
tests/render/test_plain.py compares the two over every lookup and over generated text at many widths.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType

#: Text that Rich would change before drawing it: a markup tag (``[`` then a letter, ``#``, ``/`` or ``@``, as
#: rich.markup.RE_TAGS), a backslash (escapes), an emoji code (``:name:``).
_RICH_SYNTAX = re.compile(r"\\|\[[a-z#/@]|:\S*:")
_WORD = re.compile(r"\s*\S+\s*")


def _single_width(text: str) -> bool:
    """True when every character takes one cell in Rich and in a terminal, and is drawn as itself."""
    for ch in text:
        if " " <= ch <= "~":
            continue
        if not ch.isprintable() or unicodedata.combining(ch) or unicodedata.east_asian_width(ch) in "WF":
            return False
    return True


def _plain_ok(text: str) -> bool:
    """Text Rich draws as it is (line breaks allowed): no markup, no emoji code, one cell per character."""
    return _single_width(text.replace("\n", "")) and not _RICH_SYNTAX.search(text) and not text.endswith("\n")


def _divide(text: str, width: int, fold: bool) -> list[str] | None:
    """``text`` (one line) cut into lines of at most ``width`` cells as ``rich._wrap.divide_line`` cuts it, each
    without its trailing spaces; a word wider than ``width`` is folded, or None if ``fold`` is False (Rich would
    crop it with an ellipsis)."""
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group(0)
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            if not fold or width < 1:
                return None
            pieces = [word[i:i + width] for i in range(0, len(word), width)]
            for piece in pieces[:-1]:
                if start:
                    breaks.append(start)
                start += len(piece)
            if start:
                breaks.append(start)
            offset = len(pieces[-1])
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    bounds = [0, *breaks, len(text)]
    return [text[a:b][:width].rstrip(" ") for a, b in zip(bounds, bounds[1:], strict=False)] or [""]


def _wrap(text: str, width: int, fold: bool = True) -> list[str] | None:
    """Every line of ``text`` wrapped at ``width`` (a blank line stays a blank line), or None (see ``_divide``)."""
    out: list[str] = []
    for line in text.split("\n"):
        lines = _divide(line, width, fold)
        if lines is None:
            return None
        out += lines
    return out


def _ratio_reduce(total: int, ratios: list[int], maximums: list[int], values: list[int]) -> list[int]:
    """``rich._ratio.ratio_reduce``."""
    ratios = [ratio if most else 0 for ratio, most in zip(ratios, maximums, strict=True)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    result = []
    for ratio, most, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            distributed = min(most, round(ratio * remaining / total_ratio))
            result.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def _collapse(widths: list[int], max_width: int) -> list[int]:
    """``rich.table.Table._collapse_widths`` with every column wrapable."""
    excess = sum(widths) - max_width
    while sum(widths) and excess > 0:
        widest = max(widths)
        second = max(w if w != widest else 0 for w in widths)
        ratios = [1 if w == widest else 0 for w in widths]
        if not widest - second:
            break
        widths = _ratio_reduce(excess, ratios, [min(excess, widest - second)] * len(widths), widths)
        excess = sum(widths) - max_width
    return widths


def _column_widths(columns: Sequence[Sequence[str]], max_width: int) -> list[int]:
    """Widths (padding included) of a table's columns within ``max_width`` cells, as Rich lays them out."""
    widths = []
    for cells in columns:
        longest = max((len(line) for c in cells for line in c.splitlines()), default=0)
        widths.append(min(min(longest, max_width) + 2, max_width) or 1)
    if sum(widths) > max_width:
        widths = _collapse(widths, max_width)
        if sum(widths) > max_width:
            widths = _ratio_reduce(sum(widths) - max_width, [1] * len(widths), widths, widths)
    return widths


def kv_table(title: str, rows: Iterable[tuple[str, str]]) -> RenderableType:
    """The Rich table of ``KeyValues`` (a terminal with colour, or text this module does not reproduce); also
    the spec table at the head of ``kaiming check``'s report (``render.table``)."""
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", expand=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for k, v in rows:
        table.add_row(k, v)
    return table


class KeyValues:
    """A titled two-column table of (key, value) rows, no header: ``kaiming std`` and ``kaiming fan``."""

    def __init__(self, title: str, rows: Sequence[tuple[str, str]]) -> None:
        self.title, self.rows = title, list(rows)

    def __rich__(self) -> RenderableType:
        return kv_table(self.title, self.rows)

    def plain(self, width: int) -> str | None:
        texts = [self.title, *(k for k, _ in self.rows), *(v for _, v in self.rows)]
        if not all(_plain_ok(t) for t in texts) or width < 8:
            return None
        widths = _column_widths([[k for k, _ in self.rows], [v for _, v in self.rows]], width - 3)
        table_width = sum(widths) + 3
        title = _wrap(self.title, table_width) if self.title else []  # Rich draws no line for an empty title
        if title is None:
            return None
        lines = [line.ljust(table_width) for line in title]
        lines.append("┌" + "┬".join("─" * w for w in widths) + "┐")
        for row in self.rows:
            # the key column crops a long word with an ellipsis (Rich's default overflow), the value column folds it
            cells = [_wrap(row[0], widths[0] - 2, fold=False), _wrap(row[1], widths[1] - 2)]
            if any(c is None for c in cells):
                return None
            height = max(len(c) for c in cells if c is not None)
            for i in range(height):
                parts = [(c[i] if c is not None and i < len(c) else "").ljust(w - 2)
                         for c, w in zip(cells, widths, strict=True)]
                lines.append("│ " + " │ ".join(parts) + " │")
        lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
        return "\n".join(lines) + "\n"


class Panels:
    """Titled panels, one under the other, each as wide as the console: ``kaiming explain``."""

    def __init__(self, sections: Sequence[tuple[str, str]]) -> None:
        self.sections = list(sections)

    def __rich__(self) -> RenderableType:
        from rich.console import Group
        from rich.panel import Panel

        return Group(*[Panel(text, title=title, title_align="left") for title, text in self.sections])

    def plain(self, width: int) -> str | None:
        if width < 8:
            return None
        lines: list[str] = []
        for title, text in self.sections:
            if not (_plain_ok(title) and _plain_ok(text)) or "\n" in title or not title:
                return None
            body = _wrap(text, width - 4)
            if body is None:
                return None
            lines.append("╭─" + f" {title} "[:width - 4].ljust(width - 4, "─") + "─╮")  # a long title is cut
            lines += ["│ " + line.ljust(width - 4) + " │" for line in body]
            lines.append("╰" + "─" * (width - 2) + "╯")
        return "\n".join(lines) + "\n"


def plain_text(content: Any, width: int) -> str | None:
    """The plain text of ``content`` at ``width`` if it offers one (``KeyValues``, ``Panels``), else None."""
    plain = getattr(content, "plain", None)
    return plain(width) if callable(plain) else None
