"""One strict JSON document per run: the ``json`` format (the contract of docs/cli.md).

Every document has ``schema`` and ``kaiming_version``; NaN and infinities become ``null``; output is ASCII,
so a name holding a lone surrogate round-trips as a ``\\udxxx`` escape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
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
    indent of ``obj``'s level. The plain values inside a dict or a list are written in its loop, without a call
    each (a many-tensor report is a few hundred of them per tensor: issue 25)."""
    kind = type(obj)
    if kind is dict:
        if not obj:
            out.append("{}")
            return
        if not all(type(k) is str for k in obj):
            obj = {str(k): v for k, v in obj.items()}
        inner = newline + "  "
        sep, rest = "{" + inner, "," + inner
        for key, value in obj.items():
            out.append(sep)
            out.append(_KEYS.get(key) or _key(key))
            text = _plain(value)
            if text is None:
                write(value, out, inner)
            else:
                out.append(text)
            sep = rest
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not obj:
            out.append("[]")
            return
        inner = newline + "  "
        sep, rest = "[" + inner, "," + inner
        for value in obj:
            out.append(sep)
            text = _plain(value)
            if text is None:
                write(value, out, inner)
            else:
                out.append(text)
            sep = rest
        out.append(newline + "]")
    else:
        text = _plain(obj)
        if text is not None:
            out.append(text)
        else:
            _write_other(obj, out, newline)


def _plain(value: Any) -> str | None:
    """The text of a str, float, int, bool or None (exactly these types), else None."""
    kind = type(value)
    if kind is str:
        return _ESCAPE(value)
    if kind is float:
        return float.__repr__(value) if math.isfinite(value) else "null"
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    return None


#: Each key's text with its ': ', made once (a report repeats a few dozen keys for every tensor); at most
#: ``MAX_KEYS`` of them, since keys may come from a file (a ``fan`` lookup's facts do not, a tensor name never is).
_KEYS: dict[str, str] = {}
MAX_KEYS = 1024


def _key(key: str) -> str:
    text: str = _ESCAPE(key) + ": "
    if len(_KEYS) < MAX_KEYS:
        _KEYS[key] = text
    return text


def _write_other(obj: Any, out: list[str], newline: str) -> None:
    """``write`` of the values ``_plain`` leaves: subclasses of the plain types, numpy scalars, ``Each``."""
    if isinstance(obj, str):
        out.append(_ESCAPE(obj))
    elif isinstance(obj, float):
        out.append(float.__repr__(obj) if math.isfinite(obj) else "null")
    elif isinstance(obj, int):
        out.append("true" if obj is True else "false" if obj is False else int.__repr__(int(obj)))
    elif isinstance(obj, dict):
        write(dict(obj), out, newline)
    elif isinstance(obj, (list, tuple)):
        write(list(obj), out, newline)
    elif isinstance(obj, Each):
        obj.write(out, newline)
    elif hasattr(obj, "item") and not isinstance(obj, bool):  # a numpy scalar
        write(obj.item(), out, newline)
    else:
        raise _NotPlain(type(obj).__name__)


#: Characters ``Each`` lets gather before it hands them to the sink: a few hundred kilobytes of text.
FLUSH_CHARS = 1 << 18


def _default(obj: Any) -> Any:
    """The encoder's ``default``: a numpy scalar as its Python value, an ``Each`` as its list; else what
    ``json.dumps`` says of a value it cannot write."""
    if isinstance(obj, Each):
        return [obj.plain(x) for x in obj.items]
    if hasattr(obj, "item"):  # a numpy scalar (the encoder writes the plain types and their subclasses itself)
        return obj.item()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


#: One item of an ``Each`` on one line, by the standard library's C encoder (``json.encoder.c_make_encoder``:
#: it runs only without an indent); ``allow_nan=False`` makes a NaN or an infinity raise, never be written.
_LINE = json.JSONEncoder(ensure_ascii=True, allow_nan=False, check_circular=False, separators=(", ", ": "),
                         default=_default)


def line(value: Any) -> str:
    """``value`` as one line of JSON: ``json.dumps(clean(value), ensure_ascii=True)`` with ``", "`` and ``": "``.

    The C encoder writes a whole tensor's dict in one call (the indented writer above makes a Python call per
    value: half of a many-tensor run's CPU, issue 25). A value holding a NaN or an infinity, which the encoder
    refuses, is cleaned (those become ``null``) and written again: the slow path only for such tensors, and no
    text is ever edited after the fact (a tensor may be named "NaN")."""
    try:
        return _LINE.encode(value)
    except ValueError:  # "Out of range float values are not JSON compliant"
        return _LINE.encode(clean(_listed(value)))


class Each:
    """A JSON list written item by item, one line each: ``plain`` makes each item's value (a tensor's
    ``to_dict``) only when the writer reaches it, and the text so far goes to the sink after each item once
    ``FLUSH_CHARS`` characters gathered. So a report of 10,000 tensors never holds every tensor's dict, nor the
    whole text, at once (issue 25: both grew with the tensor count, to 30 KB a tensor for verify and 60 KB for
    identify at their peak)."""

    def __init__(self, items: Sequence[Any], plain: Callable[[Any], Any]) -> None:
        self.items = items
        self.plain = plain
        self.sink: Callable[[list[str]], None] | None = None
        self.jobs = 1
        """Processes that may make the lines (``lines``)."""

    def write(self, out: list[str], newline: str) -> None:
        """``[plain(x) for x in items]`` with each item on its own line (``line``), handed out between items."""
        if not self.items:
            out.append("[]")
            return
        inner = newline + "  "
        sep = "[" + inner
        gathered = 0
        for text in self.lines():
            out.append(sep)
            out.append(text)
            gathered += len(sep) + len(text)
            sep = "," + inner
            if self.sink is not None and gathered >= FLUSH_CHARS:  # between two items: never inside a string
                self.sink(out)
                gathered = 0
        out.append(newline + "]")

    def lines(self) -> Iterator[str]:
        """Each item's line, in order. A list of ``PARALLEL_ITEMS`` or more with ``jobs`` > 1 is made by forked
        workers, ``SLICE_ITEMS`` lines at a time, each slice handed on as it comes: its dicts and their encoding
        were the parent's last serial pass over a checkpoint of thousands of tensors (60-100 us a tensor, a
        quarter of verify's time on 9000 of them; issue 25). The same functions make the same text either way."""
        items, plain = self.items, self.plain
        if self.jobs <= 1 or len(items) < PARALLEL_ITEMS:
            for item in items:
                yield line(plain(item))
            return
        from ..engine.parallel import imap_forked

        def texts(k: int) -> list[str]:
            return [line(plain(item)) for item in items[k * SLICE_ITEMS:(k + 1) * SLICE_ITEMS]]

        for chunk in imap_forked(texts, -(-len(items) // SLICE_ITEMS), self.jobs):
            yield from chunk


#: A list of at least this many items is written by forked workers (``Each.lines``): below, their start costs more
#: than they save.
PARALLEL_ITEMS = 1000
#: Items whose lines a worker makes at once: 0.7-1.7 MB of text (verify's 2.9 KB a tensor, identify's 6.6 KB), of
#: which ``engine/parallel.py`` ``WINDOW_PER_JOB`` slices a worker are in flight at most.
SLICE_ITEMS = 256


def document(doc: dict[str, Any]) -> str:
    """One JSON document in ASCII (names round-trip exactly, see ``escape``); no ``##[`` in a log line."""
    full = {"schema": SCHEMA, "kaiming_version": version(), **doc}
    pieces: list[str] = []
    try:
        write(full, pieces, "\n")
        text = "".join(pieces)
    except _NotPlain:  # json.dumps says what it cannot write
        text = json.dumps(clean(_listed(full)), indent=2, allow_nan=False, ensure_ascii=True)
    return logsafe(text) + "\n"


def logsafe(text: str) -> str:
    """'##[' can only occur inside a string ('#' is never JSON syntax): its second '#' is written as \\u0023, so
    that no line of a report reads as a GitHub Actions workflow command."""
    return text.replace("##[", "#\\u0023[")


def _listed(obj: Any) -> Any:
    """``obj`` with every ``Each`` made a plain list (for ``json.dumps``, which says what it cannot write)."""
    if isinstance(obj, Each):
        return [_listed(obj.plain(x)) for x in obj.items]
    if isinstance(obj, dict):
        return {k: _listed(v) for k, v in obj.items()}
    return obj


class Streamed:
    """A document whose long lists are ``Each``: ``text()`` is ``document``'s string, ``write(sink)`` hands the
    same characters to ``sink`` in pieces of a few hundred kilobytes (what ``cli/output.py`` writes to stdout or
    ``-o`` as they come), so the report's memory does not grow with its tensors."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.jobs = 1
        """Processes that may make the lines of its long lists (``Each.lines``): the CLI gives its ``--jobs``."""

    def write(self, sink: Callable[[str], object]) -> None:
        full = {"schema": SCHEMA, "kaiming_version": version(), **self.doc}
        lists = _each(full)

        def flush(out: list[str]) -> None:
            sink(logsafe("".join(out)))  # cut between items, so no '##[' spans two pieces
            out.clear()

        for each in lists:
            each.sink = flush
            each.jobs = self.jobs
        pieces: list[str] = []
        try:
            write(full, pieces, "\n")
        except _NotPlain as exc:  # what json.dumps says of it (document's fallback), from the first such value
            raise TypeError(f"Object of type {exc} is not JSON serializable") from None
        finally:
            for each in lists:
                each.sink, each.jobs = None, 1
        pieces.append("\n")
        flush(pieces)

    def text(self) -> str:
        out: list[str] = []
        self.write(out.append)
        return "".join(out)


def _each(doc: dict[str, Any]) -> list[Each]:
    """The ``Each`` values at the top of a document."""
    return [v for v in doc.values() if isinstance(v, Each)]


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


def verify(result: VerifyResult, detail: bool = False) -> Streamed:
    """``document(result.to_dict())``, each tensor's dict made as it is written."""
    return Streamed({**result.to_dict(tensors=False), "tensors": Each(result.tensors, _tensor_dict)})


def _tensor_dict(tensor: Any) -> Any:
    return tensor.to_dict()


def identify(report: IdentifyReport, top: int = 5) -> Streamed:
    """``document(report.to_dict(top))``, each tensor's dict made as it is written."""
    return Streamed({**report.to_dict(top, tensors=False), "tensors": Each(report.results, lambda r: r.to_dict(top))})


def propagate(result: PropagateResult) -> str:
    return document(result.to_dict())


def audit(result: AuditResult) -> str:
    return document(result.to_dict())


def diff(result: DiffResult) -> str:
    return document(result.to_dict())
