"""A safetensors header is parsed once when it is plainly well formed (``_fast_entries``, issue 25) and walked
member by member otherwise (``_walked_entries``, the bounded walker that says what is wrong). Whatever the header,
``_header_entries`` must give what the walker gives: the same entries in the same order, or the same error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaiming_cli.errors import InputError
from kaiming_cli.io import safetensorsfile as sf
from kaiming_cli.io.limits import MAX_HEADER_ENTRY, MAX_NAME, Limits
from kaiming_cli.io.sources import DEFAULT_LIMITS


def outcome(fn: Any, raw: bytes, limits: Limits) -> tuple[str, Any]:
    try:
        return "entries", fn(raw, "m.safetensors", limits)
    except InputError as exc:
        return "error", str(exc)


def same_as_the_walker(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[str, Any]:
    got = outcome(sf._header_entries, raw, limits)
    assert got == outcome(sf._walked_entries, raw, limits)
    return got


NAMES = st.one_of(st.text(max_size=12), st.sampled_from(["__metadata__", "w", "a.b", "\udc80", "é", "NaN", "\\"]))
DIMS = st.lists(st.integers(-2, 2**40), max_size=5)
ENTRY = st.fixed_dictionaries(
    {"dtype": st.sampled_from(["F32", "BF16", "I64", "F8_E4M3", 7]), "shape": DIMS,
     "data_offsets": st.one_of(st.lists(st.integers(-1, 2**64), min_size=2, max_size=2), st.just([0]))},
    optional={"extra": st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), max_size=3),
                                 st.floats(allow_nan=False), st.booleans(), st.none(), st.just({"a": 1}))})
METADATA = st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=6), st.just(1)), max_size=3)
LAYOUT = st.sampled_from([{}, {"separators": (",", ":")}, {"indent": 1}, {"indent": "\t"}, {"ensure_ascii": False}])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, st.one_of(ENTRY, METADATA)), max_size=6), LAYOUT)
def test_generated_headers_read_as_the_walker_reads_them(members: list[tuple[str, Any]], layout: dict[str, Any]
                                                         ) -> None:
    pairs = ", ".join(f"{json.dumps(k, **layout)}: {json.dumps(v, **layout)}" for k, v in members)
    raw = ("{" + pairs + "}").encode("utf-8", "surrogatepass")
    kind, value = same_as_the_walker(raw)
    if kind == "entries":  # and then it is what the standard library reads, __metadata__ left out
        assert value == [(k, v) for k, v in json.loads(raw).items() if k != "__metadata__"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=3))
def test_mutated_headers_read_as_the_walker_reads_them(edits: list[tuple[int, int]]) -> None:
    header = {"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]},
              "b": {"dtype": "F16", "shape": [4], "data_offsets": [64, 72]}}
    raw = bytearray(json.dumps(header, separators=(",", ":")).encode())
    for pos, value in edits:
        raw[pos % len(raw)] = value
    same_as_the_walker(bytes(raw))


def entry(begin: int) -> dict[str, Any]:
    return {"dtype": "F32", "shape": [2], "data_offsets": [begin, begin + 8]}


@pytest.mark.parametrize("raw,needle", [
    (b'{"w": %s, "w": %s}' % (json.dumps(entry(0)).encode(), json.dumps(entry(8)).encode()), "appears twice"),
    (b'{"\\u0077": %s, "w": %s}' % (json.dumps(entry(0)).encode(), json.dumps(entry(8)).encode()), "appears twice"),
    (b'{"%s": %s}' % (b"n" * (MAX_NAME + 1), json.dumps(entry(0)).encode()), "limit of 1024"),
    (b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "pad": "%s"}}' % (b"x" * MAX_HEADER_ENTRY),
     "malformed"),
    (b'{"w": %s} x' % json.dumps(entry(0)).encode(), "extra data"),
    (b'{"__metadata__": {"a": 1}, "w": %s}' % json.dumps(entry(0)).encode(), "strings to strings"),
    (b'{"\\u005f_metadata__": {"a": [1]}, "w": %s}' % json.dumps(entry(0)).encode(), "strings to strings"),
    (b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": 1.5}}', "malformed"),
    (b'{"w": {"dtype": "F\\q", "shape": [2], "data_offsets": [0, 8]}}', "malformed"),
])
def test_what_the_fast_parse_leaves_to_the_walker_fails_as_before(raw: bytes, needle: str) -> None:
    kind, message = same_as_the_walker(raw)
    assert kind == "error" and needle in message


def test_the_tensor_limit_is_counted_before_the_header_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps({f"t{i}": entry(8 * i) for i in range(6)}).encode()
    assert len(same_as_the_walker(raw, Limits(max_tensors=6))[1]) == 6
    parsed: list[bytes] = []
    monkeypatch.setattr(sf.json, "loads", lambda text: parsed.append(text))
    assert sf._fast_entries(raw, "m.safetensors", Limits(max_tensors=5)) is None and not parsed


def test_metadata_is_stepped_over_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """``__metadata__``'s value reaches ``json.loads`` as ``0``: the header's biggest string is never built."""
    raw = b'{"__metadata__": {"format": "pt", "big": "%s"}, "w": %s}' % (b"v" * 100_000,
                                                                       json.dumps(entry(0)).encode())
    seen: list[int] = []
    loads = json.loads

    def spy(text: bytes) -> Any:
        seen.append(len(text))
        return loads(text)

    monkeypatch.setattr(sf.json, "loads", spy)
    assert sf._fast_entries(raw, "m.safetensors", Limits()) == [("w", entry(0))]
    assert seen == [len(raw) - len(b'{"format": "pt", "big": "%s"}' % (b"v" * 100_000)) + 1]
