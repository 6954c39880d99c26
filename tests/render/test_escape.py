"""Text from files is data: the escaping functions, each against an independent model of its target.

Control characters are identified with ``unicodedata`` rather than with the module's own pattern;
Markdown is rendered with markdown-it (GFM tables); XML is parsed strictly; GitHub's unescaping is
the runner's own order of replacements.
"""

from __future__ import annotations

import html
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from kaiming_cli import escape
from kaiming_cli.engine.sources import tensor_seed
from kaiming_cli.render.github import verify as verify_github
from kaiming_cli.render.json import document as to_json
from kaiming_cli.render.junit import verify as verify_junit
from kaiming_cli.render.markdown import table as md_table
from kaiming_cli.render.table import verify as verify_renderable
from kaiming_cli.runners.tensor_report import tensor_report
from kaiming_cli.runners.verify import TensorResult, VerifyResult

# any code point, lone surrogates included (hypothesis leaves them out unless asked)
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_control(ch: str) -> bool:
    """The contract, from the Unicode database: C0, DEL, C1 (Cc), surrogates (Cs), U+2028/9 (Zl, Zp),
    bidi overrides and isolates, and the XML-forbidden U+FFFE/U+FFFF."""
    return unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in BIDI or ch in "\ufffe\uffff"


def github_unescape_property(s: str) -> str:
    """actions/toolkit's UnescapeProperty, in its order."""
    for a, b in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        s = s.replace(a, b)
    return s


def github_unescape_data(s: str) -> str:
    for a, b in (("%0D", "\r"), ("%0A", "\n"), ("%25", "%")):
        s = s.replace(a, b)
    return s


def gfm_render(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown)


class TestVisible:
    @pytest.mark.parametrize(("name", "shown"), [
        ("conv1.weight", "conv1.weight"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x1b[1A\x1b[2Kok", "\\x1b[1A\\x1b[2Kok"),
        ("\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),
        ("c1\x9b31m\x85", "c1\\x9b31m\\x85"),
        ("\x00\x7f", "\\x00\\x7f"),
        ("x\u2028y\u2029", "x\\u2028y\\u2029"),
        ("lone\ud800 \udfff", "lone\\ud800 \\udfff"),
        ("\u202eevil", "\\u202eevil"),
        ("\ufffe\uffff", "\\ufffe\\uffff"),
        ("::error::x", ":\\x3aerror:\\x3ax"),
        (":::", ":\\x3a:"),
        ("x ##[error]y ###[", "x #\\x23[error]y ##\\x23["),
        ("[/bold] $x$ <b> | `c`", "[/bold] $x$ <b> | `c`"),
        ("权重.weight😀 é", "权重.weight😀 é"),
    ])
    def test_examples(self, name: str, shown: str) -> None:
        assert escape.visible(name) == shown

    def test_every_control_character_of_the_bmp_is_escaped_and_nothing_else(self) -> None:
        for code in range(0x10000):
            ch = chr(code)
            out = escape.visible(ch)
            if is_control(ch):
                assert out.isascii() and out.isprintable() and out.startswith("\\"), repr(ch)
            else:
                assert out == ch, repr(ch)

    @given(ANY_TEXT)
    def test_no_control_and_no_workflow_command_survives(self, text: str) -> None:
        out = escape.visible(text)
        assert not any(is_control(ch) for ch in out)
        assert "::" not in out and "##[" not in out

    @given(st.text(st.characters(exclude_characters=escape.ELLIPSIS), max_size=300),
           st.integers(min_value=1, max_value=100))
    def test_shorten_keeps_head_and_tail(self, text: str, limit: int) -> None:
        out = escape.shorten(text, limit)
        assert len(out) <= limit
        if len(text) <= limit:
            assert out == text
        else:
            head, tail = out.split(escape.ELLIPSIS)
            assert text.startswith(head) and text.endswith(tail) and len(head) - len(tail) in (0, 1)

    def test_long_text_is_shortened_before_escaping(self) -> None:
        out = escape.terminal("\x1b" * 10_000)
        assert len(out) <= 4 * escape.NAME_LIMIT and escape.ELLIPSIS in out and "\\x1b" in out


class TestMarkdown:
    @given(ANY_TEXT, ANY_TEXT)
    def test_a_row_stays_one_row_and_renders_only_text(self, name: str, reason: str) -> None:
        code = escape.markdown_code(name)
        md = f"| a | b |\n|---|---|\n| {code} | {escape.markdown_text(reason)} |\n"
        page = gfm_render(md)
        assert page.count("<tr>") == 2 and page.count("<td>") == 2
        assert set(re.findall(r"</?([a-z][a-z0-9]*)", page)) <= {"table", "thead", "tbody", "tr", "th", "td", "code"}
        cells = re.findall(r"<td>(.*?)</td>", page, flags=re.S)
        shown_name = escape.visible(name, escape.NAME_LIMIT)
        if shown_name.strip(" "):
            assert html.unescape(re.sub(r"</?code>", "", cells[0])) == shown_name
        assert html.unescape(cells[1]).strip() == escape.visible(reason, escape.MESSAGE_LIMIT).strip()

    @pytest.mark.parametrize("name", ["`x", "x`", " x", "x ", " x ", "   ", "``", "a``b`", "|", "\\|", "a\\"])
    def test_code_span_shows_the_name_exactly(self, name: str) -> None:
        page = gfm_render(f"| a |\n|---|\n| {escape.markdown_code(name)} |\n")
        assert re.findall(r"<td><code>(.*?)</code></td>", page, flags=re.S) == [html.escape(name, quote=False)]

    @pytest.mark.parametrize("attack", [
        "x\r# heading", "<img src=x onerror=alert(1)>", "[click](https://evil.example)", "a|b\\|c\\",
        "**b** _e_ ~~s~~ $m$", "`tick` ``two``", "&amp; &lt;", "![i](https://e/x.png)",
    ])
    def test_md_table_escapes_every_plain_cell(self, attack: str) -> None:
        page = gfm_render(md_table(["tensor", "reason"], [(attack, attack)]))
        assert page.count("<td>") == 2
        assert set(re.findall(r"</?([a-z][a-z0-9]*)", page)) <= {"table", "thead", "tbody", "tr", "th", "td"}
        cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", page, flags=re.S)]
        assert cells == [escape.visible(attack)] * 2


class TestXmlAndGithub:
    @given(ANY_TEXT)
    def test_xml_attribute_is_well_formed_and_exact(self, text: str) -> None:
        root = ET.fromstring(f"<a b={escape.xml_attr(text)}/>".encode())
        assert root.get("b") == escape.visible(text)

    @given(ANY_TEXT)
    def test_github_escapes_round_trip_through_the_runner(self, text: str) -> None:
        prop, data = escape.github_property(text), escape.github_data(text)
        assert not set(prop) & set(":,\r\n") and not set(data) & set("\r\n")
        assert github_unescape_property(prop) == escape.visible(text, escape.NAME_LIMIT)
        assert github_unescape_data(data) == escape.visible(text, escape.MESSAGE_LIMIT)


class TestJson:
    @given(ANY_TEXT)
    def test_every_name_round_trips_in_ascii(self, name: str) -> None:
        out = to_json({"name": name})
        assert out.isascii() and "##[" not in out
        assert json.loads(out)["name"] == name

    def test_lone_surrogate_is_written_as_its_escape(self) -> None:
        assert '"lone\\ud800"' in to_json({"name": "lone\ud800"})


# --------------------------------------------------------------------------- renderers

HOSTILE = ["[/bold] p", "[link=https://evil.example]click[/link]", ":smile:", "a\n::error file=e.py::x",
           "\x1b]8;;https://evil.example\x1b\\ok\x1b]8;;\x1b\\", "\x1b[1A\x1b[2KPASS", "c1\x9b2J", "lone\ud800",
           "x ##[stop-commands]t"]


def hostile_result() -> VerifyResult:
    tensors = tuple(TensorResult(f"dir/{name}.safetensors", name, (4, 4), "F32\x1b[31m", "fail", "rule",
                                 reason=f"values of {name} span [0, 0]", constant=1.0) for name in HOSTILE)
    return VerifyResult(tensors, 1e-3, "holm")


class TestRenderers:
    def test_colour_terminal_gets_only_kaiming_colours(self) -> None:
        """On a colour terminal the only escape sequences are Rich's own SGR colours: no OSC, no cursor moves."""
        from rich.console import Console

        buf = io.StringIO()
        Console(file=buf, force_terminal=True, color_system="truecolor", width=120).print(
            verify_renderable(hostile_result(), detail=True))
        plain = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())
        assert not any(is_control(ch) for ch in plain.replace("\n", ""))
        for name in ("[/bold] p", "[link=https://evil.example]click[/link]", ":smile:", "lone\\ud800"):
            assert name in plain
        assert "😄" not in plain
        assert not any(line.lstrip().startswith("::") for line in plain.splitlines())

    def test_junit_and_github_hold_the_escaped_names(self) -> None:
        root = ET.fromstring(verify_junit(hostile_result()).encode())
        assert [tc.get("name") for tc in root.iter("testcase")] == [escape.visible(n) for n in HOSTILE]
        lines = verify_github(hostile_result()).splitlines()
        assert len(lines) == len(HOSTILE) + 1 and all(line.startswith("::error ") for line in lines)

    def test_tensor_report_is_plain_text(self) -> None:
        report = tensor_report(hostile_result().tensors[3])
        assert report.startswith("a\\n:\\x3aerror file=e.py:\\x3ax 4×4 F32\\x1b[31m: FAIL")
        assert not any(is_control(ch) for ch in report.replace("\n", ""))


def test_tensor_seed_accepts_lone_surrogates_and_keeps_seeds_of_ordinary_names() -> None:
    assert tensor_seed(7, "conv1.weight").entropy == [7, zlib.crc32(b"conv1.weight")]
    assert tensor_seed(7, "lone\ud800").entropy == [7, zlib.crc32(b"lone\xed\xa0\x80")]  # surrogatepass bytes


def test_toml_string_round_trips_every_character_class() -> None:
    import pytest

    from kaiming_cli.escape import toml_string
    from tests.toml_compat import tomllib

    texts = ["".join(map(chr, range(0x00, 0x80))), 'a"]\n[[rule]]\nmatch = "*', "back\\slash\\", "é\u2028\U0001f600",
             "x ##[error]y", "\u0085\u009b\ufeff\uffff"]
    for text in texts:
        encoded = toml_string(text)
        assert encoded.isascii() and "\n" not in encoded and "##[" not in encoded
        assert tomllib.loads(f"k = {encoded}")["k"] == text
    with pytest.raises(ValueError):
        toml_string("lone\ud800")
