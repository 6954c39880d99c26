"""PyTorch checkpoints (``torch.save``'s zip format) read without torch and without running pickled code.

A checkpoint is a zip archive: ``<name>/data.pkl`` pickles the object (usually a state dict) and each
storage's bytes sit uncompressed in ``<name>/data/<key>``. The pickle is run by ``torchpickle``'s small
machine, which records descriptions and never imports or calls anything from the file; budgets
(``limits``) bound the pickle's bytes, the objects it creates and the tensors it describes.

Tensors must be dense (sparse, quantized, meta and nested ones are refused by name), inside their
storage and non-overlapping (an ``expand``-ed view repeats values, which would bias every test).
They are read with ``pread`` (no mmap: a file truncated while read is an error, not SIGBUS) in C
order of the view, exactly as ``torch.load`` returns them; a non-contiguous view is gathered from
one in-memory copy of the storage it spans. Skipping ``import torch`` saves ~1-2 s and ~277 MB.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from ..errors import InputError
from .limits import MAX_ALIASING, MAX_STRIDED_SPAN, Limits
from .sources import (
    DTYPES,
    Extent,
    InputFile,
    Producer,
    TensorSource,
    decode,
    itemsize,
    no_open,
    opened,
    pread_opener,
    quote,
    read_into,
)
from .torchpickle import LEGACY_MAGIC, TORCH_ITEMSIZES, TensorRef, Unpickler, flatten
from .ziparchive import STORED, Member, MemberReader, read_directory

# --------------------------------------------------------------------------- the file

def read_torch(f: InputFile, limits: Limits) -> list[TensorSource]:
    where = f.where
    with opened(f) as fd:
        head = os.pread(fd, len(LEGACY_MAGIC), 0)
        if not head.startswith(b"PK\x03\x04"):
            raise _not_a_checkpoint(where, head)
        members = read_directory(fd, f.size, where, limits.max_members)
        prefix = next(iter(members), "").split("/", 1)[0]
        pickle_member = members.get(f"{prefix}/data.pkl")
        if pickle_member is None:
            raise InputError(f"{where} is a zip archive without data.pkl: not a torch.save checkpoint.")
        if pickle_member.size > limits.max_header:
            raise InputError(f"{where}: its pickle is {pickle_member.size} bytes, more than the limit of "
                             f"{limits.max_header} (16 MiB plus 2 KiB per tensor that --max-tensors allows).")
        data = MemberReader(fd, pickle_member, where).read()
        big_endian = _big_endian(fd, members.get(f"{prefix}/byteorder"), where)
    root = Unpickler(data, where, limits).load()
    del data
    sources = []
    viewed = 0
    stored: dict[str, int] = {}
    for name, ref in flatten(root, where, limits):
        source, nbytes = _source(f, name, ref, members, prefix, big_endian)
        sources.append(source)
        if nbytes:
            viewed += source.nbytes
            stored[ref.storage.key] = nbytes
    if viewed > MAX_ALIASING * sum(stored.values()) + (1 << 20):
        raise InputError(f"{where}: its tensors view the same stored bytes more than {MAX_ALIASING} times over "
                         f"({viewed} bytes of tensors over {sum(stored.values())} stored; tied weights need 2-4); "
                         "refusing the file.")
    return sources


def _not_a_checkpoint(where: str, head: bytes) -> InputError:
    if head.startswith(b"\x80"):  # a pickle: PyTorch's legacy format starts with one (LEGACY_MAGIC)
        return InputError(f"{where} is a plain pickle or PyTorch's legacy (pre-1.6) format, which kaiming does not "
                          "read; re-save it with torch.save(torch.load(path, weights_only=True), path) "
                          "in PyTorch >= 1.6.")
    return InputError(f"{where} is not a PyTorch checkpoint (torch.save writes a zip archive).")


def _big_endian(fd: int, member: Member | None, where: str) -> bool:
    if member is None:
        return False  # torch.load's default for files without a byteorder record
    order = MemberReader(fd, member, where).read(16) if member.size <= 16 else b""
    if order not in (b"little", b"big"):
        raise InputError(f"{where}: its byteorder record is neither 'little' nor 'big'; corrupt checkpoint.")
    return order == b"big"


def _source(f: InputFile, name: str, ref: TensorRef, members: dict[str, Member], prefix: str,
            big_endian: bool) -> tuple[TensorSource, int]:
    """The tensor's source and the byte size of its storage (0 when it is not read)."""
    where = f.where
    shape = ref.shape
    if ref.dtype not in DTYPES:
        return TensorSource(f.label, name, shape, ref.dtype, no_open,
                            error=f"dtype {ref.dtype} is not supported"), 0
    member = members.get(f"{prefix}/data/{ref.storage.key}")
    storage_size = TORCH_ITEMSIZES.get(ref.storage.dtype) or 1
    storage_bytes = ref.storage.numel * storage_size
    if member is None or member.method != STORED or member.size < storage_bytes:
        state = "missing" if member is None else ("compressed" if member.method != STORED else "shorter than declared")
        raise InputError(f"{where}: the storage of tensor {quote(name)} is {state}; corrupt or crafted checkpoint.")
    size = itemsize(ref.dtype)
    contiguous, extent, disjoint = _layout(shape, ref.stride)
    contiguous = contiguous or math.prod(shape) == 0  # nothing to read, whatever the strides say
    if math.prod(shape) and not disjoint:
        raise InputError(f"{where}: tensor {quote(name)} views {math.prod(shape)} elements through overlapping "
                         "strides (an expand()-ed or as_strided view repeats stored values, which no test may "
                         "count twice); save tensor.contiguous() instead.")
    if math.prod(shape) and (ref.offset + extent + 1) * size > storage_bytes:
        raise InputError(f"{where}: tensor {quote(name)} reaches outside its storage (corrupt or crafted "
                         "checkpoint).")
    disk = np.dtype(DTYPES[ref.dtype][0]).newbyteorder(">" if big_endian else "<")
    start = member.data_offset + ref.offset * size
    if contiguous:
        opener = pread_opener(f, start, ref.dtype, disk, negate=ref.negative)
        where_stored = Extent(f.ident, start, start + math.prod(shape) * size, ("neg",) if ref.negative else ())
    else:
        where_stored = Extent(f.ident, start, start + (extent + 1) * size, (ref.stride, ref.negative))
        if (extent + 1) * size > MAX_STRIDED_SPAN:
            raise InputError(f"{where}: tensor {quote(name)} is a non-contiguous view spanning {(extent + 1) * size} "
                             f"bytes, more than the limit of {MAX_STRIDED_SPAN >> 20} MiB; save tensor.contiguous().")
        opener = _strided_opener(f, start, shape, ref.stride, ref.dtype, disk, ref.negative, extent + 1)
    return TensorSource(f.label, name, shape, ref.dtype, opener, extent=where_stored), storage_bytes


def _layout(shape: tuple[int, ...], stride: tuple[int, ...]) -> tuple[bool, int, bool]:
    """(C-contiguous, largest element offset, elements never share storage) of a view."""
    dims = [(n, s) for n, s in zip(shape, stride, strict=True) if n != 1]
    extent = sum((n - 1) * s for n, s in dims)
    contiguous, expected = True, 1
    for n, s in reversed(dims):
        contiguous = contiguous and s == expected
        expected *= n
    ordered = sorted(dims, key=lambda d: d[1])
    disjoint = all(s > 0 for _n, s in ordered) and all(
        b[1] >= a[1] * a[0] for a, b in zip(ordered, ordered[1:], strict=False))
    return contiguous, extent, disjoint


def _strided_opener(f: InputFile, start: int, shape: tuple[int, ...], stride: tuple[int, ...], dtype: str,
                    disk: np.dtype, negate: bool, span: int) -> Callable[[], tuple[Producer, bool, Callable[[], None]]]:
    """A non-contiguous view: its storage span read once, then each chunk gathered in C order."""

    def open_() -> tuple[Producer, bool, Callable[[], None]]:
        raw = np.empty(span, dtype=disk)
        with opened(f) as fd:
            read_into(fd, raw, start, f.where)
        view = np.lib.stride_tricks.as_strided(raw, shape=shape, strides=tuple(s * disk.itemsize for s in stride),
                                               writeable=False)

        def produce(_i: int, lo: int, hi: int) -> np.ndarray:
            values = decode(strided_chunk(view, lo, hi), dtype)
            return np.negative(values) if negate else values

        return produce, False, lambda: None

    return open_


def strided_chunk(view: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Elements ``start:stop`` of ``view`` in C order, copying no more than those."""
    if view.ndim <= 1:
        return view.reshape(-1)[start:stop]
    inner = math.prod(view.shape[1:])
    first, last = start // inner, (stop - 1) // inner
    if first == last:
        return strided_chunk(view[first], start - first * inner, stop - first * inner)
    head = strided_chunk(view[first], start - first * inner, inner)
    middle = view[first + 1:last].reshape(-1)
    tail = strided_chunk(view[last], 0, stop - last * inner)
    return np.concatenate([head, middle, tail])
