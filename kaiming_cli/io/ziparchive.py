"""A zip archive's directory and members, read with ``os.pread`` on one file descriptor, no ``zipfile``.

``.npz`` files and PyTorch checkpoints are zip archives. This module parses the central directory
once per file (``zipfile`` reopened and re-parsed it per member: 8,000 members cost minutes),
refuses what no numpy or torch writer produces (encryption, split archives, overlapping or
duplicate members, ratios beyond what deflate can do), and reads members by absolute offset, so
concurrent readers (threads or forked workers) never share a file position. Stored members are
read in place; deflated ones are decompressed as a stream, never whole.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

from ..errors import InputError

STORED, DEFLATED = 0, 8
#: deflate cannot compress beyond ~1032:1; more means a crafted archive.
MAX_RATIO = 1100
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")
_BLOCK = 1 << 16
#: bytes of directory per member beyond the fixed 46: a name (tensor names are at most 1 KiB) and
#: extra fields (zip64 sizes, torch's alignment padding); comments are never written by numpy or torch
_MAX_ENTRY_TAIL = 4096


@dataclass(frozen=True)
class Member:
    """One member of an archive; ``data_offset`` is where its (compressed) bytes start in the file."""

    name: str
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int


def pread_exact(fd: int, n: int, offset: int, where: str) -> bytes:
    """Exactly n bytes at offset; ``InputError`` if the file ends first (truncated while read)."""
    parts = []
    got = 0
    while got < n:
        try:
            chunk = os.pread(fd, n - got, offset + got)
        except OSError as exc:
            raise InputError(f"cannot read {where}: {exc.strerror}.") from None
        if not chunk:
            raise InputError(f"{where} is truncated: it ends before its own headers say it does.")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def read_directory(fd: int, size: int, where: str, max_members: int) -> dict[str, Member]:
    """The archive's members by name, checked; ``InputError`` names what is wrong with it."""
    count, cd_size, cd_offset, cd_end = _end_record(fd, size, where)
    if count > max_members:
        raise InputError(f"{where}: the archive has {count} members, more than the limit of {max_members} "
                         "(--max-tensors); raise --max-tensors if this is a real checkpoint.")
    if cd_size > count * (_CENTRAL.size + _MAX_ENTRY_TAIL):
        raise InputError(f"{where}: the zip directory is {cd_size} bytes for {count} members (names or extra "
                         "fields of more than 4 KiB); refusing a crafted archive.")
    if cd_offset + cd_size != cd_end:
        raise InputError(f"{where}: the zip directory is not where its end record says (data prepended or "
                         "appended to the archive); refusing it.")
    directory = pread_exact(fd, cd_size, cd_offset, where)
    members: dict[str, Member] = {}
    pos = 0
    for _ in range(count):
        member, pos = _central_entry(fd, directory, pos, where, cd_offset)
        if member.name in members:
            raise InputError(f"{where}: two zip members share one name; refusing a crafted archive.")
        members[member.name] = member
    if pos != len(directory):
        raise InputError(f"{where}: the zip directory holds more entries than its end record counts.")
    _check_spans(members, where)
    return members


def _end_record(fd: int, size: int, where: str) -> tuple[int, int, int, int]:
    """(member count, directory size, directory offset, where the directory must end)."""
    tail_len = min(size, _EOCD.size + 0xFFFF)
    tail = pread_exact(fd, tail_len, size - tail_len, where)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise InputError(f"{where} is not a zip archive (no end-of-directory record): not written by numpy "
                         "or torch, or truncated.")
    _sig, disk, cd_disk, n_disk, count, cd_size, cd_offset, _comment = _EOCD.unpack_from(tail, at)
    eocd_pos = size - tail_len + at
    locator = tail[at - _ZIP64_LOCATOR.size:at] if at >= _ZIP64_LOCATOR.size else b""
    if locator.startswith(b"PK\x06\x07") or 0xFFFF in (disk, cd_disk, n_disk, count) \
            or 0xFFFFFFFF in (cd_size, cd_offset):
        return _zip64_end_record(fd, eocd_pos, where)  # torch writes zip64 records even for small files
    if disk != 0 or cd_disk != 0 or n_disk != count:
        raise InputError(f"{where} is a split (multi-disk) zip archive, which kaiming does not read.")
    return count, cd_size, cd_offset, eocd_pos


def _zip64_end_record(fd: int, eocd_pos: int, where: str) -> tuple[int, int, int, int]:
    if eocd_pos < _ZIP64_LOCATOR.size:
        raise InputError(f"{where}: the zip64 end record is missing; corrupt archive.")
    sig, _disk, record_at, _disks = _ZIP64_LOCATOR.unpack(pread_exact(fd, _ZIP64_LOCATOR.size,
                                                                     eocd_pos - _ZIP64_LOCATOR.size, where))
    if sig != b"PK\x06\x07" or record_at + _ZIP64_EOCD.size > eocd_pos - _ZIP64_LOCATOR.size:
        raise InputError(f"{where}: the zip64 end record is missing or misplaced; corrupt archive.")
    fields = _ZIP64_EOCD.unpack(pread_exact(fd, _ZIP64_EOCD.size, record_at, where))
    sig, _rec_size, _made, _needed, disk, cd_disk, n_disk, count, cd_size, cd_offset = fields
    if sig != b"PK\x06\x06":
        raise InputError(f"{where}: the zip64 end record is corrupt.")
    if disk != 0 or cd_disk != 0 or n_disk != count:
        raise InputError(f"{where} is a split (multi-disk) zip archive, which kaiming does not read.")
    return count, cd_size, cd_offset, record_at


def _central_entry(fd: int, directory: bytes, pos: int, where: str, cd_offset: int) -> tuple[Member, int]:
    if pos + _CENTRAL.size > len(directory):
        raise InputError(f"{where}: the zip directory ends inside an entry; corrupt archive.")
    (sig, _made, _needed, flags, method, _time, _date, crc, csize, usize, name_len, extra_len, comment_len,
     _disk, _iattr, _eattr, offset) = _CENTRAL.unpack_from(directory, pos)
    if sig != b"PK\x01\x02":
        raise InputError(f"{where}: bad zip directory entry; corrupt archive.")
    start = pos + _CENTRAL.size
    end = start + name_len + extra_len + comment_len
    if end > len(directory):
        raise InputError(f"{where}: the zip directory ends inside an entry; corrupt archive.")
    raw_name = directory[start:start + name_len]
    name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
    if flags & 0x1:
        raise InputError(f"{where}: member {_quote(name)} is encrypted; kaiming reads plain archives only.")
    usize, csize, offset = _zip64_sizes(directory[start + name_len:start + name_len + extra_len],
                                        usize, csize, offset, where)
    if method == STORED and csize != usize:
        raise InputError(f"{where}: stored member {_quote(name)} declares two different sizes; corrupt archive.")
    if usize > MAX_RATIO * max(csize, 1):
        raise InputError(f"{where}: member {_quote(name)} expands {usize / max(csize, 1):.0f}:1 (a zip bomb?); "
                         "refusing it.")
    if method not in (STORED, DEFLATED):
        raise InputError(f"{where}: member {_quote(name)} uses zip compression method {method}; kaiming reads "
                         "stored and deflated members (what numpy and torch write).")
    local = _LOCAL.unpack(pread_exact(fd, _LOCAL.size, offset, where)) if offset + _LOCAL.size <= cd_offset \
        else None
    if local is None or local[0] != b"PK\x03\x04":
        raise InputError(f"{where}: bad local header for member {_quote(name)}; corrupt archive.")
    data_offset = offset + _LOCAL.size + local[9] + local[10]
    if data_offset + csize > cd_offset:
        raise InputError(f"{where}: member {_quote(name)} runs into the zip directory (truncated or lying archive).")
    return Member(name, method, crc, csize, usize, offset, data_offset), end


def _zip64_sizes(extra: bytes, usize: int, csize: int, offset: int, where: str) -> tuple[int, int, int]:
    """Sizes and offset from the zip64 extra field, for the fields set to 0xFFFFFFFF."""
    if 0xFFFFFFFF not in (usize, csize, offset):
        return usize, csize, offset
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4:pos + 4 + length]
        if tag == 0x0001:
            values = list(struct.unpack_from(f"<{len(body) // 8}Q", body))
            fields = [usize, csize, offset]
            for i, value in enumerate(fields):
                if value == 0xFFFFFFFF:
                    if not values:
                        break
                    fields[i] = values.pop(0)
            else:
                return fields[0], fields[1], fields[2]
        pos += 4 + length
    raise InputError(f"{where}: a zip64 member lacks its 64-bit sizes; corrupt archive.")


def _check_spans(members: dict[str, Member], where: str) -> None:
    spans = sorted((m.header_offset, m.data_offset + m.compressed_size) for m in members.values())
    for (_a0, a1), (b0, _b1) in zip(spans, spans[1:], strict=False):
        if b0 < a1:
            raise InputError(f"{where}: zip members overlap (a crafted archive, e.g. a zip bomb); refusing it.")


def _quote(name: str) -> str:
    text = repr(name[:80])
    return text + "..." if len(name) > 80 else text


class MemberReader:
    """A file-like ``read(n)`` over one member, decompressing deflate as it goes; checks the CRC at the end.

    Reads with ``pread`` on a descriptor the caller owns (and closes).
    """

    def __init__(self, fd: int, member: Member, where: str) -> None:
        self.fd, self.member, self.where = fd, member, where
        self._raw_pos = 0  # compressed bytes consumed
        self._pos = 0  # uncompressed bytes delivered
        self._crc = 0
        self._pending = b""
        self._inflate = zlib.decompressobj(-15) if member.method == DEFLATED else None

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        left = self.member.size - self._pos
        n = left if n < 0 else min(n, left)
        out = self._inflated(n) if self._inflate is not None else self._stored(n)
        self._pos += len(out)
        self._crc = zlib.crc32(out, self._crc)
        if self._pos == self.member.size and self._crc != self.member.crc:
            raise InputError(f"{self.where}: member {_quote(self.member.name)} fails its CRC check; corrupt archive.")
        return out

    def close(self) -> None:
        self._inflate = None

    def _stored(self, n: int) -> bytes:
        return pread_exact(self.fd, n, self.member.data_offset + self._pos, self.where)

    def _inflated(self, n: int) -> bytes:
        assert self._inflate is not None
        parts = []
        got = 0
        while got < n:
            if not self._pending:
                take = min(_BLOCK, self.member.compressed_size - self._raw_pos)
                if take <= 0:
                    raise InputError(f"{self.where}: member {_quote(self.member.name)} ends before its declared "
                                     "size; corrupt archive.")
                self._pending = pread_exact(self.fd, take, self.member.data_offset + self._raw_pos, self.where)
                self._raw_pos += take
            try:
                chunk = self._inflate.decompress(self._pending, n - got)
            except zlib.error:
                raise InputError(f"{self.where}: member {_quote(self.member.name)} is not valid deflate data; "
                                 "corrupt archive.") from None
            self._pending = self._inflate.unconsumed_tail
            if not chunk and self._inflate.eof:
                raise InputError(f"{self.where}: member {_quote(self.member.name)} ends before its declared size; "
                                 "corrupt archive.")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)
