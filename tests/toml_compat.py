"""``tomllib``, or ``tomli`` on Python 3.10, as kaiming_cli/io/config.py reads config files (it imports it only when
it reads one, so the tests take it from here)."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["tomllib"]
