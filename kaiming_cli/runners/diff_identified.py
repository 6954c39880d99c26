"""The seam between ``diff`` and ``identify``: what each side of a differing pair looks like, as identify names it.

``runners/diff.py`` never imports another runner (the independence contract in pyproject.toml); the callers
(``cli/diff.py``, ``testing.py``) pass ``looks_like_in(sources)`` to ``run_diff``, as ``identified.py`` does for
audit. Only this module knows how identify works.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..io.sources import TensorSource
from .identify import identify_source, sibling_fan_in


def looks_like_in(sources: Sequence[TensorSource], *, seed: int = 0, alpha: float = 1e-3
                  ) -> Callable[[TensorSource], str]:
    """identify's verdict for one tensor of ``sources`` (a bias sees its sibling weight's fan_in, as in identify):
    the init call (``kaiming_normal_(mode='fan_out', nonlinearity='relu')``, ``default('Conv2d')``), a constant
    (``zeros_``), ``uninitialized``, or ``unknown``."""
    shapes = {(s.file, s.name): s.shape for s in sources}

    def looks_like(source: TensorSource) -> str:
        layout = source.layout or "torch"
        result = identify_source(source, alpha=alpha, seed=seed,
                                 bias_fan_in=sibling_fan_in(source, shapes, layout))
        return result.call or result.verdict

    return looks_like
