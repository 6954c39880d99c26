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

    monkeypatch.setattr(rj, "FLUSH_PIECES", 3)  # a cut after every item
    items = [{"name": f"t{i} ##[error]" if i % 3 == 0 else f"t{i}#", "p": i / 7, "nan": math.nan} for i in range(10)]
    made: list[int] = []

    def plain(item: dict[str, Any]) -> dict[str, Any]:
        made.append(len(made))
        return item

    pieces: list[str] = []
    rj.Streamed({"passed": True, "tensors": rj.Each(items, plain), "after": [1, 2]}).write(pieces.append)
    assert "".join(pieces) == reference({"passed": True, "tensors": items, "after": [1, 2]})
    assert len(pieces) > 5 and len(made) == 10
    assert rj.Streamed({"tensors": rj.Each([], plain)}).text() == reference({"tensors": []})
    assert document({"tensors": rj.Each(items, plain)}) == reference({"tensors": items})


def test_a_streamed_document_refuses_what_json_dumps_refuses() -> None:
    import pytest

    import kaiming_cli.render.json as rj

    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        rj.Streamed({"tensors": rj.Each([1, object()], lambda x: x)}).text()


def test_a_long_report_is_handed_out_in_pieces_of_a_bounded_size() -> None:
    """What keeps verify's and identify's memory flat in the tensor count (issue 25): the text of a report of many
    tensors never exists whole; each piece handed to the sink is bounded by ``FLUSH_PIECES``, not by the count."""
    import kaiming_cli.render.json as rj

    tensor = {"name": "w", "tests": [{"name": "ks", "pvalue": 0.5, "detail": "D = 0.01"}] * 9, "shape": [32, 32]}
    pieces: list[str] = []
    rj.Streamed({"tensors": rj.Each(range(4000), lambda _i: tensor)}).write(pieces.append)
    one: list[str] = []
    rj.write(tensor, one, "\n    ")  # one tensor's pieces, and its text (with its separator) at the list's depth
    per_piece, text = len(one) + 1, len(",\n    " + "".join(one))
    sizes = [len(p) for p in pieces]
    assert sum(sizes) > 10 * max(sizes)  # more than ten pieces ...
    # ... each cut once FLUSH_PIECES pieces gathered: at most that many tensors' worth and one more, and the header
    assert max(sizes) <= (rj.FLUSH_PIECES // per_piece + 2) * text + 100
