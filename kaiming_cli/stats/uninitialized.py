"""Memory that was never initialized: the signature of ``torch.empty`` / ``Module.to_empty()`` (docs/diff.md).

A model built on the meta device and materialized with ``to_empty()`` keeps whatever the memory held unless every
module's init runs again. What such memory holds is not a law, but it leaves marks no init draw leaves:

- NaN or infinite values (bit patterns that are not numbers), next to finite values that vary;
- values far outside any init scale (``HUGE``: no init draws beyond a few units; trained weights neither);
- subnormal floats (below 2^-126 for float32/bfloat16, 2^-1022 for float64): a continuous law of any init scale
  puts probability ~1e-30 there, while integers, pointers and small bit patterns read as floats land there;
- most values exactly zero with sporadic huge ones (fresh pages partly written).

``uninitialized_reason`` says which mark it found, or None. A tensor that is *all zeros* is a valid init
(``zeros_``) unless a random law is expected there; the callers that know (verify's rule, the other side of a
diff) ask ``zeros_where_random``. Memory that happens to hold an earlier tensor's values is not detectable here:
diff sees it as a different (or, if copied, identical) draw.
"""

from __future__ import annotations

import math

import numpy as np

from .summary import Summary

#: Largest magnitude any init law reaches in practice (a normal_(std=1) draw of 1e9 values stays below 7).
HUGE = 1e6
#: Smallest normal float per decoded width: float32 and bfloat16 share float32's exponent range.
TINY = {32: float(np.finfo(np.float32).tiny), 64: float(np.finfo(np.float64).tiny)}


def uninitialized_reason(summary: Summary, sample: np.ndarray, mantissa_bits: int | None) -> str | None:
    """Why these values look like uninitialized memory (``torch.empty``), or None. ``mantissa_bits``: the stored
    dtype's (None for integers, which are never uninitialized here: any bit pattern is a valid integer)."""
    if mantissa_bits is None:
        return None
    bad = summary.n_nan + summary.n_inf
    if bad and not (summary.n and summary.min == summary.max) and summary.n > 0:
        return (f"{summary.n_nan} NaN and {summary.n_inf} infinite values among values that vary: memory never "
                "initialized (torch.empty / to_empty() without an init)")
    if bad and summary.n == 0 and summary.n_nan:
        return f"all {summary.n_nan} values are NaN: memory never initialized (torch.empty / to_empty())"
    if summary.n and summary.max_abs > HUGE and summary.min != summary.max:
        return (f"values up to {summary.max_abs:.3g}, far outside any init scale: memory never initialized "
                "(torch.empty / to_empty() without an init)")
    tiny = TINY.get(64 if mantissa_bits > 23 else 32) if mantissa_bits in (7, 23, 52) else None
    finite = sample[np.isfinite(sample)]
    if tiny is not None and finite.size:
        magnitude = np.abs(finite)
        subnormal = int(np.count_nonzero((magnitude > 0) & (magnitude < tiny)))
        if subnormal:
            return (f"{subnormal} subnormal values (below {tiny:.3g}) among {finite.size} sampled: bit patterns no "
                    "init draws, memory never initialized (torch.empty / to_empty() without an init)")
    return None


def zeros_where_random(summary: Summary, expected_random: bool) -> str | None:
    """An all-zero tensor where a random law is expected: ``to_empty()`` on zeroed memory, not an init."""
    if expected_random and summary.n > 1 and summary.min == summary.max == 0.0 and not summary.n_nan:
        return (f"all {summary.n} values are exactly 0 where a random law is expected: memory never initialized "
                "(to_empty() on zeroed memory) or an init that did not run")
    return None


def is_random(summary: Summary) -> bool:
    """Values that vary (a random law rather than a constant)."""
    return summary.n > 1 and summary.min != summary.max and math.isfinite(summary.max_abs)
