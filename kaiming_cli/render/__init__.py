"""Presentation: one module per output format behind one interface, plus the plots. No click.

Each format module (``table``, ``json``, ``markdown``, and for verify ``junit`` and ``github``) offers the
same functions, one per command, taking the command's result: ``std(spec)``, ``gain(table)``,
``fan(facts)``, ``explain(spec, sections, notes)``, ``check(result)``, ``verify(result, detail)``,
``identify(report, top)``, ``propagate(result)``, ``audit(result)``, ``diff(result)`` (every format of verify;
its cells in ``diff_rows``). A format that does not apply to a command
lacks the function (``rules``, a rules file for verify, has only ``identify`` and ``audit``).
Format-independent text lives in ``text`` (the labels ``assert_init``'s report shares, in
``runners.tensor_report``); escaping of text from files in ``kaiming_cli.escape``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Every output format, by its ``-f`` name.
FORMATS = ("table", "json", "markdown", "junit", "github", "rules")


def formatter(fmt: str) -> ModuleType:
    """The module that renders ``fmt`` (imported on demand: JSON output never loads Rich)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return importlib.import_module(f"{__name__}.{fmt}")
