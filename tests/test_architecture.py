"""The house rule that import-linter cannot state (docs/design.md, "Rules"): no module of kaiming_cli is over 600
lines. A module that grows past it holds two things (a parser and its tables, a graph reader and a judge); split
it along that seam, into modules whose names say what they hold. The import rules, cycles included, are the
import-linter contracts in pyproject.toml (`make lint`).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kaiming_cli"
MAX_LINES = 600


def module_sizes() -> dict[str, int]:
    """Lines of every module of the package, by its path inside it (``theory/calls.py``)."""
    return {path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
            for path in sorted(PACKAGE.rglob("*.py"))}


def test_the_package_has_modules() -> None:
    sizes = module_sizes()
    assert "cli/app.py" in sizes and "theory/calls.py" in sizes and len(sizes) > 50


def test_every_module_is_at_most_600_lines() -> None:
    sizes = module_sizes()
    over = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    listing = "\n".join(f"{lines:5d} {name}" for name, lines in sorted(sizes.items(), key=lambda kv: -kv[1]))
    assert not over, f"modules over {MAX_LINES} lines: {over}; split each along its seam. All sizes:\n{listing}"
