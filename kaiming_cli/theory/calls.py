"""Init calls as users write them: PyTorch, Keras 3 and JAX initializers, and torch's module defaults.

``parse_init_call("nn.init.trunc_normal_(m.weight, std=0.02)")`` reads the expression with ``ast`` (never
``eval``) into an ``InitCall``; ``InitCall.resolve(shape)`` gives the exact ``LawSpec`` that call draws from for a
tensor of that shape, with the fans it used. Each library's own argument order and defaults are followed, from
their sources (docs/init-semantics.md, "Init calls", cites the lines). Standard-library only: ``kaiming std
--init`` stays a lookup.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .fans import compute_fans, format_shape
from .gains import canonical_nonlinearity, unknown_nonlinearity_message, validate_slope
from .gains import gain as torch_gain
from .law import LawSpec, constant, identity, matrix_view, normal, orthogonal_on, sparse, truncated_normal, uniform

#: Longest init call accepted, in characters (real ones are under 100).
MAX_CALL_CHARS = 500
#: Most syntax-tree nodes in one call.
MAX_NODES = 200
#: Std of a standard normal truncated to (-2, 2), the literal of Keras and JAX.
TRUNC_STD_FACTOR = 0.87962566103423978

TORCH, KERAS, JAX, DEFAULT = "torch", "keras", "jax", "default"
LIBRARY_PREFIX = {TORCH: "torch.nn.init.", KERAS: "keras.initializers.", JAX: "jax.nn.initializers.", DEFAULT: ""}
IMPLIED_LAYOUT = {TORCH: "torch", KERAS: "keras", JAX: "jax", DEFAULT: "torch"}

_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("torch.nn.init.", (TORCH,)), ("nn.init.", (TORCH,)), ("init.", (TORCH,)),
    ("tf.keras.initializers.", (KERAS,)), ("keras.src.initializers.", (KERAS,)), ("keras.initializers.", (KERAS,)),
    ("jax.nn.initializers.", (JAX,)), ("flax.linen.initializers.", (JAX,)), ("flax.nnx.initializers.", (JAX,)),
    ("linen.initializers.", (JAX,)), ("nnx.initializers.", (JAX,)), ("nn.initializers.", (JAX,)),
    ("initializers.", (KERAS, JAX)),
)

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
        law = truncated_normal(0.0, pre, -2 * pre, 2 * pre)
        words += (f"; a normal of sigma {_num(pre)} (std/0.8796) cut at ±2 sigma = ±{_num(2 * pre)}, so the std "
                  "after truncation is exactly that std.")
    elif distribution in ("normal", "untruncated_normal"):
        law = normal(0.0, std)
        words += "; untruncated normal."
    else:
        limit = math.sqrt(3.0 * variance)
        law = uniform(-limit, limit)
        words += f"; U(±sqrt(3·variance)) = U(±{_num(limit)})."
    return Resolved(law=law, layout=ctx.layout, fan_in=ctx.fan_in, fan_out=ctx.fan_out,
                    receptive_field=ctx.receptive_field, mode=mode, fan=fan, gain=math.sqrt(scale), words=(words,))


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
    law = truncated_normal(mean, std, mean - 2 * std, mean + 2 * std)
    return _res(ctx, law, f"TruncatedNormal draws N({_num(mean)}, {_num(std)}²) cut at ±2 stddev around the mean; "
                f"no correction: the std after truncation is {_num(law.std or 0)} (0.8796·stddev).")


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


def _torch_name(name: str) -> str | None:
    """torch's name with the trailing underscore (the deprecated aliases without it mean the same law)."""
    base = name[:-1] if name.endswith("_") else name
    full = base + "_"
    return full if full in TORCH_SIGNATURES else None


def _candidates(libraries: tuple[str, ...], name: str) -> list[Signature]:
    found: list[Signature] = []
    for library in libraries:
        if library == TORCH:
            torch_name = _torch_name(name)
            if torch_name:
                found.append(TORCH_SIGNATURES[torch_name])
        elif library == KERAS and name in KERAS_NAMES:
            found.append(KERAS_SIGNATURES[KERAS_NAMES[name]])
        elif library == JAX and name in JAX_NAMES:
            found.append(JAX_SIGNATURES[JAX_NAMES[name]])
    return found


def _closest_name(libraries: tuple[str, ...], name: str) -> str | None:
    """The initializer name of these libraries closest to a misspelt one (``he_normall``), or None."""
    import difflib

    names: list[str] = []
    for library in libraries:
        names += list(TORCH_SIGNATURES) if library == TORCH else list(KERAS_NAMES) if library == KERAS \
            else list(JAX_NAMES)
    close = difflib.get_close_matches(name, list(dict.fromkeys(names)), n=1, cutoff=0.8)
    return close[0] if close else None


# --------------------------------------------------------------------------- the expression grammar

class _Reject(ValueError):
    pass


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _reject(node: ast.AST, what: str) -> _Reject:
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):
        text = type(node).__name__
    return _Reject(f"{what} {_shown(text)}")


_GAIN_FUNCS = {"calculate_gain", "torch.nn.init.calculate_gain", "nn.init.calculate_gain", "init.calculate_gain"}
_SQRT_FUNCS = {"sqrt", "math.sqrt", "np.sqrt", "numpy.sqrt"}
_CONSTS = {"math.pi": math.pi, "math.e": math.e, "pi": math.pi}
_FANS = ("fan_in", "fan_out")


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def evaluate(node: ast.AST, fans: dict[str, float] | None) -> Value:
    """The value of one argument: numbers (as float), strings, None, tuples/lists of those; arithmetic; sqrt;
    calculate_gain; the names fan_in/fan_out (``fans`` None: they are not known yet, raises ``_Missing``)."""
    try:
        return _eval(node, fans)
    except (OverflowError, ZeroDivisionError) as exc:
        raise ValueError(f"{_shown(ast.unparse(node))} cannot be computed ({exc}): give a finite number.") from None


def _eval(node: ast.AST, fans: dict[str, float] | None) -> Value:
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)):
            return _finite(float(v), node)
        raise _reject(node, "unsupported constant")
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval(e, fans) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _number(_eval(node.operand, fans), node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        return _finite(_binop(node, fans), node)
    name = dotted(node)
    if name is not None:
        if name in _FANS:
            if fans is None or name not in fans:
                raise _Missing(f"{name} is used in the call but the tensor's {name} is unknown: give a shape of 2 "
                               f"or more dimensions or --{name.replace('_', '-')}.")
            return float(fans[name])
        if name in _CONSTS:
            return _CONSTS[name]
        raise _reject(node, "unsupported name")
    if isinstance(node, ast.Call) and not any(isinstance(k.value, ast.Starred) for k in node.keywords):
        func = dotted(node.func)
        args = [_eval(a, fans) for a in node.args]
        kwargs = {k.arg: _eval(k.value, fans) for k in node.keywords if k.arg is not None}
        if func in _SQRT_FUNCS and len(args) == 1 and not kwargs:
            x = _number(args[0], node.args[0])
            if x < 0:
                raise _reject(node, "square root of a negative number:")
            return math.sqrt(x)
        if func in _GAIN_FUNCS:
            return _calculate_gain(node, args, kwargs)
    raise _reject(node, "unsupported expression")


def _finite(v: float, node: ast.AST) -> float:
    if not math.isfinite(v):
        raise _reject(node, "a number that is not finite:")
    return v


def _binop(node: ast.BinOp, fans: dict[str, float] | None) -> float:
    left = _number(_eval(node.left, fans), node.left)
    right = _number(_eval(node.right, fans), node.right)
    op = node.op
    if isinstance(op, ast.Add):
        return left + right
    if isinstance(op, ast.Sub):
        return left - right
    if isinstance(op, ast.Mult):
        return left * right
    if isinstance(op, ast.Div):
        return left / right
    if isinstance(op, ast.Pow):
        result = left ** right
        if isinstance(result, complex):
            raise _reject(node, "a complex power")
        return float(result)
    raise _reject(node, "unsupported operator in")


def _number(v: Value, node: ast.AST) -> float:
    if isinstance(v, bool) or not isinstance(v, float):
        raise _reject(node, "not a number:")
    return v


def _calculate_gain(node: ast.AST, args: list[Value], kwargs: dict[str, Value]) -> float:
    names = ("nonlinearity", "param")
    if len(args) > 2 or set(kwargs) - set(names):
        raise _reject(node, "calculate_gain takes (nonlinearity, param=None), not")
    bound = dict(zip(names, args, strict=False)) | kwargs
    nl = bound.get("nonlinearity")
    if not isinstance(nl, str):
        raise _reject(node, "calculate_gain needs a nonlinearity name, not")
    param = bound.get("param")
    if param is not None and not isinstance(param, float):
        raise _reject(node, "calculate_gain's param must be a number, not")
    return torch_gain(nl, param)  # None: leaky_relu's 0.01, as calculate_gain does


# --------------------------------------------------------------------------- the parsed call

@dataclass(frozen=True)
class InitCall:
    """A parsed init call: which initializer, with which arguments (still expressions where they use fans)."""

    signature: Signature
    given: tuple[tuple[str, ast.expr], ...]
    """The arguments the user gave, by parameter name, in the signature's order (ignored ones dropped)."""
    source: str = field(compare=False)

    @property
    def library(self) -> str:
        return self.signature.library

    @property
    def implied_layout(self) -> str:
        return IMPLIED_LAYOUT[self.library]

    @property
    def text(self) -> str:
        """The canonical call: the full library name and every given argument by keyword."""
        if self.library == DEFAULT:
            inner = ", ".join(_canonical_value(v) if k == "module" else f"{k}={_canonical_value(v)}"
                              for k, v in self.given)
            return f"default({inner})"
        inner = ", ".join(f"{k}={_canonical_value(v)}" for k, v in self.given)
        return f"{self.signature.text()}({inner})"

    @property
    def name(self) -> str:
        """The initializer's own name in its library (``kaiming_normal_``, ``HeNormal``, ``he_normal``)."""
        return self.signature.name

    def arguments(self, shape: tuple[int, ...], layout: str | None = None, fan_in: float | None = None,
                  fan_out: float | None = None) -> dict[str, Value]:
        """Every argument the library's initializer takes (``seed``/``generator``/``dtype`` left out), the user's
        values evaluated on this shape's fans and the library's defaults elsewhere, by the library's parameter
        names: what a backend passes to the real initializer. Axes and counts that are whole numbers are ints.
        ``ValueError`` with a user-facing message (a required argument missing, a fan unknown)."""
        _ctx, args = self._bound(shape, layout or self.implied_layout, fan_in, fan_out)
        return {k: _library_value(k, v) for k, v in args.items()}

    def uses_fans(self) -> bool:
        return any(isinstance(n, ast.Name) and n.id in _FANS for _k, v in self.given for n in ast.walk(v))

    def resolve(self, shape: tuple[int, ...], layout: str | None = None, fan_in: float | None = None,
                fan_out: float | None = None) -> Resolved:
        """The exact law of this call on a tensor of ``shape``; ``ValueError`` with a user-facing message."""
        layout = layout or self.implied_layout
        ctx, args = self._bound(shape, layout, fan_in, fan_out)
        if self.signature.fans != "none" and self.library != DEFAULT:
            ctx = self._context(shape, layout, fan_in, fan_out, args)
        return self.signature.build(args, ctx)

    def _bound(self, shape: tuple[int, ...], layout: str, fan_in: float | None, fan_out: float | None
               ) -> tuple[Context, dict[str, Value]]:
        """(context, every argument): the library's defaults, then the user's values evaluated on this shape's
        fans; ``ValueError`` when a required argument is missing."""
        ctx = self._context(shape, layout, fan_in, fan_out)
        fans = {k: v for k, v in (("fan_in", ctx.fan_in), ("fan_out", ctx.fan_out)) if v is not None}
        args: dict[str, Value] = {name: default for name, default in self.signature.params if default is not _IGNORED}
        for name, node in self.given:
            args[name] = evaluate(node, fans)
        missing = [k for k, v in args.items() if v is _REQUIRED]
        if missing:
            raise ValueError(f"{self.signature.text()} needs the argument {missing[0]!r}.")
        return ctx, args

    def _context(self, shape: tuple[int, ...], layout: str, fan_in: float | None, fan_out: float | None,
                 args: dict[str, Value] | None = None) -> Context:
        computed = _library_fans(self.signature, shape, layout, args or {})
        fi, fo, rf, why = computed
        return Context(shape=tuple(shape), layout=layout, fan_in=fan_in if fan_in is not None else fi,
                       fan_out=fan_out if fan_out is not None else fo,
                       receptive_field=None if fan_in is not None and fan_out is not None else rf, missing=why)


#: Parameters the libraries need as ints (axes, group counts); the grammar reads every number as a float.
INTEGER_PARAMS = frozenset({"groups", "in_axis", "out_axis", "batch_axis", "column_axis", "input_axes",
                            "output_axes", "hidden_size"})


def _library_value(name: str, value: Value) -> Value:
    if name not in INTEGER_PARAMS:
        return value
    if isinstance(value, tuple):
        return tuple(_library_value(name, v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _canonical_value(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, float):
        return repr(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, float):
        return repr(-node.operand.value)
    return ast.unparse(node)


def _axes(value: Value, shape: tuple[int, ...], key: str) -> tuple[int, ...]:
    items = value if isinstance(value, tuple) else (value,)
    out = []
    for item in items:
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or not -len(shape) <= item < len(shape):
            raise ValueError(f"{key} = {value!r} is not an axis (or axes) of shape {format_shape(shape)}.")
        out.append(item)
    return tuple(out)


def _library_fans(sig: Signature, shape: tuple[int, ...], layout: str, args: dict[str, Value]
                  ) -> tuple[float | None, float | None, int | None, str]:
    """(fan_in, fan_out, receptive field, why-missing) as the library computes them for this layout."""
    rule = sig.fans
    if rule == "none":  # a law without fans may still name fan_in/fan_out in its arguments: the library's rule
        rule = {TORCH: "torch", KERAS: "keras", JAX: "jax", DEFAULT: "torch"}[sig.library]
    if rule == "keras" and args.get("input_axes") is not None and args.get("output_axes") is not None:
        fi = math.prod(shape[a] for a in _axes(args["input_axes"], shape, "input_axes"))
        fo = math.prod(shape[a] for a in _axes(args["output_axes"], shape, "output_axes"))
        return float(fi), float(fo), None, ""
    if rule == "jax" and any(args.get(k, d) != d for k, d in (("in_axis", -2), ("out_axis", -1), ("batch_axis", ()))):
        ins = _axes(args["in_axis"], shape, "in_axis")
        outs = _axes(args["out_axis"], shape, "out_axis")
        batch = _axes(args["batch_axis"], shape, "batch_axis")
        in_size = math.prod(shape[a] for a in ins)
        out_size = math.prod(shape[a] for a in outs)
        rf = math.prod(shape) / in_size / out_size / math.prod(shape[a] for a in batch)  # jax _compute_fans
        return in_size * rf, out_size * rf, None, ""
    if rule == "torch" and layout in ("torch", "torch-transpose"):
        layout = "torch"  # torch computes fans the same way whatever the weight means
    elif layout not in ("torch", "torch-transpose"):
        layout = "keras" if rule == "keras" else "jax"
    if len(shape) < (1 if layout == "keras" else 2):
        return None, None, None, (f"the fans of the 1-D shape {format_shape(shape)} are unknown under the {layout} "
                                  "rule: give --fan-in and --fan-out (fan_in/fan_out in a rule).")
    fans = compute_fans(shape, layout)
    return float(fans.fan_in), float(fans.fan_out), fans.receptive_field, ""


def _split_name(node: ast.AST) -> tuple[tuple[str, ...], str, str]:
    """(libraries to try, bare name, the prefix written) for a function reference."""
    name = dotted(node)
    if name is None:
        raise _reject(node, "unsupported initializer")
    for prefix, libraries in _PREFIXES:
        if name.startswith(prefix) and "." not in name[len(prefix):]:
            return libraries, name[len(prefix):], prefix
    if "." in name:
        raise _Reject(f"unknown prefix in {_shown(name)}: write torch.nn.init., nn.init., keras.initializers., "
                      "jax.nn.initializers. or nn.initializers. (or no prefix).")
    if name == "default":
        return (DEFAULT,), name, ""
    if name.endswith("_"):
        return (TORCH,), name, ""
    if name[:1].isupper():
        return (KERAS,), name, ""
    return (TORCH, JAX, KERAS), name, ""


def _is_tensor_arg(node: ast.expr) -> bool:
    """``m.weight``, ``w``, ``self.fc.weight.data``, ``layer.weight[0]``: what a user passes as the tensor."""
    if isinstance(node, ast.Subscript):
        return _is_tensor_arg(node.value)
    name = dotted(node)
    return name is not None and name not in _FANS and name not in _CONSTS


def _bind(sig: Signature, args: list[ast.expr], keywords: list[ast.keyword]) -> tuple[tuple[str, ast.expr], ...]:
    """The user's arguments by parameter name; ``_Reject`` naming the first that does not fit."""
    if sig.library == TORCH:
        if args and _is_tensor_arg(args[0]):
            args = args[1:]
        keywords = [k for k in keywords if k.arg != "tensor"]
    names = [n for n, _d in sig.params]
    shown_params = ", ".join(n for n, d in sig.params if d is not _IGNORED) or "no arguments"
    if len(args) > len(names):
        raise _reject(args[len(names)], f"{sig.text()} takes ({shown_params}); extra argument")
    bound: dict[str, ast.expr] = dict(zip(names, args, strict=False))
    for k in keywords:
        if k.arg is None:
            raise _Reject(f"**kwargs is not supported in {sig.text()}: write the arguments out.")
        if k.arg not in names:
            raise _Reject(f"{sig.text()} has no argument {k.arg!r}; it takes ({shown_params}).")
        if k.arg in bound:
            raise _Reject(f"{sig.text()} got {k.arg!r} twice.")
        bound[k.arg] = k.value
    ignored = {n for n, d in sig.params if d is _IGNORED}
    return tuple((n, bound[n]) for n in names if n in bound and n not in ignored)


def _check_args(given: tuple[tuple[str, ast.expr], ...]) -> None:
    """Every argument must be in the grammar now (fans may be unknown until a shape comes)."""
    for _name, node in given:
        if any(isinstance(n, ast.Name) and n.id in _FANS for n in ast.walk(node)):
            try:
                evaluate(node, {"fan_in": 1.0, "fan_out": 1.0})
            except _Reject:
                raise
            except ValueError:  # an error that depends on the fans (sqrt(fan_in - 2)) waits for the shape
                pass
        else:
            try:
                evaluate(node, None)
            except _Reject:
                raise
            except ValueError as exc:
                raise _Reject(str(exc).rstrip(".")) from None


def parse_init_call(text: str) -> InitCall:
    """Parse an init call; ``ValueError`` (one line, naming the unsupported token and the fix) otherwise."""
    if not isinstance(text, str):
        raise ValueError("an init call must be a string such as \"trunc_normal_(std=0.02)\", not "
                         f"{type(text).__name__}.")
    source = text.strip()
    if not source:
        raise ValueError("the init call is empty: write one such as \"kaiming_normal_(mode='fan_out', "
                         "nonlinearity='relu')\".")
    if len(source) > MAX_CALL_CHARS:
        raise ValueError(f"the init call has {len(source)} characters: at most {MAX_CALL_CHARS} are read.")
    try:
        return _parse(source)
    except _Reject as exc:
        reason = str(exc).rstrip(".")
        raise ValueError(f"init call {_shown(source)}: {reason}; see docs/cli.md \"Init calls\" for the grammar."
                         ) from None
    except _Missing as exc:
        raise ValueError(str(exc)) from None


def _parse(source: str) -> InitCall:
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) else "too deeply nested"
        raise _Reject(f"not a Python expression ({detail})") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise _Reject(f"more than {MAX_NODES} syntax nodes")
    node = tree.body
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a Keras string identifier
        name = KERAS_NAMES.get(node.value)
        if name is None:
            raise _Reject(f"unknown Keras initializer identifier {node.value!r}")
        return InitCall(KERAS_SIGNATURES[name], (), source)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Call):
            raise _reject(node, "call the initializer by its name and arguments only (drop the (key, shape) call):")
        libraries, name, prefix = _split_name(node.func)
        args, keywords = list(node.args), list(node.keywords)
        if any(isinstance(a, ast.Starred) for a in args):
            raise _Reject("*args is not supported: write the arguments out")
    else:
        libraries, name, prefix = _split_name(node)
        args, keywords = [], []
    if libraries == (DEFAULT,):
        given = _bind(DEFAULT_SIGNATURE, args, keywords)
        _check_args(given)
        return InitCall(DEFAULT_SIGNATURE, given, source)
    candidates = _candidates(libraries, name)
    if not candidates:
        where = " or ".join(LIBRARY_PREFIX[lib].rstrip(".") for lib in libraries)
        close = _closest_name(libraries, name)
        hint = f"; did you mean {prefix + close!r}?" if close else ""
        raise _Reject(f"unknown initializer {prefix + name!r} (not in {where}{hint})")
    first_error: _Reject | None = None
    for sig in candidates:
        try:
            given = _bind(sig, args, keywords)
        except _Reject as exc:
            first_error = first_error or exc
            continue
        _check_args(given)
        return InitCall(sig, given, source)
    assert first_error is not None
    raise first_error


# --------------------------------------------------------------------------- listing

def all_initializers() -> list[str]:
    """Every accepted initializer, by its canonical name (docs and tests enumerate this)."""
    return ([s.text() for s in TORCH_SIGNATURES.values()] + [s.text() for s in KERAS_SIGNATURES.values()]
            + [s.text() for s in JAX_SIGNATURES.values()] + [f"default({m!r})" for m in MODULES])
