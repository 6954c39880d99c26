"""``render/json.py`` writes a document in one pass instead of ``json.dumps(clean(doc), indent=2)`` (issue 25: that
encoder is pure Python and ``clean`` copies the document first); the characters must be the same."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kaiming_cli.about import version
from kaiming_cli.render.json import SCHEMA, clean, document


def reference(doc: dict[str, Any]) -> str:
    """What the documents were before: the standard library's encoder on the cleaned document."""
    full = {"schema": SCHEMA, "kaiming_version": version(), **doc}
    text = json.dumps(clean(full), indent=2, allow_nan=False, ensure_ascii=True)
    return text.replace("##[", "#\\u0023[") + "\n"


def reference_lines(doc: dict[str, Any], key: str = "tensors") -> str:
    """The layout of a list written by ``Each`` (verify's and identify's tensors, issue 25): the document indented
    as ``reference`` writes it, but each item of ``doc[key]`` on one line, as ``json.dumps`` writes it without an
    indent; built here from the standard library alone."""
    items = [json.dumps(clean(item), allow_nan=False, ensure_ascii=True) for item in doc[key]]
    marker = "\u0000the list"
    text = json.dumps(clean({"schema": SCHEMA, "kaiming_version": version(), **doc, key: marker}), indent=2,
                      allow_nan=False, ensure_ascii=True)
    listed = "[\n    " + ",\n    ".join(items) + "\n  ]" if items else "[]"
    text = text.replace(json.dumps(marker), listed, 1)
    return text.replace("##[", "#\\u0023[") + "\n"


def test_every_kind_of_value_is_written_as_json_dumps_writes_it() -> None:
    doc = {"tensors": [{"name": "conv\udc80.weight ##[error]", "shape": (64, 3, 3, 3), "p": np.float64(0.25),
                        "q": np.float32(1.5), "n": np.int64(7), "ok": np.bool_(True), "nan": math.nan,
                        "inf": -math.inf, "big": 1e300, "tiny": 5e-324, "neg0": -0.0, "none": None,
                        "empty_list": [], "empty_dict": {}, "nested": [[1, 2], {"a": (True, False)}]}],
           3: "an int key", "unicode": "ü→\u2028", "flag": False}
    assert document(doc) == reference(doc)


def test_an_object_json_cannot_write_still_fails_as_before() -> None:
    import pytest

    with pytest.raises(TypeError):
        document({"x": object()})


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), JSONISH, max_size=5))
def test_generated_documents_match_json_dumps(doc: dict[str, Any]) -> None:
    assert document(doc) == reference(doc)


def test_a_streamed_document_hands_out_the_same_characters_in_pieces(monkeypatch: Any) -> None:
    """``Streamed`` (verify's and identify's reports, tensor by tensor) writes what ``document`` writes of the same
    values made whole, cut only between list items (so a '##[' inside a name is still escaped), and makes each
    item's value only when it reaches it."""
    import kaiming_cli.render.json as rj

    monkeypatch.setattr(rj, "FLUSH_CHARS", 1)  # a cut after every item
    items: list[Any] = [{"name": f"t{i} ##[error]" if i % 3 == 0 else f"t{i}#", "p": i / 7, "nan": math.nan,
                         "q": np.float32(i / 4), "k": np.int64(i), "shape": (i, 3)} for i in range(10)]
    items += [{"name": "NaN", "Infinity": "-Infinity", "v": [math.inf, -math.inf, 1e300]}, "NaN", math.nan, None]
    made: list[int] = []

    def plain(item: dict[str, Any]) -> dict[str, Any]:
        made.append(len(made))
        return item

    pieces: list[str] = []
    rj.Streamed({"passed": True, "tensors": rj.Each(items, plain), "after": [1, 2]}).write(pieces.append)
    text = "".join(pieces)
    assert text == reference_lines({"passed": True, "tensors": items, "after": [1, 2]})
    assert json.loads(text) == json.loads(reference({"passed": True, "tensors": items, "after": [1, 2]}))
    assert "NaN" not in text.replace('"NaN"', "") and "Infinity" not in text.replace('"Infinity"', "").replace(
        '"-Infinity"', "")  # only the strings: the values are null
    assert len(pieces) > 10 and len(made) == len(items)
    assert rj.Streamed({"tensors": rj.Each([], plain)}).text() == reference({"tensors": []})
    assert document({"tensors": rj.Each(items, plain)}) == reference_lines({"tensors": items})


@settings(max_examples=100, deadline=None)
@given(st.lists(JSONISH, max_size=6))
def test_generated_lists_are_written_one_item_a_line_as_json_dumps_writes_them(items: list[Any]) -> None:
    import kaiming_cli.render.json as rj

    doc = {"passed": False, "tensors": rj.Each(items, lambda x: x)}
    assert rj.Streamed(doc).text() == reference_lines({"passed": False, "tensors": items})


def test_a_streamed_document_refuses_what_json_dumps_refuses() -> None:
    import pytest

    import kaiming_cli.render.json as rj

    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        rj.Streamed({"tensors": rj.Each([1, object()], lambda x: x)}).text()


def test_a_long_report_is_handed_out_in_pieces_of_a_bounded_size() -> None:
    """What keeps verify's and identify's memory flat in the tensor count (issue 25): the text of a report of many
    tensors never exists whole; each piece handed to the sink is bounded by ``FLUSH_CHARS``, not by the count."""
    import kaiming_cli.render.json as rj

    tensor = {"name": "w", "tests": [{"name": "ks", "pvalue": 0.5, "detail": "D = 0.01"}] * 9, "shape": [32, 32]}
    pieces: list[str] = []
    rj.Streamed({"tensors": rj.Each(range(20000), lambda _i: tensor)}).write(pieces.append)
    text = len(",\n    " + json.dumps(tensor))  # one tensor's line, with its separator
    sizes = [len(p) for p in pieces]
    assert sum(sizes) > 10 * max(sizes)  # more than ten pieces ...
    # ... each cut once FLUSH_CHARS characters gathered: that many and one tensor more, and the header
    assert max(sizes) <= rj.FLUSH_CHARS + text + 100


def test_a_long_list_made_by_forked_workers_is_the_same_text(monkeypatch: Any) -> None:
    """With ``jobs`` (the CLI's --jobs) a list of ``PARALLEL_ITEMS`` or more is made by forked workers, a slice
    each (issue 25): the same characters, in the same pieces' bounds, and the workers really made them (each
    line's value is made in another process); NaN and numpy values, names that try to end a line, a slice that is
    not full."""
    import os

    import kaiming_cli.engine.parallel as parallel
    import kaiming_cli.render.json as rj

    monkeypatch.setattr(parallel, "fork_safe", lambda: True)  # torch, loaded by other tests, is never touched here
    monkeypatch.setattr(rj, "SLICE_ITEMS", 7)
    monkeypatch.setattr(rj, "FLUSH_CHARS", 1000)
    count = rj.PARALLEL_ITEMS + 12
    items: list[Any] = [{"name": f"t{i}\n]," + ("##[error]" if i % 5 == 0 else ""), "p": i / 7,
                         "nan": math.nan if i % 11 == 0 else 0.5, "q": np.float32(i / 4), "shape": (i, 3)}
                        for i in range(count)]
    parent = os.getpid()

    def plain(item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "forked": os.getpid() != parent}

    def text(jobs: int) -> tuple[str, list[str]]:
        doc = rj.Streamed({"passed": True, "tensors": rj.Each(items, plain), "after": [1, 2]})
        doc.jobs = jobs
        pieces: list[str] = []
        doc.write(pieces.append)
        return "".join(pieces), pieces

    one, _ = text(1)
    two, pieces = text(2)
    assert one == reference_lines({"passed": True, "tensors": [plain(x) for x in items], "after": [1, 2]})
    assert two == one.replace('"forked": false', '"forked": true')
    assert '"forked": false' not in two and two.count('"forked": true') == count
    assert len(pieces) > 10 and max(len(p) for p in pieces) <= 1000 + 2 * len(max(two.splitlines(), key=len))


def test_a_forked_list_refuses_what_json_dumps_refuses(monkeypatch: Any) -> None:
    """A value the encoder cannot write fails the report as it does in one process (the worker's TypeError)."""
    import pytest

    import kaiming_cli.engine.parallel as parallel
    import kaiming_cli.render.json as rj

    monkeypatch.setattr(parallel, "fork_safe", lambda: True)
    doc = rj.Streamed({"tensors": rj.Each([*range(rj.PARALLEL_ITEMS), object()], lambda x: x)})
    doc.jobs = 2
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        doc.text()


def test_no_fork_once_torch_is_loaded(monkeypatch: Any) -> None:
    """The Python API and audit run with torch loaded: their reports' lines are made in this process."""
    import os
    import sys

    import kaiming_cli.engine.parallel as parallel

    monkeypatch.setitem(sys.modules, "torch", sys)  # any module object stands for a loaded torch
    assert not parallel.fork_safe()
    assert {pid for _, pid in parallel.imap_forked(lambda i: (i, os.getpid()), 5, 2)} == {os.getpid()}
    monkeypatch.delitem(sys.modules, "torch")
    assert parallel.fork_safe()  # this machine forks (CI's too): the test above is not vacuous
