"""One strict JSON document per run: the ``json`` format (the contract of docs/cli.md).

Every document has ``schema`` and ``kaiming_version``; NaN and infinities become ``null``; output is ASCII,
so a name holding a lone surrogate round-trips as a ``\\udxxx`` escape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..about import version

if TYPE_CHECKING:
    from ..runners.audit import AuditResult
    from ..runners.check import CheckResult
    from ..runners.diff import DiffResult
    from ..runners.identify import IdentifyReport
    from ..runners.propagate import PropagateResult
    from ..runners.verify import VerifyResult
    from ..theory.explain import Section
    from ..theory.gains import GainTable
    from ..theory.spec import InitSpec

SCHEMA = 1


def clean(obj: Any) -> Any:
    """Plain JSON values: tuples to lists, numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if hasattr(obj, "item") and not isinstance(obj, float):  # numpy scalar
        return clean(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def document(doc: dict[str, Any]) -> str:
    """One JSON document in ASCII (names round-trip exactly, see ``escape``); no ``##[`` in a log line."""
    full = {"schema": SCHEMA, "kaiming_version": version(), **doc}
    text = json.dumps(clean(full), indent=2, allow_nan=False, ensure_ascii=True)
    # '##[' can only occur inside a string ('#' is never JSON syntax): write its second '#' as \u0023
    return text.replace("##[", "#\\u0023[") + "\n"


def std(spec: InitSpec) -> str:
    return document(spec.to_dict())


def gain(table: GainTable) -> str:
    doc: dict[str, Any] = table.entries[0].to_dict() if table.single else {
        "gains": [e.to_dict() for e in table.entries]}
    doc["notes"] = list(table.notes)
    return document(doc)


def fan(facts: dict[str, object]) -> str:
    return document(dict(facts))


def explain(spec: InitSpec, sections: Sequence[Section], notes: Sequence[str]) -> str:
    return document({"spec": spec.to_dict(), "notes": list(notes),
                     "sections": [{"key": s.key, "title": s.title, "text": s.text} for s in sections]})


def check(result: CheckResult) -> str:
    return document(result.to_dict())


def verify(result: VerifyResult, detail: bool = False) -> str:
    return document(result.to_dict())


def identify(report: IdentifyReport, top: int = 5) -> str:
    return document(report.to_dict(top))


def propagate(result: PropagateResult) -> str:
    return document(result.to_dict())


def audit(result: AuditResult) -> str:
    return document(result.to_dict())


def diff(result: DiffResult) -> str:
    return document(result.to_dict())
