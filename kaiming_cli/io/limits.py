"""Limits on what one input file may make kaiming do, so that the work stays bounded per byte.

A pull request controls the weight files that ``kaiming verify`` reads in CI, so every count that
a file declares (tensors, header bytes, pickled objects, dimensions, name lengths) is capped before
kaiming spends memory or time on it. The defaults are far above any real checkpoint (a 405B-parameter
model has about 1,000 tensors per shard); ``--max-tensors`` raises the one limit a real file could
reach, and the byte and object budgets that scale with it. No numpy here: the CLI imports it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB

DEFAULT_MAX_TENSORS = 10_000
#: a tensor name (or key path in a .pt) longer than this is not a real name
MAX_NAME = 1024
#: numpy's own limit on dimensions
MAX_NDIM = 64
#: safetensors ``__metadata__``: bytes, and string pairs (real files hold a few dozen)
MAX_METADATA = 16 * MIB
MAX_METADATA_ENTRIES = 65_536
#: one safetensors header entry (dtype, shape of up to 64 dims, offsets) fits in far less
MAX_HEADER_ENTRY = 4 * KIB
#: a ``*.safetensors.index.json``: bytes, and JSON arrays/objects (a real index has three)
MAX_INDEX = 16 * MIB
MAX_INDEX_CONTAINERS = 1024
#: a non-contiguous .pt tensor is read through one in-memory copy of the storage it spans
MAX_STRIDED_SPAN = 128 * MIB
#: all tensors of a .pt may view the same stored bytes at most this many times over (tied weights: 2-4)
MAX_ALIASING = 16


@dataclass(frozen=True)
class Limits:
    """Per-file limits; ``max_tensors`` is the ``--max-tensors`` option."""

    max_tensors: int = DEFAULT_MAX_TENSORS

    @property
    def max_header(self) -> int:
        """Bytes of a safetensors header or of a .pt's pickle: 16 MiB plus 2 KiB per allowed tensor."""
        return 16 * MIB + 2 * KIB * self.max_tensors

    @property
    def max_objects(self) -> int:
        """Objects (and container entries) a .pt's pickle may create: 1M plus 64 per allowed tensor."""
        return 1_000_000 + 64 * self.max_tensors

    @property
    def max_members(self) -> int:
        """Members of a zip archive (.npz: one per tensor; .pt: one per storage plus a few records)."""
        return self.max_tensors + 64
