"""The policy for tensors no rule names (``unlisted = "fail"`` in a rules file, ``--unlisted fail``): a post-pass
over verify's results, so that a rules file written from a trusted checkpoint also gates the tensors added to the
model later, until a rule covers them. The default, ``"skip"``, leaves them skipped (and counted)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .verify import VerifyResult

#: The reason verify gives a tensor no rule and no spec option covers (runners/verify/plan.py).
NO_RULE = "no rule and no spec option covers it"


def apply_unlisted(result: VerifyResult, policy: str) -> VerifyResult:
    """``result`` with every tensor no rule names failed when ``policy`` is ``"fail"``."""
    if policy != "fail":
        return result
    why = ('no rule names this tensor and the rules say unlisted = "fail": add a rule for it (a new layer? '
           "kaiming identify FILE -f rules writes one for each)")
    tensors = tuple(replace(t, status="fail", reason=why) if t.status == "skip" and t.reason == NO_RULE else t
                    for t in result.tensors)
    return replace(result, tensors=tensors)
