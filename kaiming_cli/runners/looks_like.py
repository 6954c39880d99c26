"""What a failing tensor looks like instead: identify's best law for it, as the call a user would write, with the
change that would pass (a post-pass over verify's results, called by ``cli/verify.py``).

A FAIL that only says ``std/std0 1.414`` leaves the user to work out that ``mode='fan_in'`` gives exactly that on a
conv whose fans differ by two; identify already ranks every common scheme by exact likelihood (docs/statistics.md
§7), so each failing tensor gets identify's verdict: ``kaiming_normal_(mode='fan_in', ...)``, "a fan_in/fan_out
swap", ``normal_(std=0.02)``, "PyTorch's Conv2d default". Like ``identified.py`` this adapter is the only place
that joins two runners (verify's results, identify's ranking); neither imports the other.

The failure's reason (ordered by ``verify_source``: a marginal test first whenever one failed, then the structure
tests) follows the sentence: a layer left at a framework default fails both, and its std is what the user must
change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..io.sources import TensorSource
    from ..theory.spec import InitSpec
    from .identify import IdentifyResult
    from .verify import TensorResult, VerifyResult

#: Failing tensors looked at per run at most: each is read again (a trained checkpoint fails them all and says so).
LIMIT = 50


def looks_like(result: VerifyResult, sources: Sequence[TensorSource], *, seed: int = 0,
               alpha: float = 1e-3) -> VerifyResult:
    """``result`` with each failing tensor's ``looks_like`` (``{call, law, std_ratio, change}`` or None) and its
    reason led by it."""
    if result.trained or not any(t.status == "fail" for t in result.tensors):
        return result  # nothing to look at: identify is not even imported (start-up, issue 25)
    by_key = {(s.file, s.name): s for s in sources}
    done = 0
    tensors: list[TensorResult] = []
    for t in result.tensors:
        source = by_key.get((t.file, t.name))
        if t.status != "fail" or source is None or done >= LIMIT:
            tensors.append(t)
            continue
        done += 1
        seen = _seen(t, source, seed, alpha)
        reason = "; ".join(x for x in (_sentence(seen), t.reason) if x)
        tensors.append(replace(t, looks_like=seen, reason=reason))
    return replace(result, tensors=tuple(tensors))


def _seen(t: TensorResult, source: TensorSource, seed: int, alpha: float) -> dict[str, Any] | None:
    from .identify import identify_source

    layout = t.spec.layout if t.spec is not None else None
    try:
        found = identify_source(source, layout=layout, alpha=alpha, seed=seed)
    except (OSError, ValueError):
        return None
    chosen = found.chosen
    if chosen is None or found.verdict in ("unknown", "skipped") or found.call is None:
        return None
    ratio = chosen.std / t.spec.std if t.spec is not None and t.spec.std and chosen.std else None
    return {"call": _as_written(found), "law": _law(found), "std_ratio": ratio,
            "change": change(t.spec, found)}


def _as_written(found: IdentifyResult) -> str:
    """The verdict as a call, without the ``torch.nn.init.`` prefix and the bracketed note."""
    call = found.call or found.verdict
    return re.sub(r"^torch\.nn\.init\.", "", call.split(" [")[0])


def _law(found: IdentifyResult) -> str:
    from .identify.candidates import law_text

    chosen = found.chosen
    return law_text(chosen) if chosen is not None else found.verdict


def change(spec: InitSpec | None, found: IdentifyResult) -> str:
    """The difference from what was expected, in words: a fan swap, a framework default, a fixed std."""
    chosen = found.chosen
    if chosen is None:
        return ""
    default = re.search(r"default\('(\w+)'\)", found.call or "")
    if chosen.family == "torch_default" or default:
        return f"PyTorch's {default.group(1)} default" if default else "PyTorch's layer default"
    if spec is None or spec.mode is None or chosen.mode is None:
        return ""
    same_gain = spec.gain is not None and chosen.gain is not None and abs(spec.gain - chosen.gain) < 1e-9
    if {spec.mode, chosen.mode} == {"fan_in", "fan_out"} and same_gain:
        return "a fan_in/fan_out swap"
    return ""


def _sentence(seen: dict[str, Any] | None) -> str:
    """``looks like kaiming_normal_(mode='fan_in', ...) (std 1.41x the expected): a fan_in/fan_out swap``."""
    if seen is None:
        return ""
    ratio = f" (std {seen['std_ratio']:.3g}x the expected)" if seen["std_ratio"] else ""
    how = f": {seen['change']}" if seen["change"] else ""
    return f"looks like {seen['call']}{ratio}{how}"
