"""The lookups' plain-text tables and panels (render/plain.py) are exactly what Rich prints without colour.

Rich itself is the oracle: every case is rendered by Rich (``Console(color_system=None)``) and by ``plain``, at
many widths; where ``plain`` declines (None), Rich draws the output, so only equality when it answers matters,
and the main lookups must get an answer (else the start-up win is lost without any test noticing).
"""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaiming_cli.render import table
from kaiming_cli.render.plain import KeyValues, Panels, plain_text
from kaiming_cli.theory.explain import explain
from kaiming_cli.theory.fans import fan_facts
from kaiming_cli.theory.spec import make_init_spec, make_spec

WIDTHS = [20, 33, 40, 57, 60, 79, 80, 81, 100, 120, 200]


def rich_text(content: Any, width: int) -> str:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False, soft_wrap=False).print(content)
    return buf.getvalue()


def specs() -> list[Any]:
    out = [make_spec((64, 3, 3, 3), mode="fan_out", nonlinearity="relu"), make_spec((64, 3, 3, 3)),
           make_spec((256, 128), distribution="uniform"), make_spec((3, 3, 64, 128), layout="keras",
                                                                      distribution="truncated_normal"),
           make_spec((10,), layout="keras", nonlinearity="tanh"),
           make_spec((512, 512, 3, 3), nonlinearity="selu", mode="fan_avg")]
    for call in ("trunc_normal_(std=0.02)", "default('Linear')", "nn.init.trunc_normal_(w, std=0.02)",
                 "xavier_uniform_(gain=2)", "orthogonal_(gain=1.5)", "LecunNormal", "kaiming_uniform_(a=0.1)"):
        out.append(make_init_spec((768, 768), call))
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_std_fan_and_explain_equal_rich(width: int) -> None:
    answered = 0
    contents: list[Any] = []
    for spec in specs():
        contents.append(table.std(spec))
        contents.append(table.explain(spec, explain(spec), []))
    for shape, layout in (((64, 3, 3, 3), "torch"), ((3, 3, 64, 128), "keras"), ((10,), "keras"), ((0, 3), "torch")):
        contents.append(table.fan(fan_facts(shape, layout)))
    for content in contents:
        plain = plain_text(content, width)
        if plain is not None:
            answered += 1
            assert plain == rich_text(content, width)
    if width >= 60:  # the real lookups never need Rich at ordinary widths
        assert answered == len(contents)


words = st.text(alphabet="abcdefghij ()=_.,'×→²±√-0123456789", min_size=0, max_size=30)


@settings(max_examples=300, deadline=None)
@given(title=words, rows=st.lists(st.tuples(words, st.text(alphabet="abc xyz.,\n'()", max_size=120)), min_size=1,
                                  max_size=6), width=st.integers(8, 140))
def test_key_values_equal_rich_on_generated_text(title: str, rows: list[tuple[str, str]], width: int) -> None:
    content = KeyValues(title, rows)
    plain = content.plain(width)
    if plain is not None:
        assert plain == rich_text(content, width)


@settings(max_examples=300, deadline=None)
@given(sections=st.lists(st.tuples(st.text(alphabet="abc xyz'", min_size=1, max_size=30),
                                   st.text(alphabet="abc xyz.,\n'()  ", max_size=300)), min_size=1, max_size=4),
       width=st.integers(8, 140))
def test_panels_equal_rich_on_generated_text(sections: list[tuple[str, str]], width: int) -> None:
    content = Panels(sections)
    plain = content.plain(width)
    if plain is not None:
        assert plain == rich_text(content, width)


@pytest.mark.parametrize("text", ["[bold]x[/bold]", ":smile:", "tab\there", "wide 漢字", "e\u0301"])
def test_text_rich_would_change_goes_to_rich(text: str) -> None:
    assert KeyValues("t", [("k", text)]).plain(80) is None
    assert Panels([("t", text)]).plain(80) is None


@pytest.mark.parametrize("args", [["std", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"],
                                  ["fan", "--shape", "64,3,3,3"], ["explain", "--shape", "64,3,3,3"],
                                  ["std", "--shape", "768,768", "--init", "trunc_normal_(std=0.02)"]])
@pytest.mark.parametrize("columns", ["80", "100", "47"])
def test_piped_lookup_equals_rich_and_does_not_import_it(args: list[str], columns: str) -> None:
    """Through a pipe the CLI prints what Rich prints for the same command (plain text switched off), and never
    loads Rich."""
    run = ("import sys\nfrom kaiming_cli.cli import cli\n"
           f"try:\n    cli.main({args!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
           "sys.stdout.flush()\nprint('RICH' if 'rich' in sys.modules else 'NO-RICH', file=sys.stderr)")
    off = "import kaiming_cli.render.plain as p\np.plain_text = lambda content, width: None\n"
    env = {"COLUMNS": columns, "PATH": "/usr/bin:/bin"}
    plain = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, env=env, check=True)
    rich = subprocess.run([sys.executable, "-c", off + run], capture_output=True, text=True, env=env, check=True)
    assert plain.stderr.strip().endswith("NO-RICH") and rich.stderr.strip().endswith("RICH")
    assert plain.stdout == rich.stdout and plain.stdout.count("\n") > 5
