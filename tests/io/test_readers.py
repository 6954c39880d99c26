"""The readers: .pt files read without torch agree with torch.load; only regular files are opened;
files that shrink while read give errors; limits are exact; chunk bounds are lazy."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.engine.sampling import seeds
from kaiming_cli.engine.stream import chunk_bounds
from kaiming_cli.errors import InputError
from kaiming_cli.io import numpyfile, sources
from kaiming_cli.io.limits import MAX_NAME, Limits
from kaiming_cli.io.readers import read_path
from kaiming_cli.io.sources import TensorSource
from tests import ptcraft as pt

torch = pytest.importorskip("torch")


def values(source: TensorSource, chunk: int = 7) -> np.ndarray:
    """Every value, read in small chunks so that chunk boundaries fall everywhere."""
    produce, _sequential, close = source.open()
    try:
        parts = [produce(i, a, b).copy() for i, (a, b) in enumerate(chunk_bounds(source.numel, chunk))]
    finally:
        close()
    return np.concatenate(parts) if parts else np.empty(0)


def expected(t: Any) -> np.ndarray:
    """What kaiming's decode gives for a torch tensor: float32 for 16/32-bit floats, float64 otherwise."""
    t = t.detach().resolve_neg().contiguous().reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16, torch.float32):
        return t.float().numpy()
    return t.double().numpy()


def torch_tensors(obj: Any, prefix: str = "") -> dict[str, Any]:
    """torch.load's result flattened as kaiming names tensors (dotted keys and indices)."""
    if isinstance(obj, torch.Tensor):
        return {prefix or "tensor": obj}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else []
    out: dict[str, Any] = {}
    for key, value in items:
        out.update(torch_tensors(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def assert_same_as_torch(path: Path) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about pickle protocols other than 2
        reference = torch_tensors(torch.load(path, weights_only=True))
    sources = read_path(str(path))
    assert [s.name for s in sources] == list(reference)
    for source in sources:
        t = reference[source.name]
        assert source.shape == tuple(t.shape), source.name
        assert source.dtype == str(t.dtype).removeprefix("torch."), source.name
        assert np.array_equal(values(source), expected(t)), source.name
    return len(sources)


class TestTorchAgreement:
    """A .pt read without torch: the names, shapes, dtypes and values that torch.load gives."""

    def test_a_real_state_dict(self, tmp_path: Path) -> None:
        from tests.models import build_model

        torch.save(build_model().state_dict(), tmp_path / "model.pt")
        assert assert_same_as_torch(tmp_path / "model.pt") > 30

    def test_parameters_nesting_dtypes_and_views(self, tmp_path: Path) -> None:
        torch.manual_seed(0)
        w, base = torch.randn(40, 30), torch.randn(1000)
        attributed = torch.randn(3)
        attributed.note = "python attribute"  # pickled through _rebuild_from_type_v2
        stateful = torch.nn.Parameter(torch.randn(2))
        stateful.extra = 1  # pickled through _rebuild_parameter_with_state
        obj = {
            "param": torch.nn.Parameter(torch.randn(5, 7)), "attributed": attributed, "stateful": stateful,
            "nested": {"a": [torch.randn(3).half(), (torch.randn(2, 2).bfloat16(),)], "b": {"c": torch.arange(6)}},
            "shared_a": base[100:400].view(30, 10), "shared_b": base[7:13],  # one storage, two offsets
            "transposed": w.t(), "columns": w[:, 5:20], "stepped": w[::2, ::3],
            "permuted": torch.randn(2, 3, 4).permute(2, 0, 1), "negative_bit": torch.randn(4)._neg_view(),
            "scalar": torch.tensor(3.5), "empty": torch.zeros(0, 4), "flags": torch.tensor([True, False]),
            "int8": torch.randint(-100, 100, (7,), dtype=torch.int8), "float64": torch.randn(3, dtype=torch.float64),
            "uint16": torch.tensor([1, 65535], dtype=torch.uint16), 7: torch.ones(2), "not a tensor": [1, "x", 2.5],
        }
        torch.save(obj, tmp_path / "mixed.pt")
        assert assert_same_as_torch(tmp_path / "mixed.pt") == 20

    def test_a_bare_tensor_is_named_tensor(self, tmp_path: Path) -> None:
        torch.save(torch.randn(3, 3), tmp_path / "t.pt")
        assert [s.name for s in read_path(str(tmp_path / "t.pt"))] == ["tensor"]
        assert_same_as_torch(tmp_path / "t.pt")

    def test_a_big_endian_checkpoint(self, tmp_path: Path) -> None:
        """torch byteswaps storages of a file whose byteorder record says 'big'; so does kaiming."""
        torch.save({"w": torch.randn(4, 5), "h": torch.randn(6).half(), "i": torch.arange(5)}, tmp_path / "le.pt")
        dtypes = {"0": ">f4", "1": ">f2", "2": ">i8"}
        with zipfile.ZipFile(tmp_path / "le.pt") as src, zipfile.ZipFile(tmp_path / "be.pt", "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename.endswith("/byteorder"):
                    data = b"big"
                elif "/data/" in info.filename:
                    key = info.filename.rsplit("/", 1)[1]
                    data = np.frombuffer(data, dtypes[key].replace(">", "<")).astype(dtypes[key]).tobytes()
                dst.writestr(info.filename, data)
        assert assert_same_as_torch(tmp_path / "be.pt") == 3
        little = {s.name: values(s) for s in read_path(str(tmp_path / "le.pt"))}
        assert all(np.array_equal(values(s), little[s.name]) for s in read_path(str(tmp_path / "be.pt")))

    def test_a_crafted_checkpoint_is_one_torch_reads_the_same(self, tmp_path: Path) -> None:
        """The corpus's hand assembler writes real checkpoints: torch.load agrees on a valid one."""
        data = np.arange(24, dtype=np.float32)
        body = pt.op_dict([(pt.op_str("a"), pt.tensor("0", 24, (4, 6))),
                           (pt.op_str("b"), pt.tensor("0", 24, (3, 2), stride=(1, 6), offset=5))])
        assert assert_same_as_torch(pt.write_pt(tmp_path / "c.pt", body, {"0": data.tobytes()})) == 2

    @pytest.mark.parametrize("protocol", [2, 3, 4, 5])
    def test_pickle_protocols_accepted_exactly_when_torch_weights_only_accepts(self, tmp_path: Path,
                                                                                protocol: int) -> None:
        path = tmp_path / f"p{protocol}.pt"
        torch.save({"w": torch.randn(3, 3)}, path, pickle_protocol=protocol)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch warns about protocols other than 2
                torch.load(path, weights_only=True)
        except Exception:
            with pytest.raises(InputError):
                read_path(str(path))
        else:
            assert_same_as_torch(path)

    def test_reading_a_pt_never_imports_torch(self, tmp_path: Path) -> None:
        torch.save({"w": torch.randn(64, 32) * 0.25}, tmp_path / "w.pt")
        code = ("import sys\nfrom kaiming_cli.cli import cli\n"
                f"try:\n    cli.main(['verify', {str(tmp_path / 'w.pt')!r}, '--no-config'], standalone_mode=False)\n"
                "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip().splitlines()[-1] == "False"


class TestRegularFilesOnly:
    """Paths are resolved and vetted; what is opened is the file that was vetted."""

    def test_a_symlinked_file_is_reported_by_its_real_path(self, tmp_path: Path) -> None:
        (tmp_path / "data").mkdir()
        np.save(tmp_path / "data" / "real.npy", np.ones((2, 2), np.float32))
        os.symlink("data/real.npy", tmp_path / "link.npy")
        (source,) = read_path(str(tmp_path / "link.npy"))
        assert source.file == str((tmp_path / "data" / "real.npy").resolve())
        assert source.name == "link"  # the name the user gave

    def test_a_plain_path_is_reported_as_given(self, tmp_path: Path) -> None:
        np.save(tmp_path / "w.npy", np.ones((2, 2), np.float32))
        assert read_path(str(tmp_path / "w.npy"))[0].file == str(tmp_path / "w.npy")

    def test_a_hugging_face_cache_snapshot_reads_through_its_symlinks(self, tmp_path: Path) -> None:
        """Snapshot folders hold symlinks to ../../blobs/<hash>: followed, and reported by the blob path."""
        from safetensors.numpy import save_file

        blobs, snap = tmp_path / "blobs", tmp_path / "snapshots" / "abc"
        blobs.mkdir()
        snap.mkdir(parents=True)
        save_file({"a": np.ones((2, 2), np.float32)}, str(blobs / "h1"))
        save_file({"b": np.zeros((3, 3), np.float32)}, str(blobs / "h2"))
        (blobs / "h3").write_text(json.dumps({"weight_map": {"a": "m-1.safetensors", "b": "m-2.safetensors"}}))
        for name, blob in [("m-1.safetensors", "h1"), ("m-2.safetensors", "h2"), ("m.safetensors.index.json", "h3")]:
            os.symlink(f"../../blobs/{blob}", snap / name)
        sources = read_path(str(snap))
        assert [(s.name, Path(s.file).name) for s in sources] == [("a", "h1"), ("b", "h2")]

    def test_a_file_replaced_after_it_was_vetted_is_refused(self, tmp_path: Path) -> None:
        np.save(tmp_path / "w.npy", np.ones(3, np.float32))
        np.save(tmp_path / "other.npy", np.ones(3, np.float32))
        vetted = sources.vet(str(tmp_path / "w.npy"))
        os.replace(tmp_path / "other.npy", tmp_path / "w.npy")
        with pytest.raises(InputError, match="replaced"):
            sources.open_vetted(vetted)

    def test_a_fifo_is_refused_without_opening_it(self, tmp_path: Path) -> None:
        os.mkfifo(tmp_path / "x.npy")
        with pytest.raises(InputError, match="FIFO"):
            read_path(str(tmp_path / "x.npy"))  # opening it for reading would block: no writer

    def test_error_messages_escape_control_characters_in_file_names(self, tmp_path: Path) -> None:
        name = "a\n::error::x\x1b[2J.npy"
        (tmp_path / name).write_bytes(b"not numpy")
        with pytest.raises(InputError) as info:
            read_path(str(tmp_path / name))
        assert "\n" not in str(info.value) and "\x1b" not in str(info.value)


def _safetensors_file(path: Path, count: int) -> Path:
    from safetensors.numpy import save_file

    save_file({f"t{i}": np.full(2, i, np.float32) for i in range(count)}, str(path))
    return path


def _pt_file(path: Path, count: int) -> Path:
    torch.save({f"t{i}": torch.full((2,), float(i)) for i in range(count)}, path)
    return path


def _npz_file(path: Path, count: int) -> Path:
    np.savez(path, **{f"t{i}": np.full(2, i, np.float32) for i in range(count)})
    return path


class TestLimits:
    """Each limit admits exactly its value; ``--max-tensors`` moves the tensor limit."""

    @pytest.mark.parametrize("make", [_safetensors_file, _pt_file, _npz_file], ids=["safetensors", "pt", "npz"])
    def test_tensors_per_file(self, tmp_path: Path, make: Any) -> None:
        suffix = {"_safetensors_file": ".safetensors", "_pt_file": ".pt", "_npz_file": ".npz"}[make.__name__]
        path = str(make(tmp_path / f"m{suffix}", 5))
        assert len(read_path(path, Limits(max_tensors=5))) == 5
        with pytest.raises(InputError, match="more than 4 tensors.*--max-tensors"):
            read_path(path, Limits(max_tensors=4))

    def test_the_flag_raises_the_limit(self, tmp_path: Path) -> None:
        path = str(_safetensors_file(tmp_path / "m.safetensors", 5))
        low = CliRunner().invoke(cli, ["verify", path, "--no-config", "--mode", "fan_in", "--max-tensors", "4"])
        high = CliRunner().invoke(cli, ["verify", path, "--no-config", "-a0", "--max-tensors", "5", "--allow-empty"])
        assert low.exit_code == 3 and "--max-tensors" in low.stderr
        assert high.exit_code == 0, high.stderr

    def test_the_flag_takes_positive_integers(self, tmp_path: Path) -> None:
        path = str(_safetensors_file(tmp_path / "m.safetensors", 1))
        assert CliRunner().invoke(cli, ["identify", path, "--max-tensors", "0"]).exit_code == 2

    @pytest.mark.parametrize("length,ok", [(MAX_NAME, True), (MAX_NAME + 1, False)])
    def test_name_length(self, tmp_path: Path, length: int, ok: bool) -> None:
        from safetensors.numpy import save_file

        save_file({"n" * length: np.ones(2, np.float32)}, str(tmp_path / "n.safetensors"))
        if ok:
            assert read_path(str(tmp_path / "n.safetensors"))[0].name == "n" * length
        else:
            with pytest.raises(InputError, match=f"limit of {MAX_NAME}"):
                read_path(str(tmp_path / "n.safetensors"))

    def test_metadata_is_skipped_not_built(self, tmp_path: Path) -> None:
        from safetensors.numpy import save_file

        metadata = {f"k{i}": "v" * 100 for i in range(1000)}
        save_file({"w": np.ones(2, np.float32)}, str(tmp_path / "m.safetensors"), metadata=metadata)
        assert [s.name for s in read_path(str(tmp_path / "m.safetensors"))] == ["w"]

    def test_a_strided_view_over_the_span_limit_is_refused(self, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
        import kaiming_cli.io.torchfile as torchfile

        torch.save({"t": torch.randn(64, 64).t()}, tmp_path / "t.pt")
        monkeypatch.setattr(torchfile, "MAX_STRIDED_SPAN", 64 * 64 * 4 - 1)
        with pytest.raises(InputError, match="non-contiguous view"):
            read_path(str(tmp_path / "t.pt"))


def _truncate_after_listing(path: Path) -> InputError | None:
    sources = read_path(str(path))
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)
    try:
        for source in sources:
            values(source, chunk=1 << 20)
    except InputError as exc:
        return exc
    return None


class TestShrinkingFiles:
    """A file cut after kaiming listed it is an error on reading, never a crash (no mmap, no SIGBUS)."""

    @pytest.mark.parametrize("suffix", [".npy", ".safetensors", ".pt", ".npz", ".npz-deflated"])
    def test_truncated_while_read(self, tmp_path: Path, suffix: str) -> None:
        from safetensors.numpy import save_file

        w = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
        path = tmp_path / f"w{suffix.split('-')[0]}"
        if suffix == ".npy":
            np.save(path, w)
        elif suffix == ".safetensors":
            save_file({"w": w}, str(path))
        elif suffix == ".pt":
            torch.save({"w": torch.from_numpy(w)}, path)
        elif suffix == ".npz":
            np.savez(path, w=w)
        else:
            np.savez_compressed(path, w=w)
        error = _truncate_after_listing(path)
        assert error is not None and "truncated" in str(error)


class TestNpz:
    def test_one_directory_parse_per_archive(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        calls = []
        real = numpyfile.read_directory
        monkeypatch.setattr(numpyfile, "read_directory", lambda *a: calls.append(a) or real(*a))
        np.savez_compressed(tmp_path / "m.npz", **{f"t{i}": np.full((4, 4), i, np.float32) for i in range(50)})
        sources = read_path(str(tmp_path / "m.npz"))
        assert [values(s)[0] for s in sources] == list(range(50)) and len(calls) == 1

    def test_deflated_members_read_as_numpy_does(self, tmp_path: Path) -> None:
        arrays = {"a": np.random.default_rng(0).standard_normal((300, 70)).astype(np.float32),
                  "b": np.arange(10, dtype=np.int64)}
        np.savez_compressed(tmp_path / "m.npz", **arrays)
        sources = read_path(str(tmp_path / "m.npz"))
        assert all(np.array_equal(values(s, chunk=1000), arrays[s.name].reshape(-1)) for s in sources)

    def test_a_crc_mismatch_is_an_error(self, tmp_path: Path) -> None:
        buf = io.BytesIO()
        np.save(buf, np.ones(1000, np.float32))
        with zipfile.ZipFile(tmp_path / "m.npz", "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("w.npy", buf.getvalue())
        raw = bytearray((tmp_path / "m.npz").read_bytes())
        at = raw.rfind(b"PK\x01\x02") + 16  # the CRC field of the directory entry
        raw[at:at + 4] = struct.pack("<I", 12345)
        (tmp_path / "m.npz").write_bytes(bytes(raw))
        (source,) = read_path(str(tmp_path / "m.npz"))
        with pytest.raises(InputError, match="CRC"):
            values(source, chunk=1 << 20)


class TestLazyChunks:
    def test_chunk_bounds_are_computed_on_demand(self) -> None:
        bounds = chunk_bounds(2**62, 1 << 20)
        assert len(bounds) == 2**42 and bounds[2**42 - 1] == (2**62 - 2**20, 2**62)
        assert list(chunk_bounds(5, 2)) == [(0, 2), (2, 4), (4, 5)] and len(chunk_bounds(0)) == 0

    def test_chunk_seeds_equal_the_spawned_list(self) -> None:
        root = np.random.SeedSequence(11)
        _sub, chunks = root.spawn(2)
        spawned = chunks.spawn(4)
        _sub2, lazy = seeds(11, 4 << 20)
        draws = [(np.random.default_rng(a).random(3), np.random.default_rng(b).random(3))
                 for a, b in zip(spawned, (lazy[i] for i in range(4)), strict=True)]
        assert len(lazy) == 4 and all(np.array_equal(x, y) for x, y in draws)


def _zip64_archive(name: bytes, data: bytes) -> bytes:
    """One stored member whose directory entry keeps its sizes and offset in a zip64 extra field, as
    torch's writer does for members past 4 GiB (here forced for a small one)."""
    crc = zipfile.crc32(data)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0)
    extra = struct.pack("<HH3Q", 1, 24, len(data), len(data), 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                          len(name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + name + extra
    body = local + name + data
    cd_offset, record_at = len(body), len(body) + len(central)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1, 1, len(central), cd_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, record_at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + central + record + locator + end


def test_zip64_sizes_and_offsets_are_read_from_the_extra_field(tmp_path: Path) -> None:
    from kaiming_cli.io.ziparchive import MemberReader, read_directory

    data = np.arange(10, dtype=np.float32).tobytes()
    path = tmp_path / "z.zip"
    path.write_bytes(_zip64_archive(b"a/data/0", data))
    assert zipfile.ZipFile(path).read("a/data/0") == data  # a valid archive by Python's own reader
    fd = os.open(path, os.O_RDONLY)
    try:
        member = read_directory(fd, path.stat().st_size, "z.zip", 10)["a/data/0"]
        assert (member.size, member.compressed_size, member.header_offset) == (len(data), len(data), 0)
        assert MemberReader(fd, member, "z.zip").read() == data
    finally:
        os.close(fd)
