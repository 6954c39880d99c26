"""The documentation stays true: real `--help` output in docs/cli.md, every command documented, every link
and every citation of a page (and of its numbered sections) pointing at something that exists."""

from __future__ import annotations

import re
from pathlib import Path

import click

from kaiming_cli.cli import cli
from tests.docs_help import CLI_MD, ROOT, blocks, real_help

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
#: Pages linked from the docs but written on another branch; drop an entry once the page exists.
PENDING: set[Path] = set()
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*$", re.M)
SECTION = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")
CITATION = re.compile(r"docs/([\w-]+\.md)(?:\s*§\s*(\d+(?:\.\d+)*))?")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(_without_code(page.read_text())):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def sections(page: Path) -> set[str]:
    found = set()
    for heading in HEADING.findall(_without_code(page.read_text())):
        m = SECTION.match(heading)
        if m:
            found.add(m.group(1))
    return found


def _without_code(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def test_help_blocks_match_the_real_output() -> None:
    for cmd, body in blocks(CLI_MD.read_text()):
        assert body == real_help(cmd), f"docs/cli.md --help block for {cmd!r} is stale: run `make docs`"


def test_every_command_is_documented() -> None:
    text = CLI_MD.read_text()
    documented = {cmd for cmd, _ in blocks(text)}
    assert "" in documented, "docs/cli.md has no <!-- help: --> block for the group"
    for name in cli.list_commands(click.Context(cli)):
        assert name in documented, f"docs/cli.md has no <!-- help:{name} --> block"
        assert f"kaiming {name}" in text, name


def test_links_point_at_files_and_headings_that_exist() -> None:
    for page in PAGES:
        for target in LINK.findall(_without_code(page.read_text())):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)} links to {target}"
            if dest in PENDING and not dest.exists():
                continue
            assert dest.exists(), f"{where}, which does not exist"
            if anchor and dest.suffix == ".md":
                assert anchor in anchors(dest), f"{where}, which has no such heading"


def test_no_page_points_outside_the_repository() -> None:
    for page in PAGES:
        assert "shared/" not in page.read_text(), f"{page.relative_to(ROOT)} mentions a file outside the repository"


def test_citations_of_docs_name_pages_and_sections_that_exist() -> None:
    """`docs/statistics.md §2.9` in code, tests or docs: the page exists and has a heading numbered 2.5."""
    files = [*sorted((ROOT / "kaiming_cli").rglob("*.py")), *sorted((ROOT / "tests").rglob("*.py")), *PAGES]
    for file in files:
        for page_name, number in CITATION.findall(file.read_text()):
            page = DOCS / page_name
            where = f"{file.relative_to(ROOT)} cites docs/{page_name}"
            if page in PENDING and not page.exists():
                continue
            assert page.exists(), f"{where}, which does not exist"
            if number:
                assert number in sections(page), f"{where} §{number}, which has no such section"


def test_every_page_named_in_the_code_exists() -> None:
    """A bare `statistics.md` in a docstring or comment (not a quoted file name) names a page of the repository."""
    names = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts} | {p.name for p in PENDING}
    for file in [*sorted((ROOT / "kaiming_cli").rglob("*.py")), *sorted((ROOT / "tests").rglob("*.py"))]:
        for name in re.findall(r"(?<![\w\"'/.-])([\w-]+\.md)\b(?![\"'])", file.read_text()):
            assert name in names, f"{file.relative_to(ROOT)} mentions {name}, which is not in the repository"
