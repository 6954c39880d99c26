"""``.safetensors`` files, a sharded folder's ``*.safetensors.index.json`` and its shards.

The header is walked entry by entry with bounded memory: its length, dtypes, shapes, offsets inside the data
section and not overlapping; ``__metadata__`` is skipped string by string, never built. An index's shards are
files it points to (``sources.pointed_file``: inside the index's folder, symlinks included).
"""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import struct
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from .limits import (
    MAX_HEADER_ENTRY,
    MAX_INDEX,
    MAX_INDEX_CONTAINERS,
    MAX_METADATA,
    MAX_METADATA_ENTRIES,
    Limits,
)
from .sources import (
    DEFAULT_LIMITS,
    Extent,
    InputFile,
    TensorSource,
    check_name,
    check_shape,
    itemsize,
    no_open,
    opened,
    pointed_file,
    pread_opener,
    quote,
    too_many_tensors,
)
from .ziparchive import pread_exact

SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
    "I16": "int16", "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8",
    "BOOL": "bool",
}

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
