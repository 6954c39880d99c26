"""What verify will do with a tensor, decided from its header and rule alone, before any value is read.

Shared by the one-tensor path (``verify_source``) and the group path (grouped.py), so that both skip, refuse and
choose laws alike: a tensor is settled without reading (skipped, an error), checked as a constant, or tested
against a law.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ...engine.sources import same_bytes
from ...io.config import Rule
from ...io.sources import TensorSource, is_float
from ...stats.empirical import law_of
from ...stats.laws import Law
from ...theory.spec import InitSpec, SpecOptions
from .result import TensorResult


@dataclass(frozen=True)
class Constant:
    """Checked exactly: every value must equal ``value``."""

    base: TensorResult
    value: float


@dataclass(frozen=True)
class Tested:
    """Tested by the battery against ``law``, the exact law of ``spec``."""

    base: TensorResult
    spec: InitSpec
    law: Law


Plan = TensorResult | Constant | Tested
"""A ``TensorResult`` when the tensor is settled without reading it."""


#: What a tensor's rule and header decide, before the name: ("constant", value), ("error", reason, spec or None,
#: refused as random because not floating-point) or ("law", spec, law).
Decision = tuple[Any, ...]
#: ``plan_source``'s memo over one run: a checkpoint's thousands of tensors share a few rules and shapes.
Memo = dict[tuple[Any, ...], Decision]


def plan_source(source: TensorSource, rule: Rule | None, base_options: SpecOptions, *, layout_given: bool = False,
                sibling_fan_in: int | None = None, memo: Memo | None = None) -> Plan:
    """What to do with one tensor (``verify_source`` explains the layout and the sibling fan-in). ``memo`` keeps
    the decisions of a run's earlier tensors of the same rule, layout, fan-in, shape and dtype (same options)."""
    base = TensorResult(source.file, source.name, source.shape, source.dtype, "skip", _describe(rule, memo))
    if source.error:
        return replace(base, status="error", reason=source.error)
    if source.same_as is not None:
        return replace(base, reason=same_bytes(source.same_as))
    if rule is None:
        return replace(base, reason="no rule and no spec option covers it")
    if rule.skip:
        return replace(base, reason=f"skipped by rule {rule.origin}")
    if source.numel == 0:
        return replace(base, reason="empty tensor")
    if rule.constant is not None:
        return Constant(base, rule.constant)
    fan_in = sibling_fan_in if len(source.shape) == 1 else None
    key = (id(rule), None if layout_given else source.layout, fan_in, tuple(source.shape), source.dtype)
    decision = memo.get(key) if memo is not None else None
    if decision is None:
        decision = _decide(source, rule, base_options, layout_given, fan_in)
        if memo is not None:
            memo[key] = decision
    if decision[0] == "constant":
        return Constant(base, decision[1])
    if decision[0] == "error":
        reason = f"{source.dtype} tensor matched a random-init rule; give it a constant or skip rule" \
            if decision[3] else decision[1]
        return replace(base, status="error", spec=decision[2], reason=reason)
    return Tested(base, decision[1], decision[2])


def _describe(rule: Rule | None, memo: Memo | None) -> str:
    """The rule in words, once per rule of a run."""
    if rule is None:
        return "no rule"
    if memo is None:
        return rule.describe()
    key = ("describe", id(rule))
    if key not in memo:
        memo[key] = (rule.describe(),)
    text: str = memo[key][0]
    return text


def _decide(source: TensorSource, rule: Rule, base_options: SpecOptions, layout_given: bool,
            sibling_fan_in: int | None) -> Decision:
    """The part of ``plan_source`` that depends on the rule, layout, fan-in, shape and dtype only."""
    not_random = ("error", "", None, True)
    if source.layout is not None and not layout_given:
        base_options = replace(base_options, layout=source.layout)
    options = base_options.overridden(rule.options)
    if len(source.shape) == 1 and options.fan_in is None and sibling_fan_in is not None:
        options = replace(options, fan_in=sibling_fan_in)  # a bias: default('Linear') needs its weight's fan_in
    try:
        # a 0-d tensor holds one value: only a constant law (zeros_, ones_, constant_) can describe it, and that
        # law needs no fans; any other law on it is refused below with the spec's own reason
        spec = options.spec(source.shape or (1,))
        if spec.exact_law.distribution == "constant" and spec.exact_law.value is not None:
            # checked exactly, on integer tensors too (identify -f rules writes init = "zeros_" for a BatchNorm's
            # num_batches_tracked)
            return ("constant", spec.exact_law.value)
        if not source.shape:
            options.spec(source.shape)
    except ValueError as exc:
        return ("error", str(exc), None, False) if is_float(source.dtype) else not_random
    if not is_float(source.dtype):
        return not_random
    try:
        law = law_of(spec)
    except ValueError as exc:  # a law the statistics cannot test: this tensor is an error, said why
        return ("error", str(exc), spec, False)
    return ("law", spec, law)
