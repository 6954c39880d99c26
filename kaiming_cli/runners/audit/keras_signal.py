"""Keras models in ``kaiming audit``: what each weight's output feeds in the Functional graph, and the signal
measured by running the model (issue 27 point 5; docs/audit.md §8).

**Feeds.** From each weighted layer, the graph is walked along its outbound nodes: the layer's own
``activation`` ends the path at once; norms, dropout, pooling, reshapes and merges are passed through (a norm or
an ``Add`` is noted, as the torch path notes them); an activation layer ends the path with its activation;
another layer, or the model's output, ends it linearly. A weight whose every path meets a norm first is
scale-free for the forward pass, as in torch (roles.py).

**Signal.** A few random batches (normal floats; token ids below the first ``Embedding``'s vocabulary; an
unknown dimension 8) go through the model itself, eagerly; the loss reads its first output. BatchNormalization
runs in training mode (batch statistics) with its moving statistics restored afterwards; dropout layers are set
to rate 0 for the run. Forward: the std of each weighted layer's output before its own ``activation`` (recorded
by wrapping ``layer.activation``, which Keras calls last: the same quantity as a torch Linear's output), and its
std across the samples of a batch. Backward, on the torch backend only: ``torch.autograd`` of a unit-variance
random projection of the output, giving each trainable kernel's gradient std and the gradient reaching each
layer's output; the numpy and other backends give the forward pass only, and say so. Verdict and growths as
signal.py's ``_judge``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from .graph import _keras_activation_name, _keras_next, _keras_step
from .signal import BATCHES, Signal, _judge
from .trace import Feed

_NORMS = ("BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
          "RMSNormalization")
_MERGES = ("Add",)
#: layers whose kernel output is a signal (the audit's weighted Keras layers)
WEIGHTED = ("Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
            "EinsumDense", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D")
#: paths followed from one layer (a wide model fans out; the first ones name what it feeds)
MAX_PATHS = 64


def keras_feeds(layer: Any, model: Any) -> list[Feed]:
    """Where ``layer``'s output goes: one Feed per distinct end (see the module docstring)."""
    own = getattr(layer, "activation", None)
    if own is not None and _keras_activation_name(own) != "none":
        name = _keras_activation_name(own)
        return [Feed(name, f"{name} (own activation)")]
    feeds: list[Feed] = []
    stack: list[tuple[Any, bool, bool, str]] = [(n, False, False, "") for n in _keras_next(layer, model)]
    if not stack:
        return [Feed("none", "output")]
    seen: set[int] = set()
    while stack and len(feeds) < MAX_PATHS:
        nxt, normed, residual, first = stack.pop()
        if id(nxt) in seen:
            continue
        seen.add(id(nxt))
        cls = type(nxt).__name__
        step = _keras_step(nxt)
        if step.kind == "through":
            normed = normed or cls in _NORMS
            residual = residual or cls in _MERGES
            first = first or ("norm" if cls in _NORMS else "residual" if cls in _MERGES else "")
            after = _keras_next(nxt, model)
            if not after:
                feeds.append(Feed("none", "output", normed, residual, first))
            stack.extend((a, normed, residual, first) for a in after)
            continue
        op = step.activation if step.kind == "act" else getattr(nxt, "name", cls)
        feeds.append(Feed(step.activation if step.kind == "act" else "none", op, normed, residual, first))
    return feeds or [Feed("none", "output")]


def weighted_layers(layers: list[Any]) -> list[Any]:
    return [la for la in layers if type(la).__name__ in WEIGHTED and getattr(la, "trainable_weights", None)]


def measure_keras_signal(model: Any, layers: list[Any], *, batch: int = 4, batches: int = BATCHES, seed: int = 0,
                         normalized: frozenset[str] = frozenset(), input_shape: tuple[int, ...] | None = None
                         ) -> tuple[Signal | None, str]:
    """(the measured signal or None, a note saying what was or was not measured). The input: the model's
    symbolic inputs (``keras.Input``), else ``input_shape`` (``--input-shape``, with its batch dimension) for a
    subclassed model."""
    import keras
    import numpy as np

    weighted = [la for la in weighted_layers(layers) if callable(getattr(la, "activation", None))]
    specs = [(tuple(t.shape[1:]), str(t.dtype)) for t in getattr(model, "inputs", None) or []]
    if not specs and input_shape:
        batch, specs = input_shape[0], [(tuple(input_shape[1:]), "float32")]
    if not specs or not weighted:
        return None, ("signal not measured: the model has no symbolic inputs (build it with keras.Input, or give "
                      "--input-shape) or no Dense/Conv layer")
    rng = np.random.default_rng(seed + 1)
    vocab = next((int(la.input_dim) for la in layers if type(la).__name__ == "Embedding"), 2)
    torch_backend = keras.backend.backend() == "torch"
    kernels = [(v.path, v) for la in weighted for v in la.trainable_weights if len(v.shape) >= 2]
    sums: dict[str, float] = {}
    between: dict[str, float] = {}
    deltas: dict[str, float] = {}
    grads: dict[str, float] = {}
    seen: dict[str, Any] = {}
    saved = _quiet(layers, weighted, seen)
    try:
        for _ in range(batches):
            seen.clear()
            inputs = [_random_input(shape, dtype, batch, vocab, rng) for shape, dtype in specs]
            out = _first_output(model(inputs if len(inputs) > 1 else inputs[0], training=True))
            for la in weighted:
                if la.name in seen:
                    arr = keras.ops.convert_to_numpy(seen[la.name]).astype(np.float64)
                    sums[la.name] = sums.get(la.name, 0.0) + float(arr.var())
                    between[la.name] = between.get(la.name, 0.0) + _between(arr)
            if torch_backend and out is not None:
                _torch_backward(out, [(la.name, seen[la.name]) for la in weighted if la.name in seen], kernels, rng,
                                grads, deltas)
    finally:
        _restore(saved)
    forward = tuple((la.name, math.sqrt(sums[la.name] / batches)) for la in weighted if la.name in sums)
    across = tuple((la.name, math.sqrt(between[la.name] / batches)) for la in weighted if la.name in between)
    backward = tuple((p, math.sqrt(grads[p] / batches)) for p, _v in kernels if p in grads)
    signal = tuple((la.name, math.sqrt(deltas[la.name] / batches)) for la in weighted if la.name in deltas)
    shape = (batch, *(int(d) if d is not None else 8 for d in specs[0][0]))
    judged = _judge(shape, forward, backward, tuple(x for x in signal if x[0] not in normalized),
                    tuple(x for x in across if x[0] not in normalized))
    measured = replace(judged, forward=forward, backward=backward, backward_signal=signal, across=across)
    how = (f"signal measured over {batches} random batches of {batch} (Keras on torch: forward, and backward "
           "with torch.autograd)" if torch_backend else
           f"signal measured forward only over {batches} random batches of {batch}: the Keras "
           f"{keras.backend.backend()} backend gives no gradients here (KERAS_BACKEND=torch measures backward too)")
    return measured, how


def _first_output(out: Any) -> Any:
    while isinstance(out, (list, tuple)) and out:
        out = out[0]
    if isinstance(out, dict):
        out = next(iter(out.values()), None)
    return out


def _random_input(dims: tuple[Any, ...], dtype: str, batch: int, vocab: int, rng: Any) -> Any:
    shape = (batch, *(int(d) if d is not None else 8 for d in dims))
    if "int" in dtype:
        return rng.integers(0, max(vocab, 2), shape).astype(dtype)
    return rng.standard_normal(shape).astype("float32")


def _between(arr: Any) -> float:
    """Variance across the samples of the batch, per element, averaged (signal.py ``_between_samples``)."""
    return float(arr.var(axis=0).mean()) if arr.ndim >= 1 and arr.shape[0] >= 2 else float(arr.var())


def _torch_backward(out: Any, outputs: list[tuple[str, Any]], kernels: list[tuple[str, Any]], rng: Any,
                    grads: dict[str, float], deltas: dict[str, float]) -> None:
    """One backward pass of a unit-variance random projection of the output, with torch.autograd: each
    kernel's gradient, and the gradient reaching each layer's output (before its own activation)."""
    import torch

    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return
    projection = torch.as_tensor(rng.standard_normal(tuple(out.shape)), dtype=out.dtype, device=out.device)
    loss = (out * projection).sum() / (out.shape[0] if out.dim() else 1)
    params = [v.value for _p, v in kernels]
    tensors = [t for _n, t in outputs]
    found = torch.autograd.grad(loss, [*params, *tensors], allow_unused=True)
    for (path, _v), g in zip(kernels, found[:len(params)], strict=True):
        if g is not None:
            grads[path] = grads.get(path, 0.0) + float(g.double().var())
    for (name, _t), g in zip(outputs, found[len(params):], strict=True):
        if g is not None:
            deltas[name] = deltas.get(name, 0.0) + _between(g.detach().double().cpu().numpy())


Saved = tuple[list[tuple[Any, float]], list[tuple[Any, Any]], list[tuple[Any, Any]]]


def _quiet(layers: list[Any], weighted: list[Any], seen: dict[str, Any]) -> Saved:
    """Dropout rates set to 0; every non-trainable variable (BatchNorm's moving statistics) saved; each weighted
    layer's ``activation`` wrapped to record its input, the layer's output before its own activation (what the
    torch path measures of a Linear: Keras puts the activation inside the layer; Dense, Conv and EinsumDense
    call ``self.activation`` last)."""
    import keras

    rates = [(la, la.rate) for la in layers if hasattr(la, "rate") and "Dropout" in type(la).__name__]
    for la, _r in rates:
        la.rate = 0.0
    state = [(v, keras.ops.convert_to_numpy(v)) for la in layers for v in la.non_trainable_weights]
    wrapped = [(la, la.activation) for la in weighted]
    for la, fn in wrapped:
        la.activation = _recorder(la.name, fn, seen)
    return rates, state, wrapped


def _recorder(name: str, fn: Any, seen: dict[str, Any]) -> Any:
    def record(x: Any) -> Any:
        seen.setdefault(name, x)  # a shared layer: its first call in the batch
        return fn(x)
    return record


def _restore(saved: Saved) -> None:
    rates, state, wrapped = saved
    for la, fn in wrapped:
        la.activation = fn
    for la, rate in rates:
        la.rate = rate
    for v, value in state:
        v.assign(value)


def keras_role(cls: str, leaf: str, feeds: list[Feed]) -> str:
    """roles.py's roles for a Keras variable: ``embedding``, ``scale-free`` (every path meets a norm before any
    nonlinearity), ``residual block`` (a path joins an ``Add`` first), else ``''``."""
    if cls == "Embedding":
        return "embedding"
    if leaf != "kernel" or not feeds:
        return ""
    if all(f.first == "norm" for f in feeds):
        return "scale-free"
    if any(f.first == "residual" for f in feeds):
        return "residual block"
    return ""
