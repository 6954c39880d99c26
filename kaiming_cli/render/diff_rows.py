"""The cells of ``kaiming diff``'s report, shared by every format (so that each says a pair the same way; the
one-line ``pair_line`` lives in ``runners/diff.py``, as the test helpers raise with it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..runners.diff import pair_line, pair_shape
from ..runners.tensor_report import pvalue

if TYPE_CHECKING:
    from ..runners.diff import DiffResult, Pair

DIFF_HEADERS = ("tensor", "shape", "std A/B [95% CI]", "p adj.", "status", "A looks like", "B looks like")


def ratio_cell(p: Pair) -> str:
    if p.std_ratio is None:
        return "-"
    if p.std_ratio_ci is None or p.std_ratio_ci[0] != p.std_ratio_ci[0]:  # NaN interval
        return f"{p.std_ratio:.3g}"
    return f"{p.std_ratio:.3g} [{p.std_ratio_ci[0]:.3g}, {p.std_ratio_ci[1]:.3g}]"


def adjusted_cell(p: Pair) -> str:
    return "-" if p.pvalue_adjusted is None else pvalue(p.pvalue_adjusted)


def ordered_pairs(result: DiffResult) -> list[Pair]:
    """The pairs that are not the same first, then in the files' order."""
    return sorted(result.pairs, key=lambda p: p.status == "same")


def pair_cells(p: Pair) -> tuple[str, ...]:
    """The cells of ``DIFF_HEADERS`` for one pair."""
    return (p.name, pair_shape(p), ratio_cell(p), adjusted_cell(p), p.status, p.a_looks_like or "-",
            p.b_looks_like or "-")


def diff_rows(result: DiffResult) -> list[tuple[str, ...]]:
    return [pair_cells(p) for p in ordered_pairs(result)]


__all__ = ["DIFF_HEADERS", "diff_rows", "ordered_pairs", "pair_cells", "pair_line", "pair_shape"]
