"""JUnit XML for CI test reports (verify only): well-formed whatever the names hold (``escape.xml_attr``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import escape
from ..runners.tensor_report import expected_text
from . import text as t_

if TYPE_CHECKING:
    from ..runners.diff import DiffResult
    from ..runners.verify import TensorResult, VerifyResult


def verify(result: VerifyResult, detail: bool = False) -> str:
    attr = escape.xml_attr

    def failed(t: TensorResult) -> bool:
        return t.failed or (result.strict and t.status == "inconclusive")
    from .failures import attention_first

    by_file: dict[str, list[TensorResult]] = {}  # failures first: files with failures, and in each its failures
    for t in attention_first(result.tensors):
        by_file.setdefault(t.file, []).append(t)
    gate = result.empty and not result.has_errors  # one failing testcase says why an empty run fails
    failures = sum(t.failed for t in result.tensors) + gate
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="kaiming verify" tests="{len(result.tensors) + len(result.errors) + gate}" '
           f'failures="{failures}" errors="{result.count("error") + len(result.errors)}" '
           f'skipped="{result.count("skip")}">']
    for e in result.errors:
        out += [f'  <testsuite name={attr(e.file)} tests="1" failures="0" errors="1" skipped="0">',
                f'    <testcase classname={attr(e.file)} name="(read the file)">',
                f"      <error message={attr(e.reason)}/>",
                "    </testcase>", "  </testsuite>"]
    if gate:
        out += ['  <testsuite name="kaiming verify" tests="1" failures="1" errors="0" skipped="0">',
                '    <testcase classname="kaiming verify" name="(tested tensors)">',
                f"      <failure message={attr(t_.gate_lines(result)[-1])}/>",
                "    </testcase>", "  </testsuite>"]
    for file, tensors in by_file.items():
        out.append(f'  <testsuite name={attr(file)} tests="{len(tensors)}" '
                   f'failures="{sum(failed(t) for t in tensors)}" '
                   f'errors="{sum(t.status == "error" for t in tensors)}" '
                   f'skipped="{sum(t.status == "skip" for t in tensors)}">')
        notes = [t.zero_rows_note() for t in tensors if t.zero_rows_excluded]
        if notes:  # zero rows left out of the tests (docs/statistics.md §2.9): a note, as in every format
            out += ["    <properties>", *(f'      <property name="note" value={attr(n)}/>' for n in notes),
                    "    </properties>"]
        for t in tensors:
            out.append(f'    <testcase classname={attr(file)} name={attr(t.name)}>')
            msg = attr(f"{expected_text(t)}: {t.reason}")
            if t.status == "fail":
                out.append(f"      <failure message={msg}/>")
            elif t.status == "uninitialized":
                out.append(f'      <failure type="uninitialized" message={msg}/>')
            elif t.status == "error":
                out.append(f"      <error message={msg}/>")
            elif t.status == "skip":
                out.append(f"      <skipped message={attr(t.reason)}/>")
            elif t.status == "inconclusive":  # a failure under --strict, else a pass that says how weak it is
                out.append(f"      <failure message={msg}/>" if result.strict else
                           f"      <properties><property name=\"inconclusive\" value={msg}/></properties>")
            out.append("    </testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def diff(result: DiffResult) -> str:
    """One testcase per name; a pair that is not the same law is a failure, an unreadable input an error."""
    from .diff_rows import pair_line

    attr = escape.xml_attr
    failures = len(result.differing())
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="kaiming diff" tests="{len(result.pairs) + len(result.errors)}" '
           f'failures="{failures}" errors="{len(result.errors)}" skipped="0">',
           f'  <testsuite name={attr(result.a + " vs " + result.b)} tests="{len(result.pairs) + len(result.errors)}" '
           f'failures="{failures}" errors="{len(result.errors)}" skipped="0">']
    for e in result.errors:
        out += [f'    <testcase classname="kaiming diff" name={attr(e.file)}>',
                f"      <error message={attr(e.reason)}/>", "    </testcase>"]
    for p in result.pairs:
        out.append(f'    <testcase classname="kaiming diff" name={attr(p.name)}>')
        if p.status != "same":
            out.append(f"      <failure message={attr(pair_line(p))}/>")
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>"]
    return "\n".join(out) + "\n"
