"""kaiming: check that weights got the initialization you think they got."""

from __future__ import annotations


def __getattr__(name: str) -> object:
    # The version is read from installed metadata, and only when asked for.
    if name == "__version__":
        from importlib.metadata import version

        return version("kaiming")
    raise AttributeError(f"module 'kaiming_cli' has no attribute {name!r}")
