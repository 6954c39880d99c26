"""``kaiming explain``: the derivation and the known traps, in words, with the user's numbers.

Pure standard-library text generation; every number comes from ``spec``/``gains``/``fans``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .fans import compute_fans
from .gains import CALCULATE_GAIN_DEFAULT_SLOPE, GAINS, TORCH_DEFAULT_LAYER_SLOPE, gain
from .spec import TRUNC_STD_FACTOR, InitSpec


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    text: str


def _g(x: float) -> str:
    return f"{x:.6g}"


def _f(x: float | None) -> float:
    """A fan or gain of a mode/nonlinearity spec (always set there; init-call specs are explained apart)."""
    assert x is not None
    return x


def derivation(spec: InitSpec) -> Section:
    gs = GAINS[spec.nonlinearity or "linear"]
    slope = f" with a = {spec.negative_slope:g}" if gs.uses_slope else ""
    fan_words = {
        "fan_in": f"fan_in = {spec.fan_in}: keeps the variance of the activations constant in the forward pass",
        "fan_out": f"fan_out = {spec.fan_out}: keeps the variance of the gradients constant in the backward pass",
        "fan_avg": f"(fan_in + fan_out)/2 = {_g(_f(spec.fan))}: the Glorot/Xavier compromise between both passes",
    }[spec.mode or "fan_in"]
    lines = [
        f"Shape {','.join(map(str, spec.shape))} in the {spec.layout} layout has fan_in = {spec.fan_in} "
        f"and fan_out = {spec.fan_out} (receptive field {spec.receptive_field}).",
        f"mode={spec.mode!r} uses {fan_words}.",
        f"gain({spec.nonlinearity}{slope}) = {gs.formula} = {_g(_f(spec.gain))}.",
        f"std = gain / sqrt(fan) = {_g(_f(spec.gain))} / sqrt({_g(_f(spec.fan))}) = {_g(spec.std)}.",
    ]
    if spec.distribution == "uniform" and spec.bound is not None:
        lines.append(f"uniform: U(-b, b) with b = sqrt(3) * std = {_g(spec.bound)} (Var U(-b,b) = b^2/3).")
    elif spec.distribution == "truncated_normal" and spec.sigma_pre is not None:
        lines.append(
            f"truncated normal: draw N(0, sigma_pre^2) with sigma_pre = std / {TRUNC_STD_FACTOR} = "
            f"{_g(spec.sigma_pre)}, cut at ±2 sigma_pre = ±{_g(2 * spec.sigma_pre)}; the result has std {_g(spec.std)}."
        )
    else:
        lines.append(f"normal: N(0, {_g(spec.std)}^2).")
    lines.append(f"Equivalent call: {spec.call}")
    return Section("derivation", "How the numbers come about", "\n".join(lines))


def nonlinearity_trap(spec: InitSpec) -> Section:
    return Section(
        "nonlinearity_only_sets_gain",
        "nonlinearity only sets the gain",
        f"nonlinearity={spec.nonlinearity!r} is never applied to the weights and does not change the "
        f"distribution or the fan: it only picks the gain {_g(_f(spec.gain))}. Name the activation that "
        "FOLLOWS this layer. The negative slope a is used only by 'leaky_relu'; with any other "
        "nonlinearity it is silently ignored by torch.",
    )


def softmax_trap(spec: InitSpec) -> Section:
    fan = _f(spec.fan)
    return Section(
        "last_layer",
        "the last layer before a softmax",
        "A classifier head is followed by softmax (or nothing), not by a ReLU: the right gain there is "
        f"1 ('linear'), giving std {_g(1 / math.sqrt(fan))} for this fan instead of {_g(math.sqrt(2 / fan))} "
        "with 'relu'. Many models keep PyTorch's default init for the head instead.",
    )


def slope_trap(spec: InitSpec) -> Section:
    g0, g01 = gain("leaky_relu", 0.0), gain("leaky_relu", CALCULATE_GAIN_DEFAULT_SLOPE)
    fan = _f(spec.fan)
    return Section(
        "leaky_relu_default_slope",
        "leaky_relu's default slope differs between functions",
        f"kaiming_normal_/kaiming_uniform_ default to a = 0, so their default nonlinearity 'leaky_relu' "
        f"gives gain sqrt(2) = {_g(g0)} (the ReLU gain). calculate_gain('leaky_relu') with no param uses "
        f"a = {CALCULATE_GAIN_DEFAULT_SLOPE}: gain {g01!r}. For this fan the stds are {_g(g0 / math.sqrt(fan))} "
        f"and {_g(g01 / math.sqrt(fan))}, a relative difference of {_g(1 - g01 / g0)}: no test can tell them "
        "apart, but pass a = your LeakyReLU slope to be exact (nn.LeakyReLU's default is 0.01).",
    )


def selu_trap(spec: InitSpec) -> Section:
    fan = _f(spec.fan)
    return Section(
        "selu_gain",
        "selu: gain 3/4, but self-normalising nets want 'linear'",
        f"calculate_gain('selu') = 3/4 (found empirically, PyTorch PR #50664), std {_g(0.75 / math.sqrt(fan))} "
        f"here. Self-normalising networks (Klambauer et al.) need Var = 1/fan, i.e. nonlinearity='linear': "
        f"std {_g(1 / math.sqrt(fan))} (LeCun normal), as torch's own docstring advises.",
    )


def default_layer_trap(spec: InitSpec) -> Section:
    fans = compute_fans(spec.shape, "torch" if spec.layout == "torch-transpose" else spec.layout)
    fan_in = fans.fan_in
    g = gain("leaky_relu", TORCH_DEFAULT_LAYER_SLOPE)
    std = g / math.sqrt(fan_in)
    return Section(
        "torch_default_init",
        "nn.Linear / nn.Conv default: kaiming_uniform_(a=sqrt(5))",
        f"Without an explicit init, nn.Linear and nn.Conv*d call kaiming_uniform_(w, a=math.sqrt(5)). "
        f"gain = sqrt(2/(1+5)) = sqrt(1/3) = {_g(g)}, so std = {_g(std)} and bound = sqrt(3)*std = "
        f"1/sqrt(fan_in) = {_g(math.sqrt(3) * std)} for fan_in = {fan_in}: U(±1/sqrt(fan_in)), the old "
        "Lua-Torch rule. Its variance is 1/6 of He's ReLU init; it is not 'Kaiming init for ReLU'.",
    )


def transpose_trap(spec: InitSpec) -> Section:
    shape = spec.shape
    if spec.layout not in ("torch", "torch-transpose") or len(shape) < 3:
        text = (
            "nn.ConvTranspose*d stores its weight as (in, out/groups, *k), but torch computes fans as if it "
            "were (out, in, *k): what kaiming_*_ calls fan_in is (out/groups)·∏k. Use --layout torch to "
            "match what torch does, --layout torch-transpose for the fans with the axes read as meant."
        )
    else:
        t = compute_fans(shape, "torch")
        tt = compute_fans(shape, "torch-transpose")
        text = (
            f"If {','.join(map(str, shape))} is an nn.ConvTranspose*d weight, it is stored as "
            f"(in={shape[0]}, out/groups={shape[1]}, *k), yet torch's kaiming_*_ computes fans as for "
            f"(out, in, *k): its 'fan_in' is {t.fan_in} (= out/groups·∏k) and 'fan_out' is {t.fan_out}. "
            f"Read as meant (--layout torch-transpose) fan_in is {tt.fan_in} and fan_out {tt.fan_out}. "
            "To match what PyTorch really does on such a weight, check it with --layout torch."
        )
    return Section("transposed_conv_fans", "transposed-conv fans", text)


def grouped_trap(spec: InitSpec) -> Section:
    shape = spec.shape
    if spec.layout == "torch" and len(shape) >= 3:
        rf = spec.receptive_field
        text = (
            f"For a grouped conv (groups = g) the weight is (out, in/g, *k): fan_in = {shape[1]}·{rf} = "
            f"{spec.fan_in} is the true fan-in per output, but fan_out = {shape[0]}·{rf} = {spec.fan_out} is "
            "NOT divided by g (pytorch#23854): with depthwise convs (g = in) mode='fan_out' gives a std "
            "sqrt(g) times smaller than the true fan-out would."
        )
    else:
        text = ("For grouped convs torch's fan_out is out·∏k, not divided by groups (pytorch#23854); "
                "fan_in is (in/groups)·∏k, the true fan-in.")
    return Section("grouped_conv_fan_out", "grouped conv fan_out", text)


def truncation_trap(spec: InitSpec) -> Section:
    sp = spec.std / TRUNC_STD_FACTOR
    return Section(
        "keras_jax_truncation",
        "Keras/JAX he_normal is a TRUNCATED normal",
        f"keras.initializers.HeNormal and jax.nn.initializers.he_normal draw a normal cut at ±2 sigma_pre with "
        f"sigma_pre = std/{TRUNC_STD_FACTOR} = {_g(sp)}, so values stay within ±{_g(2 * sp)} and the std is "
        f"exactly {_g(spec.std)}. torch's kaiming_normal_ is untruncated; torch's trunc_normal_ takes sigma_pre "
        "and ABSOLUTE bounds a=-2, b=2 (so trunc_normal_(w, std=0.02) is effectively untruncated). "
        "Check such weights with --distribution truncated_normal.",
    )


def call_section(spec: InitSpec) -> Section:
    """What an init call does on this shape, in words: gain, fan, std and bound, defaults said aloud."""
    law = spec.exact_law
    lines = [f"{spec.init}", *spec.words]
    if spec.fan_in is not None or spec.fan_out is not None:
        lines.append(f"Shape {','.join(map(str, spec.shape))} read in the {spec.layout} layout: fan_in = "
                     f"{spec.fan_in}, fan_out = {spec.fan_out}.")
    facts = [f"{k} {_g(v)}" for k, v in (("mean", law.mean), ("std", law.std), ("low", law.low), ("high", law.high),
                                          ("gain", law.gain), ("sparsity", law.sparsity)) if v is not None]
    lines.append(f"Law: {law.distribution} ({', '.join(facts)}).")
    return Section("init_call", "What this init call does", "\n".join(lines))


def explain(spec: InitSpec) -> list[Section]:
    if spec.init is not None:
        sections = [call_section(spec)]
        if (spec.init.startswith("default(") or spec.negative_slope == TORCH_DEFAULT_LAYER_SLOPE) \
                and len(spec.shape) >= 2 and spec.layout in ("torch", "torch-transpose"):
            sections.append(default_layer_trap(spec))
        if spec.distribution == "truncated_normal":
            sections.append(truncation_trap(spec))
        return sections
    return [
        derivation(spec),
        nonlinearity_trap(spec),
        softmax_trap(spec),
        slope_trap(spec),
        selu_trap(spec),
        default_layer_trap(spec),
        transpose_trap(spec),
        grouped_trap(spec),
        truncation_trap(spec),
    ]
