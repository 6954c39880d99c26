"""The command-line interface: Click parameters and commands, and the mapping of errors to exit codes."""

from .app import cli, main

__all__ = ["cli", "main"]
