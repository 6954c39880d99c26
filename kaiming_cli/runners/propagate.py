"""``kaiming propagate``: why the gain matters, shown by pushing a signal through a deep stack.

A random batch goes forward through ``depth`` layers (fully connected, or 2-D convolutions with
circular padding), each followed by the nonlinearity, and a random gradient goes backward through
the same layers. Several inits are compared: ``calculate_gain``'s gain for the nonlinearity, gain 1
(``nonlinearity='linear'``), Xavier, and PyTorch's ``a=sqrt(5)`` layer default. The labels say what each
init is; what it did is read from the measurements (``measured``), since the story differs by
nonlinearity (tanh's 5/3 keeps the forward signal but grows the gradient). float32
numpy throughout; the std of the pre-activations (forward) and of the gradient with respect to
each layer's input (backward) is recorded per layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.sampling import draw
from ..stats.laws import Law
from ..theory.fans import compute_fans
from ..theory.gains import TORCH_DEFAULT_LAYER_SLOPE, gain

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805

Activation = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


def activation(nonlinearity: str, a: float) -> Activation:
    """(f, f') for the nonlinearity; the conv/linear names are the identity."""
    f32 = np.float32
    if nonlinearity == "relu":
        return (lambda h: np.maximum(h, f32(0))), (lambda h: (h > 0).astype(np.float32))
    if nonlinearity == "leaky_relu":
        return (lambda h: np.where(h > 0, h, h * f32(a))), (lambda h: np.where(h > 0, f32(1), f32(a)))
    if nonlinearity == "tanh":
        return np.tanh, (lambda h: f32(1) - np.tanh(h) ** 2)
    if nonlinearity == "sigmoid":
        def sig(h: np.ndarray) -> np.ndarray:
            out: np.ndarray = f32(1) / (f32(1) + np.exp(-h))
            return out

        return sig, (lambda h: sig(h) * (f32(1) - sig(h)))
    if nonlinearity == "selu":
        return ((lambda h: f32(SELU_SCALE) * np.where(h > 0, h, f32(SELU_ALPHA) * np.expm1(np.minimum(h, 0)))),
                (lambda h: f32(SELU_SCALE) * np.where(h > 0, f32(1), f32(SELU_ALPHA) * np.exp(np.minimum(h, 0)))))
    return (lambda h: h), (lambda h: np.ones_like(h))


@dataclass(frozen=True)
class Init:
    label: str
    gain: float
    mode: str
    """fan_in, fan_out or fan_avg."""


@dataclass(frozen=True)
class Run:
    init: Init
    forward_std: list[float]
    backward_std: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.init.label, "gain": self.init.gain, "mode": self.init.mode,
                "forward_std": self.forward_std, "backward_std": self.backward_std}


@dataclass(frozen=True)
class PropagateResult:
    nonlinearity: str
    negative_slope: float
    depth: int
    width: int
    batch: int
    seed: int
    conv: int | None
    spatial: int
    runs: tuple[Run, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"depth": self.depth, "width": self.width, "batch": self.batch, "nonlinearity": self.nonlinearity,
                "negative_slope": self.negative_slope, "seed": self.seed, "conv_kernel": self.conv,
                "spatial": self.spatial if self.conv else None, "runs": [r.to_dict() for r in self.runs]}


def inits(nonlinearity: str, a: float, mode: str) -> list[Init]:
    """The inits compared, labelled by what they are (never by what they are expected to do: with tanh the
    "right" gain 5/3 grows the gradient ~90x over 50 layers while gain 1 keeps it within 0.1-1)."""
    g = gain(nonlinearity, a)
    return [
        Init(f"kaiming, gain {g:.4g} ({nonlinearity}'s)", g, mode),
        Init("gain 1 (nonlinearity='linear')", 1.0, mode),
        Init("xavier (gain 1, fan_avg)", 1.0, "fan_avg"),
        Init("PyTorch default (a=sqrt(5))", gain("leaky_relu", TORCH_DEFAULT_LAYER_SLOPE), "fan_in"),
    ]


def measured(values: list[float], backward: bool = False) -> str:
    """What a run did, from its numbers: the change from the first layer the signal meets to the last."""
    if not values:
        return "-"
    first, last = (values[-1], values[0]) if backward else (values[0], values[-1])
    lo, hi = min(values), max(values)
    if first <= 0 or last <= 0:
        return f"from {first:.3g} to {last:.3g}"
    change = last / first
    if 0.5 <= change <= 2 and hi / lo <= 4:
        return f"stays within [{lo:.3g}, {hi:.3g}]"
    word = "grows" if change > 1 else "shrinks"
    factor = change if change > 1 else 1 / change
    return f"{word} {factor:.3g}x ({first:.3g} to {last:.3g})"


# --------------------------------------------------------------------------- layers

class Dense:
    def __init__(self, width: int) -> None:
        self.shape = (width, width)

    def weight(self, rng: np.random.Generator, std: float, uniform: bool) -> np.ndarray:
        return _draw(rng, self.shape, std, uniform)

    @staticmethod
    def forward(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        out: np.ndarray = x @ w.T
        return out

    @staticmethod
    def backward(g: np.ndarray, w: np.ndarray) -> np.ndarray:
        out: np.ndarray = g @ w
        return out


class Conv2d:
    """Stride-1 'same' convolution with circular padding, by im2col (exact variance bookkeeping)."""

    def __init__(self, channels: int, kernel: int) -> None:
        self.k = kernel
        self.shape = (channels, channels, kernel, kernel)

    def weight(self, rng: np.random.Generator, std: float, uniform: bool) -> np.ndarray:
        return _draw(rng, self.shape, std, uniform)

    def _cols(self, x: np.ndarray) -> np.ndarray:
        p = self.k // 2
        padded = np.pad(x, ((0, 0), (0, 0), (p, self.k - 1 - p), (p, self.k - 1 - p)), mode="wrap")
        windows = np.lib.stride_tricks.sliding_window_view(padded, (self.k, self.k), axis=(2, 3))
        b, c, h, w = x.shape
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(b * h * w, c * self.k * self.k)

    def forward(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        b, _c, h, wd = x.shape
        out = self._cols(x) @ w.reshape(w.shape[0], -1).T
        result: np.ndarray = out.reshape(b, h, wd, w.shape[0]).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(result)

    def backward(self, g: np.ndarray, w: np.ndarray) -> np.ndarray:
        # the input gradient of a circular conv is a circular conv with the flipped, transposed kernel
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        return self.forward(g, flipped)  # exact for odd kernels (the CLI accepts only those)


def _draw(rng: np.random.Generator, shape: tuple[int, ...], std: float, uniform: bool) -> np.ndarray:
    return draw(rng, Law("uniform" if uniform else "normal", std), math.prod(shape)).reshape(shape)


def run_propagate(nonlinearity: str = "relu", negative_slope: float = 0.0, mode: str = "fan_in", depth: int = 50,
              width: int = 512, batch: int = 256, seed: int = 0, conv: int | None = None,
              spatial: int = 8) -> PropagateResult:
    """Forward and backward std per layer for each init (same data and weights noise for all)."""
    f, df = activation(nonlinearity, negative_slope)
    layer: Dense | Conv2d = Conv2d(width, conv) if conv else Dense(width)
    shape = (batch, width, spatial, spatial) if conv else (batch, width)
    runs = []
    for init in inits(nonlinearity, negative_slope, mode):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(shape, dtype=np.float32)
        grad_out = rng.standard_normal(shape, dtype=np.float32)
        std = init.gain / math.sqrt(compute_fans(layer.shape).select(init.mode))
        uniform = init.label.startswith("PyTorch default")
        weights = [layer.weight(rng, std, uniform) for _ in range(depth)]
        pre: list[np.ndarray] = []
        forward_std = []
        for w in weights:
            h = layer.forward(x, w)
            pre.append(h)
            forward_std.append(float(np.std(h, dtype=np.float64)))
            x = f(h)
        g = grad_out
        backward_std = [0.0] * depth
        for i in range(depth - 1, -1, -1):
            g = layer.backward(g * df(pre[i]), weights[i])
            backward_std[i] = float(np.std(g, dtype=np.float64))
        runs.append(Run(init, forward_std, backward_std))
    return PropagateResult(nonlinearity, negative_slope, depth, width, batch, seed, conv, spatial, tuple(runs))
