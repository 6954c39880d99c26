"""Memory that was never initialized: the signature of ``torch.empty`` / ``Module.to_empty()`` (docs/diff.md).

A model built on the meta device and materialized with ``to_empty()`` keeps whatever the memory held unless every
module's init runs again. What such memory holds is not a law, but it leaves marks no init draw leaves:

- NaN or infinite values (bit patterns that are not numbers), next to finite values that vary;
- values far outside any init scale (``HUGE``: no init draws beyond a few units; trained weights neither);
- subnormal floats (below 2^-126 for float32/bfloat16, 2^-1022 for float64): a continuous law of any init scale
  puts probability ~1e-30 there, while integers, pointers and small bit patterns read as floats land there;
- most values exactly zero with sporadic huge ones (fresh pages partly written);
- a repeated pattern: far more exactly repeated non-zero values than the dtype's rounding gives a continuous law
  (``repeated_values``: a block of memory copied, or one shard's values on every rank). bfloat16 and float16 draws
  repeat values by rounding alone; the count expected from that is the null, so they are not called garbage.

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


def uninitialized_reason(summary: Summary, sample: np.ndarray, mantissa_bits: int | None,
                         repeats: bool = True) -> str | None:
    """Why these values look like uninitialized memory (``torch.empty``), or None. ``mantissa_bits``: the stored
    dtype's (None for integers, which are never uninitialized here: any bit pattern is a valid integer).
    ``repeats=False`` leaves out the repeated-value mark: verify's structure tests catch repeated blocks and say
    what they are (a copied half, a tiled block), which the mark would pre-empt with a guess about memory."""
    if mantissa_bits is None:
        return None
    bad = summary.n_nan + summary.n_inf
    if bad and not (summary.n and summary.min == summary.max) and summary.n > 0:
        return (f"{nonfinite_text(summary)} among values that vary: memory never initialized (torch.empty / "
                "to_empty() without an init)")
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
    return repeated_values(finite, mantissa_bits, summary.n + summary.n_nan + summary.n_inf) if repeats else None


#: The repeated-value mark needs more than this many distinct non-zero values: a quantized tensor (int8/fp8 codes
#: times a scale, 256 levels at most) or an identity/dirac init repeats few values by design.
MIN_DISTINCT = 256
#: ... and this many standard deviations of excess repeats over what rounding gives ...
REPEAT_Z = 8.0
#: ... amounting to at least this share of the values (and at least ``REPEAT_MIN`` of them).
REPEAT_SHARE = 0.005
REPEAT_MIN = 10
#: Each binade is split in this many bins, within which the law's density is taken as flat (the null count).
BINS_PER_BINADE = 16
FLOAT16_BITS = 10
#: The words naming the repeated-value mark in a reason (``distributed.diff_module`` names the ranks instead).
REPEATED = "a repeated pattern"
FLOAT16_TINY = 2.0 ** -14


def stored_bits(values: np.ndarray, mantissa_bits: int) -> int:
    """The mantissa bits the values actually use: a bfloat16 model upcast to float32 holds 7-bit values, whose
    rounding repeats values as bfloat16's does."""
    mant, _e = np.frexp(np.abs(values))
    for bits in (7, 10, 23, 52):
        if bits < mantissa_bits:
            scaled = mant * 2.0 ** (bits + 1)
            if np.array_equal(scaled, np.floor(scaled)):
                return bits
    return mantissa_bits


def rounded(values: np.ndarray, bits: int) -> np.ndarray:
    """Values rounded to ``bits`` mantissa bits: undoes the sample's dequantizing jitter (engine/sources.py spreads
    a bfloat16/float16 value over its rounding cell, less than half a cell either way)."""
    mant, e = np.frexp(values)
    out: np.ndarray = np.ldexp(np.round(mant * 2.0 ** (bits + 1)), e - bits - 1)
    return out


def rounding_repeats(ordered: np.ndarray, bits: int) -> tuple[float, float]:
    """Mean and variance of the number of repeated values (n minus the distinct ones) among non-zero values
    drawn from a continuous law and rounded to ``bits`` mantissa bits, given how many fall in each bin (1/16 of a
    binade, ``2^(bits - 4)`` rounding cells, the density taken as flat in it): the occupancy of C equal cells by k
    balls, summed over the bins. ``ordered``: the values sorted (``repeated_values`` sorts them once). A bin's key
    grows with the value (negative keys for negative values, whose magnitude falls as they grow), so sorted values
    give sorted keys and each bin's count is the length of a run of equal keys: ``np.unique``'s counts, in its
    order, without a second sort."""
    mant, e = np.frexp(np.abs(ordered))
    key = np.sign(ordered).astype(np.int64) * ((e.astype(np.int64) + 1100) * BINS_PER_BINADE
                                                + np.floor((mant - 0.5) * 2 * BINS_PER_BINADE).astype(np.int64) + 1)
    k = run_lengths(key).astype(np.float64)
    cells = 2.0 ** (bits + 1) / (2 * BINS_PER_BINADE)
    q1, q2 = (1 - 1 / cells) ** k, (1 - 2 / cells) ** k
    distinct = cells * (1 - q1)
    var = cells * (cells - 1) * q2 + cells * q1 - cells * cells * q1 * q1
    return float(np.sum(k - distinct)), float(np.sum(np.maximum(var, 0.0)))


def run_lengths(ordered: np.ndarray) -> np.ndarray:
    """The lengths of the runs of equal elements of a sorted array, in order: the counts of ``np.unique(ordered,
    return_counts=True)``, whose sort the array no longer needs."""
    if not ordered.size:
        return np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1], [True])))
    lengths: np.ndarray = np.diff(starts)
    return lengths


def repeated_values(finite: np.ndarray, mantissa_bits: int, total: int | None = None) -> str | None:
    """A repeated pattern: far more exactly repeated non-zero values than rounding a continuous law gives.
    ``total`` (the tensor's size when ``finite`` is its subsample) is unused since the subsample never takes an
    element twice (engine/stream.py ``subsample_positions``); kept for the callers."""
    values = finite[finite != 0]
    if values.size <= MIN_DISTINCT or mantissa_bits < 7:
        return None
    values = rounded(values, mantissa_bits) if mantissa_bits < 23 else values
    bits = stored_bits(values, mantissa_bits)
    if bits == FLOAT16_BITS:  # float16's subnormals (below 2^-14) are evenly spaced: not the binade cells counted
        values = values[np.abs(values) >= FLOAT16_TINY]
    values = np.sort(values)  # the one sort: the distinct values and the bins' counts are runs in it
    distinct = int(run_lengths(values).size)
    if distinct <= MIN_DISTINCT:
        return None
    repeats = values.size - distinct
    mean, var = rounding_repeats(values, bits)
    excess = repeats - mean
    if excess < max(REPEAT_MIN, REPEAT_SHARE * values.size) or excess < REPEAT_Z * math.sqrt(var + 1.0):
        return None
    return (f"{repeats} of {values.size} sampled non-zero values repeat an earlier one exactly, where rounding a "
            f"continuous law to {bits} mantissa bits gives {mean:.3g} ± {math.sqrt(var):.2g}: {REPEATED}, memory "
            "never initialized (torch.empty / to_empty() without an init) or one block copied")


def nonfinite_text(summary: Summary) -> str:
    """``3 NaN values``, ``1 infinite value``, ``2 NaN and 1 infinite values``: only the counts that are not 0."""
    nan, inf = summary.n_nan, summary.n_inf
    if nan and inf:
        return f"{nan} NaN and {inf} infinite values"
    return f"{nan} NaN value{'s' * (nan != 1)}" if nan else f"{inf} infinite value{'s' * (inf != 1)}"


def zeros_where_random(summary: Summary, expected_random: bool) -> str | None:
    """An all-zero tensor where a random law is expected: ``to_empty()`` on zeroed memory, not an init."""
    if expected_random and summary.n > 1 and summary.min == summary.max == 0.0 and not summary.n_nan:
        return (f"all {summary.n} values are exactly 0 where a random law is expected: memory never initialized "
                "(to_empty() on zeroed memory) or an init that did not run")
    return None


def is_random(summary: Summary) -> bool:
    """Values that vary (a random law rather than a constant)."""
    return summary.n > 1 and summary.min != summary.max and math.isfinite(summary.max_abs)
