"""``.safetensors`` files, a sharded folder's ``*.safetensors.index.json`` and its shards.

The header is checked entry by entry with bounded memory: its length, dtypes, shapes, offsets inside the data
section and not overlapping; ``__metadata__`` is skipped string by string, never built. A well-formed header is
then parsed once (``_fast_entries``); anything unusual goes to the careful walker (``_walked_entries``), which says
what is wrong. An index's shards are files it points to (``sources.pointed_file``: inside the index's folder,
symlinks included).
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
    MAX_NAME,
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
#: One tensor member of the header as ``_fast_entries`` takes it: its name, its entry (``_ENTRY``) and the ',' or
#: '}' after it, in at most ``_MEMBER_SPAN`` characters (a name of MAX_NAME characters written with escapes, the
#: entry's own MAX_HEADER_ENTRY, some spaces), so the regular expression's state stays bounded as ``_ENTRY``'s does.
_MEMBER = re.compile(r"[ \t\n\r]*(" + _JSON_STR + r")[ \t\n\r]*:[ \t\n\r]*(" + _ENTRY.pattern
                     + r")[ \t\n\r]*([,}])")
_NAME = re.compile(r"[ \t\n\r]*(" + _JSON_STR + r")[ \t\n\r]*:[ \t\n\r]*")
_OPEN = re.compile(r"[ \t\n\r]*\{[ \t\n\r]*(\}?)")
_NAME_SPAN = 16 * MAX_NAME
_MEMBER_SPAN = _NAME_SPAN + MAX_HEADER_ENTRY + 256


class _Header:
    """A cursor over a safetensors header, decoded as latin-1 (one character per byte, exact offsets)."""

    def __init__(self, raw: bytes, where: str) -> None:
        self.where = where
        _check_utf8(raw, where)
        self.text = raw.decode("latin-1")
        self.pos = 0

    @classmethod
    def over(cls, text: str, where: str, pos: int) -> _Header:
        """A cursor over ``text``, already checked and decoded by ``_fast_entries``."""
        cur = cls.__new__(cls)
        cur.where, cur.text, cur.pos = where, text, pos
        return cur

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
    """(name, entry) for each tensor of a safetensors header, checked against the limits: in one parse when the
    header is plainly well formed, else by the walker, whose errors say what is wrong."""
    _check_utf8(raw, where)
    fast = _fast_entries(raw, where, limits)
    return fast if fast is not None else _walked_entries(raw, where, limits)


def _fast_entries(raw: bytes, where: str, limits: Limits) -> list[tuple[str, Any]] | None:
    """``_walked_entries``' result with one ``json.loads`` for the whole header instead of two per entry (issue 25:
    a 9000-tensor header took 0.16 s), or None whenever the walker might say anything else: then it runs.

    Each member is first matched, bounded, by ``_MEMBER`` (the walker's ``_ENTRY`` inside), so the header is known
    to nest no deeper than an entry's lists before ``json.loads`` sees it (no ~25x memory on crafted nesting);
    ``__metadata__``'s value is stepped over by the walker's ``_skip_metadata`` and parsed as ``0``, never built.
    The tensor count is checked as members are matched; duplicate names (fewer keys than members), names over
    MAX_NAME and any error leave the decision, and its message, to the walker."""
    text = raw.decode("latin-1")
    opening = _OPEN.match(text)
    if opening is None:
        return None
    pos, more = opening.end(), not opening.group(1)
    count, skipped = 0, []
    try:
        while more:
            m = _MEMBER.match(text, pos, pos + _MEMBER_SPAN)
            if m is not None and not _is_metadata(m.group(1)) and m.end(2) - m.start(2) <= MAX_HEADER_ENTRY:
                count += 1
                if count > limits.max_tensors:
                    return None
                pos, more = m.end(), m.group(3) == ","
                continue
            name = _NAME.match(text, pos, pos + _NAME_SPAN)
            if name is None or not _is_metadata(name.group(1)):
                return None
            cur = _Header.over(text, where, name.end())
            _skip_metadata(cur)
            skipped.append((name.end(), cur.pos))
            more = cur.separator()
            pos = cur.pos
        if _WS.match(text, pos).end() != len(text):  # type: ignore[union-attr]
            return None
        parsed = json.loads(_without(raw, skipped))
    except (InputError, ValueError):
        return None
    if skipped:
        del parsed["__metadata__"]
    if len(parsed) != count or any(len(name) > MAX_NAME for name in parsed):
        return None
    return list(parsed.items())


def _is_metadata(quoted: str) -> bool:
    """Whether a member's name, as written (quotes and escapes), is ``__metadata__``."""
    if quoted == '"__metadata__"':
        return True
    return "\\" in quoted and json.loads(quoted.encode("latin-1")) == "__metadata__"


def _without(raw: bytes, spans: list[tuple[int, int]]) -> bytes:
    """``raw`` with each span (a ``__metadata__`` value) replaced by ``0``."""
    if not spans:
        return raw
    pieces, prev = [], 0
    for begin, end in spans:
        pieces += [raw[prev:begin], b"0"]
        prev = end
    pieces.append(raw[prev:])
    return b"".join(pieces)


def _walked_entries(raw: bytes, where: str, limits: Limits) -> list[tuple[str, Any]]:
    """(name, entry) for each tensor of a safetensors header, walked member by member with bounded memory."""
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
            need = math.prod(shape) * itemsize(dtype)
            if end - begin != need:
                raise InputError(f"{where}: tensor {quote(name)} spans {end - begin} bytes but its shape and dtype "
                                 f"need {need}.")
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
    """Shape, dtype (None: unsupported), begin and end of one parsed entry. The values come from ``json.loads``,
    so exact types suffice (``type(d) is int`` also leaves out bools), and the error is made only when raised: a
    checkpoint has thousands of entries (issue 25)."""
    shape = offsets = dt = None
    if type(entry) is dict:
        shape, offsets, dt = entry.get("shape"), entry.get("data_offsets"), entry.get("dtype")
    if not (type(shape) is list and all(type(d) is int and d >= 0 for d in shape)
            and type(offsets) is list and len(offsets) == 2 and type(offsets[0]) is int and type(offsets[1]) is int
            and type(dt) is str):
        raise InputError(f"{where}: header entry {quote(name)} is malformed (needs dtype, shape and data_offsets).")
    dims = tuple(shape)
    check_shape(where, name, dims)
    return dims, SAFETENSORS_DTYPES.get(dt), offsets[0], offsets[1]


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
