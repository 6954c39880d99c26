"""What a Keras model's config says about its weights: variable names per layer class, and the rule each
variable's configured initializer implies.

Only the initializers today's specs can express become rules: the ``VarianceScaling`` family (``HeNormal``,
``GlorotUniform``, ``LecunNormal``, ... and ``VarianceScaling(scale, mode, distribution)`` itself, as in
keras/src/initializers/random_initializers.py) and the constants ``Zeros``, ``Ones`` and ``Constant``. Any
other initializer (``RandomNormal``, ``Orthogonal``, ...) gives a skip rule that names it. No h5py here.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..theory.fans import MODES
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
CONSTANTS = {"zeros": 0.0, "zero": 0.0, "ones": 1.0, "one": 1.0}
#: Keras's distribution names -> kaiming's ("normal" is the truncated law in Keras, untruncated_normal the plain)
DISTRIBUTIONS = {"truncated_normal": "truncated_normal", "normal": "truncated_normal",
                 "untruncated_normal": "normal", "uniform": "uniform"}

_KERNEL_LAYERS = {"Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
#: snake-cased class (the Keras 3 weights path) -> class, for files without a config
_SNAKE = {"dense": "Dense", "conv1d": "Conv1D", "conv2d": "Conv2D", "conv3d": "Conv3D",
          "conv1d_transpose": "Conv1DTranspose", "conv2d_transpose": "Conv2DTranspose",
          "conv3d_transpose": "Conv3DTranspose", "embedding": "Embedding",
          "batch_normalization": "BatchNormalization", "layer_normalization": "LayerNormalization"}


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
    elif cls == "Embedding":
        names = ["embeddings"]
    elif cls in ("BatchNormalization", "LayerNormalization"):
        names = (["gamma"] if cfg.get("scale", True) else []) + (["beta"] if cfg.get("center", True) else [])
        if cls == "BatchNormalization":
            names += ["moving_mean", "moving_variance"]
    else:
        return None
    return names if len(names) == count else None


def stated_rule(tensor: str, layer: str, var: str, cls: str, cfg: dict[str, Any], where: str) -> Rule | None:
    """The rule that the layer's ``<var>_initializer`` implies for ``tensor``, or None if it names none."""
    key = f"{var}_initializer"
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
        return _skip(tensor, origin, "kaiming's specs express only VarianceScaling (He, Glorot, Lecun) and "
                                     "constants")
    gain = _gain_options(float(scale))
    if gain is None:
        return _skip(tensor, origin, f"scale {float(scale):g} matches no nonlinearity's gain")
    options: dict[str, Any] = {"layout": "keras", "mode": mode, "distribution": distribution, **gain}
    return Rule(match=tensor, options=options, origin=origin)  # type: ignore[arg-type]


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
