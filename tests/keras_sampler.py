"""A numpy emulation of Keras's torch-backend truncated normal, written out from Keras 3's source.

keras/src/backend/torch/random.py ``truncated_normal`` (Keras 3.15)::

    x = normal(tuple(shape) + (4,), mean=0, stddev=1, dtype=dtype, seed=seed)
    valid = (x > -2) & (x < 2)
    indexes = valid.max(-1, keepdim=True)[1]
    trunc_x = torch.empty(shape, dtype=dtype, device=get_device())
    trunc_x.data.copy_(x.gather(-1, indexes).squeeze(-1))
    trunc_x.data.mul_(stddev).add_(mean)

``valid.max(-1)`` returns the index of the first True (of the first value when all 4 are False, since all maxima
are then equal and torch returns the first): each value is the first of 4 standard normals inside (-2, 2), or the
first of the 4 when none is. Keras's ``VarianceScaling`` passes ``stddev = sqrt(scale / fan) / 0.87962566103423978``
(keras/src/initializers/random_initializers.py).
"""

from __future__ import annotations

import math

import numpy as np

#: keras/src/initializers/random_initializers.py: the std of a unit normal truncated to (-2, 2).
KERAS_TRUNC_STD = 0.87962566103423978


def torch_backend_truncated_normal(shape: tuple[int, ...], stddev: float, rng: np.random.Generator,
                                   mean: float = 0.0) -> np.ndarray:
    """float32 draws with the law of Keras's torch backend (see the module docstring)."""
    x = rng.standard_normal((*shape, 4), dtype=np.float32)
    valid = (x > -2) & (x < 2)
    first = valid.argmax(axis=-1)  # the first True; 0 when none is (argmax returns the first maximum)
    out = np.take_along_axis(x, first[..., None], axis=-1)[..., 0]
    return (out * np.float32(stddev) + np.float32(mean)).astype(np.float32)


def he_normal_kernel(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """keras.initializers.HeNormal() on a Keras-layout kernel, by the torch backend's sampler."""
    fan_in = math.prod(shape[:-1])
    return torch_backend_truncated_normal(shape, math.sqrt(2.0 / fan_in) / KERAS_TRUNC_STD, rng)
