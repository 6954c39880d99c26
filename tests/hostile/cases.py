"""Every case of the corpus, gathered from one module per class of attack."""

from __future__ import annotations

from .harness import Case

CASES: list[Case] = []

for _module in ("cases_outputs", "cases_readers", "cases_text"):
    try:
        CASES.extend(__import__(f"tests.hostile.{_module}", fromlist=["CASES"]).CASES)
    except ModuleNotFoundError as exc:  # a class not written yet
        if exc.name != f"tests.hostile.{_module}":
            raise
