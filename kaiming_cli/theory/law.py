"""The exact law an init call gives a tensor: the one description theory hands to the statistics.

Every init of PyTorch, Keras and JAX reduces to one of seven families. ``mean`` and ``std`` are always the
law's actual moments (a truncated normal's after truncation); ``low``/``high`` are absolute bounds (uniform
bounds, truncation points); ``loc``/``scale`` are a truncated normal's parameters before truncation. Keys that do
not apply are ``None``. Standard-library only.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

LawFamily = Literal["normal", "uniform", "truncated_normal", "constant", "orthogonal", "identity", "sparse"]
LAW_FAMILIES: tuple[str, ...] = ("normal", "uniform", "truncated_normal", "constant", "orthogonal", "identity",
                                 "sparse")
#: The keys of a law in JSON (docs/cli.md "Init calls"), in order.
LAW_KEYS: tuple[str, ...] = ("distribution", "mean", "std", "low", "high", "value", "gain", "sparsity")

_SQRT2 = math.sqrt(2.0)
_SQRT12 = math.sqrt(12.0)


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) if math.isfinite(z) else 0.0


def _mass(alpha: float, beta: float) -> float:
    """P(alpha < Z < beta) for a standard normal Z, accurate in either tail (erfc, not a difference near 1)."""
    if alpha >= 0:
        return 0.5 * (math.erfc(alpha / _SQRT2) - math.erfc(beta / _SQRT2))
    if beta <= 0:
        return 0.5 * (math.erfc(-beta / _SQRT2) - math.erfc(-alpha / _SQRT2))
    return 1.0 - 0.5 * (math.erfc(-alpha / _SQRT2) + math.erfc(beta / _SQRT2))


def truncated_moments(loc: float, scale: float, low: float, high: float) -> tuple[float, float]:
    """Mean and std of N(loc, scale^2) restricted to (low, high)."""
    a, b = (low - loc) / scale, (high - loc) / scale
    z = _mass(a, b)
    if not z > 0:
        raise ValueError(f"truncation interval ({low:g}, {high:g}) holds no mass of N({loc:g}, {scale:g}^2).")
    pa, pb = _phi(a), _phi(b)
    ta = a * pa if math.isfinite(a) else 0.0
    tb = b * pb if math.isfinite(b) else 0.0
    shift = (pa - pb) / z
    var = 1.0 + (ta - tb) / z - shift * shift
    return loc + scale * shift, scale * math.sqrt(max(var, 0.0))


@dataclass(frozen=True)
class LawSpec:
    """One exact law; build it with the constructors below so that mean and std are always consistent."""

    distribution: str
    mean: float | None = None
    std: float | None = None
    """The law's std (a Keras truncated law with ``outside``: the full truncation's, see
    ``keras_truncated_normal``)."""
    low: float | None = None
    high: float | None = None
    value: float | None = None
    gain: float | None = None
    sparsity: float | None = None
    loc: float | None = None
    """Truncated normal: the mean before truncation."""
    scale: float | None = None
    """Truncated normal: the sigma before truncation."""
    groups: int | None = None
    """``dirac_``'s groups (where the identity puts its ones); not a JSON key."""
    axis: int | None = None
    """Orthogonal: the tensor axis that makes one side of the matrix the library made orthonormal (``side``);
    the other axes, flattened in order, make the other side (``matrix_view``). Not a JSON key."""
    side: str | None = None
    """Orthogonal: ``"rows"`` or ``"columns"``, the side of the matrix that ``axis`` makes."""
    outside: float | None = None
    """Truncated normal: the mass left outside the cut (Keras's torch backend: ``KERAS_TORCH_OUTSIDE``), spread as
    the normal's own tails; None or 0 for a full truncation. Not a JSON key."""

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in LAW_KEYS}

    @property
    def symmetric(self) -> bool:
        """Symmetric about zero (the laws of the Kaiming family are)."""
        if self.distribution in ("normal", "sparse"):
            return self.mean == 0
        if self.distribution in ("uniform", "truncated_normal"):
            return self.low == -(self.high or 0.0) and (self.loc in (None, 0.0))
        return self.distribution == "orthogonal"


def normal(mean: float, std: float) -> LawSpec:
    return LawSpec("normal", mean=float(mean), std=float(std))


def uniform(low: float, high: float) -> LawSpec:
    if not high > low:
        raise ValueError(f"uniform bounds need low < high, not ({low:g}, {high:g}).")
    return LawSpec("uniform", mean=(low + high) / 2, std=(high - low) / _SQRT12, low=float(low), high=float(high))


def truncated_normal(loc: float, scale: float, low: float, high: float) -> LawSpec:
    mean, std = truncated_moments(loc, scale, low, high)
    return LawSpec("truncated_normal", mean=mean, std=std, low=float(low), high=float(high), loc=float(loc),
                   scale=float(scale))


#: P(|Z| >= 2) for a standard normal Z: the mass one draw of Keras's torch backend finds outside the cut.
_OUT_ONE = math.erfc(2.0 / _SQRT2)
#: Keras's torch backend (keras/src/backend/torch/random.py ``truncated_normal``) draws 4 normals per value and
#: keeps the first inside (-2, 2); when all 4 fall outside it keeps the first one anyway. The law is the mixture
#: (1 - q) TruncN(-2, 2) + q N | |z| >= 2 with q = P(|Z| >= 2)^4 = 4.29e-6. The numpy and jax backends truncate
#: fully (rejection, inverse CDF): their draws are the q = 0 limit, which passes the same tests.
KERAS_TORCH_OUTSIDE = _OUT_ONE**4


@functools.lru_cache(maxsize=16)
def mixture_even_moments(outside: float) -> tuple[float, float, float, float]:
    """E[z^2], E[z^4], E[z^6], E[z^8] of (1 - outside) TruncN(-2, 2) + outside (N given |z| >= 2), z standard.
    Cached: identify's candidates ask for Keras's mixture per tensor (a checkpoint's thousands).

    The truncated part by parts (m_k = (k-1) m_(k-2) - 2 c^(k-1) phi(c) / Z); the tail part is the normal's
    moments (1, 3, 15, 105) less the inside part, over the tail mass."""
    c, inside = 2.0, 1.0 - _OUT_ONE
    tail = 2 * _phi(c) / inside
    m, trunc = 1.0, []
    for k in (2, 4, 6, 8):
        m = (k - 1) * m - c ** (k - 1) * tail
        trunc.append(m)
    normal_moments = (1.0, 3.0, 15.0, 105.0)
    out = [(1 - outside) * t + outside * (full - inside * t) / _OUT_ONE
           for t, full in zip(trunc, normal_moments, strict=True)]
    return out[0], out[1], out[2], out[3]


def keras_truncated_normal(loc: float, scale: float, outside: float = KERAS_TORCH_OUTSIDE) -> LawSpec:
    """Keras's ``truncated_normal(mean=loc, stddev=scale)``: N(loc, scale^2) cut at loc +- 2 scale, with
    ``outside`` of the mass left in the normal's tails (the torch backend's sampler; ``KERAS_TORCH_OUTSIDE``).

    ``std`` stays the full truncation's, 0.8796 scale, the std Keras documents and the lookups print; the
    mixture's own is 1.4e-5 above it, and the statistics use that one (stats/laws.py ``law_from_spec``)."""
    spec = truncated_normal(loc, scale, loc - 2.0 * scale, loc + 2.0 * scale)
    return LawSpec("truncated_normal", mean=spec.mean, std=spec.std, low=spec.low, high=spec.high, loc=spec.loc,
                   scale=spec.scale, outside=float(outside))


def constant(value: float) -> LawSpec:
    return LawSpec("constant", mean=float(value), std=0.0, value=float(value))


def orthogonal(gain: float, rows: int, cols: int) -> LawSpec:
    """Rows (or columns, whichever are fewer) orthonormal times ``gain``: entries have mean 0, std
    gain/sqrt(max(rows, cols)). No matrix view: ``orthogonal_on`` says which axis the library set apart."""
    return LawSpec("orthogonal", mean=0.0, std=abs(gain) / math.sqrt(max(rows, cols)), gain=float(gain))


#: Which side of the matrix view the set-apart axis makes.
MATRIX_SIDES: tuple[str, ...] = ("rows", "columns")


def matrix_view(shape: tuple[int, ...], axis: int, side: str) -> tuple[int, int]:
    """(rows, cols) of the matrix an orthogonal init builds on ``shape``: axis ``axis`` makes the ``side``
    ("rows" or "columns"), the other axes flattened in order make the other side. torch's ``orthogonal_`` is
    (0, "rows"), Keras ``Orthogonal`` (-1, "columns"), JAX ``orthogonal(column_axis=k)`` (k, "columns")."""
    if side not in MATRIX_SIDES:
        raise ValueError(f"matrix side {side!r}: choose rows or columns.")
    if len(shape) < 2:
        n = math.prod(shape)
        return (1, n) if side == "rows" else (n, 1)
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of range for a {len(shape)}-D shape.")
    a = axis % len(shape)
    k, rest = shape[a], math.prod(s for i, s in enumerate(shape) if i != a)
    return (k, rest) if side == "rows" else (rest, k)


def orthogonal_on(gain: float, shape: tuple[int, ...], axis: int, side: str) -> LawSpec:
    """``orthogonal`` on the matrix view (``matrix_view``) a library builds on ``shape``: the law carries the
    view, so that the statistics test the matrix the library made orthonormal, not a reshape of their own."""
    rows, cols = matrix_view(shape, axis, side)
    law = orthogonal(gain, rows, cols)
    return LawSpec(law.distribution, mean=law.mean, std=law.std, gain=law.gain, axis=axis % len(shape), side=side)


def identity(gain: float) -> LawSpec:
    """``eye_``/``dirac_``/Keras ``Identity``: exact ones (times gain) where the identity puts them, zeros elsewhere.
    Mean and std depend on the shape: the runners fill them in from it."""
    return LawSpec("identity", gain=float(gain))


def sparse(sparsity: float, std: float) -> LawSpec:
    """``torch.nn.init.sparse_``: ceil(sparsity * rows) zeros per column, N(0, std^2) elsewhere."""
    return LawSpec("sparse", mean=0.0, std=float(std), sparsity=float(sparsity))
