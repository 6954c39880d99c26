"""How ``kaiming audit`` reads a model's graph: which activation follows each parameter's layer.

In a ``torch.fx`` trace, the consumers of a layer's output are followed through norms, dropout, pooling, reshapes
and residual additions to the first nonlinearity on every path (``torch_activations``); a model fx cannot trace
is read in the order its modules run. A Keras layer is read from its own ``activation`` and the layers after it
(``keras_following``). This module only reads: what init an activation implies and the verdict on what the
weight got are the judging in ``runners/audit/__init__.py``, which imports this module and never the reverse.
The rules are in docs/audit.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- activations

#: Activation names as the audit reports them, by torch module class, function or method name.
ACTIVATIONS: dict[str, str] = {
    "relu": "relu", "relu6": "relu6", "tanh": "tanh", "sigmoid": "sigmoid", "selu": "selu", "gelu": "gelu",
    "silu": "silu", "swish": "silu", "softmax": "softmax", "log_softmax": "softmax", "logsoftmax": "softmax",
    "softmax2d": "softmax", "elu": "elu", "celu": "celu", "mish": "mish", "hardswish": "hardswish",
    "hardtanh": "hardtanh", "softplus": "softplus", "glu": "glu", "hardsigmoid": "hardsigmoid",
    "softsign": "softsign", "leaky_relu": "leaky_relu", "leakyrelu": "leaky_relu", "prelu": "prelu",
    "linear": "none", "identity": "none",
}


def _slope_text(a: float) -> str:
    return f"{a:g}"


# --------------------------------------------------------------------------- torch: the graph

_THROUGH_MODULES = (
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm1d",
    "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm", "RMSNorm", "Dropout", "Dropout1d", "Dropout2d",
    "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d",
    "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "Flatten", "Unflatten", "Identity",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d",
    "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "Upsample",
    "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle",
)
_THROUGH_CALLS = {
    "add", "iadd", "sub", "isub", "cat", "concat", "concatenate", "stack", "flatten", "reshape", "view", "view_as",
    "permute", "transpose", "contiguous", "squeeze", "unsqueeze", "getitem", "chunk", "split", "tensor_split",
    "unbind", "mean", "sum", "amax", "max", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
    "feature_alpha_dropout", "pad", "layer_norm", "batch_norm", "group_norm", "instance_norm", "rms_norm",
    "local_response_norm", "normalize", "interpolate", "upsample", "pixel_shuffle", "pixel_unshuffle", "clone",
    "to", "float", "half", "double", "bfloat16", "type", "type_as", "expand", "expand_as", "repeat", "tile", "roll",
    "narrow", "t", "flip", "neg", "avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool2d",
    "max_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "lp_pool1d", "lp_pool2d", "pos", "detach", "movedim",
    "moveaxis", "swapaxes", "unflatten", "squeeze_", "unsqueeze_", "add_", "sub_",
}
_SCALED_CALLS = {"mul", "imul", "truediv", "itruediv", "div", "mul_", "div_", "floordiv"}
_SHAPE_CALLS = {"size", "dim", "numel", "getattr", "len", "shape", "dtype", "device", "ndimension", "nelement",
                "is_contiguous", "stride"}
_WEIGHTED_CALLS = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                   "conv_transpose3d", "bilinear", "embedding"}


def _call_name(target: Any) -> str:
    """``relu`` for ``F.relu``, ``torch.relu``, ``Tensor.relu``/``relu_`` and ``operator.add`` → ``add``."""
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    name = name.strip("_") if name.startswith("__") else name
    return name


def _slope_arg(node: Any, default: float) -> float:
    if len(node.args) > 1 and isinstance(node.args[1], (int, float)):
        return float(node.args[1])
    value = node.kwargs.get("negative_slope", default)
    return float(value) if isinstance(value, (int, float)) else default


@dataclass
class _Step:
    """How one consumer node treats the signal: an activation, a pass-through, an end, or no data use."""

    kind: str
    """act, through, end (a weighted layer, the output or an op the audit does not look through), ignore."""
    activation: str = "none"
    note: str = ""


def _module_step(module: Any) -> _Step:
    cls = type(module).__name__
    key = cls.lower()
    if cls == "LeakyReLU":
        return _Step("act", f"leaky_relu({_slope_text(float(module.negative_slope))})")
    if cls == "PReLU":
        slope = float(module.weight.detach().float().mean()) if module.weight.numel() else 0.25
        return _Step("act", f"prelu({_slope_text(round(slope, 6))})")
    if key in ACTIVATIONS and ACTIVATIONS[key] != "none":
        return _Step("act", ACTIVATIONS[key])
    if cls in _THROUGH_MODULES:
        return _Step("through")
    if any(True for _ in module.parameters(recurse=True)):
        return _Step("end", "none")
    return _Step("end", "none", f"followed by {cls}, which the audit does not look through")


def _node_step(node: Any, modules: dict[str, Any]) -> _Step:
    op = node.op
    if op == "output":
        return _Step("end", "none")
    if op == "call_module":
        return _module_step(modules[node.target])
    if op not in ("call_function", "call_method"):
        return _Step("end", "none")
    name = _call_name(node.target)
    base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
    if base in ("leaky_relu", "rrelu"):
        return _Step("act", f"leaky_relu({_slope_text(_slope_arg(node, 0.01))})")
    if base in ACTIVATIONS and ACTIVATIONS[base] != "none" and base not in ("linear",):
        return _Step("act", ACTIVATIONS[base])
    if base in _SHAPE_CALLS:
        return _Step("ignore")
    if base in _THROUGH_CALLS:
        return _Step("through")
    if base in _SCALED_CALLS:
        others = [a for a in (*node.args, *node.kwargs.values()) if hasattr(a, "op")]
        if len(others) <= 1:
            return _Step("through")
        return _Step("end", "none", f"followed by a product of tensors ({name}), treated as linear")
    if base in _WEIGHTED_CALLS:
        return _Step("end", "none")
    return _Step("end", "none", f"followed by {name}, treated as linear")


def following(start: Any, modules: dict[str, Any], limit: int = 10_000) -> tuple[set[str], set[str]]:
    """The activations that the output of node ``start`` reaches first along every path, and notes."""
    found: set[str] = set()
    notes: set[str] = set()
    stack = list(start.users)
    seen: set[Any] = set()
    while stack and len(seen) < limit:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        step = _node_step(node, modules)
        if step.kind == "ignore":
            continue
        if step.kind == "through":
            stack.extend(node.users)  # a value nobody uses (MultiheadAttention's weights in `a, _ = ...`) is no path
            continue
        found.add(step.activation)
        if step.note:
            notes.add(step.note)
    return found or {"none"}, notes


def combine(activations: set[str]) -> str:
    return next(iter(activations)) if len(activations) == 1 else "ambiguous"


class _DeepTracer:
    """A ``torch.fx.Tracer`` that looks inside every module with children (so nn.TransformerEncoderLayer's
    linears are seen), keeping as leaves the modules whose parameters are used inside their own forward."""

    @staticmethod
    def make() -> Any:
        import torch

        class Tracer(torch.fx.Tracer):
            def is_leaf_module(self, m: torch.nn.Module, qualname: str) -> bool:
                if isinstance(m, (torch.nn.MultiheadAttention, torch.nn.RNNBase, torch.nn.RNNCellBase)):
                    return True
                return not any(True for _ in m.children()) and not isinstance(m, torch.nn.Sequential)

        return Tracer()


def _trace(model: Any) -> tuple[Any | None, str]:
    """The fx graph (deep tracer first, then fx's default), or None and why neither traced."""
    import torch

    reasons = []
    for tracer in (_DeepTracer.make(), torch.fx.Tracer()):
        try:
            return tracer.trace(model), ""
        except Exception as exc:  # fx raises many types on untraceable control flow
            reasons.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return None, reasons[-1]


def torch_activations(model: Any, input_shape: tuple[int, ...] | None = None
                      ) -> tuple[dict[str, tuple[str, str]], bool, list[str]]:
    """Each parameter's following activation (and a note), whether fx traced, and run notes."""
    graph, why = _trace(model)
    if graph is None:
        order, how = _module_order(model, input_shape)
        notes = [f"torch.fx could not trace the model ({why}): activations are read from {how}, which misses "
                 "functional activations (F.relu) and branches; check the rows marked 'module order'."]
        return _activations_by_order(model, order), False, notes
    modules = dict(model.named_modules())
    producers: dict[str, list[Any]] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            module = modules[node.target]
            for pname, _p in module.named_parameters(prefix=node.target):
                producers.setdefault(pname, []).append(node)
        elif node.op == "get_attr":
            producers.setdefault(node.target, []).extend(node.users)
    out: dict[str, tuple[str, str]] = {}
    for pname, _p in model.named_parameters():
        nodes = producers.get(pname, [])
        if not nodes:
            out[pname] = ("none", "not used in the traced forward")
            continue
        acts: set[str] = set()
        notes_: set[str] = set()
        for node in nodes:
            a, n = following(node, modules)
            acts |= a
            notes_ |= n
        act = combine(acts)
        note = "; ".join(sorted(notes_))
        if act == "ambiguous":
            note = "branches disagree: " + ", ".join(sorted(acts)) + (f"; {note}" if note else "")
        out[pname] = (act, note)
    return out, True, []


def _module_order(model: Any, input_shape: tuple[int, ...] | None) -> tuple[list[tuple[str, Any]], str]:
    """Leaf modules in execution order (a forward pass on zeros of ``input_shape``), else definition order."""
    import torch

    leaves = [(n, m) for n, m in model.named_modules()
              if not any(True for _ in m.children()) or any(True for _ in m.parameters(recurse=False))]
    if input_shape is None:
        return leaves, "module definition order"
    order: list[tuple[str, Any]] = []
    names = {id(m): n for n, m in leaves}
    hooks = [m.register_forward_hook(lambda mod, _i, _o: order.append((names[id(mod)], mod))) for _n, m in leaves]
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape))
    except Exception:
        return leaves, "module definition order (the forward pass on --input-shape failed)"
    finally:
        for h in hooks:
            h.remove()
    return order, "the order modules ran in a forward pass"


def _activations_by_order(model: Any, order: list[tuple[str, Any]]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for i, (name, module) in enumerate(order):
        act = "none"
        for _n, nxt in order[i + 1:]:
            step = _module_step(nxt)
            if step.kind == "act":
                act = step.activation
                break
            if step.kind == "end":
                break
        for pname, _p in module.named_parameters(prefix=name):
            out.setdefault(pname, (act, "module order"))
    for pname, _p in model.named_parameters():
        out.setdefault(pname, ("none", "module order: not run"))
    return out


# --------------------------------------------------------------------------- Keras

_KERAS_THROUGH = ("BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
                  "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
                  "AlphaDropout", "GaussianNoise", "Flatten", "Reshape", "Permute", "MaxPooling1D", "MaxPooling2D",
                  "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D",
                  "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
                  "GlobalMaxPooling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D",
                  "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "Add", "Concatenate",
                  "Average", "Maximum", "InputLayer", "Identity", "RepeatVector")


def _keras_activation_name(fn: Any) -> str:
    name = getattr(fn, "__name__", "") or type(fn).__name__
    name = name.lower()
    return ACTIVATIONS.get(name, name)


def _keras_step(layer: Any) -> _Step:
    cls = type(layer).__name__
    if cls == "Activation":
        return _Step("act", _keras_activation_name(layer.activation)) \
            if _keras_activation_name(layer.activation) != "none" else _Step("through")
    if cls == "ReLU":
        slope = float(getattr(layer, "negative_slope", 0.0) or 0.0)
        return _Step("act", "relu" if slope == 0 else f"leaky_relu({_slope_text(slope)})")
    if cls == "LeakyReLU":
        slope = getattr(layer, "negative_slope", getattr(layer, "alpha", 0.3))
        return _Step("act", f"leaky_relu({_slope_text(float(slope))})")
    if cls in ("Softmax",):
        return _Step("act", "softmax")
    if cls in ("ELU", "PReLU"):
        return _Step("act", cls.lower() if cls == "ELU" else "prelu(0)")
    if cls in _KERAS_THROUGH:
        return _Step("through")
    return _Step("end", "none")


def _keras_next(layer: Any, model: Any) -> list[Any]:
    """The layers that consume ``layer``'s output (functional graph; Sequential: the next layer)."""
    nodes = getattr(layer, "_outbound_nodes", None) or []
    out = []
    for node in nodes:
        op = getattr(node, "operation", None) or getattr(node, "outbound_layer", None)
        if op is not None and op is not model:
            out.append(op)
    if out:
        return out
    layers = list(model.layers)
    if layer in layers and layers.index(layer) + 1 < len(layers):
        return [layers[layers.index(layer) + 1]]
    return []


def keras_following(layer: Any, model: Any) -> tuple[set[str], set[str]]:
    own = getattr(layer, "activation", None)
    if own is not None and _keras_activation_name(own) != "none":
        return {_keras_activation_name(own)}, set()
    found: set[str] = set()
    stack = list(_keras_next(layer, model))
    seen: set[int] = set()
    while stack:
        nxt = stack.pop()
        if id(nxt) in seen:
            continue
        seen.add(id(nxt))
        step = _keras_step(nxt)
        if step.kind == "through":
            after = _keras_next(nxt, model)
            if after:
                stack.extend(after)
            else:
                found.add("none")
            continue
        found.add(step.activation)
    return found or {"none"}, set()
