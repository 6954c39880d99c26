"""Tensors already in memory (numpy arrays, torch tensors) as ``TensorSource``s: the Python API's input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from .sources import TensorSource


def array_source(array: Any, name: str = "tensor") -> TensorSource:
    """A ``TensorSource`` over a numpy array or a torch tensor already in memory."""
    from .sources import TORCH_DTYPES, decode, numpy_dtype_name

    is_torch = type(array).__module__.startswith("torch")
    if is_torch:
        import torch

        t = array.detach().cpu().contiguous()
        dtype = _known(TORCH_DTYPES.get(str(t.dtype).replace("torch.", "")), str(t.dtype), name)
        if dtype == "bfloat16":
            flat = t.reshape(-1).view(torch.int16).numpy().view(np.uint16)
        else:
            flat = t.reshape(-1).numpy()
        shape = tuple(int(d) for d in t.shape)
    else:
        arr = np.asarray(array)
        if arr.dtype.hasobject:
            raise InputError(f"{name}: object arrays are not weights.")
        dtype = _known(numpy_dtype_name(arr.dtype), str(arr.dtype), name)
        flat = np.ascontiguousarray(arr).reshape(-1)
        shape = tuple(int(d) for d in arr.shape)

    def open_() -> tuple[Callable[[int, int, int], np.ndarray], bool, Callable[[], None]]:
        return (lambda _i, a, b: decode(flat[a:b], dtype) if dtype in ("bfloat16", "float16")
                else flat[a:b]), False, lambda: None

    # a torch tensor may be backed by torch's thread pools: never fork with it (engine/parallel.py)
    return TensorSource("<memory>", name, shape, dtype, open_, forkable=not is_torch)


def _known(dtype: str | None, given: str, name: str) -> str:
    """The dtype's name among the ones kaiming reads, or an input error naming it (complex is not a weight)."""
    if dtype is None:
        raise InputError(f"{name}: dtype {given} is not supported: give a real floating-point or integer tensor.")
    return dtype
