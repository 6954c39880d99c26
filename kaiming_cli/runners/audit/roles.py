"""Judge what matters: which parameters' scale the fan rule really governs (issue 27, docs/audit.md §4).

A weight whose output is normalized (BatchNorm, LayerNorm, RMSNorm, GroupNorm) before any nonlinearity is
``scale-free`` for the forward pass: the norm divides its scale out. Weights inside a normalized residual block
(their input comes from a norm, or their output joins the residual stream) are judged by the measured stream,
not by the per-layer formula: GPT-2 and BERT train at N(0, 0.02) with depth-scaled output projections, and
LayerNorm makes that work. Embeddings, position tables and class tokens are the model's own choice of scale
and get no fan advice. Everything here reads what the forward pass saw (``trace.Feed``) and the measured signal.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from .result import AuditedWeight
from .signal import Signal
from .trace import Feed

_TOKEN = re.compile(r"(^|[._])(cls|mask|dist|register|reg)_?tokens?$")
_POSITION = re.compile(r"(^|[._])(pos|position|positional|absolute_pos)(_embed\w*|_emb\w*|ition\w*|_table)?$")
_OUTPUT_PROJ = re.compile(r"(c_proj|o_proj|out_proj|down_proj|\.wo|output\.dense|\.proj|fc2|dense_4h_to_h)\.weight$")
#: GPT-2's and BERT's initializer_range.
TRANSFORMER_STD = 0.02
GATE_NOTE = ("a gate: its output, through a sigmoid, multiplies the signal (squeeze-excitation), so its scale "
             "sets how open the gate starts (sigmoid(0) = 0.5) rather than the signal's variance; judged by the "
             "measured signal")
HEAD_NOTE = ("the output layer, smaller than recommended: the logits start nearer uniform, a common choice "
             "(zero-initialized heads, timm's head_init_scale); not a finding (larger would be)")
ZERO_RESIDUAL_NOTE = ("zeros: the zero-init-residual trick (Goyal et al. 2017): this norm ends a residual branch, "
                      "so each block starts as the identity; not a finding")
SCALE_FREE_NOTE = ("its output is normalized before any nonlinearity, so the forward signal does not depend on "
                   "its scale; the scale still sets how fast it learns (an update's size relative to the weight)")


def role_of(pname: str, param: Any, layer_type: str, feeds: list[Feed], gate: bool = False) -> str:
    """``embedding``, ``position table``, ``token``, ``scale-free``, ``gate``, ``head`` (feeds only the output),
    ``residual end``, ``residual block`` or ``''``. ``gate``: the weight's output, squashed by a sigmoid,
    multiplies the signal."""
    leaf = pname.rsplit(".", 1)[-1]
    if layer_type == "Embedding" or (leaf == "weight" and "embed" in pname.rsplit(".", 2)[-2:][0].lower()
                                     and param.dim() == 2 and layer_type not in ("Linear", "Conv2d")):
        return "position table" if _POSITION.search(pname.removesuffix(".weight")) else "embedding"
    if _TOKEN.search(pname):
        return "token"
    if _POSITION.search(pname) and layer_type not in ("Linear",):
        return "position table"
    if leaf == "weight" and param.dim() == 1 and "Norm" in layer_type and feeds \
            and all(f.first == "residual" for f in feeds):
        return "residual end"  # the norm's scale is the last thing its residual branch applies
    if leaf != "weight" or param.dim() < 2 or not feeds:
        return ""
    if gate:
        return "gate"
    if all(f.op == "output" for f in feeds):
        return "head"
    if all(f.first == "norm" for f in feeds):
        return "scale-free"
    if any(f.first == "residual" or f.input_normed for f in feeds):
        return "residual block"
    return ""


def depth_of(names: list[str]) -> int:
    """The number of repeated blocks: the most parameters that share a name once their indices are hidden."""
    counts: dict[str, int] = {}
    for n in names:
        key = re.sub(r"\.\d+\.", ".#.", n)
        if key != n:
            counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=1)


def scheme(row: AuditedWeight, empirical_std: float, depth: int) -> str:
    """The named transformer init the std matches, if any (within 10%)."""
    if math.isclose(empirical_std, TRANSFORMER_STD, rel_tol=0.1):
        return "the GPT/BERT N(0, 0.02) scheme"
    scaled = TRANSFORMER_STD / math.sqrt(2 * depth)
    if _OUTPUT_PROJ.search(row.name) and math.isclose(empirical_std, scaled, rel_tol=0.1):
        return f"GPT-2's depth-scaled output projection, 0.02/sqrt(2 x {depth} layers) = {scaled:.3g}"
    return ""


def reframe(row: AuditedWeight, role: str, signal: Signal | None, empirical_std: float, depth: int
            ) -> AuditedWeight:
    """The row as the role makes it: a new verdict (scale-free), no fan advice (embeddings, positions,
    tokens), or a note that the measured residual stream is what judges it."""
    if not role:
        return row
    if role == "scale-free":
        if row.verdict in ("different", "framework default"):
            return replace(row, verdict="scale-free", role=role, note=_join(SCALE_FREE_NOTE, row.note))
        return replace(row, role=role)
    if role in ("position table", "token"):
        return replace(row, verdict="ambiguous", recommended=None, gain=None, std_ratio=None, role=role,
                       note=f"a {role}: its scale is the model's choice; no fan rule applies")
    if role == "gate":
        return replace(row, role=role, note=_join(GATE_NOTE, row.note))
    if role == "head":
        smaller = row.std_ratio is not None and row.std_ratio < 1 and row.verdict == "different"
        return replace(row, role=role, note=_join(row.note, HEAD_NOTE if smaller else ""))
    if role == "residual end":
        zeros = "zero-init-residual" in row.note
        return replace(row, role=role, note=ZERO_RESIDUAL_NOTE if zeros else row.note)
    if role == "embedding":
        return replace(row, role=role, note=_join("an embedding: its scale is the model's choice (a norm or the "
                                                  "residual stream sets what follows); not a finding", row.note))
    named = scheme(row, empirical_std, depth)
    stream = "the measured signal is " + (signal.verdict if signal else "unmeasured")
    return replace(row, role=role, note=_join(f"in a normalized residual block, judged by the residual stream: "
                                              f"{stream}" + (f"; {named}" if named else ""), row.note))


def is_finding(row: AuditedWeight, signal: Signal | None) -> bool:
    """A ``different`` verdict counts where the scale matters: not for embeddings, and not in a normalized
    residual block whose measured stream is stable."""
    if row.verdict != "different":
        return False
    if row.role in ("embedding", "position table", "token", "scale-free"):
        return False
    if row.role == "residual end" and "zero-init-residual" in row.note:
        return False
    if row.role == "head":
        return not (row.std_ratio is not None and row.std_ratio < 1)
    if row.role == "gate":
        return not (signal is not None and signal.verdict == "stable")
    return not (row.role == "residual block" and signal is not None and signal.verdict == "stable")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
