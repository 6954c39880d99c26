"""Fuzzing the readers: mutated and truncated valid files end in a result or one InputError.

Every example goes through the whole path (read the header, stream the data, run the battery),
so a parser bug shows as an exception type other than InputError. Bounded to run in CI in seconds.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaiming_cli.errors import InputError
from kaiming_cli.io.config import Config, Rule
from kaiming_cli.io.readers import read_path
from kaiming_cli.runners.identify import identify_source
from kaiming_cli.runners.verify import run_verify
from kaiming_cli.theory.spec import SpecOptions
from tests import ptcraft as pt

torch = pytest.importorskip("torch")
FALLBACK = Rule(match="*", options={})


def _valid_files() -> dict[str, bytes]:
    from safetensors.numpy import save

    rng = np.random.default_rng(0)
    w = (rng.standard_normal((32, 16)) * 0.35).astype(np.float32)
    files: dict[str, bytes] = {}
    buf = io.BytesIO()
    np.save(buf, w)
    files[".npy"] = buf.getvalue()
    buf = io.BytesIO()
    np.savez(buf, w=w, b=np.zeros(16, np.float32))
    files[".npz"] = buf.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        member = io.BytesIO()
        np.save(member, w)
        zf.writestr("w.npy", member.getvalue())
    files[".npz-deflated"] = buf.getvalue()
    files[".safetensors"] = save({"w": w, "b": np.zeros(16, np.float32)})
    buf = io.BytesIO()
    torch.save({"w": torch.from_numpy(w), "n": torch.tensor(3)}, buf)
    files[".pt"] = buf.getvalue()
    return files


VALID = _valid_files()


def _run(path: Path) -> None:
    """Read, verify and identify: a result, or one InputError line."""
    try:
        sources = read_path(str(path))
        run_verify(sources, Config(), FALLBACK, SpecOptions(), alpha=1e-3, correction="holm", jobs=1)
        for source in sources:
            identify_source(source)
    except InputError as exc:
        assert "\n" not in str(exc).strip()


mutation = st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
                    min_size=1, max_size=8)


@pytest.mark.parametrize("kind", sorted(VALID))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=mutation, cut=st.one_of(st.none(), st.integers(min_value=0)))
def test_mutated_files_never_crash(tmp_path: Path, kind: str, edits: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(VALID[kind])
    for pos, value in edits:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path / f"fuzz{kind.split('-')[0]}"
    path.write_bytes(bytes(data))
    _run(path)
    os.unlink(path)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_truncation_point_of_the_header(tmp_path: Path, kind: str) -> None:
    data = VALID[kind]
    path = tmp_path / f"cut{kind.split('-')[0]}"
    for cut in range(0, min(len(data), 400), 7):
        path.write_bytes(data[:cut])
        _run(path)


# --------------------------------------------------------------------------- option values

#: Values that have broken number parsers, ranges and paths: NaN, infinities, signed zero, extremes,
#: subnormals, integers past 64 bits and past Python's 4300-digit limit, empty and odd text.
EXTREME = ["nan", "inf", "-inf", "-0", "0", "-1", "1e308", "1e-320", str(2**64), "9" * 4400, "", " ", "é",
           "\x1b[31m", "\udcff", "1e30", "0x10", "1_000", "4,4", str(10**12)]
#: Every option of every command that takes a value, with base arguments that make the command valid.
OPTIONS: dict[str, tuple[list[str], list[str]]] = {
    "std": (["--shape", "4,4"], ["--shape", "--layout", "--mode", "--nonlinearity", "-a", "--distribution", "-f",
                                 "-o"]),
    "fan": (["--shape", "4,4"], ["--shape", "--layout", "-f", "-o"]),
    "gain": (["leaky_relu"], ["-a", "-f", "-o"]),
    "explain": (["--shape", "4,4"], ["--shape", "-a", "-f", "-o"]),
    "check": (["--shape", "64,64"], ["--shape", "-n", "-s", "--alpha", "--backend", "--tests", "-j", "--plot", "-a",
                                     "-o"]),
    "verify": (["w.npy", "--no-config"], ["--tensor", "--alpha", "--correction", "-s", "--tests", "-j", "--rules",
                                          "--config", "-a", "--plot", "-o", "--layout", "--mode"]),
    "identify": (["w.npy"], ["--tensor", "--layout", "--top", "--alpha", "-s", "-j", "-o"]),
    "propagate": (["--depth", "3", "--width", "8"], ["--nonlinearity", "-a", "--mode", "--depth", "--width", "--batch",
                                                     "--conv", "--spatial", "-s", "--plot", "-o"]),
}


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_every_option_with_extreme_values(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 0-3 (2 for a value out of range, stating the range), never 4, never a traceback or a hang."""
    from click.testing import CliRunner

    from kaiming_cli.cli import cli

    monkeypatch.chdir(tmp_path)
    np.save("w.npy", (np.random.default_rng(0).standard_normal((64, 64)) * 0.177).astype(np.float32))
    base, options = OPTIONS[command]
    for option in options:
        for value in EXTREME:
            result = CliRunner().invoke(cli, [command, *base, option, value])
            unexpected = result.exception is not None and not isinstance(result.exception, SystemExit)
            assert result.exit_code in (0, 1, 2, 3) and not unexpected, (option, value[:40], result.stderr[-300:])
            assert "Traceback" not in result.stderr
            if result.exit_code == 2:
                assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
            for leftover in Path(".").iterdir():
                if leftover.name != "w.npy" and leftover.is_file():
                    leftover.unlink()


# --------------------------------------------------------------------------- structure-aware fuzzing
# Byte flips in a whole file mostly break its outer layer (the zip directory, the header length);
# these mutate the inner layer a parser trusts least: the pickle of a .pt, the JSON of a header.

def _zip_with(members: dict[str, bytes], deflate: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _pt_members() -> dict[str, bytes]:
    buf = io.BytesIO()
    w = torch.randn(8, 4)
    torch.save({"w": w, "view": w.t(), "p": torch.nn.Parameter(torch.ones(3).half()), "n": [1, 2.5, "x"]}, buf)
    with zipfile.ZipFile(buf) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


PT_MEMBERS = _pt_members()
PICKLE = next(name for name in PT_MEMBERS if name.endswith("data.pkl"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=mutation, cut=st.one_of(st.none(), st.integers(min_value=0)))
def test_mutated_pickles_never_crash(tmp_path: Path, edits: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(PT_MEMBERS[PICKLE])
    for pos, value in edits:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    (tmp_path / "m.pt").write_bytes(_zip_with({**PT_MEMBERS, PICKLE: bytes(data)}))
    _run(tmp_path / "m.pt")


# one opcode of torch's weights_only set (with an argument where it takes one), or a piece of a tensor
_OPCODE = st.one_of(
    st.sampled_from([b"(", b"t", b")", b"]", b"}", b"a", b"e", b"s", b"u", b"R", b"b", b"N", b"\x88", b"\x89",
                     b"\x85", b"\x86", b"\x87", b"Q", b"\x81", b"\x8f", b"."]),
    st.integers(-(2**31), 2**31 - 1).map(pt.op_int), st.integers(0, 2**70).map(pt.op_int),
    st.sampled_from(["w", "storage", "cpu", "0", "1", "neg"]).map(pt.op_str),
    st.integers(0, 6).map(lambda i: b"h" + bytes([i])), st.integers(0, 6).map(lambda i: b"q" + bytes([i])),
    st.sampled_from([("torch._utils", "_rebuild_tensor_v2"), ("torch", "FloatStorage"), ("torch", "Tensor"),
                     ("collections", "OrderedDict"), ("torch._tensor", "_rebuild_from_type_v2"),
                     ("torch._utils", "_rebuild_parameter"), ("torch", "Size"), ("builtins", "set"),
                     ("_codecs", "encode"), ("torch", "bfloat16"), ("torch._utils", "_rebuild_tensor_v3")]
                    ).map(lambda g: pt.op_global(*g)),
    st.tuples(st.integers(0, 40), st.lists(st.integers(0, 9), max_size=3)).map(
        lambda t: pt.tensor("0", t[0], tuple(t[1]))),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=st.lists(_OPCODE, max_size=40))
def test_random_pickle_programs_never_crash(tmp_path: Path, program: list[bytes]) -> None:
    storage = np.arange(32, dtype=np.float32).tobytes()
    _run(pt.write_pt(tmp_path / "p.pt", b"".join(program), {"0": storage, "1": storage[:16]}))


def _header() -> bytes:
    from safetensors.numpy import save

    raw = save({"w": np.ones((4, 4), np.float32), "b": np.zeros(4, np.float16)}, metadata={"format": "pt"})
    (n,) = struct.unpack("<Q", raw[:8])
    return raw[8:8 + n], raw[8 + n:]


HEADER, DATA = _header()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(b'{}[]",:0123456789-eE.\\ un\x00\xff')),
                      min_size=1, max_size=6))
def test_mutated_safetensors_headers_never_crash(tmp_path: Path, edits: list[tuple[int, int]]) -> None:
    header = bytearray(HEADER)
    for pos, value in edits:
        header[pos % len(header)] = value
    (tmp_path / "m.safetensors").write_bytes(struct.pack("<Q", len(header)) + bytes(header) + DATA)
    _run(tmp_path / "m.safetensors")


def _deflated_member() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    return _zip_with({"w.npy": buf.getvalue()}, deflate=True)


DEFLATED = _deflated_member()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=mutation)
def test_mutated_deflate_streams_never_crash(tmp_path: Path, edits: list[tuple[int, int]]) -> None:
    data = bytearray(DEFLATED)
    end = DEFLATED.find(b"PK\x01\x02")  # the member's compressed bytes, before the directory
    for pos, value in edits:
        data[40 + pos % (end - 40)] = value
    (tmp_path / "m.npz").write_bytes(bytes(data))
    _run(tmp_path / "m.npz")
