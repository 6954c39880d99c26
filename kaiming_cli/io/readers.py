"""Weight-file readers that stream tensors in chunks and never run code from a file.

Formats: ``.npy`` (``allow_pickle`` never: object dtypes are refused from the header), ``.npz``
(stored members are read in place, compressed ones decompressed as a stream; sizes, ratios and
overlaps are checked against zip bombs), ``.safetensors`` (header validated: length, dtypes, shapes,
offsets inside the data and not overlapping), a sharded safetensors folder or its
``*.index.json``, and ``.pt``/``.pth``/``.bin`` through ``torch.load(weights_only=True)``.

Uncompressed data is read with ``os.preadv`` into a chunk-sized buffer rather than memory-mapped,
so resident memory stays at a few chunks however large the file is.
"""

from __future__ import annotations

import json
import math
import os
import struct
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

#: name -> (numpy dtype on disk, mantissa bits or None for integers)
DTYPES: dict[str, tuple[str, int | None]] = {
    "float64": ("<f8", 52), "float32": ("<f4", 23), "float16": ("<f2", 10), "bfloat16": ("<u2", 7),
    "int64": ("<i8", None), "int32": ("<i4", None), "int16": ("<i2", None), "int8": ("i1", None),
    "uint64": ("<u8", None), "uint32": ("<u4", None), "uint16": ("<u2", None), "uint8": ("u1", None),
    "bool": ("?", None),
}
SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
    "I16": "int16", "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8",
    "BOOL": "bool",
}
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
#: deflate cannot compress beyond ~1032:1; more means a crafted archive.
MAX_ZIP_RATIO = 1100
SUFFIXES = (".npy", ".npz", ".safetensors", ".pt", ".pth", ".bin", ".json")


def is_float(dtype: str) -> bool:
    return DTYPES.get(dtype, ("", None))[1] is not None


def mantissa_bits(dtype: str) -> int | None:
    return DTYPES.get(dtype, ("", None))[1]


def decode(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Disk values to float32 (float64 for float64 and integers); bf16 by bit shifting, no torch."""
    if dtype == "bfloat16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    if dtype in ("float32", "float64"):
        return raw.astype(raw.dtype.newbyteorder("="), copy=False)
    if dtype == "float16":
        return raw.astype(np.float32)
    return raw.astype(np.float64)


Producer = Callable[[int, int, int], np.ndarray]
Opener = Callable[[], tuple[Producer, bool, Callable[[], None]]]
"""Opens a tensor for reading: (producer, sequential, close)."""


@dataclass
class TensorSource:
    """One tensor in a file, not yet read."""

    file: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    """Canonical name (float32, bfloat16, ...); unsupported ones are kept, with ``error`` set."""
    open: Opener = field(repr=False)
    error: str | None = None
    forkable: bool = True
    """False when reading needs torch (forked children must not touch torch's thread pools)."""

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        spec = DTYPES.get(self.dtype)
        return self.numel * (np.dtype(spec[0]).itemsize if spec else 1)


# --------------------------------------------------------------------------- raw readers

def pread_opener(path: str, offset: int, dtype: str, disk: np.dtype | None = None) -> Opener:
    """Chunks read with ``os.preadv`` at absolute offsets: random access, safe across threads.

    ``disk`` overrides the on-disk dtype (a big-endian .npy, say).
    """
    disk = np.dtype(DTYPES[dtype][0]) if disk is None else disk

    def open_() -> tuple[Producer, bool, Callable[[], None]]:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise InputError(f"cannot open {path}: {exc.strerror}.") from None
        local = threading.local()

        def produce(_i: int, start: int, stop: int) -> np.ndarray:
            # one buffer per worker thread, reused: a fresh 4 MB array per chunk costs ~1000
            # page faults (measured: 0.27 s instead of 0.10 s to read 1 GiB from the page cache)
            cached = getattr(local, "buf", None)
            if cached is None or cached.size < stop - start:
                cached = local.buf = np.empty(stop - start, dtype=disk)
            buf = cached[: stop - start]
            want = buf.nbytes
            got = 0
            view = memoryview(buf).cast("B")  # type: ignore[arg-type,unused-ignore]
            while got < want:
                try:
                    n = os.preadv(fd, [view[got:]], offset + start * disk.itemsize + got)
                except OSError as exc:
                    raise InputError(f"cannot read {path}: {exc.strerror}.") from None
                if n == 0:
                    raise InputError(f"{path} is truncated: the data ends before its header says it does.")
                got += n
            return decode(buf, dtype)

        return produce, False, lambda: os.close(fd)

    return open_


def stream_opener(make_stream: Callable[[], Any], skip: int, dtype: str, path: str, disk: np.dtype) -> Opener:
    """Chunks read in order from a decompressing stream (compressed .npz members)."""

    def open_() -> tuple[Producer, bool, Callable[[], None]]:
        stream = make_stream()
        _read_exact(stream, skip, path)

        def produce(_i: int, start: int, stop: int) -> np.ndarray:
            data = _read_exact(stream, (stop - start) * disk.itemsize, path)
            return decode(np.frombuffer(data, dtype=disk), dtype)

        return produce, True, stream.close

    return open_


def _read_exact(stream: Any, n: int, path: str) -> bytes:
    try:
        data = stream.read(n)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # zlib.error, lzma.LZMAError, BadZipFile (CRC), EOFError, ...
        raise InputError(f"{path} is corrupt: {type(exc).__name__}: {exc}.") from None
    if len(data) != n:
        raise InputError(f"{path} is truncated: a member ends before its header says it does.")
    return bytes(data)


# --------------------------------------------------------------------------- .npy / .npz

def _npy_header(fp: Any, path: str) -> tuple[tuple[int, ...], str, np.dtype, int]:
    """(shape, canonical dtype, disk dtype, header length) from an .npy stream; refuses object dtypes."""
    start = fp.tell() if hasattr(fp, "tell") else 0
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, _fortran, dt = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _fortran, dt = fmt.read_array_header_2_0(fp)
        else:
            raise InputError(f"{path}: .npy format version {version} is not supported (1.0 and 2.0 are).")
    except InputError:
        raise
    except Exception as exc:  # numpy raises ValueError/SyntaxError/... on a bad header
        raise InputError(f"{path} is not a valid .npy file: {exc}.") from None
    if dt.hasobject:
        raise InputError(f"{path} holds Python objects (dtype {dt}): refusing to unpickle it; "
                         "save plain numeric arrays.")
    name = numpy_dtype_name(dt)
    if name is None:
        raise InputError(f"{path}: dtype {dt} is not supported (float16/32/64, bfloat16 and integers are).")
    end = fp.tell() if hasattr(fp, "tell") else 0
    return tuple(int(d) for d in shape), name, dt, end - start


def numpy_dtype_name(dt: np.dtype) -> str | None:
    if dt.fields is not None or dt.subdtype is not None:
        return None
    for name, (code, _bits) in DTYPES.items():
        if name == "bfloat16":
            continue
        if np.dtype(code).newbyteorder("=") == dt.newbyteorder("="):
            return name
    return None


def read_npy(path: str) -> list[TensorSource]:
    try:
        with open(path, "rb") as fp:
            shape, dtype, disk, header = _npy_header(fp, path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}.") from None
    numel = math.prod(shape)
    if header + numel * disk.itemsize > os.path.getsize(path):
        raise InputError(f"{path} is truncated: its header promises {numel} values, the file holds fewer.")
    return [TensorSource(path, Path(path).stem, shape, dtype, pread_opener(path, header, dtype, disk))]


def _npz_checks(zf: zipfile.ZipFile, path: str) -> None:
    spans = []
    for info in zf.infolist():
        if info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO:
            raise InputError(f"{path}: member {info.filename!r} expands {info.file_size / info.compress_size:.0f}:1 "
                             "(a zip bomb?); refusing it.")
        spans.append((info.header_offset, info.header_offset + 30 + len(info.filename) + info.compress_size))
    spans.sort()
    for (_a0, a1), (b0, _b1) in zip(spans, spans[1:], strict=False):
        if b0 < a1:
            raise InputError(f"{path}: zip members overlap (a crafted archive, e.g. a zip bomb); refusing it.")


def read_npz(path: str) -> list[TensorSource]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{path} is not a valid .npz (zip) file: {exc}.") from None
    with zf:
        _npz_checks(zf, path)
        sources = []
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[:-4]
            try:
                with zf.open(info) as member:
                    shape, dtype, disk, header = _npy_header(member, f"{path}:{info.filename}")
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise InputError(f"{path} is corrupt ({info.filename}): {exc}.") from None
            expected = header + math.prod(shape) * disk.itemsize
            if info.file_size != expected:
                raise InputError(f"{path}: member {info.filename!r} declares {info.file_size} bytes but its header "
                                 f"implies {expected}; refusing a lying archive.")
            if info.compress_type == zipfile.ZIP_STORED:
                offset = _stored_data_offset(path, info) + header
                if offset - header + info.file_size > os.path.getsize(path):
                    raise InputError(f"{path} is truncated ({info.filename}).")
                opener = pread_opener(path, offset, dtype, disk)
            else:
                opener = stream_opener(_member_stream(path, info.filename), header, dtype, path, disk)
            sources.append(TensorSource(path, name, shape, dtype, opener))
    return sources


def _stored_data_offset(path: str, info: zipfile.ZipInfo) -> int:
    with open(path, "rb") as fp:
        fp.seek(info.header_offset)
        local = fp.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise InputError(f"{path} is corrupt: bad local header for {info.filename!r}.")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return int(info.header_offset) + 30 + int(name_len) + int(extra_len)


def _member_stream(path: str, member: str) -> Callable[[], Any]:
    def make() -> Any:
        zf = zipfile.ZipFile(path)
        stream = zf.open(member)
        original_close = stream.close

        def close() -> None:
            original_close()
            zf.close()

        stream.close = close  # type: ignore[method-assign]
        return stream

    return make


# --------------------------------------------------------------------------- safetensors

def read_safetensors(path: str) -> list[TensorSource]:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fp:
            head = fp.read(8)
            if len(head) < 8:
                raise InputError(f"{path} is not a safetensors file: shorter than its 8-byte header length.")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_SAFETENSORS_HEADER or 8 + n > size:
                raise InputError(f"{path}: the header claims {n} bytes but the file has {size}: corrupt or "
                                 "not a safetensors file.")
            raw = fp.read(n)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}.") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: the safetensors header is not valid JSON ({exc}).") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: the safetensors header is not a JSON object.")
    data_start, data_len = 8 + n, size - 8 - n
    sources: list[TensorSource] = []
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape, dtype, begin, end = _safetensors_entry(path, name, entry)
        if not 0 <= begin <= end <= data_len:
            raise InputError(f"{path}: tensor {name!r} has offsets [{begin}, {end}] outside the {data_len}-byte "
                             "data section (truncated or lying header).")
        spans.append((begin, end, name))
        if dtype is None:
            src = TensorSource(path, name, shape, str(entry.get("dtype")), _no_open, error=(
                f"dtype {entry.get('dtype')} is not supported (F64, F32, F16, BF16 and integers are)"))
        else:
            itemsize = np.dtype(DTYPES[dtype][0]).itemsize
            if end - begin != math.prod(shape) * itemsize:
                raise InputError(f"{path}: tensor {name!r} spans {end - begin} bytes but its shape and dtype need "
                                 f"{math.prod(shape) * itemsize}.")
            src = TensorSource(path, name, shape, dtype, pread_opener(path, data_start + begin, dtype))
        sources.append(src)
    spans.sort()
    for (_a0, a1, an), (b0, _b1, bn) in zip(spans, spans[1:], strict=False):
        if b0 < a1:
            raise InputError(f"{path}: tensors {an!r} and {bn!r} overlap in the data section (lying header).")
    return sources


def _no_open() -> tuple[Producer, bool, Callable[[], None]]:
    raise InputError("this tensor cannot be read")


def _safetensors_entry(path: str, name: str, entry: Any) -> tuple[tuple[int, ...], str | None, int, int]:
    bad = InputError(f"{path}: header entry {name!r} is malformed (needs dtype, shape and data_offsets).")
    if not isinstance(entry, dict):
        raise bad
    shape, offsets, dt = entry.get("shape"), entry.get("data_offsets"), entry.get("dtype")
    if (not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                               for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not isinstance(dt, str)):
        raise bad
    return tuple(shape), SAFETENSORS_DTYPES.get(dt), offsets[0], offsets[1]


def read_safetensors_index(path: str) -> list[TensorSource]:
    try:
        with open(path, encoding="utf-8") as fh:
            index = json.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON: {exc}.") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise InputError(f"{path} has no weight_map: not a safetensors index.")
    folder = Path(path).parent
    sources: list[TensorSource] = []
    for shard in sorted(set(weight_map.values())):
        shard_path = (folder / shard).resolve()
        if folder.resolve() not in shard_path.parents:
            raise InputError(f"{path}: shard {shard!r} points outside the index's folder; refusing it.")
        if not shard_path.is_file():
            raise InputError(f"{path}: shard {shard!r} is missing.")
        in_shard = read_safetensors(str(shard_path))
        names = {s.name for s in in_shard}
        missing = [k for k, v in weight_map.items() if v == shard and k not in names]
        if missing:
            raise InputError(f"{path}: {missing[0]!r} is mapped to {shard} but not in it.")
        sources += in_shard
    return sources


# --------------------------------------------------------------------------- torch

def read_torch(path: str) -> list[TensorSource]:
    try:
        import torch
    except ImportError:
        raise InputError(f"{path}: reading .pt/.pth/.bin files needs PyTorch; "
                         "install it with: pip install 'kaiming[torch]'.") from None
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols; we report errors ourselves
            obj = _torch_load(torch, path)
    except MemoryError:
        raise
    except Exception as exc:  # torch raises many types for hostile or corrupt files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise InputError(f"{path} contains pickled code or objects, which kaiming never loads "
                             f"(torch.load weights_only=True refused it: {first[:160]}).") from None
        raise InputError(f"{path} is not a readable PyTorch file: {first[:200]}.") from None
    sources = []
    for name, tensor in _flatten(obj, ""):
        sources.append(_torch_source(path, name, tensor, torch))
    return sources


def _torch_load(torch: Any, path: str) -> Any:
    """``weights_only=True`` always; memory-mapped when the file is in torch's zip format."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc):
            raise
        return torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format


def _flatten(obj: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    import torch

    if isinstance(obj, torch.Tensor):
        yield prefix or "tensor", obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}.{i}" if prefix else str(i))


TORCH_DTYPES = {"float32": "float32", "float64": "float64", "float16": "float16", "bfloat16": "bfloat16",
                "int64": "int64", "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8",
                "bool": "bool"}


def _torch_source(path: str, name: str, tensor: Any, torch: Any) -> TensorSource:
    dtype = TORCH_DTYPES.get(str(tensor.dtype).replace("torch.", ""))
    shape = tuple(int(d) for d in tensor.shape)
    if dtype is None:
        return TensorSource(path, name, shape, str(tensor.dtype), _no_open,
                            error=f"dtype {tensor.dtype} is not supported", forkable=False)

    def open_() -> tuple[Producer, bool, Callable[[], None]]:
        flat = tensor.detach().reshape(-1)

        def produce(_i: int, start: int, stop: int) -> np.ndarray:
            part = flat[start:stop]
            if dtype == "bfloat16":
                return decode(part.view(torch.int16).numpy().view(np.uint16), dtype)
            return decode(part.numpy(), dtype)

        return produce, False, lambda: None

    return TensorSource(path, name, shape, dtype, open_, forkable=False)


# --------------------------------------------------------------------------- dispatch

def read_path(path: str) -> list[TensorSource]:
    """Every tensor in a file, a sharded folder or an index; ``InputError`` for anything unusable.

    This is the boundary for hostile input: whatever a parser raises on a corrupt file becomes
    one ``InputError`` line, never a traceback.
    """
    try:
        return _read_path(path)
    except (InputError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise InputError(f"{path} is corrupt or unreadable ({type(exc).__name__}: {str(exc)[:160]}).") from None


def _read_path(path: str) -> list[TensorSource]:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path} does not exist.")
    if p.is_dir():
        index = sorted(p.glob("*.safetensors.index.json"))
        if index:
            return read_safetensors_index(str(index[0]))
        shards = sorted(p.glob("*.safetensors"))
        if not shards:
            raise InputError(f"{path} is a folder without .safetensors files or an index: give a weight file.")
        return [s for shard in shards for s in read_safetensors(str(shard))]
    suffix = p.suffix.lower()
    if p.name.endswith(".index.json"):
        return read_safetensors_index(path)
    readers: dict[str, Callable[[str], list[TensorSource]]] = {
        ".npy": read_npy, ".npz": read_npz, ".safetensors": read_safetensors,
        ".pt": read_torch, ".pth": read_torch, ".bin": read_torch,
    }
    reader = readers.get(suffix)
    if reader is None:
        raise InputError(f"{path}: unsupported file type {suffix or '(none)'!r}; give .npy, .npz, .safetensors, "
                         "a sharded folder or its .index.json, or .pt/.pth/.bin.")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied.")
    return reader(path)
