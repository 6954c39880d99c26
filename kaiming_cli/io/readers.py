"""Weight-file readers that stream tensors in chunks and never run code from a file.

Formats: ``.npy`` (``allow_pickle`` never: object dtypes are refused from the header), ``.npz``
(one directory parse per archive; stored members are read in place, deflated ones decompressed as a
stream; sizes, ratios and overlaps are checked against zip bombs), ``.safetensors`` (the header is
walked entry by entry with bounded memory: length, dtypes, shapes, offsets inside the data and not
overlapping), a sharded safetensors folder or its ``*.index.json``, and ``.pt``/``.pth``/``.bin``/``.ckpt``
through ``torchfile`` (torch's zip format, read without torch and without running pickled code).

Only regular files are opened: a path (or a folder entry, or an index's shard) is resolved, checked
with ``stat`` and opened non-blocking, and the opened descriptor is checked again, so a FIFO, a
device or a socket (or a symlink to one, such as ``/dev/stdin`` or ``/dev/zero``) is refused without
ever blocking. A symlinked file is reported by its real path. Error messages never quote file bytes.

Uncompressed data is read with ``os.preadv`` into a chunk-sized buffer rather than memory-mapped,
so resident memory stays at a few chunks however large the file is, and a file truncated while it
is read gives an error instead of SIGBUS. Every count a file declares is capped (``limits``).
"""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import stat
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..errors import InputError
from .config import Rule
from .limits import (
    MAX_HEADER_ENTRY,
    MAX_INDEX,
    MAX_INDEX_CONTAINERS,
    MAX_METADATA,
    MAX_METADATA_ENTRIES,
    MAX_NAME,
    MAX_NDIM,
    Limits,
)
from .ziparchive import STORED, Member, MemberReader, pread_exact, read_directory

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
#: torch dtype names (``str(t.dtype)`` without ``torch.``) kaiming reads, for in-memory tensors (the API)
TORCH_DTYPES = {name: name for name in DTYPES}
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
SUFFIXES = (".npy", ".npz", ".safetensors", *TORCH_SUFFIXES, ".json", *KERAS_SUFFIXES, ".onnx", ".msgpack")
DEFAULT_LIMITS = Limits()


def is_float(dtype: str) -> bool:
    return DTYPES.get(dtype, ("", None))[1] is not None


def mantissa_bits(dtype: str) -> int | None:
    return DTYPES.get(dtype, ("", None))[1]


def itemsize(dtype: str) -> int:
    return np.dtype(DTYPES[dtype][0]).itemsize


def decode(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Disk values to float32 (float64 for float64 and integers); bf16 by bit shifting, no torch."""
    if dtype == "bfloat16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    if dtype in ("float32", "float64"):
        return raw.astype(raw.dtype.newbyteorder("="), copy=False)
    if dtype == "float16":
        return raw.astype(np.float32)
    return raw.astype(np.float64)


def display(text: str) -> str:
    """A path or name as it may appear in a message: quoted and escaped unless plainly printable."""
    return text if text.isprintable() else repr(text)


def quote(name: str, limit: int = 80) -> str:
    """A name from a file, for a message: repr (control characters escaped), cut to ``limit``."""
    text = repr(name[:limit])
    return text + "..." if len(name) > limit else text


Producer = Callable[[int, int, int], np.ndarray]
Opener = Callable[[], tuple[Producer, bool, Callable[[], None]]]
"""Opens a tensor for reading: (producer, sequential, close)."""


@dataclass(frozen=True)
class Extent:
    """The stored bytes a tensor's values come from: which file (device, inode), which byte range, and how the
    bytes are viewed (shape, strides). Two tensors with one extent and view are one tensor stored once; extents
    that overlap in other ways multiply the reading (``aliasing.check_aliasing`` bounds both)."""

    file: tuple[int, int]
    start: int
    stop: int
    view: tuple[Any, ...] = ()


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
    layout: str | None = None
    """The axis convention the file implies for this tensor (``keras`` for Keras kernels, ``jax`` for Flax, per
    consuming op for ONNX); the runners use it when neither ``--layout`` nor a rule sets one. None: torch."""
    rule: Rule | None = None
    """The initializer the file itself states for this tensor (a ``.keras`` ``config.json``), as a rule that
    applies when no user rule matches."""
    extent: Extent | None = None
    """Where its bytes lie, for readers that read them in place (None: parsed into memory, or unknown)."""
    same_as: str | None = None
    """The name of an earlier tensor of the same input stored at the very same bytes (tied weights, hard links,
    aliased byte ranges): it is neither read nor tested again, and never counts as an independent test."""
    data_file: str | None = None
    """Another file its values are read from (an ONNX model's external data): an input for the output checks."""

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        spec = DTYPES.get(self.dtype)
        return self.numel * (np.dtype(spec[0]).itemsize if spec else 1)


# --------------------------------------------------------------------------- regular files only

@dataclass(frozen=True)
class InputFile:
    """A regular file vetted for reading (``vet``); every later open checks it is still the same file."""

    path: str
    """As given (or as found in a folder)."""
    real: str
    label: str
    """How reports name it: the real path when a symlink was followed, else the path as given."""
    ident: tuple[int, int]
    size: int
    where: str
    """How messages name it: ``link -> real path`` when a symlink was followed, escaped if need be."""


_FILE_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
               stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def vet(path: str) -> InputFile:
    """Resolve symlinks and check, without opening anything, that ``path`` is a regular file."""
    real = os.path.realpath(path)
    linked = real != os.path.abspath(path)
    named = f"{display(path)} -> {display(real)}" if linked else display(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise InputError(f"cannot read {named}: {exc.strerror}.") from None
    if not stat.S_ISREG(st.st_mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise InputError(f"{named} is {kind}, not a regular file; kaiming reads only regular files "
                         "(a symlink to a device, FIFO or socket is refused).")
    return InputFile(path, real, real if linked else path, (st.st_dev, st.st_ino), st.st_size, named)


def open_vetted(f: InputFile) -> int:
    """A descriptor on ``f``, opened without blocking and checked to be the very file that was vetted."""
    try:
        fd = os.open(f.real, _OPEN_FLAGS)
    except OSError as exc:
        raise InputError(f"cannot open {f.where}: {exc.strerror}.") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != f.ident:
        os.close(fd)
        raise InputError(f"{f.where} was replaced while kaiming read it; run it again on a stable checkout.")
    return fd


@contextmanager
def opened(f: InputFile) -> Iterator[int]:
    fd = open_vetted(f)
    try:
        yield fd
    finally:
        os.close(fd)


def check_name(where: str, name: str) -> None:
    if len(name) > MAX_NAME:
        raise InputError(f"{where}: a tensor name is {len(name)} characters long, more than the limit of {MAX_NAME}; "
                         "refusing the file (no real checkpoint has such names).")


def check_shape(where: str, name: str, shape: tuple[int, ...]) -> None:
    if len(shape) > MAX_NDIM:
        raise InputError(f"{where}: tensor {quote(name)} has {len(shape)} dimensions, more than the limit of "
                         f"{MAX_NDIM}.")
    if any(d < 0 for d in shape):
        raise InputError(f"{where}: tensor {quote(name)} has a negative dimension {list(shape)}; corrupt file.")


def too_many_tensors(where: str, limits: Limits) -> InputError:
    return InputError(f"{where}: more than {limits.max_tensors} tensors in one file (the --max-tensors limit); "
                      "raise --max-tensors if this is a real checkpoint.")


# --------------------------------------------------------------------------- raw readers

def thread_buffer(local: threading.local, n: int, disk: np.dtype) -> np.ndarray:
    """``n`` values of one buffer per worker thread, reused: a fresh 4 MB array per chunk costs ~1000 page
    faults (measured: 0.27 s instead of 0.10 s to read 1 GiB from the page cache)."""
    cached: np.ndarray | None = getattr(local, "buf", None)
    if cached is None or cached.size < n:
        cached = local.buf = np.empty(n, dtype=disk)
    return cached[:n]


def pread_opener(f: InputFile, offset: int, dtype: str, disk: np.dtype | None = None,
                 negate: bool = False) -> Opener:
    """Chunks read with ``os.preadv`` at absolute offsets: random access, safe across threads and forks.

    ``disk`` overrides the on-disk dtype (a big-endian .npy, say); ``negate`` flips the sign (a torch
    tensor saved with its negative bit set).
    """
    disk = np.dtype(DTYPES[dtype][0]) if disk is None else disk

    def open_() -> tuple[Producer, bool, Callable[[], None]]:
        fd = open_vetted(f)
        local = threading.local()

        def produce(_i: int, start: int, stop: int) -> np.ndarray:
            buf = thread_buffer(local, stop - start, disk)
            read_into(fd, buf, offset + start * disk.itemsize, f.where)
            values = decode(buf, dtype)
            return np.negative(values, out=values) if negate else values

        return produce, False, lambda: os.close(fd)

    return open_


def read_into(fd: int, buf: np.ndarray, offset: int, where: str) -> None:
    """Fill ``buf`` from ``offset`` with ``os.preadv``; a short file is an error (never a fault, as with mmap)."""
    want = buf.nbytes
    got = 0
    view = memoryview(buf).cast("B")  # type: ignore[arg-type,unused-ignore]
    while got < want:
        try:
            n = os.preadv(fd, [view[got:]], offset + got)
        except OSError as exc:
            raise InputError(f"cannot read {where}: {exc.strerror}.") from None
        if n == 0:
            raise InputError(f"{where} is truncated: the data ends before its header says it does.")
        got += n


def memory_opener(flat: np.ndarray, dtype: str) -> Opener:
    """Chunks of a flat array already in memory (a compact HDF5 dataset, an ONNX tensor's typed field)."""

    def open_() -> tuple[Producer, bool, Callable[[], None]]:
        return (lambda _i, start, stop: decode(flat[start:stop], dtype)), False, lambda: None

    return open_


def stream_opener(make_stream: Callable[[], Any], skip: int, dtype: str, disk: np.dtype) -> Opener:
    """Chunks read in order from a decompressing stream (deflated .npz members)."""

    def open_() -> tuple[Producer, bool, Callable[[], None]]:
        stream = make_stream()
        stream.read(skip)

        def produce(_i: int, start: int, stop: int) -> np.ndarray:
            data = stream.read((stop - start) * disk.itemsize)
            return decode(np.frombuffer(data, dtype=disk), dtype)

        return produce, True, stream.close

    return open_


# --------------------------------------------------------------------------- .npy / .npz

def _npy_header(fp: Any, where: str) -> tuple[tuple[int, ...], str, np.dtype, int]:
    """(shape, canonical dtype, disk dtype, header length) from an .npy stream; refuses object dtypes."""
    start = fp.tell()
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, _fortran, dt = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _fortran, dt = fmt.read_array_header_2_0(fp)
        else:
            raise InputError(f"{where}: .npy format version {version} is not supported (1.0 and 2.0 are).")
    except (InputError, MemoryError, KeyboardInterrupt):
        raise
    except Exception:  # numpy raises ValueError/SyntaxError/... and quotes the header: never echo it
        raise InputError(f"{where} is not a valid .npy file (bad magic string or header).") from None
    if dt.hasobject:
        raise InputError(f"{where} holds Python objects: refusing to unpickle it; save plain numeric arrays.")
    name = numpy_dtype_name(dt)
    if name is None:  # a structured dtype's field names come from the file: never quote them
        what = "a structured dtype" if dt.fields is not None or dt.subdtype is not None else f"dtype {dt.str}"
        raise InputError(f"{where}: {what} is not supported (float16/32/64, bfloat16 and integers are).")
    shape = tuple(int(d) for d in shape)
    check_shape(where, "array", shape)
    return shape, name, dt, fp.tell() - start


def numpy_dtype_name(dt: np.dtype) -> str | None:
    if dt.fields is not None or dt.subdtype is not None:
        return None
    for name, (code, _bits) in DTYPES.items():
        if name == "bfloat16":
            continue
        if np.dtype(code).newbyteorder("=") == dt.newbyteorder("="):
            return name
    return None


def read_npy(f: InputFile, limits: Limits = DEFAULT_LIMITS) -> list[TensorSource]:
    fd = open_vetted(f)
    with os.fdopen(fd, "rb") as fp:
        shape, dtype, disk, header = _npy_header(fp, f.where)
    numel = math.prod(shape)
    if header + numel * disk.itemsize > f.size:
        raise InputError(f"{f.where} is truncated: its header promises {numel} values, the file holds fewer.")
    extent = Extent(f.ident, header, header + numel * disk.itemsize)
    return [TensorSource(f.label, Path(f.path).stem, shape, dtype, pread_opener(f, header, dtype, disk),
                         extent=extent)]


def read_npz(f: InputFile, limits: Limits = DEFAULT_LIMITS) -> list[TensorSource]:
    where = f.where
    with opened(f) as fd:
        members = read_directory(fd, f.size, where, limits.max_members)
        arrays = [m for m in members.values() if m.name.endswith(".npy")]
        if len(arrays) > limits.max_tensors:
            raise too_many_tensors(where, limits)
        return [_npz_member(f, fd, m) for m in arrays]


def _npz_member(f: InputFile, fd: int, member: Member) -> TensorSource:
    where = f.where
    name = member.name[:-4]
    check_name(where, name)
    shape, dtype, disk, header = _npy_header(MemberReader(fd, member, where), f"{where} (member {quote(name)})")
    expected = header + math.prod(shape) * disk.itemsize
    if member.size != expected:
        raise InputError(f"{where}: member {quote(member.name)} declares {member.size} bytes but its header "
                         f"implies {expected}; refusing a lying archive.")
    if member.method == STORED:
        opener = pread_opener(f, member.data_offset + header, dtype, disk)
    else:
        opener = stream_opener(_member_stream(f, member), header, dtype, disk)
    return TensorSource(f.label, name, shape, dtype, opener)


def _member_stream(f: InputFile, member: Member) -> Callable[[], MemberReader]:
    """A fresh reader of one deflated member on its own descriptor (closed with the reader)."""

    def make() -> MemberReader:
        fd = open_vetted(f)
        reader = MemberReader(fd, member, f.where)
        original_close = reader.close

        def close() -> None:
            original_close()
            os.close(fd)

        reader.close = close  # type: ignore[method-assign]
        return reader

    return make


# --------------------------------------------------------------------------- safetensors

# The header is one JSON object. It is walked member by member: names with the C string scanner,
# tensor entries with a regular expression bounded to MAX_HEADER_ENTRY characters (sre keeps state
# per repetition, so it never sees more), ``__metadata__`` skipped string by string without being
# built. Memory stays near the header's own size, never the ~25x of json.loads on crafted nesting.
_WS = re.compile(r"[ \t\n\r]*")
_JSON_STR = r'"[^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*"'
_JSON_INT = r"-?[0-9]{1,20}"
_JSON_INTS = r"\[[ \t\n\r]*(?:" + _JSON_INT + r"(?:[ \t\n\r]*,[ \t\n\r]*" + _JSON_INT + r")*)?[ \t\n\r]*\]"
_ENTRY_MEMBER = _JSON_STR + r"[ \t\n\r]*:[ \t\n\r]*(?:" + _JSON_STR + "|" + _JSON_INT + "|" + _JSON_INTS + ")"
_ENTRY = re.compile(r"\{[ \t\n\r]*(?:" + _ENTRY_MEMBER + r"[ \t\n\r]*(?:,[ \t\n\r]*" + _ENTRY_MEMBER
                    + r"[ \t\n\r]*)*)?\}")
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class _Header:
    """A cursor over a safetensors header, decoded as latin-1 (one character per byte, exact offsets)."""

    def __init__(self, raw: bytes, where: str) -> None:
        self.where = where
        _check_utf8(raw, where)
        self.text = raw.decode("latin-1")
        self.pos = 0

    def fail(self, what: str) -> InputError:
        return InputError(f"{self.where}: the safetensors header is not valid JSON ({what} at byte {self.pos}).")

    def skip_ws(self) -> None:
        m = _WS.match(self.text, self.pos)
        self.pos = m.end() if m else self.pos

    def expect(self, char: str) -> None:
        self.skip_ws()
        if not self.text.startswith(char, self.pos):
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos:self.pos + 1]

    def string_end(self) -> int:
        """End of the JSON string at the cursor, without keeping its value."""
        if self.peek() != '"':
            raise self.fail("expected a string")
        try:
            _value, end = _scanstring(self.text, self.pos + 1)
        except ValueError:
            raise self.fail("bad string") from None
        return end

    def key(self) -> str:
        end = self.string_end()  # the cursor is now on the opening quote
        key: str = json.loads(self.text[self.pos:end].encode("latin-1"))  # the real UTF-8 text, escapes resolved
        self.pos = end
        self.expect(":")
        self.skip_ws()
        return key

    def separator(self) -> bool:
        """True after a ',' (another member follows), False after the closing '}'."""
        char = self.peek()
        if char not in (",", "}"):
            raise self.fail("expected ',' or '}'")
        self.pos += 1
        return char == ","


def _check_utf8(raw: bytes, where: str) -> None:
    """Validate UTF-8 a MiB at a time: decoding the whole header at once may cost 4 bytes per byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for i in range(0, len(raw), 1 << 20):
            decoder.decode(raw[i:i + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(f"{where}: the safetensors header is not valid UTF-8.") from None


def _header_entries(raw: bytes, where: str, limits: Limits) -> list[tuple[str, Any]]:
    """(name, entry) for each tensor of a safetensors header, checked against the limits."""
    cur = _Header(raw, where)
    entries: list[tuple[str, Any]] = []
    seen: set[str] = set()
    if cur.peek() != "{":
        raise InputError(f"{where}: the safetensors header is not a JSON object.")
    cur.pos += 1
    more = cur.peek() != "}"
    if not more:
        cur.pos += 1
    while more:
        name = cur.key()
        if name == "__metadata__":
            _skip_metadata(cur)
        else:
            check_name(where, name)
            if len(entries) >= limits.max_tensors:
                raise too_many_tensors(where, limits)
            if name in seen:
                raise InputError(f"{where}: tensor {quote(name)} appears twice in the header (lying header).")
            seen.add(name)
            m = _ENTRY.match(cur.text, cur.pos, cur.pos + MAX_HEADER_ENTRY)
            if m is None:
                raise InputError(f"{where}: header entry {quote(name)} is malformed (needs dtype, shape and "
                                 f"data_offsets, in at most {MAX_HEADER_ENTRY} bytes).")
            try:
                entries.append((name, json.loads(m.group().encode("latin-1"))))
            except ValueError:
                raise InputError(f"{where}: header entry {quote(name)} is malformed (needs dtype, shape and "
                                 "data_offsets).") from None
            cur.pos = m.end()
        more = cur.separator()
    cur.skip_ws()
    if cur.pos != len(cur.text):
        raise cur.fail("extra data after the header object")
    return entries


def _skip_metadata(cur: _Header) -> None:
    """Step over ``__metadata__`` (strings to strings) without building it, within the limits."""
    start = cur.pos
    cur.expect("{")
    more = cur.peek() != "}"
    if not more:
        cur.pos += 1
    count = 0
    while more:
        cur.pos = cur.string_end()
        cur.expect(":")
        if cur.peek() != '"':
            raise InputError(f"{cur.where}: __metadata__ must map strings to strings (the safetensors format).")
        cur.pos = cur.string_end()
        count += 1
        if count > MAX_METADATA_ENTRIES or cur.pos - start > MAX_METADATA:
            raise InputError(f"{cur.where}: __metadata__ exceeds its limit of {MAX_METADATA_ENTRIES} entries or "
                             f"{MAX_METADATA // (1 << 20)} MiB; refusing the file.")
        more = cur.separator()


def read_safetensors(f: InputFile, limits: Limits = DEFAULT_LIMITS) -> list[TensorSource]:
    where = f.where
    with opened(f) as fd:
        head = os.pread(fd, 8, 0)
        if len(head) < 8:
            raise InputError(f"{where} is not a safetensors file: shorter than its 8-byte header length.")
        (n,) = struct.unpack("<Q", head)
        # the length is the file's first 8 bytes: never print it (a symlink to a secret would leak them)
        if n > limits.max_header:
            raise InputError(f"{where}: the header claims more than the limit of {limits.max_header} bytes "
                             "(16 MiB plus 2 KiB per tensor that --max-tensors allows): not a safetensors file?")
        if 8 + n > f.size:
            raise InputError(f"{where}: the header claims more bytes than the file's {f.size}: corrupt or "
                             "not a safetensors file.")
        raw = pread_exact(fd, n, 8, where)
    entries = _header_entries(raw, where, limits)
    del raw
    data_start, data_len = 8 + n, f.size - 8 - n
    sources: list[TensorSource] = []
    spans: list[tuple[int, int, str]] = []
    for name, entry in entries:
        shape, dtype, begin, end = _safetensors_entry(where, name, entry)
        if not 0 <= begin <= end <= data_len:
            raise InputError(f"{where}: tensor {quote(name)} has offsets [{begin}, {end}] outside the {data_len}-byte "
                             "data section (truncated or lying header).")
        spans.append((begin, end, name))
        if dtype is None:
            src = TensorSource(f.label, name, shape, str(entry.get("dtype"))[:40], no_open, error=(
                f"dtype {quote(str(entry.get('dtype')), 40)} is not supported (F64, F32, F16, BF16 and integers are)"))
        else:
            if end - begin != math.prod(shape) * itemsize(dtype):
                raise InputError(f"{where}: tensor {quote(name)} spans {end - begin} bytes but its shape and dtype "
                                 f"need {math.prod(shape) * itemsize(dtype)}.")
            src = TensorSource(f.label, name, shape, dtype, pread_opener(f, data_start + begin, dtype),
                               extent=Extent(f.ident, data_start + begin, data_start + end))
        sources.append(src)
    spans.sort()
    for (_a0, a1, an), (b0, _b1, bn) in zip(spans, spans[1:], strict=False):
        if b0 < a1:
            raise InputError(f"{where}: tensors {quote(an)} and {quote(bn)} overlap in the data section "
                             "(lying header).")
    return sources


def no_open() -> tuple[Producer, bool, Callable[[], None]]:
    raise InputError("this tensor cannot be read")


def _safetensors_entry(where: str, name: str, entry: Any) -> tuple[tuple[int, ...], str | None, int, int]:
    bad = InputError(f"{where}: header entry {quote(name)} is malformed (needs dtype, shape and data_offsets).")
    if not isinstance(entry, dict):
        raise bad
    shape, offsets, dt = entry.get("shape"), entry.get("data_offsets"), entry.get("dtype")
    if (not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                               for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not isinstance(dt, str)):
        raise bad
    check_shape(where, name, tuple(shape))
    return tuple(shape), SAFETENSORS_DTYPES.get(dt), offsets[0], offsets[1]


def read_safetensors_index(f: InputFile, limits: Limits = DEFAULT_LIMITS) -> list[TensorSource]:
    where = f.where
    if f.size > MAX_INDEX:
        raise InputError(f"{where} is {f.size} bytes, more than the limit of {MAX_INDEX} for a safetensors index.")
    with opened(f) as fd:
        raw = pread_exact(fd, f.size, 0, where)
    if raw.count(b"{") + raw.count(b"[") > MAX_INDEX_CONTAINERS:
        raise InputError(f"{where} nests more than {MAX_INDEX_CONTAINERS} JSON objects or arrays; "
                         "not a safetensors index.")
    try:
        index = json.loads(raw)
    except (ValueError, RecursionError):
        raise InputError(f"{where} is not valid JSON.") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise InputError(f"{where} has no weight_map: not a safetensors index.")
    if len(weight_map) > limits.max_tensors:
        raise too_many_tensors(where, limits)
    sources: list[TensorSource] = []
    for shard in sorted(set(weight_map.values())):
        in_shard = read_safetensors(_shard_file(where, f, shard), limits)
        if len(sources) + len(in_shard) > limits.max_tensors:
            raise too_many_tensors(where, limits)
        names = {s.name for s in in_shard}
        missing = next((k for k, v in weight_map.items() if v == shard and k not in names), None)
        if missing is not None:
            raise InputError(f"{where}: {quote(missing)} is mapped to {quote(shard)} but not in it.")
        sources += in_shard
    return sources


def _shard_file(where: str, index: InputFile, shard: str) -> InputFile:
    """A shard named in an index: a file inside the index's folder (``pointed_file``)."""
    return pointed_file(where, index, shard, f"shard {quote(shard)}")


def pointed_file(where: str, pointing: InputFile, relative: str, what: str) -> InputFile:
    """A file that a weight file names (an index's shard, an ONNX model's external data), vetted like an input.

    It must be a relative path with no ``..`` whose resolved path lies inside the pointing file's folder, or
    inside the folder its own symlink resolves to (the Hugging Face cache keeps a snapshot's files as symlinks
    into ``blobs/``, side by side there). A symlink out of both is refused before anything is opened or
    ``stat``-ed, with a message that names neither the target's size nor any of its bytes (security.md §2.3).
    """
    parts = PurePosixPath(relative).parts
    if (not relative or len(relative) > MAX_NAME or "\x00" in relative or "\\" in relative
            or PurePosixPath(relative).is_absolute() or ".." in parts):
        raise InputError(f"{where}: {what} points outside the model's folder (an absolute path, '..', a "
                         "backslash or NUL); refusing it.")
    folder = Path(pointing.path).parent
    path = str(folder / relative)
    if not os.path.lexists(path):
        raise InputError(f"{where}: {what} is missing.")
    real = os.path.realpath(path)
    roots = {os.path.realpath(folder), os.path.dirname(pointing.real)}
    if not any(os.path.commonpath([real, root]) == root for root in roots):
        raise InputError(f"{where}: {what} is a symlink that leads outside the model's folder; refusing it "
                         "(copy the file into the folder if it is really part of the model).")
    return vet(path)


# --------------------------------------------------------------------------- dispatch

READERS: dict[str, Callable[[InputFile, Limits], list[TensorSource]]] = {
    ".npy": read_npy, ".npz": read_npz, ".safetensors": read_safetensors,
}


def read_path(path: str, limits: Limits = DEFAULT_LIMITS) -> list[TensorSource]:
    """Every tensor in a file, a sharded folder or an index; ``InputError`` for anything unusable.

    This is the boundary for hostile input: whatever a parser raises on a corrupt file becomes
    one ``InputError`` line (naming the exception type, never quoting its text: it may hold file
    bytes), never a traceback.
    """
    from .entries import vet_entries

    try:
        return vet_entries(_read_path(path, limits), display(path), limits)
    except (InputError, MemoryError, KeyboardInterrupt):
        raise
    except RecursionError:
        raise InputError(f"{display(path)} nests too deeply to be a weight file; refusing it.") from None
    except Exception as exc:
        raise InputError(f"{display(path)} is corrupt or unreadable ({type(exc).__name__}).") from None


def _read_path(path: str, limits: Limits) -> list[TensorSource]:
    if not os.path.lexists(path):
        raise InputError(f"{display(path)} does not exist.")
    if os.path.isdir(path):
        return _read_folder(path, limits)
    name = Path(path).name
    suffix = Path(path).suffix.lower()
    if name.endswith(".index.json"):
        return read_safetensors_index(_readable(vet(path)), limits)
    reader = READERS.get(suffix) or _optional_reader(suffix)
    if reader is None:
        raise InputError(f"{display(path)}: unsupported file type {display(suffix or '(none)')}; give .npy, .npz, "
                         ".safetensors, a sharded folder or its .index.json, .pt/.pth/.bin/.ckpt, .keras/.h5, "
                         ".onnx or a Flax .msgpack.")
    return reader(_readable(vet(path)), limits)


def _optional_reader(suffix: str) -> Callable[[InputFile, Limits], list[TensorSource]] | None:
    """The reader of a format whose module (and optional dependency) loads only when such a file is given."""
    if suffix in TORCH_SUFFIXES:
        from .torchfile import read_torch

        return read_torch
    if suffix in KERAS_SUFFIXES:
        from .kerasfile import read_keras

        return read_keras
    if suffix == ".onnx":
        from .onnxfile import read_onnx

        return read_onnx
    if suffix == ".msgpack":
        from .flaxfile import read_flax

        return read_flax
    return None


def require(module: str, extra: str, what: str) -> Any:
    """Import an optional dependency, or one line (exit 3) naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"reading {what} needs the {module} package; install it with: "
                         f"pip install 'kaiming[{extra}]'") from None


def _readable(f: InputFile) -> InputFile:
    if not os.access(f.real, os.R_OK):
        raise InputError(f"cannot read {f.where}: permission denied.")
    return f


def _read_folder(path: str, limits: Limits) -> list[TensorSource]:
    p = Path(path)
    index = sorted(p.glob("*.safetensors.index.json"))
    if index:
        return read_safetensors_index(_readable(vet(str(index[0]))), limits)
    shards = sorted(p.glob("*.safetensors"))
    if not shards:
        raise InputError(f"{display(path)} is a folder without .safetensors files or an index: give a weight file.")
    sources: list[TensorSource] = []
    for shard in shards:
        sources += read_safetensors(_readable(vet(str(shard))), limits)
        if len(sources) > limits.max_tensors:
            raise too_many_tensors(display(path), limits)
    return sources
