"""Hostile and corrupt files: each gets exit 3 and a one-line reason, and no payload ever runs."""

from __future__ import annotations

import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli

torch = pytest.importorskip("torch")


class Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    marker = ""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def payload(marker: Path) -> Payload:
    p = Payload()
    p.marker = str(marker)
    return p


def run_verify(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", str(path), "--no-config", "--mode", "fan_in"])
    return result.exit_code, result.stderr


def assert_refused(path: Path, needle: str, marker: Path | None = None) -> None:
    code, err = run_verify(path)
    assert code == 3, err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    if marker is not None:
        assert not marker.exists(), "the payload ran!"


def test_payload_really_runs_when_unpickled(tmp_path: Path) -> None:
    """Sanity check of the fixture: a plain pickle.loads would leave the marker."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(payload(marker)))
    assert marker.exists()


def test_pt_with_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.save({"w": torch.zeros(3, 3), "evil": payload(marker)}, tmp_path / "evil.pt")
    assert_refused(tmp_path / "evil.pt", "pickled code", marker)


def test_legacy_pickle_named_bin_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "pytorch_model.bin").write_bytes(pickle.dumps({"w": payload(marker)}))
    assert_refused(tmp_path / "pytorch_model.bin", "", marker)


def test_object_npy_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    np.save(tmp_path / "evil.npy", np.array([payload(marker)], dtype=object), allow_pickle=True)
    assert_refused(tmp_path / "evil.npy", "refusing to unpickle", marker)


def test_object_npz_member_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    np.savez(tmp_path / "evil.npz", ok=np.zeros((3, 3)), evil=np.array([payload(marker)], dtype=object))
    assert_refused(tmp_path / "evil.npz", "refusing to unpickle", marker)


def _safetensors(header: dict, data: bytes, declared: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if declared is None else declared) + raw + data


GOOD = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}


@pytest.mark.parametrize(
    "name,content,needle",
    [
        ("length.safetensors", _safetensors(GOOD, bytes(16), declared=10**9), "header claims"),
        ("json.safetensors", struct.pack("<Q", 5) + b"{oops" + bytes(16), "not valid JSON"),
        ("outside.safetensors", _safetensors({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1600]}},
                                             bytes(16)), "outside"),
        ("size.safetensors", _safetensors({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 16]}},
                                          bytes(16)), "need"),
        ("overlap.safetensors", _safetensors({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                                              "b": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]}},
                                             bytes(24)), "overlap"),
        ("shape.safetensors", _safetensors({"w": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 16]}},
                                           bytes(16)), "malformed"),
        ("tiny.safetensors", b"\x01\x02", "shorter than"),
        ("notdict.safetensors", _safetensors([1, 2], b""), "not a JSON object"),  # type: ignore[arg-type]
    ],
)
def test_lying_safetensors_headers(tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    (tmp_path / name).write_bytes(content)
    assert_refused(tmp_path / name, needle)


def test_unsupported_dtype_is_an_error_not_a_crash(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}
    (tmp_path / "f8.safetensors").write_bytes(_safetensors(header, bytes(4)))
    code, err = run_verify(tmp_path / "f8.safetensors")
    assert code == 3 and "1 error" in err


def _truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".safetensors", ".pt"])
def test_truncated_files(tmp_path: Path, suffix: str) -> None:
    from safetensors.numpy import save_file

    w = np.random.default_rng(0).standard_normal((256, 64)).astype(np.float32)
    path = tmp_path / f"w{suffix}"
    if suffix == ".npy":
        np.save(path, w)
    elif suffix == ".npz":
        np.savez(path, w=w)
    elif suffix == ".safetensors":
        save_file({"w": w}, str(path))
    else:
        torch.save({"w": torch.from_numpy(w)}, path)
    _truncate(path)
    code, err = run_verify(path)
    assert code == 3 and "Traceback" not in err, err


def test_npz_zip_bomb_is_refused(tmp_path: Path) -> None:
    """A member that inflates far beyond what deflate can do (bzip2 of zeros) is refused unread."""
    path = tmp_path / "bomb.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2048, 4096), np.float32))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as zf, zf.open("w.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, header)
        block = bytes(1 << 20)
        for _ in range(32):
            member.write(block)
    assert path.stat().st_size < 100_000
    assert_refused(path, "zip bomb")


def test_npz_lying_member_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "liar.npz"
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**5, 10**5)}
    with zipfile.ZipFile(path, "w") as zf, zf.open("w.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, header)
        member.write(bytes(64))
    assert_refused(path, "declares")


@pytest.mark.parametrize("name,needle", [("missing.npy", "does not exist"), ("w.txt", "unsupported file type")])
def test_missing_and_unsupported(tmp_path: Path, name: str, needle: str) -> None:
    (tmp_path / "w.txt").write_text("hello")
    assert_refused(tmp_path / name, needle)


def test_folder_without_weights(tmp_path: Path) -> None:
    assert_refused(tmp_path, "without .safetensors")
