"""Each library's table of initializers: PyTorch's ``torch.nn.init``, Keras 3's ``keras.initializers``, JAX's
``jax.nn.initializers`` and torch's module defaults (``default('Linear')``), each entry with its parameters in the
library's order, their defaults, and the exact ``LawSpec`` it draws from on a given shape.

It exists apart from the init-call parser (``theory/calls.py``), which reads what the user wrote and finds the
entry here: a new initializer is one line of a table and one law builder, and the grammar never changes for it.
The laws follow each library's sources (docs/init-semantics.md, "Init calls", cites the lines). Standard library
only: ``kaiming std --init`` stays a lookup.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .fans import format_shape
from .gains import canonical_nonlinearity, unknown_nonlinearity_message, validate_slope
from .gains import gain as torch_gain
from .law import (
    LawSpec,
    constant,
    identity,
    keras_truncated_normal,
    matrix_view,
    normal,
    orthogonal_on,
    sparse,
    truncated_normal,
    uniform,
)

#: Std of a standard normal truncated to (-2, 2), the literal of Keras and JAX.
TRUNC_STD_FACTOR = 0.87962566103423978

TORCH, KERAS, JAX, DEFAULT = "torch", "keras", "jax", "default"
LIBRARY_PREFIX = {TORCH: "torch.nn.init.", KERAS: "keras.initializers.", JAX: "jax.nn.initializers.", DEFAULT: ""}
IMPLIED_LAYOUT = {TORCH: "torch", KERAS: "keras", JAX: "jax", DEFAULT: "torch"}

_REQUIRED = object()
_IGNORED = object()
"""A parameter that does not change the law (seed, generator, dtype): its value is not read."""

Value = Any


class _Missing(ValueError):
    """A fan the law needs but the shape does not give (1-D tensors): say how to give it."""


@dataclass(frozen=True)
class Context:
    """What a law is computed from: the shape, the fans (computed or given) and the layout."""

    shape: tuple[int, ...]
    layout: str
    fan_in: float | None
    fan_out: float | None
    receptive_field: int | None
    missing: str = ""
    """Why the fans are None (shown when a law needs one)."""

    def fan(self, which: str) -> float:
        value = self.fan_in if which == "fan_in" else self.fan_out
        if value is None:
            raise _Missing(self.missing or f"{which} is unknown: give --fan-in and --fan-out.")
        if value <= 0:
            raise ValueError(f"{which} is {value:g}: a fan must be positive.")
        return value


@dataclass(frozen=True)
class Resolved:
    """One call on one shape: the law, and how it was reached."""

    law: LawSpec
    layout: str
    fan_in: float | None = None
    fan_out: float | None = None
    receptive_field: int | None = None
    mode: str | None = None
    fan: float | None = None
    gain: float | None = None
    nonlinearity: str | None = None
    negative_slope: float | None = None
    words: tuple[str, ...] = ()
    """What the call does, in sentences with this shape's numbers (``kaiming explain --init``)."""
    notes: tuple[str, ...] = ()


Builder = Callable[[dict[str, Value], Context], Resolved]


@dataclass(frozen=True)
class Signature:
    library: str
    name: str
    params: tuple[tuple[str, Any], ...]
    """(name, default) in the library's order; ``_REQUIRED`` or ``_IGNORED`` as the default where they apply."""
    build: Builder
    fans: str = "none"
    """Which fan rule the law uses: none, torch, keras, jax (the library's own)."""

    def text(self) -> str:
        return LIBRARY_PREFIX[self.library] + self.name


# --------------------------------------------------------------------------- laws, per library

def _num(x: float) -> str:
    return f"{x:.6g}"


def _res(ctx: Context, law: LawSpec, words: str, **kw: Any) -> Resolved:
    return Resolved(law=law, layout=ctx.layout, fan_in=ctx.fan_in, fan_out=ctx.fan_out,
                    receptive_field=ctx.receptive_field, words=(words,), **kw)


def _float(args: dict[str, Value], key: str) -> float:
    value = args[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"argument {key} = {value!r} is not a number: give a number such as 0.02.")
    if not math.isfinite(value):
        raise ValueError(f"argument {key} = {value!r} is not finite: give a finite number.")
    return float(value)


def _str(args: dict[str, Value], key: str, choices: tuple[str, ...]) -> str:
    value = args[key]
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"argument {key} = {value!r} is not one of {', '.join(map(repr, choices))}.")
    return value


def _positive(value: float, key: str) -> float:
    if not value > 0:
        raise ValueError(f"argument {key} = {value:g} must be positive.")
    return value


def _t_uniform(args: dict[str, Value], ctx: Context) -> Resolved:
    a, b = _float(args, "a"), _float(args, "b")
    return _res(ctx, uniform(a, b), f"uniform_ draws U({_num(a)}, {_num(b)}): fixed bounds, no fan, no gain.")


def _t_normal(args: dict[str, Value], ctx: Context) -> Resolved:
    mean, std = _float(args, "mean"), _positive(_float(args, "std"), "std")
    return _res(ctx, normal(mean, std), f"normal_ draws N({_num(mean)}, {_num(std)}²): a fixed std, no fan, no gain.")


def _t_trunc(args: dict[str, Value], ctx: Context) -> Resolved:
    mean, std = _float(args, "mean"), _positive(_float(args, "std"), "std")
    a, b = _float(args, "a"), _float(args, "b")
    if not b > a:
        raise ValueError(f"trunc_normal_ needs a < b, not a = {a:g}, b = {b:g}.")
    law = truncated_normal(mean, std, a, b)
    cut = min((mean - a) / std, (b - mean) / std)
    effect = (f"the cut is {cut:.3g} sigma from the mean, so the law is effectively untruncated (std "
              f"{_num(law.std or 0)})" if cut > 6 else f"the std after truncation is {_num(law.std or 0)}")
    return _res(ctx, law, f"trunc_normal_ draws N({_num(mean)}, {_num(std)}²) cut at the ABSOLUTE bounds "
                          f"a = {_num(a)}, b = {_num(b)} (not ±2 std): {effect}.")


def _t_constant(args: dict[str, Value], ctx: Context) -> Resolved:
    v = _float(args, "val")
    return _res(ctx, constant(v), f"every value equals {_num(v)}.")


def _const(value: float) -> Builder:
    def build(_args: dict[str, Value], ctx: Context) -> Resolved:
        return _res(ctx, constant(value), f"every value equals {_num(value)}.")
    return build


def _identity_law(gain: float, ones: int, numel: int) -> LawSpec:
    p = ones / numel
    return replace(identity(gain), mean=gain * p, std=abs(gain) * math.sqrt(p * (1 - p)))


def _t_eye(_args: dict[str, Value], ctx: Context) -> Resolved:
    if len(ctx.shape) != 2:
        raise ValueError(f"eye_ fills 2-D tensors only, not shape {format_shape(ctx.shape)}.")
    ones = min(ctx.shape)
    return _res(ctx, _identity_law(1.0, ones, math.prod(ctx.shape)), f"eye_ writes the identity: {ones} ones on "
                "the diagonal, zeros elsewhere.")


def _t_dirac(args: dict[str, Value], ctx: Context) -> Resolved:
    groups = _int(args, "groups")
    shape = ctx.shape
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"dirac_ fills 3-, 4- or 5-D tensors only, not shape {format_shape(shape)}.")
    if groups < 1 or shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({shape[0]}) must be divisible by groups = {groups}.")
    ones = groups * min(shape[0] // groups, shape[1])
    law = replace(_identity_law(1.0, ones, math.prod(shape)), groups=groups)
    return _res(ctx, law, f"dirac_ writes a Dirac delta (identity convolution) per group: {ones} ones at the "
                "kernel centres, zeros elsewhere.")


def _int(args: dict[str, Value], key: str) -> int:
    value = args[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"argument {key} = {value!r} is not an integer.")
    return value


def _t_xavier(distribution: str) -> Builder:
    def build(args: dict[str, Value], ctx: Context) -> Resolved:
        g = _float(args, "gain")
        fan_in, fan_out = ctx.fan("fan_in"), ctx.fan("fan_out")
        std = g * math.sqrt(2.0 / float(fan_in + fan_out))  # torch/nn/init.py xavier_*: gain*sqrt(2/(in+out))
        fan = (fan_in + fan_out) / 2
        words = (f"xavier_{distribution}_: std = gain·sqrt(2/(fan_in + fan_out)) = {_num(g)}·sqrt(2/({_num(fan_in)} "
                 f"+ {_num(fan_out)})) = {_num(std)}")
        if distribution == "uniform":
            bound = math.sqrt(3.0) * std
            law, words = uniform(-bound, bound), words + f"; U(±sqrt(3)·std) = U(±{_num(bound)})."
        else:
            law, words = normal(0.0, std), words + "; untruncated normal."
        return _res(ctx, law, words, mode="fan_avg", fan=fan, gain=g)
    return build


def _t_kaiming(distribution: str) -> Builder:
    def build(args: dict[str, Value], ctx: Context) -> Resolved:
        a = _float(args, "a")
        mode = args["mode"].lower() if isinstance(args["mode"], str) else args["mode"]
        mode = _str({"mode": mode}, "mode", ("fan_in", "fan_out"))
        nl_raw = args["nonlinearity"]
        nl = canonical_nonlinearity(nl_raw) if isinstance(nl_raw, str) else None
        if nl is None:
            raise ValueError(unknown_nonlinearity_message(str(nl_raw)))
        validate_slope(a)
        g = torch_gain(nl, a)  # torch passes a as calculate_gain's param for every nonlinearity
        fan = ctx.fan(mode)
        std = g / math.sqrt(fan)
        slope = f", a = {_num(a)}" if nl == "leaky_relu" else ""
        words = [f"kaiming_{distribution}_: gain = calculate_gain({nl!r}{slope}) = {_num(g)}, {mode} = {_num(fan)}, "
                 f"std = gain/sqrt(fan) = {_num(std)}"]
        if distribution == "uniform":
            bound = math.sqrt(3.0) * std
            law = uniform(-bound, bound)
            words[0] += f", bound = sqrt(3)·std = {_num(bound)}."
        else:
            law = normal(0.0, std)
            words[0] += " (untruncated normal)."
        if nl == "leaky_relu" and a != 0:
            relu = math.sqrt(2.0 / fan)
            words.append(f"With a = {_num(a)} the variance is {_num((std / relu) ** 2)} of He's ReLU init "
                         f"(2/fan_in{'' if mode == 'fan_in' else ' with this fan'}).")
        elif nl == "leaky_relu":
            words.append("The default nonlinearity 'leaky_relu' with a = 0 is exactly the ReLU gain sqrt(2).")
        if a != 0 and nl != "leaky_relu":
            words.append(f"a = {_num(a)} is ignored: only leaky_relu uses it.")
        return Resolved(law=law, layout=ctx.layout, fan_in=ctx.fan_in, fan_out=ctx.fan_out,
                        receptive_field=ctx.receptive_field, mode=mode, fan=fan, gain=g, nonlinearity=nl,
                        negative_slope=a, words=tuple(words))
    return build


def _t_orthogonal(args: dict[str, Value], ctx: Context) -> Resolved:
    g = _float(args, "gain")
    if len(ctx.shape) < 2:
        raise ValueError("orthogonal_ needs at least 2 dimensions (torch refuses 1-D tensors).")
    rows, cols = matrix_view(ctx.shape, 0, "rows")
    law = orthogonal_on(g, ctx.shape, 0, "rows")
    return _res(ctx, law, f"orthogonal_ views the tensor as a {rows}×{cols} matrix (axis 0 = rows) whose "
                f"{'rows' if rows <= cols else 'columns'} are orthonormal, times gain {_num(g)}: entries have std "
                f"gain/sqrt(max(rows, cols)) = {_num(law.std or 0)}.")


def _t_sparse(args: dict[str, Value], ctx: Context) -> Resolved:
    s, std = _float(args, "sparsity"), _positive(_float(args, "std"), "std")
    if len(ctx.shape) != 2:
        raise ValueError(f"sparse_ fills 2-D tensors only, not shape {format_shape(ctx.shape)}.")
    if not 0 <= s <= 1:
        raise ValueError(f"sparse_: sparsity = {s:g} must be in [0, 1].")
    zeros = math.ceil(s * ctx.shape[0])
    return _res(ctx, sparse(s, std), f"sparse_ draws N(0, {_num(std)}²) and sets {zeros} of the {ctx.shape[0]} "
                "values of each column to zero (ceil(sparsity·rows)).")


def _vs(scale: float, mode: str, distribution: str, ctx: Context, library: str, name: str) -> Resolved:
    """Keras ``VarianceScaling.__call__`` / JAX ``variance_scaling``: variance = scale / fan."""
    if mode == "fan_geo_avg":
        fan = math.sqrt(ctx.fan("fan_in") * ctx.fan("fan_out"))
    elif mode == "fan_avg":
        fan = (ctx.fan("fan_in") + ctx.fan("fan_out")) / 2.0
    else:
        fan = ctx.fan(mode)
    denominator = max(1.0, fan) if library == KERAS else fan  # keras: scale /= max(1.0, fan)
    variance = scale / denominator
    std = math.sqrt(variance)
    words = f"{name}: variance = scale/{mode} = {_num(scale)}/{_num(denominator)}, std = {_num(std)}"
    if distribution == "truncated_normal":
        pre = std / TRUNC_STD_FACTOR
        law = keras_truncated_normal(0.0, pre) if library == KERAS else truncated_normal(0.0, pre, -2 * pre, 2 * pre)
        words += (f"; a normal of sigma {_num(pre)} (std/0.8796) cut at ±2 sigma = ±{_num(2 * pre)}, so the std "
                  "after truncation is exactly that std." + (KERAS_BACKEND_WORDS if library == KERAS else ""))
    elif distribution in ("normal", "untruncated_normal"):
        law = normal(0.0, std)
        words += "; untruncated normal."
    else:
        limit = math.sqrt(3.0 * variance)
        law = uniform(-limit, limit)
        words += f"; U(±sqrt(3·variance)) = U(±{_num(limit)})."
    return Resolved(law=law, layout=ctx.layout, fan_in=ctx.fan_in, fan_out=ctx.fan_out,
                    receptive_field=ctx.receptive_field, mode=mode, fan=fan, gain=math.sqrt(scale), words=(words,))


#: Which sampler a Keras truncated law is (a .keras file does not say which backend drew it): docs/statistics.md.
KERAS_BACKEND_WORDS = (" Law used: the torch backend's sampler (4 draws, the first inside ±2 stddev kept, else the "
                       "first: 4.3e-6 of the values outside the cut); the jax and numpy backends' full truncation "
                       "passes the same law.")


def _k_vs(args: dict[str, Value], ctx: Context) -> Resolved:
    scale = _positive(_float(args, "scale"), "scale")
    mode = _str(args, "mode", ("fan_in", "fan_out", "fan_avg"))
    dist = args["distribution"].lower() if isinstance(args["distribution"], str) else args["distribution"]
    dist = "truncated_normal" if dist == "normal" else dist  # keras maps "normal" to the truncated law
    dist = _str({"distribution": dist}, "distribution", ("truncated_normal", "untruncated_normal", "uniform"))
    return _vs(scale, mode, dist, ctx, KERAS, "VarianceScaling")


def _vs_named(library: str, scale: float, mode: str, dist: str, name: str) -> Builder:
    """A Keras or JAX initializer that is VarianceScaling with fixed arguments (HeNormal, glorot_uniform, ...)."""
    def build(_args: dict[str, Value], ctx: Context) -> Resolved:
        return _vs(scale, mode, dist, ctx, library, name)
    return build


def _k_random_normal(args: dict[str, Value], ctx: Context) -> Resolved:
    mean, std = _float(args, "mean"), _positive(_float(args, "stddev"), "stddev")
    return _res(ctx, normal(mean, std), f"RandomNormal draws N({_num(mean)}, {_num(std)}²) (Keras default "
                "stddev 0.05).")


def _k_random_uniform(args: dict[str, Value], ctx: Context) -> Resolved:
    lo, hi = _float(args, "minval"), _float(args, "maxval")
    return _res(ctx, uniform(lo, hi), f"RandomUniform draws U({_num(lo)}, {_num(hi)}) (Keras default ±0.05).")


def _k_truncated(args: dict[str, Value], ctx: Context) -> Resolved:
    mean, std = _float(args, "mean"), _positive(_float(args, "stddev"), "stddev")
    law = keras_truncated_normal(mean, std)
    return _res(ctx, law, f"TruncatedNormal draws N({_num(mean)}, {_num(std)}²) cut at ±2 stddev around the mean; "
                f"no correction: the std after truncation is {_num(law.std or 0)} (0.8796·stddev)."
                + KERAS_BACKEND_WORDS)


def _k_orthogonal(args: dict[str, Value], ctx: Context) -> Resolved:
    g = _float(args, "gain")
    if len(ctx.shape) < 2:
        raise ValueError("Orthogonal needs at least 2 dimensions.")
    rows, cols = matrix_view(ctx.shape, -1, "columns")
    law = orthogonal_on(g, ctx.shape, -1, "columns")
    return _res(ctx, law, f"Orthogonal views the kernel as a {rows}×{cols} matrix (last axis = columns) with "
                f"orthonormal {'rows' if rows <= cols else 'columns'}, times gain {_num(g)}: entries have std "
                f"{_num(law.std or 0)}.")


def _k_identity(args: dict[str, Value], ctx: Context) -> Resolved:
    g = _float(args, "gain")
    if len(ctx.shape) != 2:
        raise ValueError(f"Identity fills 2-D kernels only, not shape {format_shape(ctx.shape)}.")
    return _res(ctx, _identity_law(g, min(ctx.shape), math.prod(ctx.shape)),
                f"Identity writes gain·I = {_num(g)} on the diagonal, zeros elsewhere.")


def _k_constant(args: dict[str, Value], ctx: Context) -> Resolved:
    v = _float(args, "value")
    return _res(ctx, constant(v), f"every value equals {_num(v)}.")


def _j_uniform(args: dict[str, Value], ctx: Context) -> Resolved:
    s = _float(args, "scale")
    lo, hi = (0.0, s) if s > 0 else (s, 0.0)
    return _res(ctx, uniform(lo, hi), f"uniform(scale) draws U[0, {_num(s)}): NOT symmetric about zero "
                "(JAX default scale 1e-2).")


def _j_normal(args: dict[str, Value], ctx: Context) -> Resolved:
    s = _positive(_float(args, "stddev"), "stddev")
    return _res(ctx, normal(0.0, s), f"normal(stddev) draws N(0, {_num(s)}²) (JAX default 1e-2).")


def _j_truncated(args: dict[str, Value], ctx: Context) -> Resolved:
    s = _positive(_float(args, "stddev"), "stddev")
    lo, hi = _float(args, "lower"), _float(args, "upper")
    if not hi > lo:
        raise ValueError(f"truncated_normal needs lower < upper, not {lo:g}, {hi:g}.")
    law = truncated_normal(0.0, s, lo * s, hi * s)
    return _res(ctx, law, f"truncated_normal draws a standard normal cut at ({_num(lo)}, {_num(hi)}) times stddev "
                f"{_num(s)}, with no correction: the std after truncation is {_num(law.std or 0)}.")


def _j_vs(args: dict[str, Value], ctx: Context) -> Resolved:
    scale = _positive(_float(args, "scale"), "scale")
    mode = _str(args, "mode", ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"))
    dist = _str(args, "distribution", ("truncated_normal", "normal", "uniform"))
    return _vs(scale, mode, dist, ctx, JAX, "variance_scaling")


def _j_orthogonal(args: dict[str, Value], ctx: Context) -> Resolved:
    g = _float(args, "scale")
    axis = _int(args, "column_axis")
    if len(ctx.shape) < 2:
        raise ValueError("orthogonal requires at least a 2-D shape.")
    if not -len(ctx.shape) <= axis < len(ctx.shape):
        raise ValueError(f"column_axis = {axis} is out of range for shape {format_shape(ctx.shape)}.")
    rows, cols = matrix_view(ctx.shape, axis, "columns")
    law = orthogonal_on(g, ctx.shape, axis, "columns")
    where = ("" if axis % len(ctx.shape) == len(ctx.shape) - 1 else
             f", then axis {axis % len(ctx.shape)} moved back in place (jnp.moveaxis)")
    return _res(ctx, law, f"orthogonal: a {rows}×{cols} matrix (the other axes in order = rows, column_axis "
                f"{axis} = columns{where}) with orthonormal {'rows' if rows <= cols else 'columns'}, times "
                f"{_num(g)}: entries have std {_num(law.std or 0)}.")


def _j_delta(_args: dict[str, Value], _ctx: Context) -> Resolved:
    raise ValueError("delta_orthogonal (zeros except an orthogonal centre tap) has no law in kaiming yet: "
                     "verify such a kernel's centre slice with orthogonal(), or skip it.")


def _j_constant(args: dict[str, Value], ctx: Context) -> Resolved:
    v = _float(args, "value")
    return _res(ctx, constant(v), f"every value equals {_num(v)}.")


# --------------------------------------------------------------------------- torch module defaults

_LINEAR_LIKE = ("Linear", "LazyLinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                "ConvTranspose3d", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
                "LazyConvTranspose2d", "LazyConvTranspose3d")
_RNN_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1, "LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}
MODULES: tuple[str, ...] = (*_LINEAR_LIKE, "Bilinear", "Embedding", *_RNN_GATES)


def _d_default(args: dict[str, Value], ctx: Context) -> Resolved:
    module = args["module"]
    if not isinstance(module, str) or module not in MODULES:
        raise ValueError(f"default({module!r}): unknown module; use one of {', '.join(MODULES)}.")
    if module in _LINEAR_LIKE:
        return _default_linear(module, ctx)
    if module == "Bilinear":
        return _default_bilinear(ctx)
    if module == "Embedding":
        return _res(ctx, normal(0.0, 1.0), "nn.Embedding's default is normal_(weight): N(0, 1) (a padding_idx row "
                                           "is then zeroed).")
    gates = _RNN_GATES[module]
    hidden = args.get("hidden_size")
    if hidden is None:
        if ctx.shape[0] % gates:
            raise ValueError(f"default({module!r}): dim 0 of shape {format_shape(ctx.shape)} is not a multiple of "
                             f"{gates} gates; give default({module!r}, hidden_size=H).")
        hidden = ctx.shape[0] // gates
    hidden = _int({"hidden_size": hidden}, "hidden_size")
    if hidden < 1:
        raise ValueError(f"default({module!r}): hidden_size must be positive, not {hidden}.")
    bound = 1.0 / math.sqrt(hidden)
    return _res(ctx, uniform(-bound, bound), f"nn.{module}'s default gives every weight and bias U(±1/sqrt(hidden)) "
                f"= U(±{_num(bound)}), hidden = {hidden}" + (f" = dim 0 / {gates} gates." if gates > 1 else "."))


def _default_linear(module: str, ctx: Context) -> Resolved:
    if len(ctx.shape) == 1:  # a bias: U(±1/sqrt(fan_in)) with the weight's fan_in
        if ctx.fan_in is None:
            raise _Missing(f"default({module!r}) on a 1-D tensor is the bias law U(±1/sqrt(fan_in)), with fan_in of "
                           "the layer's weight: give --fan-in (fan_in = ... in a rule).")
        fan_in = ctx.fan("fan_in")
        bound = 1 / math.sqrt(fan_in)
        return _res(ctx, uniform(-bound, bound), f"nn.{module}'s bias default: U(±1/sqrt(fan_in)) with the weight's "
                    f"fan_in = {_num(fan_in)}: U(±{_num(bound)}).", mode="fan_in", fan=fan_in)
    a = math.sqrt(5)
    fan = ctx.fan("fan_in")
    g = torch_gain("leaky_relu", a)
    std = g / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    words = (f"nn.{module}'s weight default is kaiming_uniform_(w, a=math.sqrt(5)): gain = sqrt(2/(1+5)) = "
             f"sqrt(1/3) = {_num(g)}, fan_in = {_num(fan)}, std = {_num(std)}, bound = sqrt(3)·std = 1/sqrt(fan_in) = "
             f"{_num(bound)}.", "Its variance 1/(3·fan_in) is 1/6 of He's ReLU init (2/fan_in): it is the old "
             "Lua-Torch U(±1/sqrt(fan_in)), not 'Kaiming init for ReLU'.")
    return Resolved(law=uniform(-bound, bound), layout=ctx.layout, fan_in=ctx.fan_in, fan_out=ctx.fan_out,
                    receptive_field=ctx.receptive_field, mode="fan_in", fan=fan, gain=g, nonlinearity="leaky_relu",
                    negative_slope=a, words=words)


def _default_bilinear(ctx: Context) -> Resolved:
    if len(ctx.shape) >= 2:
        in1 = float(ctx.shape[1])
    elif ctx.fan_in is not None:
        in1 = ctx.fan("fan_in")
    else:
        raise _Missing("default('Bilinear') on a 1-D tensor (the bias) needs in1_features: give --fan-in.")
    bound = 1 / math.sqrt(in1)
    return _res(ctx, uniform(-bound, bound), f"nn.Bilinear's default gives weight and bias U(±1/sqrt(in1_features)) "
                f"= U(±{_num(bound)}), in1_features = weight.size(1) = {_num(in1)} (not the torch fan_in).")


# --------------------------------------------------------------------------- the registry

def _sig(library: str, name: str, params: tuple[tuple[str, Any], ...], build: Builder, fans: str = "none"
         ) -> Signature:
    return Signature(library, name, params, build, fans)


_G = ("generator", _IGNORED)
_SEED = ("seed", _IGNORED)
_DTYPE = ("dtype", _IGNORED)
_KAXES = (_SEED, ("input_axes", None), ("output_axes", None))
_JAXES = (("in_axis", -2), ("out_axis", -1), ("batch_axis", ()), _DTYPE)

TORCH_SIGNATURES: dict[str, Signature] = {s.name: s for s in (
    _sig(TORCH, "uniform_", (("a", 0.0), ("b", 1.0), _G), _t_uniform),
    _sig(TORCH, "normal_", (("mean", 0.0), ("std", 1.0), _G), _t_normal),
    _sig(TORCH, "trunc_normal_", (("mean", 0.0), ("std", 1.0), ("a", -2.0), ("b", 2.0), _G), _t_trunc),
    _sig(TORCH, "constant_", (("val", _REQUIRED),), _t_constant),
    _sig(TORCH, "ones_", (), _const(1.0)),
    _sig(TORCH, "zeros_", (), _const(0.0)),
    _sig(TORCH, "eye_", (), _t_eye),
    _sig(TORCH, "dirac_", (("groups", 1),), _t_dirac),
    _sig(TORCH, "xavier_uniform_", (("gain", 1.0), _G), _t_xavier("uniform"), "torch"),
    _sig(TORCH, "xavier_normal_", (("gain", 1.0), _G), _t_xavier("normal"), "torch"),
    _sig(TORCH, "kaiming_uniform_", (("a", 0.0), ("mode", "fan_in"), ("nonlinearity", "leaky_relu"), _G),
         _t_kaiming("uniform"), "torch"),
    _sig(TORCH, "kaiming_normal_", (("a", 0.0), ("mode", "fan_in"), ("nonlinearity", "leaky_relu"), _G),
         _t_kaiming("normal"), "torch"),
    _sig(TORCH, "orthogonal_", (("gain", 1.0), _G), _t_orthogonal),
    _sig(TORCH, "sparse_", (("sparsity", _REQUIRED), ("std", 0.01), _G), _t_sparse),
)}

_VS_K = (("scale", 1.0), ("mode", "fan_in"), ("distribution", "truncated_normal"), *_KAXES)
KERAS_SIGNATURES: dict[str, Signature] = {s.name: s for s in (
    _sig(KERAS, "RandomNormal", (("mean", 0.0), ("stddev", 0.05), _SEED), _k_random_normal),
    _sig(KERAS, "RandomUniform", (("minval", -0.05), ("maxval", 0.05), _SEED), _k_random_uniform),
    _sig(KERAS, "TruncatedNormal", (("mean", 0.0), ("stddev", 0.05), _SEED), _k_truncated),
    _sig(KERAS, "VarianceScaling", _VS_K, _k_vs, "keras"),
    _sig(KERAS, "GlorotUniform", _KAXES, _vs_named(KERAS, 1.0, "fan_avg", "uniform", "GlorotUniform"), "keras"),
    _sig(KERAS, "GlorotNormal", _KAXES, _vs_named(KERAS, 1.0, "fan_avg", "truncated_normal", "GlorotNormal"), "keras"),
    _sig(KERAS, "LecunUniform", _KAXES, _vs_named(KERAS, 1.0, "fan_in", "uniform", "LecunUniform"), "keras"),
    _sig(KERAS, "LecunNormal", _KAXES, _vs_named(KERAS, 1.0, "fan_in", "truncated_normal", "LecunNormal"), "keras"),
    _sig(KERAS, "HeUniform", _KAXES, _vs_named(KERAS, 2.0, "fan_in", "uniform", "HeUniform"), "keras"),
    _sig(KERAS, "HeNormal", _KAXES, _vs_named(KERAS, 2.0, "fan_in", "truncated_normal", "HeNormal"), "keras"),
    _sig(KERAS, "Orthogonal", (("gain", 1.0), _SEED), _k_orthogonal),
    _sig(KERAS, "Identity", (("gain", 1.0),), _k_identity),
    _sig(KERAS, "Zeros", (), _const(0.0)),
    _sig(KERAS, "Ones", (), _const(1.0)),
    _sig(KERAS, "Constant", (("value", 0.0),), _k_constant),
)}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


#: keras.initializers' own lookup table (keras/src/initializers/__init__.py ALL_OBJECTS_DICT): class names, their
#: snake_case, and the aliases.
KERAS_NAMES: dict[str, str] = {
    **{n: n for n in KERAS_SIGNATURES}, **{_snake(n): n for n in KERAS_SIGNATURES},
    "IdentityInitializer": "Identity", "OrthogonalInitializer": "Orthogonal", "normal": "RandomNormal",
    "uniform": "RandomUniform", "one": "Ones", "zero": "Zeros",
}

JAX_SIGNATURES: dict[str, Signature] = {s.name: s for s in (
    _sig(JAX, "zeros", (), _const(0.0)),
    _sig(JAX, "ones", (), _const(1.0)),
    _sig(JAX, "constant", (("value", _REQUIRED), _DTYPE), _j_constant),
    _sig(JAX, "uniform", (("scale", 1e-2), _DTYPE), _j_uniform),
    _sig(JAX, "normal", (("stddev", 1e-2), _DTYPE), _j_normal),
    _sig(JAX, "truncated_normal", (("stddev", 1e-2), _DTYPE, ("lower", -2.0), ("upper", 2.0)), _j_truncated),
    _sig(JAX, "variance_scaling", (("scale", _REQUIRED), ("mode", _REQUIRED), ("distribution", _REQUIRED),
                                   *_JAXES), _j_vs, "jax"),
    _sig(JAX, "glorot_uniform", _JAXES, _vs_named(JAX, 1.0, "fan_avg", "uniform", "glorot_uniform"), "jax"),
    _sig(JAX, "glorot_normal", _JAXES, _vs_named(JAX, 1.0, "fan_avg", "truncated_normal", "glorot_normal"), "jax"),
    _sig(JAX, "lecun_uniform", _JAXES, _vs_named(JAX, 1.0, "fan_in", "uniform", "lecun_uniform"), "jax"),
    _sig(JAX, "lecun_normal", _JAXES, _vs_named(JAX, 1.0, "fan_in", "truncated_normal", "lecun_normal"), "jax"),
    _sig(JAX, "he_uniform", _JAXES, _vs_named(JAX, 2.0, "fan_in", "uniform", "he_uniform"), "jax"),
    _sig(JAX, "he_normal", _JAXES, _vs_named(JAX, 2.0, "fan_in", "truncated_normal", "he_normal"), "jax"),
    _sig(JAX, "orthogonal", (("scale", 1.0), ("column_axis", -1), _DTYPE), _j_orthogonal),
    _sig(JAX, "delta_orthogonal", (("scale", 1.0), ("column_axis", -1), _DTYPE), _j_delta),
)}
#: jax.nn.initializers aliases (xavier_* = glorot_*, kaiming_* = he_*) and flax's zeros_init()/ones_init().
JAX_NAMES: dict[str, str] = {**{n: n for n in JAX_SIGNATURES}, "xavier_uniform": "glorot_uniform",
                             "xavier_normal": "glorot_normal", "kaiming_uniform": "he_uniform",
                             "kaiming_normal": "he_normal", "zeros_init": "zeros", "ones_init": "ones"}

DEFAULT_SIGNATURE = _sig(DEFAULT, "default", (("module", _REQUIRED), ("hidden_size", None)), _d_default)


# --------------------------------------------------------------------------- listing

def all_initializers() -> list[str]:
    """Every accepted initializer, by its canonical name (docs and tests enumerate this)."""
    return ([s.text() for s in TORCH_SIGNATURES.values()] + [s.text() for s in KERAS_SIGNATURES.values()]
            + [s.text() for s in JAX_SIGNATURES.values()] + [f"default({m!r})" for m in MODULES])
