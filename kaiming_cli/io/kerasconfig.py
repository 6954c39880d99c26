"""What a Keras model's config says about its weights: variable names per layer class, and the rule each
variable's configured initializer implies.

Only the initializers today's specs can express become rules: the ``VarianceScaling`` family (``HeNormal``,
``GlorotUniform``, ``LecunNormal``, ... and ``VarianceScaling(scale, mode, distribution)`` itself, as in
keras/src/initializers/random_initializers.py) and the constants ``Zeros``, ``Ones`` and ``Constant`` become
spec options; ``RandomNormal``, ``RandomUniform``, ``TruncatedNormal``, ``Orthogonal`` and ``Identity`` with
numeric arguments become an init call (theory/initializers.py's grammar). Any other initializer gives a skip
rule that names it. No h5py here.

The fans are Keras's own: ``compute_fans`` reads a kernel as ``(*k, in, out)`` (the ``keras`` layout), except
where Keras names the axes. Since Keras 3.15 (keras/src/layers/core/einsum_dense.py ``EinsumDense.build``) an
``EinsumDense`` kernel, and so every projection of ``MultiHeadAttention`` and ``GroupedQueryAttention``, is
initialized with ``input_axes``/``output_axes`` read from its equation: a weight axis that is in the output is
an output axis, one only in the input an input axis. A query kernel ``(d_model, heads, head_dim)`` has fan_in
``d_model``; ``compute_fans`` on the bare shape would give ``heads * d_model``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..theory.fans import MODES
from ..theory.initializers import KERAS_SIGNATURES
from ..theory.limits import MAX_SLOPE
from .config import MAX_CONSTANT, Rule
from .limits import MIB

#: config.json (or a legacy model_config) larger than this is refused (a real one is a few hundred KB)
MAX_CONFIG = 16 * MIB
#: nesting of the config walked when looking for layers (a model in a model in a model ...)
MAX_CONFIG_DEPTH = 64
#: layers kept from one config
MAX_LAYERS = 100_000

#: (scale, mode, distribution) of Keras's named VarianceScaling initializers, by lower-cased name without "_"
NAMED: dict[str, tuple[float, str, str]] = {
    "henormal": (2.0, "fan_in", "truncated_normal"), "heuniform": (2.0, "fan_in", "uniform"),
    "lecunnormal": (1.0, "fan_in", "truncated_normal"), "lecununiform": (1.0, "fan_in", "uniform"),
    "glorotnormal": (1.0, "fan_avg", "truncated_normal"), "glorotuniform": (1.0, "fan_avg", "uniform"),
    "xaviernormal": (1.0, "fan_avg", "truncated_normal"), "xavieruniform": (1.0, "fan_avg", "uniform"),
}
#: the Keras initializers other than VarianceScaling and constants that become an init-call rule
LAWS = ("RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal", "Identity")
CONSTANTS = {"zeros": 0.0, "zero": 0.0, "ones": 1.0, "one": 1.0}
#: Keras's distribution names -> kaiming's ("normal" is the truncated law in Keras, untruncated_normal the plain)
DISTRIBUTIONS = {"truncated_normal": "truncated_normal", "normal": "truncated_normal",
                 "untruncated_normal": "normal", "uniform": "uniform"}

_KERNEL_LAYERS = {"Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
                  "DepthwiseConv1D", "DepthwiseConv2D"}
_SEPARABLE = {"SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D"}
#: the config key of a variable's initializer where it is not ``<variable>_initializer``
#: (keras/src/layers/convolutional/base_depthwise_conv.py: the kernel is made with ``depthwise_initializer``;
#: tf.keras named that variable ``depthwise_kernel``)
_INITIALIZER_KEYS = {"kernel": "depthwise_initializer", "depthwise_kernel": "depthwise_initializer",
                     "pointwise_kernel": "pointwise_initializer"}
_DEPTHWISE = {"DepthwiseConv1D", "DepthwiseConv2D", *_SEPARABLE}
#: attention layers whose projections are EinsumDense sublayers: sublayer folder in a Keras 3 file (without
#: GroupedQueryAttention's leading underscore) -> the sublayer's name and the number of input (contracted) axes
#: its kernel starts with (``_build_proj_equation``'s ``bound_dims``: 1 for query/key/value/gate, 2 for the
#: output projection over heads and head_dim)
ATTENTION = {"MultiHeadAttention", "GroupedQueryAttention", "GroupQueryAttention"}
ATTENTION_SUBLAYERS = {"query_dense": ("query", 1), "key_dense": ("key", 1), "value_dense": ("value", 1),
                       "gate_dense": ("gate", 1), "output_dense": ("attention_output", 2)}
#: the Keras release whose EinsumDense passes the equation's axes to its initializer (keras-team/keras#22789)
EINSUM_AXES_SINCE = (3, 15)
#: snake-cased class (the Keras 3 weights path) -> class, for files without a config
_SNAKE = {"dense": "Dense", "conv1d": "Conv1D", "conv2d": "Conv2D", "conv3d": "Conv3D",
          "conv1d_transpose": "Conv1DTranspose", "conv2d_transpose": "Conv2DTranspose",
          "conv3d_transpose": "Conv3DTranspose", "embedding": "Embedding",
          "batch_normalization": "BatchNormalization", "layer_normalization": "LayerNormalization",
          "depthwise_conv1d": "DepthwiseConv1D", "depthwise_conv2d": "DepthwiseConv2D",
          "separable_conv1d": "SeparableConv1D", "separable_conv2d": "SeparableConv2D",
          "einsum_dense": "EinsumDense"}


def layer_configs(config: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    """Layer name -> (class name, its config), for every layer in a model config (nested models too).

    A name found twice (two nested models with a layer of one name) is dropped: which is which is unknown.
    """
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    twice: set[str] = set()
    stack: list[tuple[Any, int]] = [(config, 0)]
    while stack and len(found) < MAX_LAYERS:
        node, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            continue
        if isinstance(node, dict):
            cls, cfg = node.get("class_name"), node.get("config")
            if isinstance(cls, str) and isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
                name = cfg["name"]
                if name in found:
                    twice.add(name)
                found[name] = (cls, cfg)
            stack += [(v, depth + 1) for v in node.values() if isinstance(v, (dict, list))]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node if isinstance(v, (dict, list))]
    return {k: v for k, v in found.items() if k not in twice}


def path_configs(config: Any) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Weights path (``layers/dense_1``) -> (layer name, class, config) for the top-level model's layers.

    Keras before 3.6 wrote no ``name`` attribute on a layer's ``vars`` group; its path is the layer's
    snake-cased class made unique in the order of the model's layers (saving_lib ``_get_unique_name``).
    """
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else None
    out: dict[str, tuple[str, str, dict[str, Any]]] = {}
    used: dict[str, int] = {}
    for entry in layers[:MAX_LAYERS] if isinstance(layers, list) else []:
        cls = entry.get("class_name") if isinstance(entry, dict) else None
        if not isinstance(cls, str):
            continue
        snake = to_snake_case(cls[:100])
        unique = f"{snake}_{used[snake] + 1}" if snake in used else snake
        used[snake] = used.get(snake, -1) + 1
        cfg = entry.get("config")
        if isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
            out[f"layers/{unique}"] = (cfg["name"], cls, cfg)
    return out


def to_snake_case(name: str) -> str:
    """keras/src/utils/naming.py ``to_snake_case``: ``Conv2DTranspose`` -> ``conv2d_transpose``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def variable_names(cls: str, cfg: dict[str, Any], snake: str, count: int) -> list[str] | None:
    """Names of a layer's ``count`` variables in the order Keras saves them, or None when unsure."""
    cls = cls or _SNAKE.get(snake, "")
    if cls in _KERNEL_LAYERS:
        names = ["kernel"] + (["bias"] if cfg.get("use_bias", count == 2) else [])
    elif cls in _SEPARABLE:
        names = ["depthwise_kernel", "pointwise_kernel"] + (["bias"] if cfg.get("use_bias", count == 3) else [])
    elif cls == "EinsumDense":
        names = ["kernel"] + (["bias"] if cfg.get("bias_axes", "" if count == 1 else "b") else [])
    elif cls == "Embedding":
        names = ["embeddings"]
    elif cls in ("BatchNormalization", "LayerNormalization"):
        names = (["gamma"] if cfg.get("scale", True) else []) + (["beta"] if cfg.get("center", True) else [])
        if cls == "BatchNormalization":
            names += ["moving_mean", "moving_variance"]
    else:
        return None
    return names if len(names) == count else None


def stated_rule(tensor: str, layer: str, var: str, cls: str, cfg: dict[str, Any], where: str,
                shape: tuple[int, ...] | None = None, version: str | None = None) -> Rule | None:
    """The rule that the layer's initializer for ``var`` implies for ``tensor``, or None if it names none.

    ``shape`` and ``version`` (the ``keras_version`` the file was saved with, None when it does not say) decide
    the fans where Keras names the kernel's axes (``kernel_fans``).
    """
    key = _INITIALIZER_KEYS.get(var, f"{var}_initializer") if cls in _DEPTHWISE else f"{var}_initializer"
    init = cfg.get(key)
    if init is None:
        return None
    name, args = _initializer(init)
    origin = f"{where} config: layer {layer!r} {key} {name or '?'}"[:300]
    lowered = name.lower().replace("_", "")
    if lowered in CONSTANTS:
        return Rule(match=tensor, constant=CONSTANTS[lowered], origin=origin)
    if lowered == "constant":
        value = args.get("value", 0.0)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= MAX_CONSTANT:
            return Rule(match=tensor, constant=float(value), origin=origin)
        return _skip(tensor, origin, "its value is not a single number")
    if lowered in NAMED:
        scale, mode, distribution = NAMED[lowered]
    elif lowered == "variancescaling":
        scale, mode = args.get("scale", 1.0), args.get("mode", "fan_in")
        distribution = DISTRIBUTIONS.get(str(args.get("distribution", "truncated_normal")), "")
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or mode not in MODES or not distribution:
            return _skip(tensor, origin, "its scale, mode or distribution is not one kaiming knows")
    else:
        call = _init_call(name, args)
        if call is None:
            return _skip(tensor, origin, "kaiming's specs express only VarianceScaling (He, Glorot, Lecun), "
                                         f"{', '.join(LAWS)} and constants")
        return Rule(match=tensor, options={"layout": "keras", "init": call}, origin=origin)
    gain = _gain_options(float(scale))
    if gain is None:
        return _skip(tensor, origin, f"scale {float(scale):g} matches no nonlinearity's gain")
    options: dict[str, Any] = {"layout": "keras", "mode": mode, "distribution": distribution, **gain}
    fans = kernel_fans(cls, cfg, var, args, shape, version) if shape is not None else None
    if fans is not None:
        options.update(fan_in=fans[0], fan_out=fans[1])
        origin = f"{origin} ({fans[2]})"[:400]
    return Rule(match=tensor, options=options, origin=origin)  # type: ignore[arg-type]


def kernel_fans(cls: str, cfg: dict[str, Any], var: str, args: dict[str, Any], shape: tuple[int, ...],
                version: str | None) -> tuple[int, int, str] | None:
    """(fan_in, fan_out, why) where Keras computes a kernel's fans from named axes, else None (the layout's rule).

    The initializer's own ``input_axes``/``output_axes`` first (a ``VarianceScaling`` given them); else an
    ``EinsumDense`` kernel's axes from its equation, as ``EinsumDense.build`` passes them since Keras 3.15.
    """
    axes = _axes(args.get("input_axes"), args.get("output_axes"), len(shape))
    why = "fans from the initializer's input_axes/output_axes"
    if axes is None and cls == "EinsumDense" and var == "kernel" and isinstance(cfg.get("equation"), str):
        saved = keras_release(version)
        if saved is not None and saved < EINSUM_AXES_SINCE:
            return None
        axes = einsum_axes(cfg["equation"], len(shape))
        said = f"Keras {version}" if saved is not None else "the file names no Keras version: Keras >= 3.15 assumed"
        why = f"EinsumDense fans from its equation's axes, as Keras >= 3.15 computes them; {said}"
    if axes is None:
        return None
    fan_in = math.prod(shape[i] for i in axes[0])
    fan_out = math.prod(shape[i] for i in axes[1])
    if fan_in <= 0 or fan_out <= 0:
        return None
    return fan_in, fan_out, f"{why}: fan_in {fan_in}, fan_out {fan_out}"


def _axes(inputs: Any, outputs: Any, ndim: int) -> tuple[list[int], list[int]] | None:
    """Valid axis lists (ints within the shape, negative ones counted from the end), else None."""
    if not isinstance(inputs, list) or not isinstance(outputs, list) or not inputs or not outputs:
        return None
    found: list[list[int]] = []
    for axes in (inputs, outputs):
        if not all(isinstance(a, int) and not isinstance(a, bool) and -ndim <= a < ndim for a in axes):
            return None
        found.append([a % ndim for a in axes])
    return found[0], found[1]


def einsum_axes(equation: str, ndim: int) -> tuple[list[int], list[int]] | None:
    """The kernel's (input axes, output axes) of an EinsumDense equation, as Keras's ``_analyze_split_string``
    reads them: a weight letter that is in the output is an output axis, else (in the input) an input axis."""
    match = re.fullmatch(r"0?([a-zA-Z]+)0?,([a-zA-Z]+)->0?([a-zA-Z]+)0?", equation.replace("...", "0")[:200])
    if match is None or len(match.group(2)) != ndim:
        return None
    inputs, weight, outputs = match.groups()
    in_axes = [i for i, d in enumerate(weight) if d not in outputs and d in inputs]
    out_axes = [i for i, d in enumerate(weight) if d in outputs]
    if len(in_axes) + len(out_axes) != ndim or not in_axes or not out_axes:
        return None
    return in_axes, out_axes


def keras_release(version: str | None) -> tuple[int, int] | None:
    """(major, minor) of a ``keras_version`` string such as ``3.15.1``; None when absent or not one."""
    match = re.match(r"(\d{1,4})\.(\d{1,4})", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def attention_sublayer(cls: str, cfg: dict[str, Any], sublayer: str, ndim: int) -> tuple[str, dict[str, Any]] | None:
    """The (class, config) of an attention layer's projection ``sublayer`` (its name, e.g. ``query``): an
    EinsumDense with the attention layer's initializers and, for a kernel of ``ndim`` axes, the equation shape
    ``_build_proj_equation`` gives (the first ``bound`` kernel axes contracted with the input, the rest in the
    output). ``ndim`` no larger than ``bound``: a bias, which needs no equation."""
    bound = {name: n for name, n in ATTENTION_SUBLAYERS.values()}.get(sublayer)
    if cls not in ATTENTION or bound is None:
        return None
    sub = {"kernel_initializer": cfg.get("kernel_initializer"), "bias_initializer": cfg.get("bias_initializer"),
           "bias_axes": "b" if cfg.get("use_bias", True) else None}
    if bound < ndim <= 26:
        letters = "abcdefghijklmnopqrstuvwxyz"[:ndim]
        sub["equation"] = f"Z{letters[:bound]},{letters}->Z{letters[bound:]}"
    return "EinsumDense", sub


def _init_call(name: str, args: dict[str, Any]) -> str | None:
    """The init call (theory/initializers.py's grammar) of a Keras initializer with fixed numeric parameters,
    e.g. ``keras.initializers.RandomUniform(minval=-0.05, maxval=0.05)``; None for any other."""
    canonical = {n.lower(): n for n in LAWS}.get(name.lower().replace("_", ""))
    if canonical is None:
        return None
    sig = KERAS_SIGNATURES[canonical]
    shown = []
    for key, _default in sig.params:
        value = args.get(key)
        if key == "seed" or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or abs(value) > MAX_CONSTANT:
            return None
        shown.append(f"{key}={float(value)!r}")
    return f"{sig.text()}({', '.join(shown)})"


def _initializer(init: Any) -> tuple[str, dict[str, Any]]:
    """(class name, its config) of a serialized initializer: a dict (Keras 3 and 2) or a plain name."""
    if isinstance(init, str):
        return init[:100], {}
    if isinstance(init, dict):
        name, args = init.get("class_name"), init.get("config")
        return (name[:100] if isinstance(name, str) else ""), (args if isinstance(args, dict) else {})
    return "", {}


def _skip(tensor: str, origin: str, why: str) -> Rule:
    return Rule(match=tensor, skip=True, origin=f"{origin} ({why}; general laws are not yet supported)")


def _gain_options(scale: float) -> dict[str, Any] | None:
    """The nonlinearity (and slope) whose gain squared is ``scale``: VarianceScaling's std is sqrt(scale/fan)."""
    if not math.isfinite(scale) or scale <= 0:
        return None
    if scale == 2.0:
        return {"nonlinearity": "relu", "negative_slope": 0.0}
    if scale == 1.0:
        return {"nonlinearity": "linear", "negative_slope": 0.0}
    if math.isclose(scale, 25.0 / 9.0, rel_tol=1e-12):
        return {"nonlinearity": "tanh", "negative_slope": 0.0}
    slope = math.sqrt(2.0 / scale - 1.0) if scale < 2.0 else math.inf
    if slope > MAX_SLOPE:
        return None
    return {"nonlinearity": "leaky_relu", "negative_slope": slope}
