"""Which real initializer call a sampling backend makes for a spec (``kaiming check --backend torch|keras|jax``).

A call of the backend's own library whose law, with that library's own fans on the tensor's shape, is the spec's
exact law is made as written (``kaiming_normal_(mode='fan_out')`` on torch, ``HeNormal()`` on Keras). Anything
else is translated only where the backend has an initializer with exactly the same law on that shape (a torch
``kaiming_normal_`` on Keras is ``RandomNormal`` with the same mean and std; ``default('Linear')`` on torch is
``kaiming_uniform_(a=math.sqrt(5))``); otherwise ``NoExactCall`` says which backend to use. Standard-library only:
the command line decides (exit 2) before any framework is imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .calls import InitCall, parse_init_call
from .initializers import DEFAULT, JAX, KERAS, TORCH
from .law import LawSpec
from .spec import InitSpec

FRAMEWORKS: tuple[str, ...] = (TORCH, KERAS, JAX)
BACKENDS: tuple[str, ...] = ("numpy", *FRAMEWORKS)
#: The extra that installs each framework (pyproject.toml) and its name in words.
EXTRA = {TORCH: "torch", KERAS: "keras", JAX: "jax"}
LABEL = {TORCH: "PyTorch", KERAS: "Keras", JAX: "JAX"}
#: The layout each library computes fans in, whatever the user's --layout says.
NATIVE_LAYOUT = {TORCH: "torch", KERAS: "keras", JAX: "jax"}
_PREFIX = {TORCH: "torch.nn.init.", KERAS: "keras.initializers.", JAX: "jax.nn.initializers."}


class NoExactCall(ValueError):
    """The backend has no initializer with exactly this law on this shape (a usage error: exit 2)."""


@dataclass(frozen=True)
class BackendCall:
    """One call of a framework's initializer: its name and keyword arguments, in that library's terms."""

    library: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    translated_from: str | None = None
    """The user's call when this one is an exact translation of it (another library, or fans given by hand)."""

    def text(self) -> str:
        inner = ", ".join(f"{k}={_value(v)}" for k, v in self.args.items())
        if self.library == TORCH:
            inner = "w" + (", " + inner if inner else "")
        return f"{_PREFIX[self.library]}{self.name}({inner})"


def _value(v: Any) -> str:
    return repr(v)


def native_library(spec: InitSpec) -> str:
    """The framework a spec's call belongs to: torch for torch calls, module defaults and the mode options."""
    if spec.init is None:
        return TORCH
    library = parse_init_call(spec.init).library
    return library if library in (KERAS, JAX) else TORCH


def backend_call(spec: InitSpec, backend: str) -> BackendCall:
    """The exact call ``backend`` makes to sample ``spec``'s law; ``NoExactCall`` when it has none."""
    if backend not in FRAMEWORKS:
        raise ValueError(f"backend {backend!r} makes no framework call.")
    text = spec.init if spec.init is not None else spec.call
    call = parse_init_call(text)
    shape, law = spec.shape, spec.exact_law
    if call.library == backend and _same_law(call, shape, backend, law):
        return BackendCall(backend, call.name, _drop_none(call.arguments(shape, NATIVE_LAYOUT[backend])))
    if call.library == DEFAULT and backend == TORCH:
        weight = parse_init_call("kaiming_uniform_(a=math.sqrt(5))")
        if len(shape) >= 2 and _same_law(weight, shape, TORCH, law):
            return BackendCall(TORCH, weight.name, weight.arguments(shape, "torch"), translated_from=call.text)
    found = _by_law(law, shape, backend)
    if found is None:
        raise NoExactCall(f"{call.text} has no initializer with exactly this law in {LABEL[backend]} on shape "
                          f"{'x'.join(map(str, shape))}: use --backend {native_library(spec)} or --backend numpy.")
    name, args = found
    return BackendCall(backend, name, args, translated_from=call.text)


def _same_law(call: InitCall, shape: tuple[int, ...], backend: str, law: LawSpec) -> bool:
    """Does the library's own call, with its own fans on this shape, draw exactly ``law``?"""
    try:
        return call.resolve(shape, NATIVE_LAYOUT[backend]).law == law
    except ValueError:  # e.g. a 1-D shape whose fans were given by hand
        return False


def _drop_none(args: dict[str, Any]) -> dict[str, Any]:
    """Keras's ``input_axes=None``/``output_axes=None`` are its defaults: leave them to the library."""
    return {k: v for k, v in args.items() if not (v is None and k in ("input_axes", "output_axes"))}


def _close(x: float | None, y: float) -> bool:
    return x is not None and math.isclose(x, y, rel_tol=1e-15, abs_tol=0.0)


def _by_law(law: LawSpec, shape: tuple[int, ...], backend: str) -> tuple[str, dict[str, Any]] | None:
    """An initializer of ``backend`` with exactly this law on ``shape``: (name, arguments), or None."""
    d = law.distribution
    if d == "normal":
        return _normal(law, backend)
    if d == "uniform":
        return _uniform(law, backend)
    if d == "truncated_normal":
        return _truncated(law, backend)
    if d == "constant":
        value = law.value if law.value is not None else 0.0
        return {TORCH: ("constant_", {"val": value}), KERAS: ("Constant", {"value": value}),
                JAX: ("constant", {"value": value})}[backend]
    two_d = len(shape) == 2  # every library views a 2-D tensor as the same (rows, cols) matrix
    if d == "orthogonal":
        return _orthogonal(law, shape, backend)
    if d == "identity" and two_d and law.groups is None:
        gain = law.gain if law.gain is not None else 1.0
        if backend == KERAS:
            return "Identity", {"gain": gain}
        if backend == TORCH and gain == 1.0:
            return "eye_", {}
    return None


def _orthogonal(law: LawSpec, shape: tuple[int, ...], backend: str) -> tuple[str, dict[str, Any]] | None:
    """The backend's orthogonal init that sets the law's axis apart (``LawSpec.axis``, decided by the call):
    torch's ``orthogonal_`` sets axis 0 apart, Keras's ``Orthogonal`` the last, JAX's ``orthogonal`` any
    (``column_axis``). Rows or columns does not matter: a Haar-orthonormal matrix transposed is the Haar law of
    the transposed shape, and the test reads the short side's Gram matrix. A 2-D tensor is one matrix for all."""
    gain = law.gain if law.gain is not None else 1.0
    ndim = len(shape)
    axis = law.axis if law.axis is not None else 0
    if backend == JAX:
        return "orthogonal", {"scale": gain} if axis == ndim - 1 or ndim == 2 else {"scale": gain, "column_axis": axis}
    native = 0 if backend == TORCH else ndim - 1
    if ndim != 2 and axis != native:
        return None
    return ("orthogonal_", {"gain": gain}) if backend == TORCH else ("Orthogonal", {"gain": gain})


def _normal(law: LawSpec, backend: str) -> tuple[str, dict[str, Any]] | None:
    mean, std = law.mean or 0.0, law.std or 0.0
    if backend == TORCH:
        return "normal_", {"mean": mean, "std": std}
    if backend == KERAS:
        return "RandomNormal", {"mean": mean, "stddev": std}
    return ("normal", {"stddev": std}) if mean == 0 else None


def _uniform(law: LawSpec, backend: str) -> tuple[str, dict[str, Any]] | None:
    lo, hi = law.low or 0.0, law.high or 0.0
    if backend == TORCH:
        return "uniform_", {"a": lo, "b": hi}
    if backend == KERAS:
        return "RandomUniform", {"minval": lo, "maxval": hi}
    if lo == 0.0:  # jax's uniform(scale) draws U[0, scale)
        return "uniform", {"scale": hi}
    return None


def _truncated(law: LawSpec, backend: str) -> tuple[str, dict[str, Any]] | None:
    loc, scale = law.loc or 0.0, law.scale or 0.0
    lo, hi = law.low or 0.0, law.high or 0.0
    if backend == TORCH:
        return "trunc_normal_", {"mean": loc, "std": scale, "a": lo, "b": hi}
    if backend == KERAS:  # cut at +-2 stddev around the mean, nowhere else
        if _close(lo, loc - 2 * scale) and _close(hi, loc + 2 * scale):
            return "TruncatedNormal", {"mean": loc, "stddev": scale}
        return None
    if loc == 0.0 and scale > 0:
        return "truncated_normal", {"stddev": scale, "lower": lo / scale, "upper": hi / scale}
    return None
