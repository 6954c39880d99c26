"""The signal a torch model carries at init, measured: why an init is right is that the signal keeps its scale.

Over a few random batches shaped like the sample input: the std of each weighted layer's output (forward) and
of each weight's gradient for a loss that is a unit-variance random projection of the output (backward), per
layer and as a growth across depth; a verdict (``stable``, ``vanishing``, ``exploding``) and the layer where the
signal turns. This is ``kaiming propagate`` on the user's own model; the anchors are signal-propagation theory
(He et al. 2015: the variance of a ReLU layer's output is ``fan_in * Var(w) / 2`` times its input's) and LSUV
(Mishkin & Matas 2016: rescale each layer until its output variance is right). docs/audit.md §8.

BatchNorm runs in training mode (batch statistics, as training sees it) with its running statistics restored
afterwards; dropout is off. Memory is one batch's activations and gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

#: The signal has vanished (exploded) when the last third of the layers is this many times below (above) the
#: first third, by geometric mean: one order of magnitude, far beyond what a correct init's fluctuations give.
TURN = 10.0
#: Random batches averaged (each a forward and a backward pass: the cost of the measurement); ``audit`` stops
#: after the first when it already settles the verdict (``SETTLED``).
BATCHES = 2
#: After one batch, the verdict is settled when every growth it judges is this factor or more away from the
#: thresholds (inside [3/TURN, TURN/3], or beyond TURN x 3 either way), or when the norms hold the scale (nothing
#: to judge): over 8 seeds the one-batch growths of the test models spread by at most 29% (coefficient of
#: variation; 22% with two batches), so a factor 3 is about 4 of those spreads, and a second batch could not move
#: such a growth across a threshold (docs/audit.md §7-8).
SETTLED = 3.0
_WEIGHTED = ("Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
             "Bilinear", "LazyLinear", "Conv1D")


@dataclass(frozen=True)
class Signal:
    """The measured signal: forward std per weighted layer, gradient std per weight, growths and the verdict."""

    input_shape: tuple[int, ...]
    forward: tuple[tuple[str, float], ...]
    backward: tuple[tuple[str, float], ...]
    forward_growth: float | None
    backward_growth: float | None
    verdict: str
    """stable, vanishing, exploding (or unmeasured)."""
    turns_at: str | None = None
    direction: str = ""
    """forward or backward: where the verdict comes from."""
    gain_fix: dict[str, float] = field(default_factory=dict)
    backward_signal: tuple[tuple[str, float], ...] = ()
    """Std of the gradient reaching each weighted layer's output, by module, in forward order."""
    across: tuple[tuple[str, float], ...] = ()
    """Std of each weighted layer's output across the samples of a batch: what the verdict reads."""

    @property
    def is_finding(self) -> bool:
        return self.verdict in ("vanishing", "exploding")

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape),
                "forward": [{"module": m, "std": s, "across_samples_std": a}
                            for (m, s), (_m, a) in zip(self.forward, self.across, strict=True)],
                "backward": [{"name": n, "grad_std": s} for n, s in self.backward],
                "forward_growth": self.forward_growth, "backward_growth": self.backward_growth,
                "backward_signal": [{"module": m, "std": s} for m, s in self.backward_signal],
                "verdict": self.verdict, "turns_at": self.turns_at, "direction": self.direction}


def _weighted_modules(model: Any) -> list[tuple[str, Any]]:
    """Layers whose output is a signal: Linear/Conv and their kin (GPT-2's Conv1D); embeddings are sources."""
    return [(n, m) for n, m in model.named_modules() if type(m).__name__ in _WEIGHTED
            and getattr(m, "weight", None) is not None and m.weight.dim() >= 2]


def _resample(value: Any, gen: Any, vocab: int) -> Any:
    """A new random batch like ``value``: normal floats, token ids below ``vocab``; masks kept."""
    import torch

    if isinstance(value, dict):
        return {k: (v if "mask" in k else _resample(v, gen, vocab)) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_resample(v, gen, vocab) for v in value)
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            return torch.randn(value.shape, generator=gen, dtype=value.dtype)
        return torch.randint(0, max(vocab, 2), value.shape, generator=gen, dtype=value.dtype)
    return value


def _first_float(output: Any) -> Any:
    import torch

    if hasattr(output, "to_tuple"):
        output = output.to_tuple()
    if isinstance(output, torch.Tensor):
        return output if output.is_floating_point() else None
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        for v in output:
            found = _first_float(v)
            if found is not None:
                return found
    return None


def measure_signal(model: Any, inputs: Any, *, batches: int = BATCHES, seed: int = 0,
                   side: frozenset[str] = frozenset(), normalized: frozenset[str] = frozenset(),
                   settle: bool = False) -> Signal:
    """Run ``batches`` random batches like ``inputs`` forward and backward; the model is left as it was.
    ``side`` names layers off the signal's path (attention's query and key, a gate's linear half: their output
    only meets another signal in a product), left out of the depth series: at init the softmax is nearly
    uniform, so the gradient reaching a query or key is orders of magnitude below the stream's by design.
    ``normalized`` names the scale-free layers (a norm follows before any nonlinearity): measured and reported,
    but left out of the verdict, since the norm divides their output's scale out (and multiplies the gradient
    reaching it by the inverse), so their stds say nothing about depth. ``settle``: stop after the first batch
    when it settles the verdict (``_settled``): the further batches only make the reported stds more precise."""
    import torch

    layers = [(n, m) for n, m in _weighted_modules(model) if n not in side]
    names = {id(m): n for n, m in layers}
    acc = _Sums()

    def hook(mod: Any, _i: Any, out: Any) -> None:
        t = _first_float(out)
        if t is None or t.numel() < 2:
            return
        name = names[id(mod)]
        if name not in acc.forward:
            acc.order.append(name)
        thin = _thin(t.detach())
        acc.forward[name] = acc.forward.get(name, 0.0) + float(thin.float().var())
        acc.between[name] = acc.between.get(name, 0.0) + _between_samples(thin)
        if t.requires_grad:
            t.register_hook(lambda g: acc.deltas.__setitem__(name, acc.deltas.get(name, 0.0)
                                                             + _between_samples(_thin(g))))

    params = [(n, p) for n, p in model.named_parameters() if p.dim() >= 2 and p.requires_grad]
    gen = torch.Generator().manual_seed(seed + 1)
    vocab = next((int(m.num_embeddings) for m in model.modules() if isinstance(m, torch.nn.Embedding)), 2)
    saved = _save_state(model)
    hooks = [m.register_forward_hook(hook) for _n, m in layers] + _grad_hooks(params, acc.grads)
    try:
        for _ in range(batches):
            _one_batch(model, _resample(inputs, gen, vocab), gen, params, acc.grads)
            acc.done += 1
            if settle and acc.done < batches and _settled(acc.signal(inputs, params, normalized)):
                break
    finally:
        for h in hooks:
            h.remove()
        model.zero_grad(set_to_none=True)
        _restore_state(model, saved)
    return acc.signal(inputs, params, normalized)


def _grad_variance(grad: Any) -> float:
    """The variance of a weight's gradient, on at most ``THIN`` of its values."""
    return float(_thin(grad.reshape(1, -1)).float().var())


def _grad_hooks(params: list[tuple[str, Any]], grads: dict[str, float]) -> list[Any]:
    """Hooks that add each weight's gradient variance to ``grads`` as soon as backward has accumulated it, and
    free it (``p.grad = None``): the allocator then reuses that memory for the next weight's gradient, where
    keeping every gradient until the end faulted in a whole model's worth of new pages (100 MB, ~0.05 s of
    system time on a ResNet-50). The same variance of the same tensor as ``_one_batch``'s loop, which still
    takes any gradient left (torch before 2.1 has no such hook)."""

    def hook(p: Any, name: str) -> None:
        if p.grad is not None:
            grads[name] = grads.get(name, 0.0) + _grad_variance(p.grad)
            p.grad = None

    return [p.register_post_accumulate_grad_hook(lambda p, n=n: hook(p, n)) for n, p in params
            if hasattr(p, "register_post_accumulate_grad_hook")]


def _one_batch(model: Any, batch: Any, gen: Any, params: list[tuple[str, Any]], grads: dict[str, float]) -> None:
    """One forward and backward pass (the hooks record the outputs' and their gradients' variances); each
    weight's gradient variance added to ``grads`` (by ``_grad_hooks``, else here)."""
    import torch

    args, kwargs = ((), batch) if isinstance(batch, dict) else (
        (tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)), {})
    out = _first_float(model(*args, **kwargs))
    model.zero_grad(set_to_none=True)
    if out is None or not out.requires_grad:
        return
    projection = torch.randn(out.shape, generator=gen, dtype=out.dtype)
    (out * projection).sum().div(out.shape[0] if out.dim() else 1).backward()
    for n, p in params:
        if p.grad is not None:
            grads[n] = grads.get(n, 0.0) + _grad_variance(p.grad)


@dataclass
class _Sums:
    """The variances summed over the batches run so far, by layer (forward, across samples, the gradient reaching
    the output) and by weight (its gradient)."""

    forward: dict[str, float] = field(default_factory=dict)
    between: dict[str, float] = field(default_factory=dict)
    deltas: dict[str, float] = field(default_factory=dict)
    grads: dict[str, float] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    done: int = 0

    def signal(self, inputs: Any, params: list[tuple[str, Any]], normalized: frozenset[str]) -> Signal:
        """The stds averaged over the ``done`` batches, and their verdict."""
        k = max(1, self.done)
        forward = tuple((n, math.sqrt(self.forward[n] / k)) for n in self.order)
        backward = tuple((n, math.sqrt(self.grads[n] / k)) for n, _p in params if n in self.grads)
        signal = tuple((n, math.sqrt(self.deltas[n] / k)) for n in self.order if n in self.deltas)
        across = tuple((n, math.sqrt(self.between[n] / k)) for n in self.order)
        judged = _judge(_shape_of(inputs), forward, backward, tuple(x for x in signal if x[0] not in normalized),
                        tuple(x for x in across if x[0] not in normalized))
        return replace(judged, forward=forward, backward=backward, backward_signal=signal, across=across)


def _settled(signal: Signal) -> bool:
    """Whether one batch already settles the verdict: the norms hold the scale (nothing over depth to judge), or
    every growth judged is ``SETTLED`` times or more away from both thresholds (docs/audit.md §7)."""
    if signal.direction == "normalized":
        return True
    growths = [g for g in (signal.forward_growth, signal.backward_growth) if g is not None]
    if not growths:
        return False
    band = math.log10(SETTLED)
    return all(math.isfinite(g) and g > 0 and abs(abs(math.log10(g)) - math.log10(TURN)) >= band
               for g in growths)


#: Elements per sample the std of a layer's output (or gradient) is computed on: a strided subset of a larger
#: output. 16,384 values a sample over a batch of 4 pin a std to about 0.6% (1/sqrt(2 x 65,536)), far inside
#: the 10x the verdict reads, at a fraction of the cost of the full activations (a ResNet-50's are ~0.8 M
#: values a sample at 32x32).
THIN = 16_384


def _thin(t: Any) -> Any:
    """``t`` as (samples, values), every k-th value kept so that at most ``THIN`` remain a sample."""
    flat = t.reshape(t.shape[0], -1) if t.dim() >= 2 else t.reshape(1, -1)
    step = -(-flat.shape[1] // THIN)
    return flat[:, ::step] if step > 1 else flat


def _between_samples(t: Any) -> float:
    """The variance across the samples of the batch (per element, averaged): the part of a layer's output that
    carries the input. A bias adds the same to every sample, so a signal that vanished does not hide behind it
    (a 40-layer ReLU MLP at torch's default init keeps an output std of ~0.04 from its biases alone).

    Written out as two passes in float64 rather than ``t.var(dim=0).mean()``: torch's reduction over the batch
    dimension of a (4, 16384) tensor took 3.7 ms against 0.19 ms for this on one thread (216 calls on a
    ResNet-50), and the sum is exact to float64 rounding instead of float32's."""
    t = t.double()
    if t.dim() >= 1 and t.shape[0] >= 2:
        centred = t - t.mean(dim=0)
        return float(centred.pow(2).sum()) / float((t.shape[0] - 1) * max(1, centred[0].numel()))
    return float(t.var())


def _shape_of(inputs: Any) -> tuple[int, ...]:
    import torch

    if isinstance(inputs, dict):
        inputs = next(iter(inputs.values()), None)
    if isinstance(inputs, (tuple, list)):
        inputs = inputs[0] if inputs else None
    return tuple(int(d) for d in inputs.shape) if isinstance(inputs, torch.Tensor) else ()


def _save_state(model: Any) -> tuple[bool, dict[str, Any], list[Any]]:
    """Training mode for batch statistics, dropout off; the buffers (running stats) copied to restore."""
    import torch

    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    modes = [(m, m.training) for m in model.modules()]
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.dropout._DropoutNd):
            m.eval()
    return model.training, buffers, modes


def _restore_state(model: Any, saved: tuple[bool, dict[str, Any], list[Any]]) -> None:
    import torch

    _training, buffers, modes = saved
    with torch.no_grad():
        for n, b in model.named_buffers():
            if n in buffers:
                b.copy_(buffers[n])
    for m, mode in modes:
        m.training = mode


def _thirds(values: list[float]) -> tuple[float, float]:
    """Geometric means of the first and the last third (at least one value each)."""
    k = max(1, len(values) // 3)
    first = [math.log(max(v, 1e-300)) for v in values[:k]]
    last = [math.log(max(v, 1e-300)) for v in values[-k:]]
    return math.exp(sum(first) / len(first)), math.exp(sum(last) / len(last))


def _turn(series: tuple[tuple[str, float], ...], reference: float, grows: bool) -> str | None:
    """The first layer whose std is TURN times beyond ``reference`` (the first layer's, along the direction the
    signal travels) in the direction of the trend."""
    for name, value in series:
        if (value > reference * TURN) if grows else (value < reference / TURN):
            return name
    return None


def _judge(shape: tuple[int, ...], forward: tuple[tuple[str, float], ...], backward: tuple[tuple[str, float], ...],
           signal: tuple[tuple[str, float], ...], across: tuple[tuple[str, float], ...]) -> Signal:
    """Growth = last third over first third: forward along the pass, of the layers' outputs; backward from the
    output back to the input, of the gradient reaching each layer's output (``signal``: a weight's own
    gradient is its input times that, and in a ReLU stack the two trends cancel, so it would hide an explosion).
    The forward growth is of ``across``, the std across samples (``_between_samples``), so that biases do not
    hide a vanished signal. Vanishing below 1/TURN, exploding above TURN; the forward verdict wins when it is
    not stable."""
    fwd_growth = bwd_growth = None
    verdict, turns, direction = "stable", None, ""
    if len(across) >= 2:
        first, last = _thirds([s for _n, s in across])
        fwd_growth = last / first if first > 0 else math.inf
        if not 1 / TURN <= fwd_growth <= TURN:
            verdict = "vanishing" if fwd_growth < 1 / TURN else "exploding"
            turns, direction = _turn(across, across[0][1], fwd_growth > 1), "forward"
    if len(signal) >= 2:
        first, last = _thirds([s for _n, s in signal])  # first = near the input; the gradient flows back
        bwd_growth = first / last if last > 0 else math.inf
        if verdict == "stable" and not 1 / TURN <= bwd_growth <= TURN:
            verdict = "vanishing" if bwd_growth < 1 / TURN else "exploding"
            turns = _turn(tuple(reversed(signal)), signal[-1][1], bwd_growth > 1)
            direction = "backward"
    if not forward and not backward:
        verdict = "unmeasured"
    if len(across) < 2 and len(signal) < 2 and (forward or backward):
        direction = "normalized"  # every layer but at most one is followed by a norm: the norms hold the scale
    fix = {n: forward[i - 1][1] / s for i, (n, s) in enumerate(forward) if i and s > 0}
    return Signal(shape, forward, backward, fwd_growth, bwd_growth, verdict, turns, direction, fix, signal,
                  across)


def sparkline(values: list[float]) -> str:
    """A text chart of log std by depth, as ``propagate`` draws it."""
    bars = "▁▂▃▄▅▆▇█"
    logs = [math.log10(max(v, 1e-300)) for v in values]
    if not logs:
        return ""
    lo, hi = min(logs), max(logs)
    span = hi - lo or 1.0
    return "".join(bars[min(7, int((x - lo) / span * 7.999))] for x in logs)
