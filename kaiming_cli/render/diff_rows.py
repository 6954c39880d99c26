"""The cells of ``kaiming diff``'s report, shared by every format (so that each says a pair the same way)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..runners.tensor_report import pvalue, shape_text

if TYPE_CHECKING:
    from ..runners.diff import DiffResult, Pair

DIFF_HEADERS = ("tensor", "shape", "std A/B [95% CI]", "p adj.", "status", "A looks like", "B looks like")


def pair_shape(p: Pair) -> str:
    if p.shape_a is not None and p.shape_b is not None and p.shape_a != p.shape_b:
        return f"{shape_text(p.shape_a)} / {shape_text(p.shape_b)}"
    dims = p.shape_a if p.shape_a is not None else p.shape_b
    return shape_text(dims) if dims else "scalar"


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


def pair_line(p: Pair) -> str:
    """One differing pair in one line, as the test helpers' failure message and the annotations say it."""
    sides = ""
    if p.a_looks_like or p.b_looks_like:
        sides = f" (A: {p.a_looks_like or '-'}, B: {p.b_looks_like or '-'})"
    return f"{p.name} {pair_shape(p)}: {p.status}: {p.reason}{sides}"
