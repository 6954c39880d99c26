"""Flax checkpoints written by ``flax.serialization.to_bytes`` (msgpack), read without flax or jax.

The layout (flax/serialization.py: ``msgpack_serialize``, ``_ndarray_to_bytes``, ``_chunk``): the state dict
as nested msgpack maps with string keys; each array is an ext value of type 1 (``npscalar``: 3) whose payload
is ``packb((shape, dtype.name, arr.tobytes("C")), use_bin_type=True)``; an array over 2**30 bytes becomes a
map ``{"__msgpack_chunked_array__": True, "shape": {"0": d0, ...}, "chunks": {"0": ext, ...}}``.

The file is walked header by header with ``pread`` (never whole, never a payload): depth, entries, tensors
and key lengths are capped; each array's small header (shape, dtype) is decoded with ``msgpack.Unpacker`` and
its ``max_*_len`` limits, and its bytes are then read in chunks where they lie. Names are key paths joined
with ``/`` (``params/Dense_0/kernel``); every tensor gets the ``jax`` layout, (*k, in, out).
"""

from __future__ import annotations

import math
import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .limits import MAX_NAME, MAX_NDIM, Limits
from .sources import (
    DEFAULT_LIMITS,
    DTYPES,
    InputFile,
    Opener,
    Producer,
    TensorSource,
    check_name,
    check_shape,
    decode,
    no_open,
    open_vetted,
    opened,
    quote,
    read_into,
    require,
    thread_buffer,
    too_many_tensors,
)
from .ziparchive import pread_exact

NDARRAY, NPSCALAR = 1, 3
CHUNKED = "__msgpack_chunked_array__"
#: nesting of maps and arrays (a real state dict nests a handful of levels)
MAX_DEPTH = 64
#: bytes of an array's header (shape of up to 64 dims and a dtype name) before its data
MAX_ARRAY_HEADER = 4096
_BLOCK = 1 << 16


@dataclass(frozen=True)
class _Array:
    shape: tuple[int, ...]
    dtype: str
    offset: int
    nbytes: int


class _Cursor:
    """Reads msgpack headers at a position of the file, through a small window (a few pread calls per MiB)."""

    def __init__(self, fd: int, size: int, where: str) -> None:
        self.fd, self.size, self.where, self.pos = fd, size, where, 0
        self._window, self._start = b"", 0

    def take(self, n: int) -> bytes:
        if self.pos + n > self.size:
            raise InputError(f"{self.where} is truncated: a msgpack value runs past the end of the file.")
        end = self.pos + n
        if not (self._start <= self.pos and end <= self._start + len(self._window)):
            self._start = self.pos
            self._window = pread_exact(self.fd, min(max(n, _BLOCK), self.size - self.pos), self.pos, self.where)
        out = self._window[self.pos - self._start:end - self._start]
        self.pos = end
        return out

    def skip(self, n: int) -> None:
        if self.pos + n > self.size:
            raise InputError(f"{self.where} is truncated: a msgpack value runs past the end of the file.")
        self.pos += n

    def uint(self, width: int) -> int:
        return int.from_bytes(self.take(width), "big")


def read_flax(f: InputFile, limits: Limits = DEFAULT_LIMITS) -> list[TensorSource]:
    msgpack = require("msgpack", "flax-files", "Flax msgpack files")
    walker = _Walker(f, limits, msgpack)
    with opened(f) as fd:
        cur = _Cursor(fd, f.size, f.where)
        walker.value(cur, "", 0)
        if cur.pos != f.size:
            raise InputError(f"{f.where}: data follows the msgpack value; not a flax.serialization file.")
    return walker.sources


class _Walker:
    def __init__(self, f: InputFile, limits: Limits, msgpack: object) -> None:
        self.f, self.limits, self.msgpack = f, limits, msgpack
        self.sources: list[TensorSource] = []
        self.entries = 0
        self._pieces: dict[str, list[_Array]] = {}

    def fail(self, what: str) -> InputError:
        return InputError(f"{self.f.where}: {what}; not a flax.serialization msgpack file.")

    def count(self, n: int) -> None:
        self.entries += n
        if self.entries > self.limits.max_objects:
            raise InputError(f"{self.f.where}: more than {self.limits.max_objects} msgpack entries (the limit "
                             "--max-tensors scales); refusing the file.")

    def value(self, cur: _Cursor, path: str, depth: int) -> object:
        """Walk one value; return a scalar's value (ints, strings: shapes and keys need them), else None."""
        if depth > MAX_DEPTH:
            raise InputError(f"{self.f.where}: msgpack values nest more than {MAX_DEPTH} deep; refusing the file.")
        b = cur.take(1)[0]
        if b <= 0x7F or b >= 0xE0:
            return b if b <= 0x7F else b - 0x100
        if 0x80 <= b <= 0x8F or b in (0xDE, 0xDF):
            n = b & 0x0F if b <= 0x8F else cur.uint(2 if b == 0xDE else 4)
            self.map(cur, path, depth, n)
            return None
        if 0x90 <= b <= 0x9F or b in (0xDC, 0xDD):
            n = b & 0x0F if b <= 0x9F else cur.uint(2 if b == 0xDC else 4)
            self.count(n)
            for i in range(n):
                self.value(cur, f"{path}/{i}" if path else str(i), depth + 1)
            return None
        if 0xA0 <= b <= 0xBF or b in (0xD9, 0xDA, 0xDB):
            n = b & 0x1F if b <= 0xBF else cur.uint({0xD9: 1, 0xDA: 2, 0xDB: 4}[b])
            if n > MAX_NAME * 4:
                cur.skip(n)  # a long string value (not a key): skipped unread
                return None
            return cur.take(n).decode("utf-8", "replace")
        if b in (0xC4, 0xC5, 0xC6):
            cur.skip(cur.uint({0xC4: 1, 0xC5: 2, 0xC6: 4}[b]))
            return None
        if b in (0xC7, 0xC8, 0xC9) or 0xD4 <= b <= 0xD8:
            n = cur.uint({0xC7: 1, 0xC8: 2, 0xC9: 4}[b]) if b <= 0xC9 else 1 << (b - 0xD4)
            kind = struct.unpack(">b", cur.take(1))[0]
            start = cur.pos
            if start + n > cur.size:
                raise InputError(f"{self.f.where} is truncated: a msgpack value runs past the end of the file.")
            if kind in (NDARRAY, NPSCALAR):
                self.array(cur, path, start, n)
            cur.pos = start + n
            return None
        fixed = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
                 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}
        if b not in fixed:
            raise self.fail(f"byte {b:#04x} is no msgpack type")
        raw = cur.take(fixed[b])
        if 0xCC <= b <= 0xCF:
            return int.from_bytes(raw, "big")
        if 0xD0 <= b <= 0xD3:
            return int.from_bytes(raw, "big", signed=True)
        return None

    def map(self, cur: _Cursor, path: str, depth: int, n: int) -> None:
        self.count(n)
        start = cur.pos
        for i in range(n):
            key = self.value(cur, path, depth + 1)
            if not isinstance(key, str):  # flax.serialization writes every key as a string ("0" for a list)
                raise self.fail(f"a map key under {quote(path or '/')} is not a string")
            child = f"{path}/{key}" if path else key
            check_name(self.f.where, child)
            if i == 0 and key == CHUNKED:
                cur.pos = start
                self.chunked(cur, path, depth, n)
                return
            self.value(cur, child, depth + 1)

    def array(self, cur: _Cursor, path: str, start: int, n: int) -> None:
        """One ndarray ext: its header decoded with msgpack's own limits, its data located, not read."""
        header = _array_header(self.msgpack, pread_exact(cur.fd, min(n, MAX_ARRAY_HEADER), start, self.f.where))
        if header is None:
            raise self.fail(f"the array {quote(path)} has a malformed header")
        shape, dtype, skip, nbytes = header
        check_shape(self.f.where, path, shape)
        if skip + nbytes != n:
            raise InputError(f"{self.f.where}: array {quote(path)} declares {nbytes} bytes in a {n}-byte value "
                             "(truncated or lying file).")
        self.add(path, [_Array(shape, dtype, start + skip, nbytes)], shape)

    def chunked(self, cur: _Cursor, path: str, depth: int, n: int) -> None:
        """A ``__msgpack_chunked_array__`` map: the shape's dims and the flat chunks, in key order."""
        shape: list[int] = []
        pieces: list[_Array] = []
        for _ in range(n):
            key = self.value(cur, path, depth + 1)
            if key == "shape" or key == "chunks":
                b = cur.take(1)[0]
                count = b & 0x0F if 0x80 <= b <= 0x8F else cur.uint(2 if b == 0xDE else 4) if b in (0xDE, 0xDF) \
                    else -1
                if count < 0:
                    raise self.fail(f"the chunked array {quote(path)} is malformed")
                self.count(count)
                for i in range(count):
                    if self.value(cur, path, depth + 2) != str(i):
                        raise self.fail(f"the chunked array {quote(path)} has keys out of order")
                    if key == "shape":
                        dim = self.value(cur, path, depth + 2)
                        if not isinstance(dim, int) or dim < 0 or len(shape) >= MAX_NDIM:
                            raise self.fail(f"the chunked array {quote(path)} has a bad shape")
                        shape.append(dim)
                    else:
                        before = len(self.sources)
                        self.value(cur, f"{path}/{i}", depth + 2)
                        if len(self.sources) != before + 1:
                            raise self.fail(f"a chunk of {quote(path)} is not an array")
                        pieces += self._pieces.pop(self.sources.pop().name)
            else:
                self.value(cur, path, depth + 1)
        dtypes = {p.dtype for p in pieces}
        numel = sum(math.prod(p.shape) for p in pieces)
        if len(dtypes) > 1 or numel != math.prod(shape):
            raise InputError(f"{self.f.where}: the chunks of {quote(path)} do not make up its shape.")
        self.add(path, pieces, tuple(shape))

    def add(self, path: str, pieces: list[_Array], shape: tuple[int, ...]) -> None:
        if len(self.sources) >= self.limits.max_tensors:
            raise too_many_tensors(self.f.where, self.limits)
        dtype = pieces[0].dtype if pieces else "float32"
        self._pieces[path] = pieces
        if dtype not in DTYPES:
            self.sources.append(TensorSource(self.f.label, path, shape, dtype[:40], no_open, layout="jax",
                                             error=f"dtype {quote(dtype, 40)} is not supported (floats, bfloat16 "
                                                   "and integers are)"))
            return
        self.sources.append(TensorSource(self.f.label, path, shape, dtype, pieces_opener(self.f, pieces, dtype),
                                         layout="jax"))


def _array_header(msgpack: object, raw: bytes) -> tuple[tuple[int, ...], str, int, int] | None:
    """(shape, dtype name, bytes before the data, data bytes) of ``packb((shape, dtype, data))``."""
    unpacker = msgpack.Unpacker(max_buffer_size=MAX_ARRAY_HEADER, max_array_len=MAX_NDIM,  # type: ignore[attr-defined]
                                max_str_len=64, max_bin_len=0, max_map_len=0, max_ext_len=0, raw=False)
    unpacker.feed(raw)
    try:
        if unpacker.read_array_header() != 3:
            return None
        shape, dtype = unpacker.unpack(), unpacker.unpack()
    except Exception:  # OutOfData, ValueError on a limit, bad bytes: never quote them
        return None
    if isinstance(dtype, bytes):
        dtype = dtype.decode("ascii", "replace")
    if not isinstance(shape, (list, tuple)) or not isinstance(dtype, str) \
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return None
    at = unpacker.tell()
    if at >= len(raw) or raw[at] not in (0xC4, 0xC5, 0xC6):
        return None
    width = {0xC4: 1, 0xC5: 2, 0xC6: 4}[raw[at]]
    if at + 1 + width > len(raw):
        return None
    nbytes = int.from_bytes(raw[at + 1:at + 1 + width], "big")
    shape_t = tuple(int(d) for d in shape)
    if dtype in DTYPES and nbytes != math.prod(shape_t) * np.dtype(DTYPES[dtype][0]).itemsize:
        return None
    return shape_t, dtype, at + 1 + width, nbytes


def pieces_opener(f: InputFile, pieces: list[_Array], dtype: str) -> Opener:
    """Chunks of a tensor stored in one or more flat pieces (a chunked array), read with ``pread``."""
    disk = np.dtype(DTYPES[dtype][0])
    bounds = np.cumsum([0] + [p.nbytes // disk.itemsize for p in pieces])

    def open_() -> tuple[Producer, bool, Callable[[], None]]:
        fd = open_vetted(f)
        local = threading.local()

        def produce(_i: int, start: int, stop: int) -> np.ndarray:
            out = thread_buffer(local, stop - start, disk)
            at = start
            k = int(np.searchsorted(bounds, start, side="right")) - 1
            while at < stop:
                end = min(stop, int(bounds[k + 1]))
                read_into(fd, out[at - start:end - start], pieces[k].offset + (at - int(bounds[k])) * disk.itemsize,
                          f.where)
                at, k = end, k + 1
            return decode(out, dtype)

        return produce, False, lambda: os.close(fd)

    return open_
