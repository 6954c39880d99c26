"""GitHub Actions workflow commands (verify only): one annotation per failing tensor or unreadable file,
then a notice or error with the summary. Every value is escaped by GitHub's rules (``escape.github_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import escape
from ..runners.tensor_report import expected_text, shape_text
from .failures import needs_attention

if TYPE_CHECKING:
    from ..runners.diff import DiffResult
    from ..runners.verify import VerifyResult


def verify(result: VerifyResult, detail: bool = False) -> str:
    lines = []
    for t in result.tensors:
        if needs_attention(t):
            name = escape.shorten(t.name, escape.NAME_LIMIT)
            title = escape.github_property(f"kaiming: {name}")
            msg = escape.github_data(f"{name} {shape_text(t.shape)} {t.dtype}: expected {expected_text(t)}; "
                                     f"{t.reason}")
            file = escape.github_property(t.file, escape.MESSAGE_LIMIT)  # a path is kept whole to link the file
            level = "warning" if t.status == "inconclusive" and not result.strict else "error"
            lines.append(f"::{level} file={file},title={title}::{msg}")
        if t.zero_rows_excluded:  # zero rows left out of the tests (docs/statistics.md §2.9), as in every format
            title = escape.github_property(f"kaiming: {escape.shorten(t.name, escape.NAME_LIMIT)}")
            lines.append(f"::notice file={escape.github_property(t.file, escape.MESSAGE_LIMIT)},title={title}::"
                         f"{escape.github_data(t.zero_rows_note())}")
    for e in result.errors:
        title = escape.github_property("kaiming: unreadable file")
        file = escape.github_property(e.file, escape.MESSAGE_LIMIT)
        lines.append(f"::error file={file},title={title}::{escape.github_data(e.reason)}")
    level = "notice" if result.passed else "error"
    lines.append(f"::{level} title=kaiming verify::{escape.github_data(result.summary())}")
    return "\n".join(lines) + "\n"


def diff(result: DiffResult) -> str:
    """One error annotation per pair that is not the same law, then the summary."""
    from .diff_rows import pair_line

    lines = [f"::error title={escape.github_property('kaiming diff: ' + escape.shorten(p.name, escape.NAME_LIMIT))}"
             f"::{escape.github_data(pair_line(p))}" for p in result.differing()]
    lines += [f"::error file={escape.github_property(e.file, escape.MESSAGE_LIMIT)},title=kaiming diff: unreadable"
              f"::{escape.github_data(e.reason)}" for e in result.errors]
    lines.append(f"::{'notice' if result.passed else 'error'} title=kaiming diff::"
                 f"{escape.github_data(result.summary())}")
    return "\n".join(lines) + "\n"
