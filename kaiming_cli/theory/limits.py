"""Bounds on option and config values: each refused with one line that states the accepted range.

Values outside these ranges used to reach the numerics and end in an internal error (a subnormal
alpha divides by zero, a slope of 1e200 overflows ``1 + a**2``) or in unbounded work (``-n 1e30``).
No imports here: the lookups (``std``, ``gain``) must stay free of numpy.
"""

from __future__ import annotations

#: Smallest significance level: below it ``1 - alpha/2`` rounds to 1 in double precision and the
#: confidence limits of the std test are no longer defined.
MIN_ALPHA = 1e-12
#: Largest leaky-ReLU slope in absolute value: beyond it the gain (sqrt(2 / (1 + a^2))) underflows the
#: float32 draws of ``check``; real models use slopes below 1. Negative slopes are legal, as in torch's
#: ``calculate_gain`` (the formula only squares a).
MAX_SLOPE = 1000.0
#: Seeds are 64-bit unsigned integers (what numpy's SeedSequence and torch.manual_seed take).
MAX_SEED = 2**64 - 1
#: ``check`` draws at most this many values (about 20 s of sampling); ``--samples`` tests a
#: subsample of a larger shape.
MAX_SAMPLES = 10**9
#: Worker threads or processes; each holds a few chunk buffers.
MAX_JOBS = 256
#: Default of ``--max-detectable``: a PASS whose tensor cannot detect a relative std error this large with 90%
#: power is reported as inconclusive (docs/statistics.md §10).
DEFAULT_MAX_DETECTABLE = 0.25
#: ``propagate`` keeps every layer's weights and pre-activations of one init in memory.
MAX_PROPAGATE_BYTES = 4 * 2**30


def shown(value: object, limit: int = 40) -> str:
    """A value for an error message: its repr (control characters escaped), cut to ``limit`` characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def alpha_problem(alpha: object) -> str | None:
    """Why ``alpha`` is not an accepted significance level, or None when it is."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        return f"alpha {shown(alpha)} is not a number: give a significance level in [{MIN_ALPHA:g}, 1), e.g. 0.001."
    if not MIN_ALPHA <= alpha < 1:  # False for NaN too
        return f"alpha {shown(alpha)} is not in [{MIN_ALPHA:g}, 1): give a significance level such as 0.001 or 0.01."
    return None


def slope_problem(a: object) -> str | None:
    """Why ``a`` is not an accepted leaky-ReLU slope, or None when it is."""
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        return f"negative slope {shown(a)} is not a number: give a number in [-{MAX_SLOPE:g}, {MAX_SLOPE:g}] " \
               "(e.g. 0.01, 0.2)."
    if not -MAX_SLOPE <= a <= MAX_SLOPE:  # False for NaN too
        return f"negative slope {shown(a)} is not valid: give a finite number in [-{MAX_SLOPE:g}, {MAX_SLOPE:g}] " \
               "(e.g. 0.01, 0.2)."
    return None
