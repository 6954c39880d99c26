"""``.npy`` and ``.npz`` files: numpy's own header, read without ``allow_pickle`` (object dtypes are refused from
the header), and an ``.npz``'s members through one directory parse (stored members read in place, deflated ones
decompressed as a stream; sizes, ratios and overlaps checked against zip bombs in ``ziparchive``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .limits import Limits
from .sources import (
    DEFAULT_LIMITS,
    Extent,
    InputFile,
    TensorSource,
    check_name,
    check_shape,
    numpy_dtype_name,
    open_vetted,
    opened,
    pread_opener,
    quote,
    stream_opener,
    too_many_tensors,
)
from .ziparchive import STORED, Member, MemberReader, read_directory


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
