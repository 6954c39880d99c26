"""Text from a file is data: the one place that makes it safe to show, one function per target.

It sits at the bottom of the package, beside ``errors``, and imports only the standard library: the formats
(``render/``) and the CLI's messages use it, and so does the report that ``assert_init`` raises with
(``runners/tensor_report.py``), which the core builds without importing ``render/`` (docs/design.md).

Tensor names, file names, dtype strings and rule globs come from files that a pull request
controls. Before any of them reaches a terminal, a Rich table, Markdown, JUnit XML, a GitHub
workflow command or a matplotlib title it goes through one of the functions below, which all
start from :func:`visible`:

- ``CONTROL`` is the single definition of a control character: C0 (tab and newline included), DEL,
  C1, U+2028/U+2029, the bidirectional overrides and isolates, U+FFFE/U+FFFF (not allowed in XML)
  and lone surrogates (from JSON ``\\udxxx`` escapes or undecodable file names). Each is shown as its
  Python escape: ``\\n``, ``\\x1b``, ``\\x9b``, ``\\u2028``, ``\\udc80``. Backslashes are left as they
  are, so a name that spells ``\\n`` itself looks the same as one holding a newline: display only,
  the JSON output carries the exact name.
- GitHub's runner reads workflow commands from every line of a job's log: ``::cmd::`` at the start
  of a line (after leading spaces) and the legacy ``##[cmd]`` anywhere in it. So ``::`` is shown as
  ``:\\x3a`` and ``##[`` as ``#\\x23[``: however a renderer wraps or folds the text, no line can
  start a command.
- Long text is shortened in the middle (``head…tail``) for display: renderers that lay text out
  (Rich, matplotlib) spend more than linear time on it. JSON and JUnit keep the full name.

JSON output (``render.to_json``) is ASCII: every non-ASCII character is a ``\\uXXXX`` escape, a lone
surrogate too (``\\udc80``), so the document is valid UTF-8 and ``json.loads`` returns the exact name.
"""

from __future__ import annotations

import re

#: The control characters (see the module docstring).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ufffe\uffff\ud800-\udfff]")
#: Sequences that GitHub's runner reads as workflow commands, and how they are shown.
COMMANDS = re.compile(r"::|##\[")
_COMMAND_SHOWN = {"::": ":\\x3a", "##[": "#\\x23["}
#: Characters of a name or path shown in a table cell, a Markdown row or an annotation.
NAME_LIMIT = 256
#: Characters of a message (an error line on stderr, a reason).
MESSAGE_LIMIT = 2000
#: Characters of a name in a plot title.
TITLE_LIMIT = 100
ELLIPSIS = "…"


def _escape_char(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]  # '\n', '\x1b', '\u2028', '\udc80': Python's own notation


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters: the head and the tail, joined by an ellipsis."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2 + (limit - 1) % 2
    tail = limit - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def visible(text: str, limit: int | None = None) -> str:
    """Control characters and workflow-command prefixes shown as escapes (optionally shortened first)."""
    if limit is not None:
        text = shorten(text, limit)
    text = CONTROL.sub(_escape_char, text)
    return COMMANDS.sub(lambda m: _COMMAND_SHOWN[m.group()], text)


def terminal(text: str, limit: int = NAME_LIMIT) -> str:
    """A name for a terminal, a Rich ``Text`` or a plain-text report."""
    return visible(text, limit)


def message(text: str) -> str:
    """A message (which may quote names or paths) for one line on stderr."""
    return visible(text, MESSAGE_LIMIT)


# --------------------------------------------------------------------------- Markdown (GitHub flavoured)

# ``_`` between two letters or digits cannot start or end emphasis, so snake_case stays readable
_MD_SPECIAL = re.compile(r"[\\`*\[\]<>&|~$#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_ENTITY = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def _md_char(match: re.Match[str]) -> str:
    char = match.group()
    return _MD_ENTITY.get(char, "\\" + char)


def markdown_text(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Prose for a Markdown table cell: no row break, heading, HTML, link, emphasis or math.

    ``<``, ``>`` and ``&`` become entities; the other punctuation Markdown acts on is
    backslash-escaped, the backslash and the pipe included (GFM's cell splitter takes ``\\|`` as a
    literal pipe whatever precedes it).
    """
    return _MD_SPECIAL.sub(_md_char, visible(text, limit))


def markdown_code(text: str, limit: int = NAME_LIMIT) -> str:
    """A name as an inline code span for a Markdown table cell: shown literally, nothing rendered.

    Inside a code span nothing is markup (no links, HTML, emphasis, mentions or emoji) except the
    pipe, which GFM takes as the cell delimiter unless it is written ``\\|``.
    """
    body = visible(text, limit).replace("|", "\\|")
    if not body:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", body)), default=0) + 1)
    if (body[0] in "` " or body[-1] in "` ") and body.strip(" "):
        body = f" {body} "  # CommonMark strips one space from each side (unless the span is all spaces)
    return f"{fence}{body}{fence}"


# --------------------------------------------------------------------------- XML

def xml_attr(text: str) -> str:
    """A quoted XML attribute value that is well-formed for any text (XML 1.0 forbids C0 controls)."""
    from xml.sax.saxutils import quoteattr

    return quoteattr(visible(text))


# --------------------------------------------------------------------------- GitHub workflow commands

def github_data(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """The message of a workflow command (after ``::``), escaped as GitHub's runner unescapes it."""
    return visible(text, limit).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str, limit: int = NAME_LIMIT) -> str:
    """A property value of a workflow command (``file=``, ``title=``): also ``:`` and ``,`` escaped."""
    return github_data(text, limit).replace(":", "%3A").replace(",", "%2C")


# --------------------------------------------------------------------------- plots

def plot_title(text: str, limit: int = TITLE_LIMIT) -> str:
    """A name for a matplotlib title drawn with ``parse_math=False`` (so ``$`` stays a dollar sign)."""
    return visible(text, limit)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string in ASCII: ``"`` and ``\\`` escaped, every other character outside printable
    ASCII as ``\\uXXXX``/``\\UXXXXXXXX``, so no name can end the string, the line or the table it sits in; ``#`` too
    (``\\u0023``), so that no line holds GitHub's legacy ``##[`` command prefix when the file is printed in CI. TOML
    cannot carry a lone surrogate: callers put a glob ``?`` in its place (runners/identify/rules.py ``glob_escape``)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "#":
            out.append("\\u0023")
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError("a lone surrogate has no TOML form")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    out.append('"')
    return "".join(out)
