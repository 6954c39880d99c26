"""Plain-text report of one tensor: what ``assert_init`` raises with in a test suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import escape
from . import text as t_

if TYPE_CHECKING:
    from ..runners.verify import TensorResult


def tensor_report(t: TensorResult) -> str:
    lines = [f"{escape.terminal(t.name)} {t_.shape_text(t.shape)} {escape.terminal(t.dtype)}: {t.status.upper()} "
             f"vs {t_.expected_text(t)}"]
    if t.spec is not None and t.empirical is not None:
        lines.append(f"  std {t.empirical.std:.6g} vs theory {t.spec.std:.6g} (ratio {t_.ratio_text(t)}), "
                     f"mean {t.empirical.mean:.3g}, max|x| {max(abs(t.empirical.min), abs(t.empirical.max)):.6g}")
    for test in t.tests:
        mark = "ok  " if test.passed else "FAIL"
        lines.append(f"  {mark} {test.name:9s} p = {t_.pvalue(test.pvalue):>9s}  {test.detail}")
    if t.reason:
        lines.append(f"  reason: {escape.message(t.reason)}")
    return "\n".join(lines)
