"""Read a torch model's graph by running it: what each weight's output really feeds.

One forward pass on a sample input (``sample_input``) under a ``TorchFunctionMode`` and module hooks. Every
tensor the pass makes is tagged with the weights whose output reaches it *linearly* (through reshapes, pooling,
dropout, norms, residual additions, products with constants); an operation that is not linear in it ends those
paths and is what those weights **feed**: an activation (``F.silu``, ``torch.tanh``, ``nn.ReLU``, Hugging Face's
``NewGELUActivation``, ``softmax``), another weighted layer (``linear``, ``conv2d``), a product of two signals
(a gate ``act(g) * u``, attention's ``q @ k.T``), or the model's output. Modules whose name says they are a
norm (``LlamaRMSNorm``, ``T5LayerNorm``) or an activation (``GELUActivation``) are read whole, as what their name
says, since their insides are arithmetic (``x * rsqrt(mean(x**2))``, ``0.5 * x * (1 + tanh(...))``) that no
op-by-op reading would recognise. Functional code, Hugging Face models and control flow on tensor values
(which ``torch.fx`` cannot trace) read right, because only the operations that ran are seen. The method and its
limits are in docs/audit.md §2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .graph import _SCALED_CALLS, _SHAPE_CALLS, _THROUGH_CALLS, _WEIGHTED_CALLS, ACTIVATIONS, _call_name

_NORM_CALLS = {"layer_norm", "batch_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm",
               "normalize"}
_PRODUCT_CALLS = {"matmul", "mm", "bmm", "einsum", "baddbmm", "addmm", "addbmm", "scaled_dot_product_attention",
                  "tensordot", "outer", "mv", "dot"}
_INPLACE_SET = {"setitem", "copy_", "index_copy_", "masked_scatter_"}
#: Activations whose output gates the signal when it multiplies it (squeeze-excitation, GLU-style gates).
GATE_ACTIVATIONS = frozenset({"sigmoid", "hardsigmoid"})
#: Modules read whole: their parameters are used in fused or recurrent kernels.
_OPAQUE_LAYERS = ("MultiheadAttention", "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell")


@dataclass
class Feed:
    """Where one path out of a weight ends: ``activation`` as the audit names it (``none`` for a linear end),
    the operation's name, and what the path passed through on the way (a norm, a residual addition)."""

    activation: str
    op: str
    normalized: bool = False
    residual: bool = False
    first: str = ""
    input_normed: bool = False
    """The layer's input came straight from a norm (a pre-norm block's q/k/v and MLP input)."""


@dataclass
class _Flags:
    normalized: bool = False
    residual: bool = False
    first: str = ""
    """norm or residual: which the path met first (a norm before the residual add makes the weight scale-free)."""


@dataclass
class TraceResult:
    """What the run saw: each parameter's feeds, the order weights ran in, and modules' output tensors' ids."""

    feeds: dict[str, list[Feed]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    ran: bool = True
    why: str = ""
    scales: frozenset[str] = frozenset()
    """Parameters that multiplied the signal: layer scales (``x * gamma`` before a residual add)."""
    gates: frozenset[str] = frozenset()
    """Weights whose output, squashed by a sigmoid, multiplied the signal (squeeze-excitation's second layer)."""


def module_role(module: Any) -> tuple[str, str]:
    """('norm'|'act'|'layer'|'', activation) from a module's class name: read whole by the tracer. Only a leaf
    module (no children) is read whole as a norm or an activation: a container named for what it holds
    (torchvision's ``Conv2dNormActivation``, timm's ``BatchNormAct2d``) is traced op by op, or the conv inside
    it and the activation after its norm would be hidden."""
    cls = type(module).__name__
    key = cls.lower()
    if cls in _OPAQUE_LAYERS:
        return "layer", "none"
    if next(iter(module.children()), None) is not None:
        return "", ""
    if cls == "LeakyReLU":
        return "act", f"leaky_relu({float(module.negative_slope):g})"
    if cls == "PReLU":
        slope = float(module.weight.detach().float().mean()) if module.weight.numel() else 0.25
        return "act", f"prelu({round(slope, 6):g})"
    if "norm" in key and "normal" not in key.replace("normalization", "norm"):
        return "norm", "none"
    if key in ACTIVATIONS and ACTIVATIONS[key] != "none":
        return "act", ACTIVATIONS[key]
    if key.endswith("activation") or key.endswith("act"):
        stem = key.removesuffix("activation").removesuffix("act")
        for name in sorted(ACTIVATIONS, key=len, reverse=True):
            if name in stem and ACTIVATIONS[name] != "none":
                return "act", ACTIVATIONS[name]
    return "", ""


class _Tracker:
    """Tags tensors (by id, kept alive for the pass) with the weights pending on them and their flags."""

    def __init__(self, params: dict[int, str]) -> None:
        self.params = params
        self.pending: dict[int, dict[str, _Flags]] = {}
        self.data: set[int] = set()
        self.keep: list[Any] = []
        self.feeds: dict[str, list[Feed]] = {}
        self.order: list[str] = []
        self.opaque = 0
        self.normed: set[int] = set()
        """Tensors that come straight from a norm (through reshapes, dropout, ...)."""
        self.input_normed: set[str] = set()
        self.scales: set[str] = set()
        """Parameters that multiplied the signal (a layer scale's gamma, a learned gate)."""
        self.gate_out: dict[int, set[str]] = {}
        """A sigmoid's (or hardsigmoid's) output tensor: the weights whose output it squashed."""
        self.gates: set[str] = set()
        """Weights whose squashed output multiplied the signal: a gate (squeeze-excitation)."""

    def squashed(self, outputs: list[Any], pending: dict[str, _Flags], activation: str) -> None:
        """Remember what a gating activation squashed, to see it multiply the signal (``gated``)."""
        if activation in GATE_ACTIVATIONS and pending:
            for out in outputs:
                self.gate_out[id(out)] = set(pending)

    def gated(self, data_in: list[Any]) -> None:
        """A product of two signals: the ones a gating activation squashed are gates."""
        if len(data_in) >= 2:
            for t in data_in:
                self.gates.update(self.gate_out.get(id(t), ()))

    def mark(self, tensor: Any, pending: dict[str, _Flags]) -> None:
        self.keep.append(tensor)
        self.data.add(id(tensor))
        self.pending[id(tensor)] = pending
        self.normed.discard(id(tensor))  # an in-place op (relu_) made it something else

    def end(self, pending: dict[str, _Flags], activation: str, op: str) -> None:
        for name, flags in pending.items():
            self.feeds.setdefault(name, []).append(Feed(activation, op, flags.normalized, flags.residual,
                                                         flags.first, name in self.input_normed))

    def weight_of(self, value: Any) -> str | None:
        return self.params.get(id(value))

    def used(self, name: str) -> None:
        if name not in self.order:
            self.order.append(name)


def _tensors(value: Any) -> list[Any]:
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _merge(*pendings: dict[str, _Flags], normalized: bool = False, residual: bool = False) -> dict[str, _Flags]:
    out: dict[str, _Flags] = {}
    for pending in pendings:
        for name, flags in pending.items():
            old = out.get(name, _Flags(True, True))
            first = flags.first or ("norm" if normalized else "residual" if residual else "")
            out[name] = _Flags(old.normalized and (flags.normalized or normalized),
                               old.residual and (flags.residual or residual), old.first or first
                               if name in out else first)
    return out


def _step(tracker: _Tracker, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Update the tags for one operation ``name`` that read ``args`` and gave ``result``."""
    inputs = _tensors(args) + _tensors(kwargs)
    data_in = [t for t in inputs if id(t) in tracker.data]
    weights = [w for w in (tracker.weight_of(t) for t in inputs) if w is not None]
    outputs = _tensors(result)
    if not data_in:
        if weights:  # an op on the weights alone (weight.t(), a parametrization): still "the weight"
            for out in outputs:
                tracker.params.setdefault(id(out), weights[0])
                tracker.keep.append(out)
        return
    pend = [tracker.pending.get(id(t), {}) for t in data_in]
    base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
    joined = {w: _Flags() for w in dict.fromkeys(weights)}
    normed = any(id(t) in tracker.normed for t in data_in)
    if weights and (base in _WEIGHTED_CALLS or base in _PRODUCT_CALLS):
        tracker.end(_merge(*pend), "none", base if base in _WEIGHTED_CALLS else f"{base} (a layer)")
        new = joined
        if normed:
            tracker.input_normed.update(joined)
        for w in new:
            tracker.used(w)
    elif base in ("leaky_relu", "rrelu"):
        slope = args[1] if len(args) > 1 and isinstance(args[1], (int, float)) else kwargs.get("negative_slope", 0.01)
        tracker.end(_merge(*pend), f"leaky_relu({float(slope):g})", base)
        new = {}
    elif base in ACTIVATIONS and ACTIVATIONS[base] != "none":
        tracker.end(_merge(*pend), ACTIVATIONS[base], base)
        tracker.squashed(outputs, _merge(*pend), ACTIVATIONS[base])
        new = {}
    elif base in _NORM_CALLS:
        new = {**joined, **_merge(*pend, normalized=True)}
    elif base in ("add", "iadd", "sub", "isub") and len(data_in) > 1:
        new = {**joined, **_merge(*pend, residual=True)}
    elif base in _THROUGH_CALLS or base in _INPLACE_SET or (base in _SCALED_CALLS and len(data_in) <= 1):
        if base in _SCALED_CALLS and base != "div" and weights:
            tracker.scales.update(weights)
        new = {**joined, **_merge(*pend)}  # a position table added, a layer scale multiplied: they join the signal
    elif base in _SCALED_CALLS or base in _PRODUCT_CALLS:
        tracker.gated(data_in)
        tracker.end(_merge(*pend), "none", base)
        new = {}
    elif base in _SHAPE_CALLS or not outputs:
        return
    else:
        tracker.end(_merge(*pend), "none", base)
        new = {}
    for out in outputs:
        tracker.mark(out, new)
        if base in _NORM_CALLS or (normed and (base in _THROUGH_CALLS or base in _INPLACE_SET)):
            tracker.normed.add(id(out))
    if base in _INPLACE_SET and data_in:  # x[...] = y: the target now carries both
        target = args[0] if args else None
        if target is not None and id(target) in tracker.data:
            tracker.mark(target, _merge(*pend))


def trace_feeds(model: Any, inputs: Any) -> TraceResult:
    """Run ``model`` once on ``inputs`` (a tensor, a tuple of them, or a dict of keyword arguments) and return
    what every parameter's output feeds. The model is put in eval mode (no BatchNorm statistics change) and
    restored; autograd stays on so that torch's fused inference fast paths (nn.TransformerEncoderLayer,
    nn.MultiheadAttention) do not hide the operations."""
    import torch
    from torch.overrides import TorchFunctionMode

    params = {id(p): n for n, p in model.named_parameters()}
    tracker = _Tracker(params)

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                               kwargs: dict[str, Any] | None = None) -> Any:
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            if not tracker.opaque:
                _step(tracker, _call_name(func), args, kwargs, result)
            return result

    hooks = _install_hooks(model, tracker)
    was_training = model.training
    model.eval()
    try:
        args, kwargs = (((), dict(inputs)) if isinstance(inputs, dict)
                        else ((tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)), {}))
        for t in _tensors(args) + _tensors(kwargs):
            tracker.mark(t, {})
        with torch.enable_grad(), Mode():
            output = model(*args, **kwargs)
        for t in _tensors(_output_tensors(output)):
            tracker.end(tracker.pending.get(id(t), {}), "none", "output")
    except Exception as exc:  # the user's forward may raise anything on an input we guessed
        return TraceResult({}, [], False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return TraceResult(tracker.feeds, tracker.order, scales=frozenset(tracker.scales),
                       gates=frozenset(tracker.gates))


def _output_tensors(output: Any) -> Any:
    """The model's output tensors (a Hugging Face ModelOutput is a dict of them)."""
    if hasattr(output, "to_tuple"):
        return output.to_tuple()
    return output


def _install_hooks(model: Any, tracker: _Tracker) -> list[Any]:
    """Pre- and post-forward hooks on the modules read whole (norms, activation modules, fused layers)."""
    hooks = []
    for name, module in model.named_modules():
        role, act = module_role(module)
        if not role:
            continue
        state: dict[str, Any] = {}

        def pre(mod: Any, args: Any, kwargs: Any, state: dict[str, Any] = state) -> None:
            if not tracker.opaque:
                data = [t for t in _tensors(args) + _tensors(kwargs) if id(t) in tracker.data]
                state["pending"] = [tracker.pending.get(id(t), {}) for t in data]
                state["outer"] = True
            else:
                state["outer"] = False
            tracker.opaque += 1

        def post(mod: Any, args: Any, kwargs: Any, output: Any, state: dict[str, Any] = state, role: str = role,
                 act: str = act, name: str = name) -> None:
            tracker.opaque -= 1
            if not state.get("outer"):
                return
            pend = _merge(*state["pending"])
            cls = type(mod).__name__
            if role == "norm":  # its own weight and bias scale and shift what it passes on
                new = {**{n: _Flags() for n, _p in mod.named_parameters(prefix=name)}, **_merge(pend, normalized=True)}
            else:
                tracker.end(pend, act, f"{act} ({name})" if role == "act" else f"{cls} ({name})")
                tracker.squashed(_tensors(output), pend, act)
                new = {}
                if role == "layer":
                    new = {n: _Flags() for n, p in mod.named_parameters(prefix=name) if p.dim() >= 2}
                    for n in new:
                        tracker.used(n)
            for out in _tensors(output):
                tracker.mark(out, new)
                if role == "norm":
                    tracker.normed.add(id(out))

        hooks.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        hooks.append(module.register_forward_hook(post, with_kwargs=True))
    return hooks


# --------------------------------------------------------------------------- the sample input

#: Spatial sizes of an inferred image input to try in turn, by convolution dimension: the first is big enough for
#: a ResNet's five halvings; the second is ImageNet's, for models that need more (a ViT's fixed patch grid,
#: Inception's 75-pixel minimum) and declare no size of their own.
_SPATIAL = {1: (128, 512), 2: (32, 224), 3: (8, 32)}


def declared_image_size(model: Any) -> tuple[int, ...] | None:
    """The spatial input size a vision model declares, if any: timm's ``pretrained_cfg["input_size"]`` (C, H, W),
    torchvision's ViT ``image_size``, or a timm ``PatchEmbed``'s ``img_size``."""
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    if isinstance(cfg, dict) and isinstance(cfg.get("input_size"), (tuple, list)) and len(cfg["input_size"]) >= 2:
        return tuple(int(x) for x in cfg["input_size"][1:])
    size = getattr(model, "image_size", None)
    if isinstance(size, int):
        return (size, size)
    embed = getattr(model, "patch_embed", None)
    size = getattr(embed, "img_size", None)
    if isinstance(size, (tuple, list)) and all(isinstance(x, int) for x in size):
        return tuple(size)
    return None
#: Sequence length of an inferred token input.
_TOKENS = 16


def candidate_inputs(model: Any, input_shape: tuple[int, ...] | None, input_dtype: str | None, batch: int,
                     seed: int = 0) -> list[tuple[Any, str]]:
    """Sample inputs to try, in order, each with its description: ``--input-shape`` (random normal, or random
    token ids below the first embedding's size for an integer ``--input-dtype``), else a Hugging Face model's
    ``dummy_inputs``, else one inferred from the first layer with weights (Linear: (batch, in) then (batch,
    tokens, in); Conv: (batch, in_channels, 32, 32) for 2-D, then the size the model declares, then 224;
    Embedding: token ids)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    dtype = getattr(torch, input_dtype) if input_dtype else None
    vocab = next((int(m.num_embeddings) for m in model.modules() if isinstance(m, torch.nn.Embedding)), 2)
    if input_shape is not None:
        return [(_random(input_shape, dtype, vocab, gen), f"--input-shape {','.join(map(str, input_shape))}")]
    dummy = getattr(model, "dummy_inputs", None)
    main = getattr(model, "main_input_name", None)
    config = getattr(model, "config", None)
    if main == "pixel_values" and config is not None and hasattr(config, "image_size"):
        size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
        shape = (batch, int(getattr(config, "num_channels", 3)), int(size), int(size))
        return [({"pixel_values": _random(shape, dtype, vocab, gen)}, f"pixel_values {','.join(map(str, shape))}")]
    if isinstance(dummy, dict) and dummy and (main is None or main in dummy):
        return [(dict(dummy), "the model's dummy_inputs")]
    # the first layer that says what it reads (a ViT's own cls_token and pos_embed come before its patch conv)
    first = next((m for m in model.modules()
                  if isinstance(m, (torch.nn.Linear, torch.nn.modules.conv._ConvNd, torch.nn.Embedding))), None)
    if isinstance(first, torch.nn.Linear):
        shapes = [(batch, first.in_features), (batch, _TOKENS, first.in_features)]
    elif isinstance(first, torch.nn.modules.conv._ConvNd):
        d = len(first.kernel_size)
        declared = declared_image_size(model)
        sizes = [tuple([size] * d) for size in _SPATIAL.get(d, (16,))]
        if declared and len(declared) == d:  # the small size first (cheaper), then the model's own
            sizes.insert(1, declared)
        shapes = [(batch, first.in_channels, *size) for size in dict.fromkeys(sizes)]
    elif isinstance(first, torch.nn.Embedding):
        shapes = [(batch, _TOKENS)]
        dtype = dtype or torch.long
    else:
        return []
    return [(_random(s, dtype, vocab, gen), f"an input inferred from the first layer: {','.join(map(str, s))}")
            for s in shapes]


def _random(shape: tuple[int, ...], dtype: Any, vocab: int, gen: Any) -> Any:
    import torch

    if dtype is not None and not dtype.is_floating_point:
        return torch.randint(0, max(vocab, 2), shape, generator=gen, dtype=dtype)
    return torch.randn(shape, generator=gen, dtype=dtype or torch.float32)


def run_graph(model: Any, input_shape: tuple[int, ...] | None, input_dtype: str | None, batch: int,
              seed: int = 0) -> tuple[TraceResult, Any, str]:
    """The first candidate input the model runs on, with its trace; else a TraceResult with ``ran`` False and
    why (no input could be inferred, or the model raised on each)."""
    why = "no sample input: give --input-shape (and --input-dtype for token ids)"
    for inputs, text in candidate_inputs(model, input_shape, input_dtype, batch, seed):
        result = trace_feeds(model, inputs)
        if result.ran:
            return result, inputs, text
        why = f"the forward pass on {text} raised {result.why}"
    return TraceResult({}, [], False, why), None, ""


def feeds_text(feeds: list[Feed]) -> str:
    """``layer_norm → linear``-style summary of where a weight's output goes (distinct paths joined by |)."""
    parts = []
    for f in feeds:
        via = [v for v, on in (("norm", f.normalized), ("residual add", f.residual)) if on]
        text = " → ".join([*via, f.op])
        if text not in parts:
            parts.append(text)
    return " | ".join(parts[:3]) + (f" | +{len(parts) - 3} more" if len(parts) > 3 else "")


@dataclass
class GraphReading:
    """Each parameter's following activation and note, how it was read, what it feeds, and the sample input."""

    activations: dict[str, tuple[str, str]]
    how: str
    """``forward pass``, ``torch.fx`` or ``module order``."""
    notes: list[str]
    feeds: dict[str, list[Feed]] = field(default_factory=dict)
    inputs: Any = None
    input_text: str = ""
    scales: frozenset[str] = frozenset()
    """Parameters that multiplied the signal (``TraceResult.scales``)."""
    gates: frozenset[str] = frozenset()
    """Gate weights (``TraceResult.gates``)."""


def _end_note(op: str) -> str:
    """What a linear end means, when it is not simply the next layer or the output."""
    if op in _WEIGHTED_CALLS or op == "output" or op.split(" ")[0] in _OPAQUE_LAYERS or op.endswith("(a layer)"):
        return ""
    if op in _SCALED_CALLS:
        return f"followed by a product of tensors ({op}), treated as linear"
    return f"followed by {op}, treated as linear"


def read_torch(model: Any, input_shape: tuple[int, ...] | None = None, input_dtype: str | None = None,
               batch: int = 4, seed: int = 0) -> GraphReading:
    """Run the model when a sample input exists (the reading that sees everything that ran); else torch.fx;
    else the order of the modules (graph.torch_activations, with the reason in a note)."""
    from .graph import combine, torch_activations

    trace, inputs, text = run_graph(model, input_shape, input_dtype, batch, seed)
    if not trace.ran:
        by_fx, traced, fx_notes = torch_activations(model, input_shape if input_dtype is None else None)
        how = "torch.fx" if traced else "module order"
        return GraphReading(by_fx, how, [f"the model was not run ({trace.why}); its graph was read from {how}",
                                         *fx_notes])
    out: dict[str, tuple[str, str]] = {}
    for pname, _p in model.named_parameters():
        feeds = trace.feeds.get(pname, [])
        if not feeds:
            out[pname] = ("none", "not used in the forward pass")
            continue
        acts = {f.activation for f in feeds}
        act = combine(acts)
        notes = sorted({_end_note(f.op) for f in feeds if f.activation == "none"} - {""})
        if act == "ambiguous":
            notes.insert(0, "branches disagree: " + ", ".join(sorted(acts)))
        out[pname] = (act, "; ".join(notes))
    return GraphReading(out, "forward pass", [], trace.feeds, inputs, text, trace.scales, trace.gates)


def side_layers(feeds: dict[str, list[Feed]], gates: frozenset[str] = frozenset()) -> frozenset[str]:
    """Modules whose weight's output only meets another signal in a product (attention scores, a gate), or
    does so through a sigmoid (squeeze-excitation's second layer: its gradient is the gate's by design)."""
    out = {g.rpartition(".")[0] for g in gates if g.endswith(".weight")}
    # the gate's own branch: its sibling layers whose every path ends in an activation (SE's first layer, whose
    # output only reaches the signal through the gate)
    parents = {g.rpartition(".")[0] for g in out}
    for pname, fs in feeds.items():
        module = pname.removesuffix(".weight")
        if pname.endswith(".weight") and fs and module.rpartition(".")[0] in parents \
                and all(f.activation != "none" for f in fs):
            out.add(module)
    for pname, fs in feeds.items():
        module, _, leaf = pname.rpartition(".")
        if leaf == "weight" and fs and all(f.op in _PRODUCT_CALLS or f.op in _SCALED_CALLS for f in fs):
            out.add(module)
    return frozenset(out)


def normalized_layers(feeds: dict[str, list[Feed]]) -> frozenset[str]:
    """Modules whose weight's output meets a norm before anything else on every path (scale-free)."""
    return frozenset(pname.rpartition(".")[0] for pname, fs in feeds.items()
                     if pname.endswith(".weight") and fs and all(f.first == "norm" for f in fs))


#: A multiplier below this at init is a layer scale that damps its branch by design (ConvNeXt's and CaiT's
#: gamma starts at 1e-6 to 1e-5; Touvron et al. 2021, "Going deeper with image transformers").
LAYER_SCALE_SMALL = 0.1


def layer_scaled(model: Any, scales: frozenset[str]) -> frozenset[str]:
    """The weighted layers inside a residual branch damped by a small layer scale: their gradient is the scale
    times the stream's (1e-6 in ConvNeXt), by design, so they are left out of the depth verdict, as norm-
    followed layers are. The branch is the module that owns the scale (its parent, when the owner is a
    ``LayerScale`` module holding only the scale)."""
    import torch

    params = dict(model.named_parameters())
    modules = dict(model.named_modules())
    weighted = [n for n, m in modules.items() if isinstance(m, (torch.nn.Linear, torch.nn.modules.conv._ConvNd))]
    out: set[str] = set()
    for name in scales:
        p = params.get(name)
        if p is None or p.numel() == 0 or float(p.detach().abs().max()) >= LAYER_SCALE_SMALL:
            continue
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        if not any(w.startswith(owner + ".") for w in weighted) and "." in owner:
            owner = owner.rsplit(".", 1)[0]
        out.update(w for w in weighted if owner and w.startswith(owner + "."))
    return frozenset(out)
