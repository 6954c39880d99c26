"""kaiming: check that weights got the initialization you think they got.

The Python API (``verify_tensor``, ``assert_init``, ``audit``, ``assert_audit``) is imported on first use, so that
``import kaiming_cli`` stays free of numpy for the fast lookups.
"""

from __future__ import annotations

from typing import Any

__all__ = ["verify_tensor", "assert_init", "audit", "assert_audit"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from .about import version

        return version()
    if name in ("verify_tensor", "assert_init", "audit", "assert_audit"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'kaiming_cli' has no attribute {name!r}")
