"""`identify -f rules` on hostile tensor names: the rules file is TOML that parses back to exactly one rule per name
(no injected table, key or glob), ASCII only, and a rules file written over an input is refused."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

from tests.toml_compat import tomllib

from .cases_text import ALL_NAMES, output_of, write_safetensors
from .harness import Case, Outcome

#: Beyond the text corpus: names that try to end the TOML string or table, or to become a glob.
INJECTING = {'x"\n[[rule]]\nmatch = "*"\nskip = true\n#': "", "back\\": "", "*": "", "[!a]": "", "?": ""}
NAMES = [*ALL_NAMES, *INJECTING]


def build(extra: list[str]) -> Callable[[Path], list[str]]:
    def run(folder: Path) -> list[str]:
        write_safetensors(folder / "m.safetensors", NAMES, scale=0.02, shape=(16, 16))
        return ["identify", "m.safetensors", "-f", "rules", *extra]

    return run


def parses_back(file: str | None = None) -> Callable[[Path, Outcome], None]:
    def check(folder: Path, outcome: Outcome) -> None:
        text = output_of(folder, outcome, file)
        assert text.isascii()
        rules = tomllib.loads(text)["rule"]
        doc = tomllib.loads(text)
        # identify -f rules writes one top-level key of its own, the policy for tensors no rule names
        assert set(doc) == {"rule", "unlisted"} and doc["unlisted"] == "fail", "a name added a top-level key or table"
        assert all(set(r) <= {"match", "init", "fan_in", "fan_out", "skip"} for r in rules)
        assert not any(r.get("skip") for r in rules), "every tensor here has a law"
        for name in NAMES:
            assert any(fnmatch.fnmatchcase(name, r["match"]) for r in rules), f"{name!r} has no rule"

    return check


CASES: list[Case] = [
    Case("rules-hostile-names", build([]), exit=0, extra=parses_back()),
    Case("rules-hostile-names-o", build(["-o", "init.toml"]), exit=0, outputs=("init.toml",),
         extra=parses_back("init.toml")),
    Case("rules-out-is-the-input", build(["-o", "m.safetensors"]), exit=2, needle="is the input file",
         protected=("m.safetensors",)),
]
