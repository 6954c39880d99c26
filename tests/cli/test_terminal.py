"""Terminal behaviour: no ANSI when piped, NO_COLOR and --color, tables within 80 columns."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli

HEADLINE = ["check", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"]
COMMANDS = [HEADLINE, ["std", "--shape", "64,3,3,3"], ["gain"], ["fan", "--shape", "64,3,3,3"],
            ["explain", "--shape", "16,32,3,3"], ["propagate", "--depth", "8", "--width", "32"]]


def _run(args: list[str], env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "kaiming_cli", *args], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", **(env or {})})
    return out.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_piped_output_has_no_ansi_and_fits_80_columns(args: list[str]) -> None:
    out = _run(args)
    assert "\x1b[" not in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_color_always_and_never() -> None:
    assert "\x1b[" in _run(["--color", "always", *HEADLINE])
    assert "\x1b[" not in _run(["--color", "never", *HEADLINE], {"FORCE_COLOR": "1"})


def test_no_color_removes_colour() -> None:
    forced = _run(HEADLINE, {"FORCE_COLOR": "1"})
    plain = _run(HEADLINE, {"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[32m" in forced or "\x1b[1;32m" in forced  # green PASS
    assert "32m" not in plain


def test_completion_scripts() -> None:
    for shell, needle in (("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files")):
        result = CliRunner().invoke(cli, ["completion", shell])
        assert result.exit_code == 0 and needle in result.stdout and "_KAIMING_COMPLETE" in result.stdout
