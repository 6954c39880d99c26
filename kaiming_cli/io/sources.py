"""What every weight-file reader shares: the tensor source a reader yields, vetted input files, chunk openers.

A reader (``numpyfile``, ``safetensorsfile``, ``torchfile``, ``kerasfile``, ``onnxfile``, ``flaxfile``) turns one
vetted ``InputFile`` into ``TensorSource`` entries: a name, a shape, a dtype and an opener that reads the values
in chunks later. The dispatcher (``readers``) picks the reader by suffix; every reader imports this module and
none imports the dispatcher, so the package has no import cycle.

Only regular files are opened: a path (or a folder entry, an index's shard, an ONNX model's external data) is
resolved, checked with ``stat`` and opened non-blocking, and the opened descriptor is checked again, so a FIFO, a
device or a socket (or a symlink to one, such as ``/dev/stdin`` or ``/dev/zero``) is refused without ever
blocking. A symlinked file is reported by its real path; a file that another points to must resolve inside the
pointing file's folder (``pointed_file``). Error messages never quote file bytes.

Uncompressed data is read with ``os.preadv`` into a chunk-sized buffer rather than memory-mapped, so resident
memory stays at a few chunks however large the file is, and a file truncated while it is read gives an error
instead of SIGBUS.
"""

from __future__ import annotations

import math
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..errors import InputError
from .config import Rule
from .limits import MAX_NAME, MAX_NDIM, Limits

#: name -> (numpy dtype on disk, mantissa bits or None for integers)
DTYPES: dict[str, tuple[str, int | None]] = {
    "float64": ("<f8", 52), "float32": ("<f4", 23), "float16": ("<f2", 10), "bfloat16": ("<u2", 7),
    "int64": ("<i8", None), "int32": ("<i4", None), "int16": ("<i2", None), "int8": ("i1", None),
    "uint64": ("<u8", None), "uint32": ("<u4", None), "uint16": ("<u2", None), "uint8": ("u1", None),
    "bool": ("?", None),
}
#: torch dtype names (``str(t.dtype)`` without ``torch.``) kaiming reads, for in-memory tensors (the API)
TORCH_DTYPES = {name: name for name in DTYPES}
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
    return PreadOpener(f, offset, dtype, np.dtype(DTYPES[dtype][0]) if disk is None else disk, negate)


class PreadOpener:
    """``pread_opener``'s opener: each call opens ``file`` (``open_vetted``) for one tensor. It also says where the
    tensor lies, so a reader of many small tensors of one file (engine/grouped.py ``read_rows``) opens the file
    once for all of them and calls ``read`` on that descriptor (issue 25: an open, an fstat and a close cost as
    much as reading a 16x16 tensor)."""

    __slots__ = ("file", "offset", "dtype", "disk", "negate")

    def __init__(self, f: InputFile, offset: int, dtype: str, disk: np.dtype, negate: bool) -> None:
        self.file, self.offset, self.dtype, self.disk, self.negate = f, offset, dtype, disk, negate

    def __call__(self) -> tuple[Producer, bool, Callable[[], None]]:
        fd = open_vetted(self.file)
        local = threading.local()

        def produce(_i: int, start: int, stop: int) -> np.ndarray:
            return self.read(fd, thread_buffer(local, stop - start, self.disk), start)

        return produce, False, lambda: os.close(fd)

    def read(self, fd: int, buf: np.ndarray, start: int = 0) -> np.ndarray:
        """The decoded values from value ``start`` on, ``buf.size`` of them (``buf`` of the disk dtype, filled
        through ``fd``, a descriptor on ``file`` from ``open_vetted``)."""
        read_into(fd, buf, self.offset + start * self.disk.itemsize, self.file.where)
        values = decode(buf, self.dtype)
        return np.negative(values, out=values) if self.negate else values

    def fill(self, fd: int, out: np.ndarray) -> None:
        """``out[:] = read(fd, ...)`` of the first ``out.size`` values; straight into ``out`` when the stored bytes
        are already the decoded values (native float32 or float64, not negated), without a buffer."""
        if out.dtype == self.disk and not self.negate and self.dtype in ("float32", "float64"):
            read_into(fd, out, self.offset, self.file.where)
        else:
            out[:] = self.read(fd, np.empty(out.size, self.disk))


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


def numpy_dtype_name(dt: np.dtype) -> str | None:
    if dt.fields is not None or dt.subdtype is not None:
        return None
    for name, (code, _bits) in DTYPES.items():
        if name == "bfloat16":
            continue
        if np.dtype(code).newbyteorder("=") == dt.newbyteorder("="):
            return name
    return None


def no_open() -> tuple[Producer, bool, Callable[[], None]]:
    raise InputError("this tensor cannot be read")


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


def require(module: str, extra: str, what: str) -> Any:
    """Import an optional dependency, or one line (exit 3) naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"reading {what} needs the {module} package; install it with: "
                         f"pip install 'kaiming[{extra}]'") from None
