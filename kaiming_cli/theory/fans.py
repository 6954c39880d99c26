"""Fan rules per weight layout, exactly as each framework computes them.

* ``torch``: ``torch.nn.init._calculate_fan_in_and_fan_out``: weight ``(out, in, *k)``.
* ``torch-transpose``: a ``ConvTranspose`` weight, stored ``(in, out/groups, *k)``. PyTorch itself
  applies the ``torch`` rule to it, so its "fan_in" is ``(out/groups)*prod(k)``; this layout gives
  the fans with the axes read as they are meant (fan_in = ``in*prod(k)``).
* ``keras``: ``keras.src.initializers.compute_fans``: kernel ``(*k, in, out)``; a 1-D shape has
  fan_in = fan_out = its length.
* ``jax``: ``jax.nn.initializers`` ``_compute_fans`` with the default axes (-2, -1); like
  Keras, but 1-D shapes raise.

Standard-library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Layout = Literal["torch", "torch-transpose", "keras", "jax"]
Mode = Literal["fan_in", "fan_out", "fan_avg"]

LAYOUTS: tuple[str, ...] = ("torch", "torch-transpose", "keras", "jax")
MODES: tuple[str, ...] = ("fan_in", "fan_out", "fan_avg")

LAYOUT_AXES: dict[str, str] = {
    "torch": "(out, in, *kernel)",
    "torch-transpose": "(in, out/groups, *kernel)",
    "keras": "(*kernel, in, out)",
    "jax": "(*kernel, in, out)",
}

#: Largest element count we accept: numpy indexes with int64.
MAX_ELEMENTS = 2**63 - 1
#: Most dimensions a shape may have (numpy's own limit is 64).
MAX_DIMS = 64


@dataclass(frozen=True)
class Fans:
    """The fans of one weight shape under one layout."""

    fan_in: int
    fan_out: int
    receptive_field: int
    """Product of the kernel (spatial) dimensions; 1 for a dense weight."""

    def select(self, mode: str) -> float:
        """The denominator that ``mode`` uses (``fan_avg`` is the arithmetic mean)."""
        if mode == "fan_in":
            return float(self.fan_in)
        if mode == "fan_out":
            return float(self.fan_out)
        if mode == "fan_avg":
            return (self.fan_in + self.fan_out) / 2.0
        raise ValueError(f"mode {mode!r} is not supported: use one of {', '.join(MODES)}.")


def fan_facts(shape: tuple[int, ...], layout: str = "torch") -> dict[str, object]:
    """What ``kaiming fan`` answers, in the order it shows them; zero dimensions too, as torch's fan function
    answers them (``(0, 3)`` has fan_in 3 and fan_out 0), though no init can use a zero fan."""
    fans = compute_fans(shape, layout, allow_zero=True)
    return {"shape": list(shape), "layout": layout, "axes": LAYOUT_AXES[layout], "fan_in": fans.fan_in,
            "fan_out": fans.fan_out, "fan_avg": fans.select("fan_avg"), "receptive_field": fans.receptive_field}


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def validate_shape(shape: tuple[int, ...], layout: str = "torch", allow_zero: bool = False) -> None:
    """Raise ``ValueError`` for shapes no framework computes fans for (our CLI's rule)."""
    if layout not in LAYOUT_AXES:
        raise ValueError(f"layout {layout!r} is not supported: use one of {', '.join(LAYOUTS)}.")
    if len(shape) == 0:
        raise ValueError("a shape needs at least one dimension.")
    if any(d < 0 or (d == 0 and not allow_zero) for d in shape):
        raise ValueError(
            f"shape {format_shape(shape)} has a zero or negative dimension: every dimension "
            "must be a positive integer (torch skips zero-element tensors, JAX divides by zero)."
        )
    min_dims = 1 if layout == "keras" else 2
    if len(shape) < min_dims:
        raise ValueError(
            f"fan in and fan out can not be computed for shape {format_shape(shape)} with fewer "
            f"than 2 dimensions under the {layout} layout (as torch and JAX refuse it); give the "
            "full weight shape, e.g. 64,3,3,3, or --layout keras, where a 1-D shape has fan = its length."
        )
    if numel(shape) > MAX_ELEMENTS:
        raise ValueError(
            f"shape {format_shape(shape)} has {numel(shape)} elements, which overflows a 64-bit "
            "element count: check the dimensions."
        )


def compute_fans(shape: tuple[int, ...], layout: str = "torch", allow_zero: bool = False) -> Fans:
    """Fans of ``shape`` under ``layout``, matching the framework named by the layout."""
    validate_shape(shape, layout, allow_zero)
    if layout in ("torch", "torch-transpose"):
        receptive = math.prod(shape[2:])
        first, second = shape[0] * receptive, shape[1] * receptive
        # torch reads axis 1 as "in"; a transposed weight's axis 0 is the true input.
        if layout == "torch":
            return Fans(fan_in=second, fan_out=first, receptive_field=receptive)
        return Fans(fan_in=first, fan_out=second, receptive_field=receptive)
    if len(shape) == 1:  # keras only (jax and torch refuse in validate_shape)
        return Fans(fan_in=shape[0], fan_out=shape[0], receptive_field=1)
    receptive = math.prod(shape[:-2])
    return Fans(fan_in=shape[-2] * receptive, fan_out=shape[-1] * receptive, receptive_field=receptive)


def format_shape(shape: tuple[int, ...]) -> str:
    return ",".join(str(d) for d in shape)


def parse_shape(text: str, allow_zero: bool = False) -> tuple[int, ...]:
    """Parse ``64,3,3,3`` or ``64x3x3x3`` (spaces and brackets tolerated) into a tuple."""
    cleaned = text.strip().strip("()[]").replace("x", ",").replace("X", ",").replace(" ", "")
    shown = _shown(text)
    if not cleaned:
        raise ValueError(f"shape {shown} is empty: give positive integers like 64,3,3,3.")
    parts = cleaned.split(",")
    if parts and parts[-1] == "" and len(parts) > 1:  # allow a trailing comma, as in (10,)
        parts = parts[:-1]
    if len(parts) > MAX_DIMS:
        raise ValueError(f"shape {shown} has {len(parts)} dimensions: at most {MAX_DIMS} are supported.")
    dims: list[int] = []
    for part in parts:
        if part == "":
            raise ValueError(
                f"shape {shown} has an empty dimension: give positive integers like 64,3,3,3."
            )
        if len(part) > 20:  # more digits than 2**63 has: refused before int() parses it
            raise ValueError(f"shape {shown} has a dimension of {len(part)} characters: each dimension must "
                             f"be a positive integer up to {MAX_ELEMENTS}.")
        try:
            value = int(part)
        except ValueError:
            raise ValueError(
                f"shape {shown} has a non-integer dimension {_shown(part)}: give positive integers "
                "like 64,3,3,3 or 64x3x3x3."
            ) from None
        if value < 0 or (value == 0 and not allow_zero):
            raise ValueError(
                f"shape {shown} has dimension {value}: every dimension must be a positive integer."
            )
        dims.append(value)
    return tuple(dims)


def _shown(text: str, limit: int = 60) -> str:
    """A value quoted for an error message, cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
