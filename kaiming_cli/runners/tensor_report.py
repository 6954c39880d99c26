"""The plain-text report of one tensor, which ``assert_init`` raises with in a test suite, and the labels it is
built from (a p-value, a shape, the expected law, the std ratio with its interval).

It lives below ``render/`` because ``api.py`` and ``distributed.py`` raise it, and the core never imports the
presentation layer (docs/design.md, the contract "The core never imports rendering" in pyproject.toml); the
formats in ``render/`` use the same labels from here, so every output names a law and a p-value alike. Text from
files is shown through ``escape`` (docs/security.md §7).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import escape

if TYPE_CHECKING:
    from ..theory.spec import InitSpec
    from .verify import TensorResult


def pvalue(p: float) -> str:
    return "<1e-300" if p == 0 else (f"{p:.3g}" if p >= 1e-3 else f"{p:.2e}")


def shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape)


def spec_label(spec: InitSpec) -> str:
    """A compact name of the law for narrow tables: ``normal fan_out relu``."""
    if spec.init is not None:
        return spec.init
    nl = (spec.nonlinearity or "") + (f"(a={spec.negative_slope:g})" if spec.nonlinearity == "leaky_relu"
                              and spec.negative_slope else "")
    layout = "" if spec.layout == "torch" else f" [{spec.layout}]"
    return f"{spec.distribution} {spec.mode} {nl}{layout}"


def expected_text(t: TensorResult) -> str:
    if t.spec is not None:
        return spec_label(t.spec)
    if t.constant is not None:
        return f"constant {t.constant:g}"
    return "-"


def ratio_text(t: TensorResult) -> str:
    if t.std_ratio is None or t.empirical is None or t.spec is None:
        return "-"
    lo, hi = t.empirical.std_ci
    return f"{t.std_ratio:.3f} [{lo / t.spec.std:.3f}, {hi / t.spec.std:.3f}]"


def tensor_report(t: TensorResult) -> str:
    lines = [f"{escape.terminal(t.name)} {shape_text(t.shape)} {escape.terminal(t.dtype)}: {t.status.upper()} "
             f"vs {expected_text(t)}"]
    if t.spec is not None and t.empirical is not None:
        lines.append(f"  std {t.empirical.std:.6g} vs theory {t.spec.std:.6g} (ratio {ratio_text(t)}), "
                     f"mean {t.empirical.mean:.3g}, max|x| {max(abs(t.empirical.min), abs(t.empirical.max)):.6g}")
    for test in t.tests:
        mark = "ok  " if test.passed else "FAIL"
        lines.append(f"  {mark} {test.name:9s} p = {pvalue(test.pvalue):>9s}  {test.detail}")
    if t.reason:
        lines.append(f"  reason: {escape.message(t.reason)}")
    return "\n".join(lines)
