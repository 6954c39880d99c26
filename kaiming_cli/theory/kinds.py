"""What kind of tensor a name and shape describe (``conv weight``, ``linear weight``, ``embedding``, ``vector``,
``scalar``): the noun of report lines such as ``20 conv weights pass``.

A ViT's ``cls_token`` (1×1×768) and ``pos_embed`` (1×197×768) have three dimensions, yet they are learned
embeddings, not convolution kernels: a name that says so wins over the shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: The last parts of names that hold embeddings and tokens (timm ``cls_token``, ``pos_embed``, ``dist_token``,
#: ``mask_token``, ``reg_token``; torchvision ``class_token``, ``pos_embedding``; BERT ``position_embeddings``).
EMBEDDING = re.compile(r"(token|embed|pos_emb|position)", re.I)


def tensor_kind(name: str, shape: Sequence[int]) -> str:
    """The kind of a tensor, from its number of dimensions unless its name says it is an embedding."""
    nd = len(shape)
    if nd >= 3:
        parts = [p for p in name.split(".") if p not in ("weight", "kernel", "param", "data")]
        if parts and EMBEDDING.search(parts[-1]):
            return "embedding"
        return "conv weight"
    return "linear weight" if nd == 2 else "vector" if nd == 1 else "scalar"


def plural(n: int, noun: str) -> str:
    """``1 conv weight``, ``20 conv weights``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def keras_kernel_hint(shape: Sequence[int]) -> str | None:
    """A note when a shape read in torch's layout (out, in, *k) looks like a Keras/JAX kernel (*k, in, out):
    small equal leading dimensions (the kernel) before two larger ones (``3,3,64,128``). None otherwise."""
    if len(shape) not in (3, 4):
        return None
    k, rest = shape[:len(shape) - 2], shape[len(shape) - 2:]
    if len(set(k)) != 1 or not 1 <= k[0] <= 7 or min(rest) <= k[0]:
        return None
    text = ",".join(map(str, shape))
    return (f"--shape {text} looks like a Keras/JAX kernel ({'kh, kw' if len(k) == 2 else 'k'}, in, out); it was "
            f"read in torch's layout (out, in, *k): pass --layout keras if it is one.")
