"""``kaiming audit``: the init each weight of a model needs, read from the model's own graph, against what it got.

For every parameter: the layer that owns it, the nonlinearity that follows that layer in the ``torch.fx`` graph
(looking through norms, dropout, pooling, reshapes and residual additions), the init this implies
(``kaiming_*_`` with ``calculate_gain``'s gain; gain 1 before a head), what the weight actually got (``identify``,
through the ``Identifier`` the caller passes: runners never import each other), and a verdict. The rules are
in docs/audit.md; Keras models are read from each layer's ``activation`` and the layer after it
(``audit_keras``).

The audit is a package so that its two halves stay apart and the runners' independence contract still covers
both: ``graph.py`` reads which activation follows each layer (torch.fx, module order, Keras); this module
judges: the init an activation implies, the laws a parameter may have, the verdict on what it got, the run.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...io.memory import array_source
from ...io.target import model_kind
from ...theory.fans import Fans, compute_fans
from ...theory.gains import TORCH_DEFAULT_LAYER_SLOPE, gain
from .graph import _slope_text, combine, keras_following
from .keras_signal import keras_feeds, keras_role, measure_keras_signal
from .result import VERDICTS, AuditedWeight, AuditResult, ExpectedLaw, Got, GotLaw, Identifier
from .roles import depth_of, is_finding, reframe, role_of
from .signal import measure_signal
from .trace import feeds_text, layer_scaled, normalized_layers, read_torch, side_layers

__all__ = ["VERDICTS", "AuditResult", "AuditedWeight", "ExpectedLaw", "Got", "GotLaw", "Identifier", "decide",
           "implied", "run_audit"]

#: What each activation's weights are initialized for: (nonlinearity for calculate_gain, slope, note).
_RELU_LIKE = ("torch has no gain for {a} (calculate_gain raises); it is ReLU-like for large inputs, so kaiming "
              "recommends relu's sqrt(2), the usual choice")
IMPLIED: dict[str, tuple[str, float, str]] = {
    "relu": ("relu", 0.0, ""), "tanh": ("tanh", 0.0, ""), "sigmoid": ("sigmoid", 0.0, ""),
    "selu": ("linear", 0.0, "SELU networks want variance 1/fan_in (LeCun): torch's docs say to pass "
             "nonlinearity='linear', not 'selu'"),
    "none": ("linear", 0.0, ""), "softmax": ("linear", 0.0, "a head (logits/softmax) wants gain 1"),
    "hardtanh": ("tanh", 0.0, "torch has no gain for hardtanh; tanh's 5/3 is the usual choice"),
    "softsign": ("tanh", 0.0, "torch has no gain for softsign; tanh's 5/3 is the usual choice"),
    "hardsigmoid": ("sigmoid", 0.0, "torch has no gain for hardsigmoid; sigmoid's 1 is the usual choice"),
    "glu": ("linear", 0.0, "torch has no gain for glu; gain 1 is the usual choice"),
    **{a: ("relu", 0.0, _RELU_LIKE.format(a=a))
       for a in ("gelu", "silu", "relu6", "elu", "celu", "mish", "hardswish", "softplus")},
}


def implied(activation: str) -> tuple[str, float, str] | None:
    """(nonlinearity, slope, note) for an activation as reported, ``leaky_relu(0.2)`` included; None if unknown."""
    if activation.startswith("leaky_relu(") or activation.startswith("prelu("):
        a = float(activation[activation.index("(") + 1:-1])
        note = "PReLU starts at its init slope: the leaky-ReLU gain at that slope" if activation.startswith(
            "prelu") else ""
        return ("leaky_relu", a, note)
    return IMPLIED.get(activation)


# --------------------------------------------------------------------------- torch: expected laws per parameter

_DEFAULT_TYPES = ("Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
                  "Bilinear")
_NORM_TYPES = ("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm", "SyncBatchNorm")


def _owner(model: Any, pname: str) -> tuple[Any, str, str]:
    """(owning module, its path, the parameter's own name) for ``layer1.0.conv1.weight``."""
    path, _, leaf = pname.rpartition(".")
    module = model.get_submodule(path) if path else model
    return module, path, leaf


def _torch_family(module: Any) -> str:
    import torch

    if isinstance(module, torch.nn.MultiheadAttention):
        return "attention"
    if isinstance(module, (torch.nn.RNNBase, torch.nn.RNNCellBase)):
        return "rnn"
    if isinstance(module, (torch.nn.Embedding, torch.nn.EmbeddingBag)):
        return "embedding"
    cls = type(module).__name__
    if any(cls.startswith(t) for t in _NORM_TYPES):
        return "norm"
    if cls == "PReLU":
        return "prelu"
    if isinstance(module, (torch.nn.Linear, torch.nn.Bilinear, torch.nn.modules.conv._ConvNd)):
        return "weighted"
    return "custom"


def default_type(cls: str, module: Any) -> str | None:
    """The ``default('...')`` name of a module's own init, or None."""
    import torch

    if cls in _DEFAULT_TYPES:
        return cls
    if isinstance(module, torch.nn.Linear):
        return "Linear"
    if isinstance(module, torch.nn.modules.conv._ConvNd):
        base = type(module).__mro__
        for c in base:
            if c.__name__ in _DEFAULT_TYPES:
                return c.__name__
    return None


def kaiming_laws(shape: tuple[int, ...], nonlinearity: str, a: float, layout: str = "torch"
                 ) -> list[ExpectedLaw]:
    """The recommended laws: kaiming normal then uniform, fan_in then fan_out (both modes are He's)."""
    fans = compute_fans(shape, layout)
    g = gain(nonlinearity, a)
    slope = f"a={_slope_text(a)}, " if nonlinearity == "leaky_relu" else ""
    out = []
    for dist in ("normal", "uniform"):
        for mode in ("fan_in", "fan_out"):
            std = g / math.sqrt(fans.select(mode))
            call = f"kaiming_{dist}_({slope}mode={mode!r}, nonlinearity={nonlinearity!r})"
            out.append(ExpectedLaw(dist, std, call, mode=mode))
    return out


def torch_default_law(shape: tuple[int, ...], type_name: str) -> ExpectedLaw:
    """``kaiming_uniform_(a=sqrt(5))``: U(±1/sqrt(fan_in)), std 1/sqrt(3 fan_in)."""
    fan_in = compute_fans(shape, "torch").fan_in
    std = gain("leaky_relu", TORCH_DEFAULT_LAYER_SLOPE) / math.sqrt(fan_in)
    return ExpectedLaw("uniform", std, f"default({type_name!r})", mode="fan_in", role="default")


def constant_law(value: float, role: str = "recommended") -> ExpectedLaw:
    call = "zeros_" if value == 0 else "ones_" if value == 1 else f"constant_(val={value:g})"
    return ExpectedLaw("constant", 0.0, call, value=value, role=role)


@dataclass(frozen=True)
class Plan:
    """What a parameter should be: the expected laws (recommended first, then the framework default) and why."""

    laws: tuple[ExpectedLaw, ...]
    gain: float | None
    note: str = ""
    bias_fan_in: int | None = None
    weighted: bool = False
    """True when the recommendation depends on the activation (a Linear/Conv weight)."""


def _torch_plan(model: Any, pname: str, tensor: Any, activation: str) -> tuple[str, Plan]:
    module, path, leaf = _owner(model, pname)
    cls = type(module).__name__
    family = _torch_family(module)
    shape = tuple(int(d) for d in tensor.shape)
    parent_path, _, own = path.rpartition(".")
    parent = model.get_submodule(parent_path) if path and parent_path else model if path else None
    if own == "out_proj" and parent is not None and _torch_family(parent) == "attention":
        return cls, _attention_plan(parent, f"out_proj.{leaf}", shape)
    if family == "attention":
        return cls, _attention_plan(module, leaf, shape)
    if family == "rnn":
        hidden = int(module.hidden_size)
        rnn = {"LSTM": "LSTM", "LSTMCell": "LSTM", "GRU": "GRU", "GRUCell": "GRU"}.get(cls, "RNN")
        return cls, Plan((ExpectedLaw("uniform", 1 / math.sqrt(3 * hidden), f"default({rnn!r})"),), None,
                         f"recurrent weights keep torch's U(±1/sqrt(hidden={hidden})) unless the model says more")
    if family == "embedding":
        return cls, Plan((ExpectedLaw("normal", 1.0, "default('Embedding')"),), None,
                         "an embedding has no activation-implied init: torch's default N(0, 1) is expected")
    if family == "norm":
        return cls, Plan((constant_law(1.0 if leaf == "weight" else 0.0),), None)
    if family == "prelu":
        return cls, Plan((constant_law(0.25),), None)
    is_bias = leaf.endswith("bias") and len(shape) == 1
    dtype = default_type(cls, module)
    if is_bias:
        laws = [constant_law(0.0)]
        fan_in = None
        weight = getattr(module, "weight", None)
        if dtype is not None and weight is not None and weight.dim() >= 2:
            fan_in = compute_fans(tuple(int(d) for d in weight.shape), "torch").fan_in
            laws.append(ExpectedLaw("uniform", 1 / math.sqrt(3 * fan_in), f"default({dtype!r})", role="default"))
        return cls, Plan(tuple(laws), None, bias_fan_in=fan_in)
    if len(shape) < 2:
        return cls, Plan((), None, f"no rule for a {len(shape)}-D parameter of {cls}")
    if activation == "ambiguous":
        return cls, Plan((), None)
    imp = implied(activation)
    if imp is None:
        return cls, Plan((), None, f"no known init for activation {activation}")
    nl, a, note = imp
    laws = kaiming_laws(shape, nl, a)
    if dtype is not None:
        laws.append(torch_default_law(shape, dtype))
    if cls.startswith("ConvTranspose"):
        note = "; ".join(filter(None, [note, "fans as torch computes them for a (in, out, *k) weight"]))
    return cls, Plan(tuple(laws), gain(nl, a), note, weighted=True)


def _attention_plan(module: Any, leaf: str, shape: tuple[int, ...]) -> Plan:
    """nn.MultiheadAttention's own _reset_parameters: the init torch gives it is the one expected."""
    if leaf in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
        fans = compute_fans(shape, "torch")
        return Plan((ExpectedLaw("uniform", math.sqrt(2.0 / (fans.fan_in + fans.fan_out)), "xavier_uniform_"),),
                    None, "MultiheadAttention's own init (xavier_uniform_)")
    if leaf in ("bias_k", "bias_v"):
        fans = compute_fans(shape, "torch")
        return Plan((ExpectedLaw("normal", math.sqrt(2.0 / (fans.fan_in + fans.fan_out)), "xavier_normal_"),),
                    None, "MultiheadAttention's own init (xavier_normal_)")
    if leaf.endswith("bias"):
        return Plan((constant_law(0.0),), None, "MultiheadAttention's own init (zeros)")
    default = torch_default_law(shape, "Linear")
    return Plan((ExpectedLaw(default.distribution, default.std, default.call, mode=default.mode),), None,
                "MultiheadAttention's out_proj keeps nn.Linear's default")


# --------------------------------------------------------------------------- verdicts

def _call_of(law: GotLaw | None, layer_default: str | None, layout: str) -> str | None:
    """What identify found, as an init call in the rules grammar (None when nothing known explains it)."""
    if law is None:
        return None
    if law.family == "torch_default":
        return f"default({layer_default!r})" if layer_default else None
    if law.family == "lecun":
        return f"kaiming_{law.distribution}_(mode='fan_in', nonlinearity='linear')"
    if law.family == "keras_jax":
        name = law.label.split(" ")[0]
        if layout == "keras":
            return {"he_normal": "HeNormal", "lecun_normal": "LecunNormal", "glorot_normal": "GlorotNormal"}[name]
        sigma = law.std / 0.87962566103423978
        return f"trunc_normal_(std={sigma:.6g}, a={-2 * sigma:.6g}, b={2 * sigma:.6g})"
    if law.family in ("kaiming", "xavier", "fixed", "constant"):
        return law.label.replace("()", "") if law.family == "xavier" else law.label
    return None


def decide(plan: Plan, got: Got, layer_default: str | None, layout: str = "torch"
           ) -> tuple[str, str | None, float | None, str | None, str]:
    """(verdict, recommended call, std ratio, actual call, note) for one parameter.

    as recommended: a recommended law explains the data as well as identify's best does (and passes the test
    battery); framework default: the layer's own default does instead; different: neither, with the ratio of
    the empirical std to the recommended one (in the mode identify found, else fan_in)."""
    notes = [plan.note] if plan.note else []
    matched = [law for law, ok in zip(plan.laws, got.matches, strict=True) if ok]
    actual_call = matched[0].call if matched else _call_of(got.law, layer_default, layout)
    if not plan.laws:
        if got.reason:
            notes.append(got.reason)
        return "ambiguous", None, None, actual_call, "; ".join(notes)
    recommended = [law for law in plan.laws if law.role == "recommended"] or list(plan.laws)
    rec_matched = [law for law in matched if law.role == "recommended"]
    def_matched = [law for law in matched if law.role == "default"]
    if rec_matched:
        chosen = rec_matched[0]
        verdict = "as recommended"
        if def_matched:
            notes.append(f"only {got.n} values: cannot be told from the framework default")
    elif def_matched:
        mode = "fan_in"
        chosen = next((law for law in recommended if law.mode in (mode, None)), recommended[0])
        verdict = "framework default"
        notes.append(_default_meaning(def_matched[0], chosen, plan))
    else:
        mode = got.law.mode if got.law is not None and got.law.mode in ("fan_in", "fan_out") else "fan_in"
        chosen = next((law for law in recommended if law.mode in (mode, None)), recommended[0])
        verdict = "different"
        if got.label == "unknown":
            notes.append("no init kaiming knows explains these values")
    ratio = got.empirical_std / chosen.std if chosen.std > 0 and math.isfinite(got.empirical_std) else None
    if verdict == "different" and ratio is not None:
        notes.append(f"std {ratio:.3g}x the recommended")
    if verdict == "different" and chosen.distribution == "constant" and got.law is not None \
            and got.law.family == "constant" and got.law.value == 0 and chosen.value == 1:
        notes.append("zeros: the zero-init-residual trick (Goyal et al. 2017) if this norm ends a residual branch")
    return verdict, chosen.call, ratio, actual_call, "; ".join(notes)


def _default_meaning(default: ExpectedLaw, recommended: ExpectedLaw, plan: Plan) -> str:
    """``kaiming_uniform_(a=sqrt(5)): variance 1/(3 fan_in), 1/6 of He's 2/fan_in for relu``."""
    fraction = (default.std / recommended.std) ** 2 if recommended.std > 0 else math.nan
    if default.call.startswith("default(") and plan.weighted:
        return (f"PyTorch's default kaiming_uniform_(a=sqrt(5)) gives variance 1/(3 fan_in): "
                f"{_fraction_text(fraction)} of the recommended")
    if default.call == "GlorotUniform":
        return (f"Keras' default GlorotUniform gives variance 2/(fan_in + fan_out): {_fraction_text(fraction)} "
                "of the recommended")
    if plan.weighted:
        return f"the framework's default {default.call}"
    return f"the framework's default bias {default.call}: U(±1/sqrt(fan_in)); zeros_ is the usual choice"


def _fraction_text(x: float) -> str:
    for den in range(1, 13):
        num = round(x * den)
        if num and abs(num / den - x) < 1e-9:
            return f"{num}/{den}" if den > 1 else f"{num}x"
    return f"{x:.3g}"


# --------------------------------------------------------------------------- run

@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """One torch thread for the model's runs, unless the user chose (OMP_NUM_THREADS): a batch of 4 small
    inputs gains nothing from intra-op threads, and on a loaded machine their spinning costs ~10x (a ResNet-50
    forward and backward at 4x3x32x32: 7.0 s with 2 threads, 0.66 s with 1, at load 10 on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_audit(model: Any, identifier: Identifier, *, target: str = "<model>", input_shape: tuple[int, ...] | None
              = None, seed: int = 0, alpha: float = 1e-3, input_dtype: str | None = None, batch: int = 4,
              measure: bool = True) -> AuditResult:
    """Audit a built model: a ``torch.nn.Module`` (run once to read its graph, then a few batches forward and
    backward to measure its signal, unless ``measure`` is False) or a ``keras.Model``."""
    kind = model_kind(model)
    if kind == "keras":
        return audit_keras(model, identifier, target=target, seed=seed, alpha=alpha, batch=batch, measure=measure,
                           input_shape=input_shape)
    if kind != "torch":
        raise TypeError(f"{type(model).__name__} is not a torch.nn.Module or a keras.Model")
    with _one_torch_thread():
        reading = read_torch(model, input_shape, input_dtype, batch, seed)
        signal = (measure_signal(model, reading.inputs, seed=seed, side=side_layers(reading.feeds, reading.gates),
                                 normalized=normalized_layers(reading.feeds) | layer_scaled(model, reading.scales),
                                 settle=True)
                  if measure and reading.inputs is not None else None)
    forward_std = dict(signal.forward) if signal else {}
    grad_std = dict(signal.backward) if signal else {}
    rows = []
    depth = depth_of([n for n, _p in model.named_parameters()])
    for pname, param in model.named_parameters():
        activation, act_note = reading.activations.get(pname, ("none", ""))
        cls, plan = _torch_plan(model, pname, param, activation)
        module, path, leaf = _owner(model, pname)
        layer_default = default_type(cls, module)
        source = array_source(param.detach(), pname)
        got = identifier(source, plan.laws, bias_fan_in=plan.bias_fan_in, layout="torch", seed=seed, alpha=alpha)
        verdict, recommended, ratio, actual_call, note = decide(plan, got, layer_default)
        if act_note and act_note != "module order" or (reading.how == "module order" and plan.weighted):
            note = "; ".join(filter(None, [act_note, note]))
        measured = leaf == "weight" and param.dim() >= 2
        row = AuditedWeight(
            pname, cls, source.shape, activation, plan.gain, recommended, got.label, actual_call, ratio, verdict,
            note, _equivalents(plan, got, recommended), feeds_text(reading.feeds.get(pname, [])),
            forward_std.get(path) if measured else None, grad_std.get(pname),
            signal.gain_fix.get(path) if signal and measured else None)
        if reading.how == "forward pass":
            role = role_of(pname, param, cls, reading.feeds.get(pname, []), gate=pname in reading.gates)
            row = reframe(row, role, signal, got.empirical_std, depth)
            row = replace(row, exempt=row.verdict == "different" and not is_finding(row, signal))
        rows.append(row)
    notes = list(reading.notes)
    if reading.input_text:
        notes.append(f"graph read from a forward pass on {reading.input_text}")
    return AuditResult(target, "torch", reading.how != "module order", tuple(prefer_common(rows)), tuple(notes),
                       seed, signal, reading.how)


def _equivalents(plan: Plan, got: Got, chosen: str | None) -> tuple[str, ...]:
    """The other matched recommended calls that are the very same law as the chosen one."""
    by_call = {law.call: law for law in plan.laws}
    if chosen not in by_call:
        return ()
    first = by_call[chosen]
    return tuple(law.call for law, ok in zip(plan.laws, got.matches, strict=True) if ok and law.call != chosen
                 and law.role == first.role and law.distribution == first.distribution
                 and math.isclose(law.std, first.std, rel_tol=1e-12))


def prefer_common(rows: Sequence[AuditedWeight]) -> list[AuditedWeight]:
    """Where a row has equivalent calls (a square conv: fan_in = fan_out), name the one most rows use, so that
    rules collapse (every conv of a ResNet reads ``mode='fan_out'``, as its code says)."""
    from collections import Counter
    from dataclasses import replace

    popular = Counter(w.recommended for w in rows if w.verdict == "as recommended")
    out = []
    for w in rows:
        if w.equivalents and w.verdict == "as recommended":
            options = [c for c in (w.recommended, *w.equivalents) if c is not None]
            best = max(options, key=lambda c: popular[c])
            if best != w.recommended:
                w = replace(w, recommended=best, actual_call=best,
                            equivalents=tuple(c for c in options if c != best))
        out.append(w)
    return out


# --------------------------------------------------------------------------- Keras

_KERAS_RECURRENT = ("LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "ConvLSTM1D", "ConvLSTM2D",
                    "ConvLSTM3D", "Bidirectional", "RNN")
_KERAS_WEIGHTED = ("Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
                   "EinsumDense", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D")


def _keras_laws(shape: tuple[int, ...], nonlinearity: str, a: float, fans: Fans) -> list[ExpectedLaw]:
    """Keras spellings of the recommended law (HeNormal is truncated), fans as Keras computes them."""
    scale = gain(nonlinearity, a) ** 2
    named = {("relu", "truncated_normal"): "HeNormal", ("relu", "uniform"): "HeUniform",
             ("linear", "truncated_normal"): "LecunNormal", ("linear", "uniform"): "LecunUniform"}
    out = []
    for dist in ("truncated_normal", "uniform", "normal"):
        for mode in ("fan_in", "fan_out"):
            std = math.sqrt(scale / max(1.0, fans.select(mode)))
            name = named.get((nonlinearity if nonlinearity in ("relu", "linear") else "", dist))
            if name and mode == "fan_in":
                call = name
            else:
                kd = "untruncated_normal" if dist == "normal" else dist
                call = f"VarianceScaling(scale={scale:.10g}, mode={mode!r}, distribution={kd!r})"
            out.append(ExpectedLaw(dist, std, call, mode=mode))
    return out


def audit_keras(model: Any, identifier: Identifier, *, target: str = "<model>", seed: int = 0,
                alpha: float = 1e-3, batch: int = 4, measure: bool = True, input_shape: tuple[int, ...] | None = None
                ) -> AuditResult:
    """Each layer's ``activation`` (or the activation layer after it), Keras fans, Keras defaults; what each
    weight feeds in the Functional graph and, unless ``measure`` is False, the signal measured by running it
    (keras_signal.py: forward on every backend, backward on the torch backend)."""
    import keras  # already imported by whoever built the model

    layers = _keras_layers(model)
    feeds = {id(la): keras_feeds(la, model) for la in layers}
    normalized = frozenset(la.name for la in layers if keras_role(type(la).__name__, "kernel", feeds[id(la)])
                           == "scale-free")
    signal, how = measure_keras_signal(model, layers, batch=batch, seed=seed, normalized=normalized,
                                       input_shape=input_shape) if measure else (None, "")
    forward_std = dict(signal.forward) if signal else {}
    grad_std = dict(signal.backward) if signal else {}
    rows = []
    for layer in layers:
        cls = type(layer).__name__
        acts, _ = keras_following(layer, model)
        activation = combine(acts)
        for var in layer.trainable_weights:
            name = getattr(var, "path", None) or var.name
            value = keras.ops.convert_to_numpy(var)
            shape = tuple(int(d) for d in value.shape)
            leaf = name.rsplit("/", 1)[-1].split(":")[0]
            plan = _keras_plan(cls, leaf, shape, activation, _keras_fans(layer, shape))
            got = identifier(array_source(value, name), plan.laws, layout="keras", seed=seed, alpha=alpha)
            verdict, recommended, ratio, actual_call, note = decide(plan, got, None, "keras")
            kernel = leaf == "kernel" and len(shape) >= 2
            row = AuditedWeight(name, cls, shape, activation, plan.gain, recommended, got.label, actual_call,
                                ratio, verdict, note, _equivalents(plan, got, recommended),
                                feeds_text(feeds[id(layer)]), forward_std.get(layer.name) if kernel else None,
                                grad_std.get(name), signal.gain_fix.get(layer.name) if signal and kernel else None)
            row = reframe(row, keras_role(cls, leaf, feeds[id(layer)]), signal, got.empirical_std, 1)
            rows.append(replace(row, exempt=row.verdict == "different" and not is_finding(row, signal)))
    return AuditResult(target, "keras", True, tuple(prefer_common(rows)), (how,) if how else (), seed, signal,
                       "keras")


def _keras_layers(model: Any) -> list[Any]:
    out = []
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "layers") and type(layer).__name__ in ("Functional", "Sequential", "Model"):
            out += _keras_layers(layer)
        else:
            out.append(layer)
    return out


def _keras_fans(layer: Any, shape: tuple[int, ...]) -> Fans | None:
    """An EinsumDense kernel's fans from its equation's axes, as Keras >= 3.15 initializes it (io/kerasconfig.py
    ``einsum_axes``); None for any other layer (``compute_fans`` on the shape)."""
    import keras

    # imported here, for Keras models only: the torch audit does not pay for it (tomllib, the initializer tables)
    from ...io.kerasconfig import EINSUM_AXES_SINCE, einsum_axes, keras_release

    equation = getattr(layer, "equation", None)
    saved = keras_release(getattr(keras, "__version__", None))
    if type(layer).__name__ != "EinsumDense" or not isinstance(equation, str) or len(shape) < 2 \
            or (saved is not None and saved < EINSUM_AXES_SINCE):
        return None
    axes = einsum_axes(equation, len(shape))
    if axes is None:
        return None
    return Fans(math.prod(shape[i] for i in axes[0]), math.prod(shape[i] for i in axes[1]), 1)


def _keras_plan(cls: str, leaf: str, shape: tuple[int, ...], activation: str, own: Fans | None = None) -> Plan:
    if cls in _KERAS_RECURRENT:
        return Plan((), None, f"Keras {cls} layers are not audited (their gates, orthogonal recurrent kernel and "
                    "unit forget bias are their own)")
    if leaf in ("bias", "beta") or (leaf == "gamma"):
        return Plan((constant_law(1.0 if leaf == "gamma" else 0.0),), None)
    if cls == "Embedding":
        return Plan((ExpectedLaw("uniform", 0.05 / math.sqrt(3), "RandomUniform(minval=-0.05, maxval=0.05)"),),
                    None, "an embedding has no activation-implied init: Keras' default U(±0.05) is expected")
    if cls not in _KERAS_WEIGHTED or len(shape) < 2 or leaf != "kernel":
        return Plan((), None, f"no rule for {leaf} of {cls}")
    if activation == "ambiguous":
        return Plan((), None)
    imp = implied(activation)
    if imp is None:
        return Plan((), None, f"no known init for activation {activation}")
    nl, a, note = imp
    fans = own or compute_fans(shape, "keras")
    laws = _keras_laws(shape, nl, a, fans)
    laws.append(ExpectedLaw("uniform", math.sqrt(1.0 / max(1.0, (fans.fan_in + fans.fan_out) / 2)),
                            "GlorotUniform", role="default"))
    return Plan(tuple(laws), gain(nl, a), note, weighted=True)
