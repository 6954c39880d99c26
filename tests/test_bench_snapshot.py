"""bench/json_snapshot.py ``compare``: JSON documents compared parsed (docs/cli.md promises keys and values, not the
layout), the Markdown and table outputs byte for byte. Tiny documents here; no command is run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

STORED = 'exit 0\n{\n  "schema": 1,\n  "tensors": [\n    {"name": "w", "std": 0.25, "n": 256, "ok": true}\n  ]\n}\n'


@pytest.fixture(scope="module")
def snapshot() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "bench" / "json_snapshot.py"
    spec = importlib.util.spec_from_file_location("json_snapshot", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reformatted(doc: str, **dump: Any) -> str:
    head, _, body = doc.partition("\n")
    return f"{head}\n{json.dumps(json.loads(body), **dump)}\n"


def test_the_same_document_compares_equal(snapshot: ModuleType) -> None:
    assert snapshot.same("verify.json", STORED, STORED)


def test_a_changed_value_differs(snapshot: ModuleType) -> None:
    assert not snapshot.same("verify.json", STORED, STORED.replace("0.25", "0.26"))
    assert not snapshot.same("verify.json", STORED, STORED.replace("exit 0", "exit 1"))
    assert not snapshot.same("verify.json", STORED, STORED.replace('"w"', '"v"'))


def test_another_layout_compares_equal(snapshot: ModuleType) -> None:
    assert snapshot.same("verify.json", STORED, reformatted(STORED, indent=2))
    assert snapshot.same("verify.json", STORED, reformatted(STORED))
    assert snapshot.same("verify.json", STORED, reformatted(STORED, indent=4, sort_keys=True))


def test_numbers_keep_their_kind(snapshot: ModuleType) -> None:
    """Python's == takes 256 == 256.0 == True as equal; a typed reader of the JSON does not."""
    assert not snapshot.same("verify.json", STORED, STORED.replace("256", "256.0"))
    assert not snapshot.same("verify.json", STORED, STORED.replace('"n": 256', '"n": true'))


def test_nan_equals_nan_where_both_hold_one(snapshot: ModuleType) -> None:
    with_nan = STORED.replace("0.25", "NaN")
    assert snapshot.same("verify.json", with_nan, reformatted(with_nan, indent=2))
    assert not snapshot.same("verify.json", with_nan, STORED.replace("0.25", "null"))


def test_output_that_is_not_json_compares_as_text(snapshot: ModuleType) -> None:
    error = "exit 3\nkaiming: cannot read m.pt: not a checkpoint\n"
    assert snapshot.same("verify.json", error, error)
    assert not snapshot.same("verify.json", error, error.replace("m.pt", "n.pt"))
    assert not snapshot.same("verify.json", error, STORED)


def test_markdown_and_table_compare_byte_for_byte(snapshot: ModuleType) -> None:
    table = "exit 0\n| tensor | std |\n|---|---|\n| w | 0.25 |\n"
    assert snapshot.same("verify.markdown", table, table)
    assert not snapshot.same("verify.markdown", table, table.replace("| w |", "|  w |"))
    assert not snapshot.same("verify.table", STORED, reformatted(STORED, indent=2))
