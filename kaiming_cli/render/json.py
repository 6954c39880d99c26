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


class _NotPlain(Exception):
    """A value ``write`` does not know: the document goes through ``clean`` and ``json.dumps`` instead."""


_ESCAPE = getattr(json.encoder, "c_encode_basestring_ascii", None) or json.encoder.py_encode_basestring_ascii


def write(obj: Any, out: list[str], newline: str) -> None:
    """Append ``json.dumps(clean(obj), indent=2, ensure_ascii=True)``'s text of ``obj`` to ``out``, in one pass.

    With an indent, ``json.dumps`` takes its pure-Python encoder (a generator per nesting level) after ``clean``
    has copied the whole document: about half of a many-tensor run's report. This writes the same characters
    directly (the tests compare the two on every command's documents); ``newline`` is the line break and the
    indent of ``obj``'s level."""
    if isinstance(obj, str):
        out.append(_ESCAPE(obj))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, float):
        out.append(float.__repr__(obj) if math.isfinite(obj) else "null")
    elif isinstance(obj, int):
        out.append(int.__repr__(int(obj)))
    elif isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        if not all(type(k) is str for k in obj):
            obj = {str(k): v for k, v in obj.items()}
        inner = newline + "  "
        sep = "{" + inner
        for key, value in obj.items():
            out.append(sep)
            out.append(_ESCAPE(key))
            out.append(": ")
            write(value, out, inner)
            sep = "," + inner
        out.append(newline + "}")
    elif isinstance(obj, (list, tuple)):
        if not obj:
            out.append("[]")
            return
        inner = newline + "  "
        sep = "[" + inner
        for value in obj:
            out.append(sep)
            write(value, out, inner)
            sep = "," + inner
        out.append(newline + "]")
    elif hasattr(obj, "item") and not isinstance(obj, bool):  # a numpy scalar
        write(obj.item(), out, newline)
    else:
        raise _NotPlain(type(obj).__name__)


def document(doc: dict[str, Any]) -> str:
    """One JSON document in ASCII (names round-trip exactly, see ``escape``); no ``##[`` in a log line."""
    full = {"schema": SCHEMA, "kaiming_version": version(), **doc}
    pieces: list[str] = []
    try:
        write(full, pieces, "\n")
        text = "".join(pieces)
    except _NotPlain:  # json.dumps says what it cannot write
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
