"""Failures first, as pytest and ruff report: which tensors a verify report lists one by one (failing,
inconclusive, unreadable) and the one line per group that stands for the rest (``20 conv weights pass``).

Format-independent: ``table``, ``markdown`` and ``junit`` arrange these; JSON stays complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..runners.tensor_report import expected_text
from ..theory.kinds import plural, tensor_kind

if TYPE_CHECKING:
    from ..runners.identify import IdentifyResult
    from ..runners.verify import TensorResult, VerifyResult

#: The order a report lists tensors in: what needs attention first.
STATUS_ORDER = {"uninitialized": 0, "fail": 1, "error": 2, "inconclusive": 3, "pass": 4, "skip": 5}


def attention_first(tensors: tuple[TensorResult, ...] | list[TensorResult]) -> list[TensorResult]:
    """The tensors, memory never initialized and failing ones first, then errors, inconclusive, passing,
    skipped (file order within)."""
    return sorted(tensors, key=lambda t: STATUS_ORDER.get(t.status, 6))


def needs_attention(t: TensorResult) -> bool:
    return t.failed or t.status in ("error", "inconclusive")


def failing(result: VerifyResult) -> list[TensorResult]:
    """The tensors that make the run fail: FAIL, uninitialized and errors, and inconclusive ones under --strict."""
    return [t for t in attention_first(result.tensors)
            if t.failed or t.status == "error" or (result.strict and t.status == "inconclusive")]


def passing_groups(result: VerifyResult) -> list[str]:
    """One line per kind of tensor and expected law that passed: ``10 conv weights pass (normal fan_out relu)``."""
    groups: dict[tuple[str, str], int] = {}
    for t in result.tensors:
        if t.status == "pass":
            key = (tensor_kind(t.name, t.shape), expected_text(t))
            groups[key] = groups.get(key, 0) + 1
    return [f"{plural(n, kind)} {'passes' if n == 1 else 'pass'} ({law})" for (kind, law), n in groups.items()]


def skipped_line(result: VerifyResult) -> str:
    """One line for the skipped tensors (``""`` when none): how many, and why."""
    skipped = [t for t in result.tensors if t.status == "skip"]
    if not skipped:
        return ""
    reasons: dict[str, int] = {}
    for t in skipped:
        why = "skip rules" if t.reason.startswith("skipped by rule") else \
            "no rule covers them" if t.reason.startswith("no rule") else t.reason
        reasons[why] = reasons.get(why, 0) + 1
    how = ", ".join(f"{why}: {n}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    return f"{plural(len(skipped), 'tensor')} skipped ({how})"


def folded_lines(result: VerifyResult) -> list[str]:
    """What a failures-first report says instead of listing passing and skipped tensors."""
    lines = passing_groups(result)
    skipped = skipped_line(result)
    if skipped:
        lines.append(skipped)
    if lines:
        lines[-1] += "; --detail lists every tensor"
    return lines


def quiet_lines(result: VerifyResult) -> list[str]:
    """``-q``: the failing tensors' names, one a line (the summary goes to stderr as always)."""
    return [t.name for t in failing(result)]


def identify_order(results: Sequence[IdentifyResult]) -> list[int]:
    """The order identify lists its tensors in: unknown ones first, then the odd ones out (a verdict few tensors
    of their kind share: a conv re-drawn with another init among twenty that agree), then the rest, file order
    within each."""
    from ..runners.identify import group_labels

    labels = group_labels(list(results))
    sizes: dict[tuple[str, str], int] = {}
    keys = []
    for r in results:
        key = (r.kind(), labels.get(id(r), r.verdict))
        keys.append(key)
        sizes[key] = sizes.get(key, 0) + 1
    kinds: dict[str, int] = {}
    for (kind, _label), n in sizes.items():
        kinds[kind] = kinds.get(kind, 0) + n

    def rank(i: int) -> tuple[int, float]:
        r, key = results[i], keys[i]
        if r.verdict == "unknown":
            return (0, 0.0)
        share = sizes[key] / kinds[key[0]]
        return (1, share) if share < 0.5 else (2, 0.0)

    return sorted(range(len(results)), key=rank)
