"""The README shows real `--help` output, and names every command."""

from __future__ import annotations

from kaiming_cli.cli import cli

from .readme_help import README, blocks, real_help


def test_help_blocks_match_the_real_output() -> None:
    found = blocks(README.read_text())
    assert {cmd for cmd, _ in found} >= {"", "check", "verify"}
    for cmd, body in found:
        assert body == real_help(cmd), f"README --help block for {cmd!r} is stale: run `make readme`"


def test_every_command_is_documented() -> None:
    text = README.read_text()
    for name in cli.commands:
        assert f"kaiming {name}" in text, name
