"""Hostile inputs for the readers: special files, .pt bombs and crafted layouts, entry-count and size bombs.

Every input is built here by code. Where a case also holds a well-initialized tensor ``w`` (the default
spec: N(0, 2/fan_in)), kaiming must verify it and pass: the hostile part is harmless, not fatal.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests import ptcraft as pt

from .harness import MARKER, Case, Outcome

SECRET = "TOPSECRET-3f9a1c"


def _w() -> np.ndarray:
    """Passes `kaiming verify` with the default spec: kaiming_normal_ (relu gain, fan_in 32)."""
    return (np.random.default_rng(1).standard_normal((64, 32)) * 0.25).astype(np.float32)


def _safetensors(header: dict[str, object] | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _w_safetensors(path: Path) -> Path:
    w = _w()
    path.write_bytes(_safetensors({"w": {"dtype": "F32", "shape": list(w.shape), "data_offsets": [0, w.nbytes]}},
                                  w.tobytes()))
    return path


def _w_pt(key: str = "0") -> tuple[tuple[bytes, bytes], dict[str, bytes]]:
    """A dict entry ``'w': tensor`` and its storage, for crafted checkpoints."""
    w = _w()
    return (pt.op_str("w"), pt.tensor(key, w.size, w.shape)), {key: w.tobytes()}


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    return make


def _argv(command: str, target: str, *extra: str) -> list[str]:
    return [command, target, *(["--no-config", "-a0"] if command == "verify" else []), *extra]


def _cases(prefix: str, build: Callable[[Path], str], exit_code: int, needle: str | None = None,
           commands: tuple[str, ...] = ("verify", "identify"), **kw: object) -> list[Case]:
    """The same input under each command (identify reports unreadable files the same way)."""
    return [Case(f"{prefix}-{cmd}", (lambda folder, cmd=cmd: _argv(cmd, build(folder))), exit_code, needle,
                 **kw)  # type: ignore[arg-type]
            for cmd in commands]


def _still(name: str, is_kind: Callable[[int], bool]) -> Callable[[Path, Outcome], None]:
    """The special file is still there, still special (kaiming never writes to its inputs)."""

    def check(folder: Path, _outcome: Outcome) -> None:
        assert is_kind(os.lstat(folder / name).st_mode), f"{name} was replaced"

    return check


def _no_secret(_folder: Path, outcome: Outcome) -> None:
    """Neither the secret's text nor its first 8 bytes read as a number (a safetensors length) are shown."""
    head = SECRET.encode()[:8]
    for leak in (SECRET, str(int.from_bytes(head, "little")), str(int.from_bytes(head, "big")), head.hex()):
        assert leak not in outcome.stderr and leak not in outcome.stdout, "file bytes echoed"


# --------------------------------------------------------------------------- special files

def _fifo(name: str) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        os.mkfifo(folder / name)
        return name

    return build


def _socket(name: str) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(folder / name))
        s.close()  # the socket file stays
        return name

    return build


def _symlink(name: str, target: str) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        os.symlink(target, folder / name)
        return name

    return build


def _device_copy(name: str, source: str) -> Callable[[Path], str]:
    """A character device with the numbers of ``source`` (/dev/zero, /dev/null) under a weight file's name."""

    def build(folder: Path) -> str:
        rdev = os.stat(source).st_rdev
        os.mknod(folder / name, 0o666 | stat.S_IFCHR, rdev)
        return name

    return build


def _shard_folder_with(special: Callable[[Path], str]) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        (folder / "shards").mkdir()
        _w_safetensors(folder / "shards" / "a.safetensors")
        special(folder / "shards")
        return "shards"

    return build


def _index_pointing_at(special: Callable[[Path], str]) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        _w_safetensors(folder / "a.safetensors")
        target = special(folder)
        index = {"metadata": {}, "weight_map": {"w": "a.safetensors", "v": target}}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
        return "model.safetensors.index.json"

    return build


def _secret_link(name: str, content: bytes) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        (folder / "secret.txt").write_bytes(content)
        os.symlink("secret.txt", folder / name)
        return name

    return build


def _loop(folder: Path) -> str:
    os.symlink("b.npy", folder / "a.npy")
    os.symlink("a.npy", folder / "b.npy")
    return "a.npy"


def _dir_named_like_a_shard(folder: Path) -> str:
    (folder / "shards").mkdir()
    _w_safetensors(folder / "shards" / "a.safetensors")
    (folder / "shards" / "b.safetensors").mkdir()
    return "shards"


_NPY_QUOTING_SECRET = (b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
                       + ("{'descr': '" + SECRET + "', 'fortran_order': False, 'shape': (3,), }").ljust(117).encode()
                       + b"\n")

SPECIAL: list[Case] = [
    *[c for suffix in (".safetensors", ".npy", ".npz", ".pt") for c in _cases(
        f"fifo{suffix}", _fifo(f"x{suffix}"), 3, "FIFO", extra=_still(f"x{suffix}", stat.S_ISFIFO))],
    *_cases("fifo-in-shard-folder", _shard_folder_with(_fifo("b.safetensors")), 3, "FIFO"),
    *_cases("fifo-as-index-shard", _index_pointing_at(_fifo("b.safetensors")), 3, "FIFO"),
    *_cases("socket.safetensors", _socket("s.safetensors"), 3, "socket"),
    *_cases("link-to-dev-stdin.npy", _symlink("x.npy", "/dev/stdin"), 3, "not a regular file"),
    *_cases("link-to-dev-zero.npz", _symlink("z.npz", "/dev/zero"), 3, "/dev/zero"),
    *_cases("link-to-dev-zero-in-shard-folder", _shard_folder_with(_symlink("z.safetensors", "/dev/zero")), 3,
            "character device"),
    *_cases("device-copy-of-zero.pt", _device_copy("w.pt", "/dev/zero"), 3, "character device", root_only=True,
            extra=_still("w.pt", stat.S_ISCHR)),
    *_cases("device-copy-of-null-as-index-shard", _index_pointing_at(_device_copy("b.safetensors", "/dev/null")),
            3, "character device", root_only=True),
    *_cases("symlink-loop", _loop, 3, "symbolic links"),
    *_cases("folder-named-like-a-shard", _dir_named_like_a_shard, 3, "folder"),
    *[c for suffix in (".npy", ".npz", ".safetensors", ".pt") for c in _cases(
        f"link-to-secret{suffix}", _secret_link(f"x{suffix}", f"{SECRET}\nline two\n".encode()), 3, "secret.txt",
        extra=_no_secret)],
    *_cases("npy-header-quoting-a-secret", _secret_link("x.npy", _NPY_QUOTING_SECRET), 3, "not a valid .npy",
            extra=_no_secret),
]


# --------------------------------------------------------------------------- .pt bombs and layouts

def _pt_case_file(body: Callable[[], tuple[bytes, dict[str, bytes]]], name: str = "m.pt") -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        obj, storages = body()
        pt.write_pt(folder / name, obj, storages)
        return name

    return build


def _bomb(container: str, with_tensor_leaf: bool) -> Callable[[], tuple[bytes, dict[str, bytes]]]:
    def body() -> tuple[bytes, dict[str, bytes]]:
        w_entry, storages = _w_pt()
        if with_tensor_leaf:  # w again: the leaf is listed once per container, each container entered once
            leaf = w_entry[1]
        else:
            leaf = pt.op_int(7)
        # built inside a list so that intermediate levels need no POP (torch's opcode set has none)
        levels = leaf + pt.op_put(0)
        for level in range(40):
            ref = pt.op_get(level)
            pair = pt.op_list([ref, ref]) if container == "list" else pt.op_dict(
                [(pt.op_str("a"), ref), (pt.op_str("b"), ref)])
            levels += pair + pt.op_put(level + 1)
        bomb = pt.EMPTY_LIST + pt.MARK + levels + pt.APPENDS
        return pt.op_dict([w_entry, (pt.op_str("bomb"), bomb)]), storages

    return body


def _many_names() -> tuple[bytes, dict[str, bytes]]:
    """20,000 keys for one memoized tensor: each is a tensor to verify, so the per-file limit counts them."""
    (name, tensor), storages = _w_pt()
    pairs = [(name, tensor + pt.op_put(0))] + [(pt.op_str(f"n{i}"), pt.op_get(0)) for i in range(20_000)]
    return pt.op_dict(pairs), storages


def _expanded(shape: tuple[int, ...], stride: tuple[int, ...], numel: int) -> Callable[[], tuple[bytes,
                                                                                                 dict[str, bytes]]]:
    def body() -> tuple[bytes, dict[str, bytes]]:
        w_entry, storages = _w_pt()
        storages["1"] = np.ones(numel, np.float32).tobytes()
        return pt.op_dict([w_entry, (pt.op_str("e"), pt.tensor("1", numel, shape, stride))]), storages

    return body


def _outside_storage() -> tuple[bytes, dict[str, bytes]]:
    w_entry, storages = _w_pt()
    storages["1"] = bytes(64)
    return pt.op_dict([w_entry, (pt.op_str("x"), pt.tensor("1", 16, (4, 4), offset=8))]), storages


def _storage_lies() -> tuple[bytes, dict[str, bytes]]:
    """The pickle says the storage holds 2^40 floats; the record holds 64 bytes."""
    return pt.op_dict([(pt.op_str("x"), pt.tensor("0", 2**40, (2**20, 2**20)))]), {"0": bytes(64)}


def _aliased() -> tuple[bytes, dict[str, bytes]]:
    """200 full views of one 64 KiB storage: 200x the bytes of the file to read."""
    n = 16384
    views = [(pt.op_str(f"v{i}"), pt.tensor("0", n, (128, 128))) for i in range(200)]
    return pt.op_dict(views), {"0": np.zeros(n, np.float32).tobytes()}


def _object_bomb() -> tuple[bytes, dict[str, bytes]]:
    """1.1M empty dicts (1 byte each in the pickle, ~90 bytes each in memory) inside one list."""
    return pt.EMPTY_LIST + pt.MARK + pt.EMPTY_DICT * 1_100_000 + pt.APPENDS, {}


def _colliding_keys() -> tuple[bytes, dict[str, bytes]]:
    """Integer keys k * (2**61 - 1) all hash to 0: each insert would scan every earlier key."""
    pairs = [(pt.op_int(k * (2**61 - 1)), pt.op_int(0)) for k in range(1, 60_000)]
    return pt.op_dict(pairs), {}


def _long_key_path() -> tuple[bytes, dict[str, bytes]]:
    w_entry, storages = _w_pt()
    nested = pt.op_dict([(pt.op_str("k" * 700), pt.op_dict([(pt.op_str("j" * 700), pt.tensor("0", 2048, (64, 32)))]))])
    return pt.op_dict([w_entry, (pt.op_str("deep"), nested)]), storages


def _spoofed_attributes() -> tuple[bytes, dict[str, bytes]]:
    """A tensor rebuilt through _rebuild_from_type_v2 with attributes that claim another shape and dtype."""
    w = _w()
    state = pt.op_dict([(pt.op_str("shape"), pt.op_tuple(pt.op_int(2**40))), (pt.op_str("dtype"), pt.op_str("evil")),
                        (pt.op_str("__class__"), pt.op_str("x"))])
    inner = pt.op_tuple(pt.storage("0", w.size), pt.op_int(0), pt.op_tuple(pt.op_int(64), pt.op_int(32)),
                        pt.op_tuple(pt.op_int(32), pt.op_int(1)), pt.NEWFALSE, pt.ordered_dict())
    spoofed = pt.op_global("torch._tensor", "_rebuild_from_type_v2") + pt.op_tuple(
        pt.op_global("torch._utils", "_rebuild_tensor_v2"), pt.op_global("torch", "Tensor"), inner, state) + pt.REDUCE
    return pt.op_dict([(pt.op_str("w"), spoofed)]), {"0": w.tobytes()}


def _build_on_tensor() -> tuple[bytes, dict[str, bytes]]:
    """Legacy BUILD after a tensor: torch would call set_() and swap its data for another storage's."""
    (name, tensor), storages = _w_pt()
    state = pt.op_tuple(pt.storage("1", 2**30), pt.op_int(0), pt.op_tuple(pt.op_int(2**30)), pt.op_tuple(pt.op_int(1)))
    return pt.op_dict([(name, tensor + state + pt.BUILD)]), {**storages, "1": bytes(4)}


def _code_payload() -> tuple[bytes, dict[str, bytes]]:
    w_entry, storages = _w_pt()
    payload = pt.op_global("posix", "system") + pt.op_tuple(pt.op_str(f"touch {MARKER}")) + pt.REDUCE
    return pt.op_dict([w_entry, (pt.op_str("evil"), payload)]), storages


def _protocol4_frame() -> tuple[bytes, dict[str, bytes]]:
    return b"\x95" + struct.pack("<Q", 1) + b"N", {}


def _torch_file(make: Callable[..., object], name: str = "t.pt") -> Callable[[Path], str]:
    """A checkpoint written by torch itself (sparse, meta, quantized tensors)."""

    def build(folder: Path) -> str:
        import warnings

        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch deprecates quantized tensors; they still exist in files
            torch.save({"w": torch.from_numpy(_w()), "x": make(torch)}, folder / name)
        return name

    return build


def _legacy(folder: Path) -> str:
    import torch

    torch.save({"w": torch.from_numpy(_w())}, folder / "old.pt", _use_new_zipfile_serialization=False)
    return "old.pt"


_TRUNCATE_ON_READ = """
import os
_real = os.preadv
def _preadv(fd, buffers, offset):
    target = os.environ.get("TRUNCATE_ON_FIRST_READ")
    if target and os.path.exists(target) and os.path.getsize(target):
        os.truncate(target, 0)  # the file shrinks after kaiming listed it, before it reads the data
    return _real(fd, buffers, offset)
os.preadv = _preadv
"""


def _truncated_while_read(make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        (folder / "sitecustomize.py").write_text(_TRUNCATE_ON_READ)
        path = make(folder)
        return ["verify", path.name, "--no-config", "-a0"]

    return build


def _pt_w_torch(folder: Path) -> Path:
    import torch

    torch.save({"w": torch.from_numpy(_w())}, folder / "w.pt")
    return folder / "w.pt"


def _npy_w(folder: Path) -> Path:
    np.save(folder / "w.npy", _w())
    return folder / "w.npy"


PT: list[Case] = [
    *_cases("pt-list-bomb-40-deep-tensor-leaves", _pt_case_file(_bomb("list", True)), 0),
    *_cases("pt-dict-bomb-40-deep-tensor-leaves", _pt_case_file(_bomb("dict", True)), 0),
    *_cases("pt-20000-names-for-one-tensor", _pt_case_file(_many_names), 3, "--max-tensors"),
    Case("pt-list-bomb-40-deep-int-leaves", lambda f: _argv("verify", _pt_case_file(_bomb("list", False))(f)), 0),
    Case("pt-dict-bomb-40-deep-int-leaves", lambda f: _argv("verify", _pt_case_file(_bomb("dict", False))(f)), 0),
    *_cases("pt-expanded-2^31x2^31-from-one-float", _pt_case_file(_expanded((2**31, 2**31), (0, 0), 1)), 3,
            "overlapping"),
    *_cases("pt-expanded-18KB-to-1GB", _pt_case_file(_expanded((60_000, 4608), (0, 1), 4608)), 3, "overlapping"),
    *_cases("pt-overlapping-strides", _pt_case_file(_expanded((100, 100), (1, 1), 199)), 3, "overlapping"),
    *_cases("pt-view-outside-its-storage", _pt_case_file(_outside_storage), 3, "outside its storage"),
    *_cases("pt-storage-bigger-than-its-record", _pt_case_file(_storage_lies), 3, "shorter than declared"),
    *_cases("pt-200-views-of-one-storage", _pt_case_file(_aliased), 3, "view the same stored bytes"),
    *_cases("pt-million-empty-dicts", _pt_case_file(_object_bomb), 3, "objects"),
    Case("pt-colliding-int-keys", lambda f: _argv("verify", _pt_case_file(_colliding_keys)(f)), 3, "dict key"),
    Case("pt-name-over-1KiB", lambda f: _argv("verify", _pt_case_file(_long_key_path)(f)), 3, "1024"),
    Case("pt-spoofed-attributes-are-ignored", lambda f: _argv("verify", _pt_case_file(_spoofed_attributes)(f)), 0),
    Case("pt-build-swaps-tensor-data", lambda f: _argv("verify", _pt_case_file(_build_on_tensor)(f)), 3, "BUILD"),
    *_cases("pt-code-payload", _pt_case_file(_code_payload), 3, "pickled code"),
    Case("pt-protocol-4-opcode", lambda f: _argv("verify", _pt_case_file(_protocol4_frame)(f)), 3, "opcode"),
    *_cases("pt-sparse", _torch_file(lambda torch: torch.eye(4).to_sparse()), 3, "sparse"),
    *_cases("pt-meta", _torch_file(lambda torch: torch.empty(4, 4, device="meta")), 3, "meta"),
    *_cases("pt-quantized", _torch_file(lambda torch: torch.quantize_per_tensor(torch.ones(4), 0.1, 0,
                                                                                 torch.qint8)), 3, "quantized"),
    *_cases("pt-legacy-format", _legacy, 3, "legacy"),
    Case("pt-truncated-while-read", _truncated_while_read(_pt_w_torch), 3, "truncated",
         env={"PYTHONPATH": ".", "TRUNCATE_ON_FIRST_READ": "w.pt"}),
    Case("npy-truncated-while-read", _truncated_while_read(_npy_w), 3, "truncated",
         env={"PYTHONPATH": ".", "TRUNCATE_ON_FIRST_READ": "w.npy"}),
]


# --------------------------------------------------------------------------- entry counts and sizes

def _npz_members(count: int, folder: Path, name: str = "many.npz") -> str:
    """``count`` tiny deflated members plus ``w``; each member costs ~150 bytes of archive."""
    tiny, w = io.BytesIO(), io.BytesIO()
    np.save(tiny, np.zeros(1, np.float32))
    np.save(w, _w())
    with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("w.npy", w.getvalue())
        for i in range(count):
            zf.writestr(f"t{i}.npy", tiny.getvalue())
    return name


def _safetensors_entries(count: int, shape: list[int]) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        w = _w()
        first = json.dumps({"w": {"dtype": "F32", "shape": list(w.shape), "data_offsets": [0, w.nbytes]}})
        entry = json.dumps({"dtype": "F32", "shape": shape, "data_offsets": [w.nbytes, w.nbytes]}).encode()
        rest = b"".join(b',"t%d":%s' % (i, entry) for i in range(count))
        header = first[:-1].encode() + rest + b"}"
        (folder / "many.safetensors").write_bytes(_safetensors(header, w.tobytes()))
        return "many.safetensors"

    return build


def _metadata(raw_metadata: bytes) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        w = _w()
        entry = json.dumps({"dtype": "F32", "shape": list(w.shape), "data_offsets": [0, w.nbytes]}).encode()
        header = b'{"__metadata__":' + raw_metadata + b',"w":' + entry + b"}"
        (folder / "meta.safetensors").write_bytes(_safetensors(header, w.tobytes()))
        return "meta.safetensors"

    return build


def _declared_header(n: int) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        (folder / "big.safetensors").write_bytes(struct.pack("<Q", n) + b"{}")
        return "big.safetensors"

    return build


def _npy_shape(shape: tuple[int, ...]) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        header = {"descr": "<f4", "fortran_order": False, "shape": shape}
        with open(folder / "neg.npy", "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            fh.write(bytes(64))
        return "neg.npy"

    return build


_MANY_PAIRS = b"{" + b",".join(b'"k%d":""' % i for i in range(70_000)) + b"}"
_LONG_NAME_ENTRY = {"n" * 2000: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}

COUNTS: list[Case] = [
    Case("npz-8000-deflated-members", lambda f: ["verify", _npz_members(8000, f), "--no-config", "-a0", "--tensor", "w",
                                                 "-f", "json"], 0, fmt="json"),
    *_cases("npz-over-max-tensors", lambda f: _npz_members(10_001, f), 3, "--max-tensors"),
    Case("npz-over-max-tensors-raised", lambda f: ["verify", _npz_members(10_001, f), "--no-config", "-a0",
                                                   "--tensor", "w", "--max-tensors", "20000"], 0),
    Case("safetensors-5000-empty-tensors", lambda f: ["verify", _safetensors_entries(5000, [0])(f), "--no-config",
                                                      "-a0", "--tensor", "w"], 0),
    *_cases("safetensors-10001-tensors", _safetensors_entries(10_001, [1, 1]), 3, "--max-tensors"),
    *_cases("safetensors-million-empty-tensors", _safetensors_entries(1_000_000, [0]), 3, "--max-tensors"),
    *_cases("safetensors-header-claims-100MB", _declared_header(100 * 2**20), 3, "header claims"),
    Case("safetensors-20MiB-metadata-string", lambda f: _argv("verify", _metadata(
        b'{"a":"' + b"x" * (20 * 2**20) + b'"}')(f)), 3, "__metadata__"),
    Case("safetensors-70000-metadata-pairs", lambda f: _argv("verify", _metadata(_MANY_PAIRS)(f)), 3, "__metadata__"),
    Case("safetensors-nested-metadata", lambda f: _argv("verify", _metadata(b'{"a":' + b"[" * 100_000 + b"]" * 100_000
                                                                             + b"}")(f)), 3, "strings to strings"),
    Case("safetensors-small-metadata-is-fine", lambda f: _argv("verify", _metadata(b'{"format":"pt"}')(f)), 0),
    *_cases("safetensors-deeply-nested-entry", _write("deep.safetensors", _safetensors(
        b'{"w":' + b"[" * 200_000 + b"]" * 200_000 + b"}")), 3, "malformed"),
    *_cases("safetensors-empty-containers", _write("bomb.safetensors", _safetensors(
        b'{"w":{"shape":[' + b",".join([b"[]"] * 1_000_000) + b"]}}")), 3, "malformed"),
    *_cases("safetensors-name-over-1KiB", _write("long.safetensors", _safetensors(_LONG_NAME_ENTRY, bytes(4))), 3,
            "1024"),
    *_cases("safetensors-65-dims", _write("dims.safetensors", _safetensors(
        {"w": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, bytes(4))), 3, "65 dimensions"),
    *_cases("safetensors-shape-2^31x2^31", _write("huge.safetensors", _safetensors(
        {"w": {"dtype": "F32", "shape": [2**31, 2**31], "data_offsets": [0, 16]}}, bytes(16))), 3, "need"),
    *_cases("npy-negative-dims", _npy_shape((-4, 4)), 3, "negative dimension"),
    *_cases("npy-negative-dims-cancelling", _npy_shape((-4, -4)), 3, "negative dimension"),
    *_cases("index-with-parent-shard", _write("model.safetensors.index.json", json.dumps(
        {"weight_map": {"w": "../outside.safetensors"}}).encode()), 3, "outside"),
    *_cases("index-nesting-bomb", _write("model.safetensors.index.json", b"[" * 500_000 + b"]" * 500_000), 3,
            "nests more than"),
]

CASES: list[Case] = [*SPECIAL, *PT, *COUNTS]
