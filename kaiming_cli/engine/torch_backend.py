"""Sampling with the real ``torch.nn.init`` functions (optional extra ``kaiming[torch]``).

The tensor has the spec's shape in a layout torch understands, and the init function is called
with exactly the options a PyTorch user would pass, seeded through a ``torch.Generator``. When
more values are asked for than the tensor holds, the same call is repeated on the same tensor,
as the reference values of docs/init-semantics.md §8 were produced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from ..theory.spec import CalculateGain, InitSpec, torch_init_call
from .frameworks import repeated
from .stream import Producer


def import_torch() -> Any:
    try:
        import torch
    except ImportError:
        from ..about import install_hint

        raise InputError(f"--backend torch needs PyTorch, which is not installed; install it with: "
                         f"{install_hint('torch')} (torch==2.13.0 is the tested version).") from None
    return torch


def torch_shape(spec: InitSpec) -> tuple[int, ...]:
    """The tensor torch initialises: keras/jax kernels ``(*k, in, out)`` become ``(out, in, *k)``."""
    if spec.layout in ("torch", "torch-transpose"):
        return spec.shape
    if len(spec.shape) < 2:
        raise ValueError(
            f"--backend torch has no equivalent for the 1-D {spec.layout} shape "
            f"{spec.shape}: torch refuses fans of 1-D tensors; use --backend numpy."
        )
    *kernel, fan_in_axis, fan_out_axis = spec.shape
    return (fan_out_axis, fan_in_axis, *kernel)


def torch_init(spec: InitSpec) -> tuple[Callable[[Any, Any], None], str]:
    """The function that fills a tensor, and its exact call as text (both from one ``TorchCall``)."""
    init = import_torch().nn.init
    if spec.mode is None or spec.nonlinearity is None or spec.negative_slope is None:
        raise ValueError("--backend torch samples the mode/nonlinearity options only; use --backend numpy.")
    call = torch_init_call(spec.mode, spec.nonlinearity, spec.negative_slope, spec.distribution, spec.std,
                           spec.layout == "torch-transpose")

    def value(v: float | str | CalculateGain) -> Any:
        if isinstance(v, CalculateGain):  # torch's own gain, not ours: the backend is the reference
            return init.calculate_gain(v.nonlinearity, *(() if v.param is None else (v.param,)))
        return v

    function = getattr(init, call.function)
    kwargs = {k: value(v) for k, v in call.kwargs}

    def fill(w: Any, g: Any) -> None:
        function(w, **kwargs, generator=g)

    return fill, call.text()


def torch_producer(spec: InitSpec, seed: int) -> tuple[Producer, str]:
    """A sequential producer (run it with one job) of values from repeated torch init calls."""
    torch = import_torch()
    fill, call = torch_init(spec)
    shape = torch_shape(spec)
    generator = torch.Generator().manual_seed(seed)
    weight = torch.empty(shape, dtype=torch.float32)

    def draw(_k: int) -> np.ndarray:  # called in order by repeated(): one generator carries on
        with torch.no_grad():
            fill(weight, generator)
        flat: np.ndarray = weight.reshape(-1).numpy()
        return flat

    produce = repeated(draw, weight.numel())

    on = f"w = torch.empty({', '.join(map(str, shape))})"
    seeded = f"generator=torch.Generator().manual_seed({seed})"
    info = f"torch {torch.__version__}: {on}; {call} with {seeded}"
    return produce, info
