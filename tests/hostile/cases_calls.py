"""Init calls are data, never code: hostile ``init = "..."`` strings in a rules file and ``--init`` values.

A rules file comes from a pull request. Its ``init`` strings are parsed with ``ast`` against a closed grammar and
never evaluated: every case below must end with exit 3 (rules file) or 2 (command line), one line naming the
problem, no traceback, in bounded time and memory, and without doing what the string asks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .harness import Case, Outcome

HOSTILE_CALLS = {
    "import": "__import__('os').system('touch pwned')",
    "eval": "eval(\"open('pwned','w')\")",
    "attribute-walk": "().__class__.__base__.__subclasses__()",
    "lambda": "normal_(std=(lambda: 1)())",
    "huge-power": "normal_(std=9**9**9**9)",
    "huge-literal": "normal_(std=" + "9" * 400 + ")",
    "deep-nesting": "normal_(std=" + "(" * 240 + "1" + ")" * 240 + ")",
    "long": "normal_(std=" + "1+" * 5000 + "1)",
    "many-nodes": "normal_(std=" + "+".join(["1"] * 200) + ")",
    "walrus": "normal_(std=(x := 1))",
    "fstring": "normal_(std=f'{open(\"pwned\",\"w\")}')",
    "starred": "normal_(*open('pwned','w'))",
    "control-chars": "normal_(std=0.1)\x1b[2J\n::error::injected",
    "nul": "normal_(std=0.1\x00)",
}


def _files(folder: Path, init: str) -> tuple[str, str]:
    np.save(folder / "w.npy", np.random.default_rng(0).standard_normal((32, 32)).astype(np.float32))
    (folder / "r.toml").write_text(f"[[rule]]\nmatch = \"*\"\ninit = {json.dumps(init)}\n")
    return str(folder / "w.npy"), str(folder / "r.toml")


def _rules_case(init: str):  # type: ignore[no-untyped-def]
    def build(folder: Path) -> list[str]:
        data, rules = _files(folder, init)
        return ["verify", data, "--rules", rules]
    return build


def _option_case(init: str):  # type: ignore[no-untyped-def]
    def build(folder: Path) -> list[str]:
        return ["std", "--shape", "32,32", "--init", init.replace("\x00", "")]
    return build


def _nothing_done(folder: Path, outcome: Outcome) -> None:
    assert not (folder / "pwned").exists(), "an init call was executed"
    assert len(outcome.stderr.strip().splitlines()) <= 2, outcome.stderr  # one line (+ Click's usage hint)


CASES: list[Case] = [
    *(Case(f"calls-rule-{key}", _rules_case(text), 3, needle="rule 1", extra=_nothing_done)
      for key, text in HOSTILE_CALLS.items()),
    *(Case(f"calls-option-{key}", _option_case(text), 2, needle="--init", extra=_nothing_done)
      for key, text in HOSTILE_CALLS.items() if key != "nul"),
]
