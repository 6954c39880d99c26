"""Every case of the corpus, gathered from one module per class of attack."""

from __future__ import annotations

from . import cases_calls, cases_formats, cases_outputs, cases_pointers, cases_readers, cases_rules, cases_text
from .harness import Case

CASES: list[Case] = [*cases_outputs.CASES, *cases_readers.CASES, *cases_text.CASES, *cases_formats.CASES,
                     *cases_calls.CASES, *cases_rules.CASES, *cases_pointers.CASES]
