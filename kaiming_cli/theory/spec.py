"""The theoretical law of an initialization: fans, gain, std, bound, and the equivalent call.

``std = gain / sqrt(fan)``; the uniform bound is ``sqrt(3) * std``; the truncated normal draws
``N(0, sigma_pre^2)`` cut at ``+-2 sigma_pre`` with ``sigma_pre = std / TRUNC_STD_FACTOR`` so that
its std is exactly ``std`` (Keras/TF/JAX ``VarianceScaling``). Standard-library only.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, TypedDict

from .fans import LAYOUTS, MODES, Fans, compute_fans, format_shape
from .gains import GAINS, canonical_nonlinearity, unknown_nonlinearity_message, validate_slope, variance_scale
from .gains import gain as gain_of
from .law import LawSpec, keras_truncated_normal
from .law import normal as normal_law
from .law import truncated_normal as truncated_law
from .law import uniform as uniform_law

Distribution = Literal["normal", "uniform", "truncated_normal"]
DISTRIBUTIONS: tuple[str, ...] = ("normal", "uniform", "truncated_normal")

#: Std of a standard normal truncated to (-2, 2): keras/jax literal 0.87962566103423978.
TRUNC_STD_FACTOR = 0.87962566103423978
#: Truncation point of Keras/TF/JAX truncated normals, in units of sigma_pre.
TRUNC_CUT = 2.0
SQRT3 = math.sqrt(3.0)


@dataclass(frozen=True)
class InitSpec:
    """Everything the theory says about one weight tensor's initial law."""

    shape: tuple[int, ...]
    layout: str
    mode: str | None
    """None where the law uses no fan (an init call such as ``normal_(std=0.02)``), as the keys below."""
    nonlinearity: str | None
    negative_slope: float | None
    distribution: str
    fan_in: int | None
    fan_out: int | None
    fan: float | None
    """The denominator ``mode`` selects (``fan_avg``: the mean of both fans)."""
    receptive_field: int | None
    gain: float | None
    std: float
    bound: float | None
    """Uniform bound, or the truncation point ``2*sigma_pre`` for truncated_normal."""
    sigma_pre: float | None
    """Pre-truncation sigma of the truncated normal; ``None`` otherwise."""
    call: str
    """The framework call that produces this law."""
    notes: tuple[str, ...] = field(default=())
    law: LawSpec | None = None
    """The exact law (theory/law.py); ``make_spec`` and ``make_init_spec`` always set it."""
    init: str | None = None
    """The canonical init call this spec was made from (``--init``), or None for the mode/nonlinearity options."""
    words: tuple[str, ...] = field(default=(), compare=False)
    """What the init call does, in sentences (``kaiming explain --init``)."""

    @property
    def exact_law(self) -> LawSpec:
        assert self.law is not None, "InitSpec built without its law"
        return self.law

    def to_dict(self) -> dict[str, Any]:
        """The spec as the JSON reports write it: a fresh top-level dict each call (its lists and the law's dict
        are shared, read-only), made once per spec. The tensors of a checkpoint share a few specs, and
        ``asdict``'s deep copy was a third of verify's report on 9000 small tensors."""
        return dict(_spec_dict(self))


@functools.lru_cache(maxsize=1024)
def _spec_dict(spec: InitSpec) -> dict[str, Any]:
    d = asdict(spec)
    d["shape"] = list(spec.shape)
    d["notes"] = list(spec.notes)
    d["law"] = spec.law.to_dict() if spec.law is not None else None
    del d["words"]
    return d


def _num(x: float) -> str:
    """Shortest exact decimal for a float, as Python prints it."""
    return repr(float(x)) if not float(x).is_integer() else f"{float(x):.1f}"


def _swap_mode(mode: str) -> str:
    return {"fan_in": "fan_out", "fan_out": "fan_in"}.get(mode, mode)


@dataclass(frozen=True)
class CalculateGain:
    """``torch.nn.init.calculate_gain(nonlinearity[, param])`` as an argument of another call."""

    nonlinearity: str
    param: float | None = None

    def text(self) -> str:
        extra = f", {_num(self.param)}" if self.param is not None else ""
        return f"torch.nn.init.calculate_gain({self.nonlinearity!r}{extra})"


@dataclass(frozen=True)
class TorchCall:
    """A ``torch.nn.init`` call on a tensor ``w``: the one description that both the text shown to the
    user and the torch backend's real call are made from."""

    function: str
    kwargs: tuple[tuple[str, float | str | CalculateGain], ...]

    def text(self) -> str:
        def arg(value: float | str | CalculateGain) -> str:
            if isinstance(value, CalculateGain):
                return value.text()
            return repr(value) if isinstance(value, str) else _num(value)

        return f"torch.nn.init.{self.function}(w, " + ", ".join(f"{k}={arg(v)}" for k, v in self.kwargs) + ")"


def torch_init_call(mode: str, nonlinearity: str, a: float, distribution: str, std: float,
                    transposed: bool) -> TorchCall:
    """The ``torch.nn.init`` call giving this law on a tensor of the torch (or transposed) layout."""
    if distribution == "truncated_normal":
        sp = std / TRUNC_STD_FACTOR
        return TorchCall("trunc_normal_", (("mean", 0.0), ("std", sp), ("a", -TRUNC_CUT * sp), ("b", TRUNC_CUT * sp)))
    if mode == "fan_avg":
        fn = "xavier_normal_" if distribution == "normal" else "xavier_uniform_"
        return TorchCall(fn, (("gain", CalculateGain(nonlinearity, a if nonlinearity == "leaky_relu" else None)),))
    fn = "kaiming_normal_" if distribution == "normal" else "kaiming_uniform_"
    slope: tuple[tuple[str, float], ...] = (("a", a),) if a != 0 else ()
    return TorchCall(fn, (*slope, ("mode", _swap_mode(mode) if transposed else mode), ("nonlinearity", nonlinearity)))


def torch_call(mode: str, nonlinearity: str, a: float, distribution: str, std: float, transposed: bool) -> str:
    return torch_init_call(mode, nonlinearity, a, distribution, std, transposed).text()


_KERAS_NAMED = {
    (2.0, "fan_in", "truncated_normal"): "HeNormal",
    (2.0, "fan_in", "uniform"): "HeUniform",
    (1.0, "fan_in", "truncated_normal"): "LecunNormal",
    (1.0, "fan_in", "uniform"): "LecunUniform",
    (1.0, "fan_avg", "truncated_normal"): "GlorotNormal",
    (1.0, "fan_avg", "uniform"): "GlorotUniform",
}


def keras_call(scale: float, mode: str, distribution: str) -> str:
    named = _KERAS_NAMED.get((scale, mode, distribution))
    if named:
        return f"keras.initializers.{named}()"
    # Keras maps "normal" to the truncated law: the untruncated one must be asked for by name.
    dist = "untruncated_normal" if distribution == "normal" else distribution
    return f"keras.initializers.VarianceScaling(scale={_num(scale)}, mode={mode!r}, distribution={dist!r})"


def jax_call(scale: float, mode: str, distribution: str) -> str:
    named = _KERAS_NAMED.get((scale, mode, distribution))
    if named:
        snake = {"HeNormal": "he_normal", "HeUniform": "he_uniform", "LecunNormal": "lecun_normal",
                 "LecunUniform": "lecun_uniform", "GlorotNormal": "glorot_normal",
                 "GlorotUniform": "glorot_uniform"}[named]
        return f"jax.nn.initializers.{snake}()"
    return f"jax.nn.initializers.variance_scaling({_num(scale)}, {mode!r}, {distribution!r})"


def _fans_with(shape: tuple[int, ...], layout: str, fan_in: int | None, fan_out: int | None) -> Fans:
    """The layout's fans of ``shape``, with ``--fan-in``/``--fan-out`` in their place where given (both given:
    any shape, 1-D too)."""
    if fan_in is not None and fan_out is not None:
        if not shape or any(d <= 0 for d in shape):
            compute_fans(shape, "keras")  # the shape's own message
        rf = compute_fans(shape, layout).receptive_field if len(shape) >= 2 else 1
        return Fans(fan_in=int(fan_in), fan_out=int(fan_out), receptive_field=rf)
    fans = compute_fans(shape, layout)
    return Fans(fan_in=fans.fan_in if fan_in is None else int(fan_in),
                fan_out=fans.fan_out if fan_out is None else int(fan_out), receptive_field=fans.receptive_field)


#: Which law a Keras truncated normal is tested against (a file does not say which backend drew it).
KERAS_LAW_NOTE = ("Keras truncated normal: tested against the torch backend's sampler (4.3e-6 of the values beyond "
                  "±2σ_pre), which the jax/numpy backends' full truncation also passes (docs/statistics.md §11.1a).")


def make_spec(
    shape: tuple[int, ...],
    *,
    layout: str = "torch",
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    negative_slope: float = 0.0,
    distribution: str = "normal",
    fan_in: int | None = None,
    fan_out: int | None = None,
) -> InitSpec:
    """Build the theoretical law; raises ``ValueError`` with a user-facing message."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not supported: use one of {', '.join(LAYOUTS)}.")
    mode = mode.lower() if isinstance(mode, str) else mode  # as torch's _calculate_correct_fan does
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not supported: use one of {', '.join(MODES)}.")
    canonical = canonical_nonlinearity(nonlinearity) if isinstance(nonlinearity, str) else None
    if canonical is None:
        raise ValueError(unknown_nonlinearity_message(str(nonlinearity)))
    nonlinearity = canonical
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"distribution {distribution!r} is not supported: use one of {', '.join(DISTRIBUTIONS)}."
        )
    validate_slope(negative_slope)
    fans = _fans_with(shape, layout, fan_in, fan_out)
    fan = fans.select(mode)
    g = gain_of(nonlinearity, negative_slope)
    std = g / math.sqrt(fan)
    notes: list[str] = []
    if negative_slope != 0 and not GAINS[nonlinearity].uses_slope:
        notes.append(
            f"--negative-slope {negative_slope:g} is ignored: only leaky_relu uses it "
            f"({nonlinearity} has gain {GAINS[nonlinearity].formula})."
        )
    sigma_pre: float | None = None
    bound: float | None = None
    law: LawSpec = normal_law(0.0, std)
    if distribution == "uniform":
        bound = SQRT3 * std
        law = uniform_law(-bound, bound)
    elif distribution == "truncated_normal":
        sigma_pre = std / TRUNC_STD_FACTOR
        bound = TRUNC_CUT * sigma_pre
        law = truncated_law(0.0, sigma_pre, -bound, bound)
        if layout == "keras":  # Keras's own sampler: its torch backend leaves 4.3e-6 outside the cut
            law = keras_truncated_normal(0.0, sigma_pre)
            notes.append(KERAS_LAW_NOTE)
    scale = variance_scale(nonlinearity, negative_slope)
    if layout == "keras":
        call = keras_call(scale, mode, distribution)
    elif layout == "jax":
        call = jax_call(scale, mode, distribution)
    else:
        call = torch_call(mode, nonlinearity, negative_slope, distribution, std, layout == "torch-transpose")
    return InitSpec(
        shape=tuple(shape),
        layout=layout,
        mode=mode,
        nonlinearity=nonlinearity,
        negative_slope=float(negative_slope),
        distribution=distribution,
        fan_in=fans.fan_in,
        fan_out=fans.fan_out,
        fan=fan,
        receptive_field=fans.receptive_field,
        gain=g,
        std=std,
        bound=bound,
        sigma_pre=sigma_pre,
        call=call,
        notes=tuple(notes),
        law=law,
    )


def _whole(x: float | None) -> int | None:
    """A fan as an int where it is one (JAX computes fans as floats)."""
    if x is None:
        return None
    return int(x) if float(x).is_integer() else None


def law_bound(law: LawSpec) -> float | None:
    """The largest |value| the law allows (uniform bound, truncation point), or None if unbounded."""
    if law.low is None or law.high is None:
        return None
    return max(abs(law.low), abs(law.high))


def make_init_spec(shape: tuple[int, ...], init: str, *, layout: str | None = None, fan_in: float | None = None,
                   fan_out: float | None = None) -> InitSpec:
    """The spec of an init call (theory/calls.py) on ``shape``; ``ValueError`` with a user-facing message."""
    from .calls import parse_init_call

    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not supported: use one of {', '.join(LAYOUTS)}.")
    if not shape:
        raise ValueError("a shape needs at least one dimension.")
    if any(d <= 0 for d in shape):
        raise ValueError(f"shape {format_shape(shape)} has a zero or negative dimension: every dimension must be "
                         "a positive integer.")
    call = parse_init_call(init)
    r = call.resolve(tuple(shape), layout, fan_in, fan_out)
    law = r.law
    std = law.std if law.std is not None else 0.0
    notes = list(r.notes)
    if layout is None and r.layout != "torch":
        notes.append(f"{call.signature.text()} implies --layout {r.layout} (its fans are read from (*k, in, out)); "
                     "give --layout to read the axes otherwise.")
    return InitSpec(
        shape=tuple(shape), layout=r.layout, mode=r.mode, nonlinearity=r.nonlinearity,
        negative_slope=r.negative_slope, distribution=law.distribution, fan_in=_whole(r.fan_in),
        fan_out=_whole(r.fan_out), fan=r.fan, receptive_field=r.receptive_field, gain=r.gain, std=std,
        bound=law_bound(law), sigma_pre=law.scale, call=call.text, notes=tuple(notes), law=law, init=call.text,
        words=r.words,
    )


class SpecOverrides(TypedDict, total=False):
    """Some of the spec options: what a rule (or an explicit flag) sets over the run's options."""

    layout: str
    mode: str
    nonlinearity: str
    negative_slope: float
    distribution: str
    init: str | None
    fan_in: int | None
    fan_out: int | None


#: The options an init call replaces (it says the mode, gain and distribution itself).
CALL_REPLACES: tuple[str, ...] = ("mode", "nonlinearity", "negative_slope", "distribution")


@dataclass(frozen=True)
class SpecOptions:
    """The options that, with a shape, make a spec: every command's spec flags and a rule's keys.

    ``layout`` None means "not given": the torch layout, or the one an init call implies (Keras, JAX)."""

    layout: str | None = None
    mode: str = "fan_in"
    nonlinearity: str = "leaky_relu"
    negative_slope: float = 0.0
    distribution: str = "normal"
    init: str | None = None
    fan_in: int | None = None
    fan_out: int | None = None

    def overridden(self, overrides: SpecOverrides) -> SpecOptions:
        """These options with a rule's: a rule that names a mode, gain or distribution but no init does not
        inherit an init from the command line (and one that names an init uses it)."""
        merged = replace(self, **overrides)
        if "init" not in overrides and any(k in overrides for k in CALL_REPLACES):
            merged = replace(merged, init=None)
        return merged

    def spec(self, shape: tuple[int, ...]) -> InitSpec:
        """The spec for a tensor of ``shape``; ``ValueError`` with a user-facing message if it has none. Made once
        per options and shape (a frozen ``InitSpec``): a checkpoint's thousands of tensors share a few shapes."""
        shape = tuple(shape)
        # the values' types in the key too: 0 == 0.0 as a slope and np.int64(3) == 3 as a side, but their texts
        # in the spec's words differ
        return _spec_of(self, shape, tuple(type(getattr(self, f.name)) for f in fields(self)),
                        tuple(type(side) for side in shape))

    def _spec(self, shape: tuple[int, ...]) -> InitSpec:
        if self.init is not None:
            return make_init_spec(shape, self.init, layout=self.layout, fan_in=self.fan_in, fan_out=self.fan_out)
        return make_spec(shape, layout=self.layout or "torch", mode=self.mode, nonlinearity=self.nonlinearity,
                         negative_slope=self.negative_slope, distribution=self.distribution, fan_in=self.fan_in,
                         fan_out=self.fan_out)


@functools.lru_cache(maxsize=512)
def _spec_of(options: SpecOptions, shape: tuple[int, ...], _option_types: tuple[type, ...],
             _shape_types: tuple[type, ...]) -> InitSpec:
    return options._spec(shape)


#: The spec option names, in the order the CLI and rules list them.
SPEC_KEYS: tuple[str, ...] = tuple(f.name for f in fields(SpecOptions))
