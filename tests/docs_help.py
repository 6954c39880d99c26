"""Keep the `--help` blocks of docs/cli.md equal to the real output: `make docs` rewrites them.

A block is ``<!-- help:CMD -->`` + a ```text fence + ``<!-- /help -->``; ``help:`` alone is the group.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
CLI_MD = ROOT / "docs" / "cli.md"
BLOCK = re.compile(r"<!-- help:(?P<cmd>[a-z ]*) -->\n```text\n(?P<body>.*?)```\n<!-- /help -->", re.S)


def real_help(command: str) -> str:
    from kaiming_cli.cli import cli

    args = [*command.split(), "--help"] if command else ["--help"]
    # --help follows the terminal width; CliRunner lays it out for 80 columns whatever the terminal
    result = CliRunner().invoke(cli, args, prog_name="kaiming")
    return result.stdout


def blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group("cmd"), m.group("body")) for m in BLOCK.finditer(text)]


def rewrite(text: str) -> str:
    def block(m: re.Match[str]) -> str:
        cmd = m.group("cmd")
        return f"<!-- help:{cmd} -->\n```text\n{real_help(cmd)}```\n<!-- /help -->"

    return BLOCK.sub(block, text)


if __name__ == "__main__":
    if "--write" in sys.argv:
        CLI_MD.write_text(rewrite(CLI_MD.read_text()))
    for cmd, body in blocks(CLI_MD.read_text()):
        print(cmd or "(group)", "ok" if body == real_help(cmd) else "DIFFERS")
