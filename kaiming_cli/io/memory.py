"""Tensors already in memory (numpy arrays, torch tensors) as ``TensorSource``s: the Python API's input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from .readers import TensorSource


def array_source(array: Any, name: str = "tensor") -> TensorSource:
    """A ``TensorSource`` over a numpy array or a torch tensor already in memory."""
    from .readers import TORCH_DTYPES, decode

    if type(array).__module__.startswith("torch"):
        import torch

        t = array.detach().cpu().contiguous()
        dtype = TORCH_DTYPES.get(str(t.dtype).replace("torch.", ""), str(t.dtype))
        if dtype == "bfloat16":
            flat = t.reshape(-1).view(torch.int16).numpy().view(np.uint16)
        else:
            flat = t.reshape(-1).numpy()
        shape = tuple(int(d) for d in t.shape)
    else:
        arr = np.asarray(array)
        if arr.dtype.hasobject:
            raise InputError(f"{name}: object arrays are not weights.")
        dtype = {np.dtype("float16"): "float16", np.dtype("float64"): "float64"}.get(arr.dtype, "float32")
        if arr.dtype.kind in "iub":
            dtype = str(arr.dtype)
        flat = np.ascontiguousarray(arr).reshape(-1)
        shape = tuple(int(d) for d in arr.shape)

    def open_() -> tuple[Callable[[int, int, int], np.ndarray], bool, Callable[[], None]]:
        return (lambda _i, a, b: decode(flat[a:b], dtype) if dtype in ("bfloat16", "float16")
                else flat[a:b]), False, lambda: None

    return TensorSource("<memory>", name, shape, dtype, open_)
