"""Hand-assembled PyTorch checkpoints: protocol-2 pickles in torch's zip layout, opcode by opcode.

torch.save refuses to write most hostile layouts (and cannot write others cheaply), so crafted
inputs are assembled here. A valid assembly loads with ``torch.load(weights_only=True)`` too, which
the unit tests check, so the crafted files are what torch itself would read.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

MARK, TUPLE, EMPTY_TUPLE, EMPTY_DICT, EMPTY_LIST = b"(", b"t", b")", b"}", b"]"
SETITEMS, APPENDS, REDUCE, BINPERSID, NEWFALSE, BUILD = b"u", b"e", b"R", b"Q", b"\x89", b"b"


def op_global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def op_str(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return b"X" + struct.pack("<I", len(data)) + data


def op_int(value: int) -> bytes:
    if -(2**31) <= value < 2**31:
        return b"J" + struct.pack("<i", value)
    size = (value.bit_length() + 8) // 8
    return b"\x8a" + bytes([size]) + value.to_bytes(size, "little", signed=True)


def op_tuple(*items: bytes) -> bytes:
    return MARK + b"".join(items) + TUPLE


def op_put(index: int) -> bytes:
    return b"r" + struct.pack("<I", index)


def op_get(index: int) -> bytes:
    return b"j" + struct.pack("<I", index)


def op_dict(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return EMPTY_DICT + MARK + b"".join(k + v for k, v in pairs) + SETITEMS


def op_list(items: list[bytes]) -> bytes:
    return EMPTY_LIST + MARK + b"".join(items) + APPENDS


def ordered_dict() -> bytes:
    return op_global("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE


def storage(key: str, numel: int, kind: str = "FloatStorage") -> bytes:
    return op_tuple(op_str("storage"), op_global("torch", kind), op_str(key), op_str("cpu"), op_int(numel)) + BINPERSID


def tensor(key: str, numel: int, shape: tuple[int, ...], stride: tuple[int, ...] | None = None, offset: int = 0,
           kind: str = "FloatStorage") -> bytes:
    """``_rebuild_tensor_v2`` of a view of storage ``key`` (``numel`` elements of ``kind``)."""
    if stride is None:
        stride, step = [], 1
        for d in reversed(shape):
            stride.insert(0, step)
            step *= d
    return op_global("torch._utils", "_rebuild_tensor_v2") + op_tuple(
        storage(key, numel, kind), op_int(offset), op_tuple(*map(op_int, shape)), op_tuple(*map(op_int, stride)),
        NEWFALSE, ordered_dict()) + REDUCE


def write_pt(path: Path, body: bytes, storages: dict[str, bytes], prefix: str = "archive") -> Path:
    """A checkpoint whose data.pkl is ``body`` (one pickled object) and whose storages are given raw."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{prefix}/data.pkl", b"\x80\x02" + body + b".")
        zf.writestr(f"{prefix}/byteorder", b"little")
        zf.writestr(f"{prefix}/version", b"3\n")
        for key, data in storages.items():
            zf.writestr(f"{prefix}/data/{key}", data)
    return path
