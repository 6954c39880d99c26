"""Text from files is data: tensor names, file names, dtype strings and rule globs that try to inject
into a terminal, Rich markup, Markdown, JUnit XML, GitHub workflow commands, JSON or a plot title.

Every name below is written into a .safetensors header (built by hand with ``json.dumps``, which
writes a lone surrogate as a ``\\udxxx`` escape that the reader decodes back to the lone surrogate)
and, where zip allows it (no NUL, no surrogate), as an .npz member name. The harness checks each
output for raw control characters and workflow commands; the checks here pin down what can be
stated exactly: JSON round-trips every name, JUnit names are their escaped forms, a Markdown table
has one row per tensor with the right number of cells and renders no link, image, HTML or heading.
"""

from __future__ import annotations

import json
import os
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .harness import Case, Outcome

# (name, how kaiming shows it in JUnit and tables): the expected forms are written out by hand.
SHOWN = {
    "a\n::error file=evil.py,line=1::injected": "a\\n:\\x3aerror file=evil.py,line=1:\\x3ainjected",
    "\n::add-mask::hunter2": "\\n:\\x3aadd-mask:\\x3ahunter2",
    "\n::stop-commands::tok\n::error::after": "\\n:\\x3astop-commands:\\x3atok\\n:\\x3aerror:\\x3aafter",
    "x ##[error]legacy mid-line": "x #\\x23[error]legacy mid-line",
    "##[stop-commands]tok": "#\\x23[stop-commands]tok",
    "cr\r::warning::bare CR": "cr\\r:\\x3awarning:\\x3abare CR",
    "up\x1b[1A\x1b[2K\x1b[32mPASS\x1b[0m": "up\\x1b[1A\\x1b[2K\\x1b[32mPASS\\x1b[0m",
    "clip\x1b]52;c;ZXZpbA==\x07": "clip\\x1b]52;c;ZXZpbA==\\x07",
    "title\x1b]0;pwned\x07": "title\\x1b]0;pwned\\x07",
    "osc8\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\": "osc8\\x1b]8;;https://evil.example\\x1b\\click\\x1b]8;;\\x1b\\",
    "c1 csi\x9b2J osc\x9d0;t\x9c": "c1 csi\\x9b2J osc\\x9d0;t\\x9c",
    "del\x7f tab\t vt\x0b ff\x0c bell\x07": "del\\x7f tab\\t vt\\x0b ff\\x0c bell\\x07",
    "ls\u2028ps\u2029": "ls\\u2028ps\\u2029",
    "bidi\u202eevil\u2066x\u2069": "bidi\\u202eevil\\u2066x\\u2069",
    "xml\x01\x02\ufffe\uffff]]>\"'<&": "xml\\x01\\x02\\ufffe\\uffff]]>\"'<&",
}
# names whose displayed form is the name itself (markup, Markdown, math): shown literally
LITERAL = [
    "[/bold] p",
    "[link=https://evil.example]click[/link]",
    ":smile: :thumbs_up: [bold red]PASS[/]",
    "a|b|c",
    "back\\|slash\\",
    "<img src=x onerror=alert(1)>",
    "[click](https://evil.example)",
    "![img](https://evil.example/x.png)",
    "`code` ``two``",
    "**bold** _em_ ~~strike~~ $x^2$",
    "&lt;entity&amp;",
    "$\\frac{a}{b$ and a$b$c",
    "@octocat #1",
]
SURROGATE = {"lone\ud800": "lone\\ud800", "\udfff tail": "\\udfff tail", "half\ud83d pair": "half\\ud83d pair"}
NUL = {"nul\x00byte": "nul\\x00byte"}

ALL_NAMES = {**SHOWN, **{n: n for n in LITERAL}, **SURROGATE, **NUL}
NPZ_NAMES = {**SHOWN, **{n: n for n in LITERAL}}  # zip names hold no NUL and no surrogate
LONG = "w" * 300 + " ::error::x " + "y" * 700  # beyond what any renderer shows (escape.NAME_LIMIT), within the
# readers' 1024-character name limit (io/limits.MAX_NAME)
# A 1 MB name took 77 s with --plot before titles were shortened; the readers now refuse names over 1024
# characters (cases_readers), so the longest name a plot can get is that limit.
LONGEST = "w" * 400 + " ::error::x " + "y" * 600
# drawn first (verify plots the first 6 failures): math, a lone surrogate, controls
PLOT_NAMES = {n: n for n in ["$\\frac{a}{b$ and a$b$c", "**bold** $x^2$ $", "lone\ud800", "t\x1b]0;t\x07$",
                             "$$", "a$b$c$d$", "[/bold] p"]}

RULES_FAIL = '[[rule]]\nmatch = "*"\nconstant = 1.0\n'  # zeros never equal 1: every tensor fails, exactly
TAGS = {"table", "thead", "tbody", "tr", "th", "td", "code", "h3", "p", "strong", "ul", "li"}


# --------------------------------------------------------------------------- inputs

def write_safetensors(path: Path, names: Sequence[str], scale: float = 0.0, shape: tuple[int, int] = (4, 4)) -> None:
    """A safetensors file written by hand: any str is a valid name, surrogates included."""
    rng = np.random.default_rng(0)
    header: dict[str, dict[str, object]] = {}
    data = b""
    for name in names:
        values = (rng.standard_normal(shape) * scale).astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [len(data), len(data) + len(values)]}
        data += values
    raw = json.dumps(header).encode("ascii")  # ensure_ascii: a lone surrogate becomes \udxxx
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def write_npz(path: Path, names: Sequence[str]) -> None:
    np.savez(path, **{name: np.zeros((4, 4), np.float32) for name in names})


def st_case(names: dict[str, str], extra_args: Sequence[str] = (), rules: str | None = RULES_FAIL,
            scale: float = 0.0) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        write_safetensors(folder / "m.safetensors", list(names), scale)
        args = ["--rules", str(folder / "rules.toml")] if rules is not None else ["--no-config", "-a0"]
        if rules is not None:
            (folder / "rules.toml").write_text(rules)
        return ["verify", "m.safetensors", *args, *extra_args]

    return build


def npz_case(extra_args: Sequence[str]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        write_npz(folder / "m.npz", list(NPZ_NAMES))
        (folder / "rules.toml").write_text(RULES_FAIL)
        return ["verify", "m.npz", "--rules", "rules.toml", *extra_args]

    return build


def pt_case(extra_args: Sequence[str]) -> Callable[[Path], list[str]]:
    """A torch checkpoint: its keys are any str (pickle keeps lone surrogates)."""

    def build(folder: Path) -> list[str]:
        import torch

        torch.save({name: torch.zeros(4, 4) for name in ALL_NAMES}, folder / "m.pt")
        (folder / "rules.toml").write_text(RULES_FAIL)
        return ["verify", "m.pt", "--rules", "rules.toml", *extra_args]

    return build


def identify_case(extra_args: Sequence[str]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        write_safetensors(folder / "m.safetensors", list(ALL_NAMES), scale=0.02, shape=(16, 16))
        return ["identify", "m.safetensors", *extra_args]

    return build


# --------------------------------------------------------------------------- what the outputs must say

def output_of(folder: Path, outcome: Outcome, name: str | None) -> str:
    return (folder / name).read_text("utf-8") if name else outcome.stdout


def json_names(expected: dict[str, str], file: str | None = None) -> Callable[[Path, Outcome], None]:
    """JSON carries every name exactly (lone surrogates as \\udxxx escapes, which json.loads undoes)."""

    def check(folder: Path, outcome: Outcome) -> None:
        text = output_of(folder, outcome, file)
        assert text.isascii(), "JSON output is ASCII by contract"
        assert "##[" not in text
        names = [t["name"] for t in json.loads(text)["tensors"]]
        assert sorted(names) == sorted(expected)

    return check


def junit_names(expected: dict[str, str], file: str | None = None) -> Callable[[Path, Outcome], None]:
    """Strict XML; one testcase per tensor, named by the escaped form; every one failed."""

    def check(folder: Path, outcome: Outcome) -> None:
        root = ET.fromstring(output_of(folder, outcome, file).encode("utf-8"))
        cases = list(root.iter("testcase"))
        assert sorted(tc.get("name", "") for tc in cases) == sorted(expected.values())
        assert all(tc.find("failure") is not None for tc in cases)

    return check


def gfm_cells(line: str) -> list[str]:
    """Cells of a GFM table row: a '|' directly after a backslash is part of the cell (cmark-gfm)."""
    cells, current, prev = [], "", ""
    for char in line.strip()[1:-1]:
        if char == "|" and prev != "\\":
            cells.append(current)
            current = ""
        else:
            current += char
        prev = char
    return [*cells, current]


def markdown_table(rows: int, file: str | None = None) -> Callable[[Path, Outcome], None]:
    """One line per row, each with the header's number of cells; renders no link, image, HTML or heading."""

    def check(folder: Path, outcome: Outcome) -> None:
        from markdown_it import MarkdownIt

        text = output_of(folder, outcome, file)
        lines = [line for line in text.splitlines() if line.startswith("|")]
        assert len(lines) == rows + 2, f"{len(lines) - 2} table rows for {rows} tensors"
        width = len(gfm_cells(lines[0]))
        assert all(len(gfm_cells(line)) == width for line in lines)
        html = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)
        tags = set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", html))
        assert tags <= TAGS, f"rendered tags {sorted(tags - TAGS)}"
        assert html.count("<tr>") == rows + 1
        assert html.count("<strong>") <= 1, "a name rendered as bold"  # the verdict line of verify is bold

    return check


def github_lines(failures: int, file: str | None = None) -> Callable[[Path, Outcome], None]:
    """One annotation per failing tensor and the verdict; nothing else."""

    def check(folder: Path, outcome: Outcome) -> None:
        lines = output_of(folder, outcome, file).splitlines()
        assert len(lines) == failures + 1
        assert all(line.startswith("::error file=m.") for line in lines[:-1])
        assert lines[-1].startswith("::error title=kaiming verify::FAIL")

    return check


def table_shows(needles: Sequence[str], absent: Sequence[str] = ("😄", "👍"),
                file: str | None = None) -> Callable[[Path, Outcome], None]:
    """The table shows names literally: markup and emoji codes are not rendered."""

    def check(folder: Path, outcome: Outcome) -> None:
        text = output_of(folder, outcome, file)
        flat = re.sub(r"\s*\n\s*", "", text)  # wrapped lines joined
        for needle in needles:
            assert needle in text or needle in flat, f"{needle!r} not shown"
        for bad in absent:
            assert bad not in text

    return check


def both(*checks: Callable[[Path, Outcome], None]) -> Callable[[Path, Outcome], None]:
    def check(folder: Path, outcome: Outcome) -> None:
        for c in checks:
            c(folder, outcome)

    return check


def png_written(name: str, max_bytes: int = 2_000_000) -> Callable[[Path, Outcome], None]:
    def check(folder: Path, outcome: Outcome) -> None:
        data = (folder / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < max_bytes

    return check


def small_output(limit: int, file: str | None = None) -> Callable[[Path, Outcome], None]:
    def check(folder: Path, outcome: Outcome) -> None:
        assert len(output_of(folder, outcome, file)) < limit, "a long name was not shortened for display"

    return check


def name_shortened(name: str, file: str | None = None) -> Callable[[Path, Outcome], None]:
    """The name's long run of 'y' is cut in the middle for display: at most half of it is shown."""
    def check(folder: Path, outcome: Outcome) -> None:
        assert output_of(folder, outcome, file).count("y") < name.count("y") // 2, "a long name was shown whole"

    return check


# --------------------------------------------------------------------------- special inputs

HOSTILE_FILE = "evil\n::error file=x.py::y\x1b]0;t\x07 ##[add-mask]z.safetensors"


def hostile_file_names(folder: Path) -> list[str]:
    """A shard folder whose file names carry controls, a command and undecodable bytes."""
    shards = folder / "shards"
    shards.mkdir()
    write_safetensors(shards / HOSTILE_FILE, ["w"])
    bad = os.fsencode(shards) + b"/bad\xff\xfe.safetensors"  # not UTF-8: Python sees \udcff\udcfe
    write_safetensors(Path(os.fsdecode(bad)), ["v"])
    (folder / "rules.toml").write_text(RULES_FAIL)
    return ["verify", "shards", "--rules", "rules.toml"]


def json_files(folder: Path, outcome: Outcome) -> None:
    files = {os.path.basename(t["file"]) for t in json.loads(outcome.stdout)["tensors"]}
    assert files == {HOSTILE_FILE, "bad\udcff\udcfe.safetensors"}


def bad_dtype(folder: Path) -> list[str]:
    """A dtype string from the header, unsupported and hostile: an error entry that shows it escaped."""
    header = {"w": {"dtype": "F32\n::error::dtype\x1b[2J##[x]", "shape": [2], "data_offsets": [0, 8]},
              "v": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}
    raw = json.dumps(header).encode("ascii")
    (folder / "d.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(16))
    return ["verify", "d.safetensors", "--no-config", "-a0"]


def dtype_shown(folder: Path, outcome: Outcome) -> None:
    assert "\\x1b[2J" in outcome.stdout + outcome.stderr


def corrupt_hostile_path(folder: Path) -> list[str]:
    """A corrupt file whose name injects: the error that names it stays one escaped line."""
    name = "bad\n::error::path\x1b[2J\r##[warning]x.npy"
    (folder / name).write_bytes(b"\x93NUMPY garbage")
    return ["verify", name, "--no-config", "-a0"]


def path_shown(folder: Path, outcome: Outcome) -> None:
    assert "bad\\n:\\x3aerror:\\x3apath\\x1b[2J\\r#\\x23[warning]x.npy" in outcome.stdout + outcome.stderr


GLOB = "*\x1b]0;t\x07*"


def hostile_rules(folder: Path) -> list[str]:
    """A rules file with a hostile name and glob: both are echoed (stderr, JSON) as data."""
    write_safetensors(folder / "m.safetensors", ["title\x1b]0;t\x07", "plain"])
    rules = folder / "rules\n::error::r\x1b[2J.toml"
    rules.write_text(f"[[rule]]\nmatch = {json.dumps(GLOB)}\nconstant = 1.0\n"
                     '[[rule]]\nmatch = "*"\nconstant = 1.0\n')
    return ["verify", "m.safetensors", "--rules", str(rules), "-f", "json"]


def rule_echoed(folder: Path, outcome: Outcome) -> None:
    tensors = {t["name"]: t for t in json.loads(outcome.stdout)["tensors"]}
    assert tensors["title\x1b]0;t\x07"]["rule"].startswith(GLOB)
    assert "rules\\n:\\x3aerror:\\x3ar\\x1b[2J.toml" in outcome.stderr


# --------------------------------------------------------------------------- the cases

FORMATS = {
    "table": (None, lambda n, f=None: table_shows(["[/bold] p", "[link=https://evil.example]click[/link]",
                                                   ":smile: :thumbs_up: [bold red]PASS[/]", "\\ud800"], file=f)),
    "json": ("json", lambda n, f=None: json_names(n, f)),
    "markdown": ("markdown", lambda n, f=None: markdown_table(len(n), f)),
    "junit": ("junit", lambda n, f=None: junit_names(n, f)),
    "github": ("github", lambda n, f=None: github_lines(len(n), f)),
}


def _cases() -> list[Case]:
    cases = []
    for fmt, (parse, expect) in FORMATS.items():
        cases.append(Case(f"text-names-safetensors-{fmt}", st_case(ALL_NAMES, ["-f", fmt, "--detail"]), exit=1,
                          fmt=parse, extra=expect(ALL_NAMES)))
        # fmt=None: stdout is empty; the extra check parses the -o file
        cases.append(Case(f"text-names-safetensors-{fmt}-o", st_case(ALL_NAMES, ["-f", fmt, "-o", f"out.{fmt}"]),
                          exit=1, outputs=(f"out.{fmt}",), extra=expect(ALL_NAMES, f"out.{fmt}")))
        if fmt != "table":  # the table check looks for surrogate names, which zip cannot hold
            cases.append(Case(f"text-names-npz-{fmt}", npz_case(["-f", fmt]), exit=1, fmt=parse,
                              extra=expect(NPZ_NAMES)))
    cases.append(Case("text-names-npz-table", npz_case([]), exit=1,
                      extra=table_shows(["[/bold] p", "a|b|c", "@octocat #1"])))
    cases += [Case("text-names-pt-json", pt_case(["-f", "json"]), exit=1, fmt="json", extra=json_names(ALL_NAMES)),
              Case("text-names-pt-table", pt_case([]), exit=1, extra=FORMATS["table"][1](ALL_NAMES))]
    identify_rows = len(ALL_NAMES)
    cases += [
        Case("text-identify-table", identify_case([]), exit=0, extra=table_shows(["[/bold] p", "\\ud800"])),
        Case("text-identify-table-o", identify_case(["-o", "id.txt"]), exit=0, outputs=("id.txt",),
             extra=table_shows(["[/bold] p"], file="id.txt")),
        Case("text-identify-json", identify_case(["-f", "json"]), exit=0, fmt="json", extra=json_names(ALL_NAMES)),
        Case("text-identify-markdown", identify_case(["-f", "markdown"]), exit=0, fmt="markdown",
             extra=markdown_table(identify_rows)),
        # statistics on (no rules): the surrogate name seeds the subsample; mathtext names go to the plot
        Case("text-plot-mathtext", st_case(PLOT_NAMES, ["--plot", "p.png"], rules=None, scale=0.02), exit=1,
             extra=png_written("p.png")),
        Case("text-plot-long-name", st_case({LONGEST: LONGEST}, ["--plot", "p.png"], rules=None, scale=0.02), exit=1,
             extra=both(png_written("p.png"), small_output(20_000))),
    ]
    for fmt in ("table", "markdown", "github"):
        parse = FORMATS[fmt][0]
        cases.append(Case(f"text-long-name-{fmt}", st_case({LONG: LONG}, ["-f", fmt, "--detail"]), exit=1,
                          fmt=parse, extra=name_shortened(LONG)))
    cases += [
        Case("text-long-name-json", st_case({LONG: LONG}, ["-f", "json"]), exit=1, fmt="json",
             extra=json_names({LONG: LONG})),
        Case("text-long-name-junit", st_case({LONG: LONG}, ["-f", "junit"]), exit=1, fmt="junit",
             extra=junit_names({LONG: LONG.replace("::", ":\\x3a")})),
        Case("text-file-names-table", hostile_file_names, exit=1, extra=table_shows(["\\udcff\\udcfe"])),
        Case("text-file-names-json", lambda f: [*hostile_file_names(f), "-f", "json"], exit=1, fmt="json",
             extra=json_files),
        Case("text-file-names-github", lambda f: [*hostile_file_names(f), "-f", "github"], exit=1, fmt="github"),
        Case("text-file-names-junit", lambda f: [*hostile_file_names(f), "-f", "junit"], exit=1, fmt="junit"),
        Case("text-file-names-markdown", lambda f: [*hostile_file_names(f), "-f", "markdown"], exit=1,
             fmt="markdown", extra=markdown_table(2)),
        Case("text-dtype-string-table", bad_dtype, exit=3, extra=dtype_shown),
        Case("text-dtype-string-github", lambda f: [*bad_dtype(f), "-f", "github"], exit=3, fmt="github"),
        Case("text-dtype-string-junit", lambda f: [*bad_dtype(f), "-f", "junit"], exit=3, fmt="junit"),
        Case("text-error-message-path", corrupt_hostile_path, exit=3, extra=path_shown),
        Case("text-rules-glob-and-path", hostile_rules, exit=1, fmt="json", extra=rule_echoed),
    ]
    return cases


CASES: list[Case] = _cases()
