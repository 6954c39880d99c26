"""What this package is: its version, looked up in one place (lazily: the lookups must not pay for it)."""

from __future__ import annotations

from functools import cache


@cache
def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("kaiming")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
