"""Exit codes (the contract in docs/cli.md) and the exceptions that carry them. No click here."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INPUT = 3
    INTERNAL = 4
    INTERRUPTED = 130
    PIPE = 141
    """stderr closed under us: 128 + SIGPIPE, the code a shell shows for a tool killed by SIGPIPE."""


class KaimingError(Exception):
    """An error the user can fix; its message is one line naming the problem and the fix."""

    exit_code: int = ExitCode.INPUT


class InputError(KaimingError):
    """A file missing, unreadable, corrupt, hostile or unsupported, or an extra not installed."""

    exit_code = ExitCode.INPUT


class UsageError(KaimingError):
    """Options that are each valid but do not fit together."""

    exit_code = ExitCode.USAGE
