"""The README's quick start: every example output is what the command prints (tests/docs_readme.py).

A newcomer copies these commands first; an example that drifted from the real output (a summary line that
says "10 vectors: ones_" where the tool prints "20 vectors") teaches them not to trust the tool.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs_readme import README, examples, matches, prepare, run

EXAMPLES = examples(README.read_text())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("readme")
    prepare(path)
    return path


def test_the_quick_start_has_examples() -> None:
    commands = [command for command, _ in EXAMPLES]
    assert len(commands) >= 8 and any(c.startswith("kaiming verify") for c in commands)
    assert all(expected for _, expected in EXAMPLES), "an example without its output"


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_example_output_is_the_real_output(folder: Path, command: str, expected: list[str]) -> None:
    actual = run(command, folder)
    assert matches(expected, actual), "README differs; `make docs` rewrites it. Real output:\n" + "\n".join(actual)


def test_elisions_cannot_hide_a_difference() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert not matches(["a", "...", "d"], ["a", "b", "c", "e"])
    assert not matches(["10 vectors: ones_"], ["20 vectors: ones_"])
