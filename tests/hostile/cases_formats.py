"""Hostile Keras/HDF5, ONNX and Flax msgpack files: links and storage that reach other files, lying sizes,
nesting and count bombs, truncation, and names built to inject into outputs.

Every input is built here by code, with h5py, onnx.helper and msgpack (tests/formatcraft.py for the layouts).
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests import formatcraft as fc

from .cases_readers import SECRET, _no_secret, _secret_link
from .harness import Case


def _w() -> np.ndarray:
    """He normal for a (*k, in, out) = (32, 64) kernel: passes `verify` with the default spec, keras layout."""
    return (np.random.default_rng(1).standard_normal((32, 64)) * math.sqrt(2 / 32)).astype(np.float32)


def _verify(build: Callable[[Path], str], *extra: str) -> Callable[[Path], list[str]]:
    return lambda folder: ["verify", build(folder), "--no-config", *extra]


def _case(id_: str, build: Callable[[Path], str], exit_code: int, needle: str | None = None, *extra: str,
          **kw: object) -> Case:
    return Case(id_, _verify(build, *extra), exit_code, needle, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- HDF5 / Keras

def _h5(name: str, body: Callable[[object, Path], None]) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        import h5py

        with h5py.File(folder / name, "w") as h5:
            vars_ = h5.create_group("layers/dense/vars")
            vars_.attrs["name"] = "dense"
            vars_["0"] = _w()
            body(h5, folder)
        return name

    return build


def _external_link(h5: object, folder: Path) -> None:
    import h5py

    (folder / "secret.txt").write_text(SECRET)
    h5["layers/dense/vars/1"] = h5py.ExternalLink("other.h5", "/w")  # type: ignore[index]


def _soft_link(h5: object, _folder: Path) -> None:
    import h5py

    h5["layers/dense/vars/1"] = h5py.SoftLink("/layers/dense/vars/0")  # type: ignore[index]


def _virtual(h5: object, folder: Path) -> None:
    import h5py

    with h5py.File(folder / "source.h5", "w") as src:
        src["x"] = _w()
    layout = h5py.VirtualLayout(shape=(32, 64), dtype="f4")
    layout[:] = h5py.VirtualSource(str(folder / "source.h5"), "x", shape=(32, 64))
    h5["layers/dense/vars"].create_virtual_dataset("1", layout)  # type: ignore[index]


def _external_storage(h5: object, folder: Path) -> None:
    (folder / "secret.txt").write_bytes(SECRET.encode().ljust(64, b"\x00"))
    h5["layers/dense/vars"].create_dataset("1", shape=(16,), dtype="<f4",  # type: ignore[index]
                                           external=[("secret.txt", 0, 64)])


def _compressed(h5: object, _folder: Path) -> None:
    h5["layers/dense/vars"].create_dataset("1", data=np.zeros((256, 256), np.float32),  # type: ignore[index]
                                           compression="gzip")


def _deep(h5: object, _folder: Path) -> None:
    group = h5
    for _ in range(40):
        group = group.create_group("g")  # type: ignore[attr-defined]


def _hard_link_cycle(h5: object, _folder: Path) -> None:
    h5["layers/dense/loop"] = h5["layers"]  # type: ignore[index]


def _hard_link_fan_out(h5: object, _folder: Path) -> None:
    """30 levels of groups, each linking twice to the next: 2^30 paths if links were followed blindly."""
    groups = [h5.create_group(f"fan{i}") for i in range(30)]  # type: ignore[attr-defined]
    for parent, child in zip(groups, groups[1:], strict=False):
        parent["a"], parent["b"] = child, child


def _truncated_h5(folder: Path) -> str:
    _h5("full.h5", lambda _h, _f: None)(folder)
    data = (folder / "full.h5").read_bytes()
    (folder / "m.weights.h5").write_bytes(data[: len(data) - 4096])
    return "m.weights.h5"


def _keras(name: str, config: object, deflate: bool = False, names: tuple[str, str] = ("dense", "dense"),
           weights: bool = True) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        buffer = io.BytesIO()
        fc.keras3_h5(buffer, [(f"layers/{names[0]}", names[1], [_w()])])
        with zipfile.ZipFile(folder / name, "w") as zf:
            zf.writestr("config.json", config if isinstance(config, (bytes, str)) else json.dumps(config))
            if weights:
                zf.writestr("model.weights.h5", buffer.getvalue(),
                            compress_type=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
        return name

    return build


_INJECT = "x\x1b[31m\n::error::pwned ##[error]\u202e"


def _injecting_config() -> dict[str, object]:
    """A layer named to inject into outputs, whose initializer's class name is hostile too (a skip reason)."""
    return fc.sequential_config([fc.dense_config(_INJECT, 64, fc.initializer("HeNormal" + _INJECT), None)])


def _good_config(name: str = "dense") -> dict[str, object]:
    return fc.sequential_config([fc.dense_config(name, 64, fc.initializer("VarianceScaling", scale=2.0,
                                                                          distribution="untruncated_normal"), None)])


H5_CASES = [
    _case("h5-external-link", _h5("m.weights.h5", _external_link), 3, "external link", extra=_no_secret),
    _case("h5-soft-link", _h5("m.weights.h5", _soft_link), 3, "soft link"),
    _case("h5-virtual-dataset", _h5("m.weights.h5", _virtual), 3, "virtual dataset"),
    _case("h5-external-storage", _h5("m.weights.h5", _external_storage), 3, "external files", extra=_no_secret),
    _case("h5-chunked-compressed", _h5("m.weights.h5", _compressed), 3, "chunked"),
    _case("h5-groups-nested-40-deep", _h5("m.weights.h5", _deep), 3, "nest"),
    _case("h5-hard-link-cycle", _h5("m.weights.h5", _hard_link_cycle), 3, "linked twice"),
    _case("h5-hard-link-fan-out", _h5("m.weights.h5", _hard_link_fan_out), 3, "linked twice"),
    _case("h5-truncated", _truncated_h5, 3),
    _case("h5-link-to-secret", _secret_link("x.h5", f"{SECRET}\n".encode()), 3, "not an HDF5", extra=_no_secret),
    _case("h5-good-file-passes", _h5("m.weights.h5", lambda _h, _f: None), 0, None, "-a0"),
    _case("keras-good-archive-passes", _keras("m.keras", _good_config()), 0),
    _case("keras-deflated-weights", _keras("m.keras", _good_config(), deflate=True), 3, "compressed"),
    _case("keras-no-weights-member", _keras("m.keras", _good_config(), weights=False), 3, "model.weights.h5"),
    _case("keras-config-not-json", _keras("m.keras", SECRET + "{"), 3, "not valid JSON", extra=_no_secret),
    _case("keras-config-nesting-bomb", _keras("m.keras", "[" * 100_000 + "]" * 100_000), 3, "JSON"),
    _case("keras-config-deep-but-small", _keras("m.keras", "[" * 5_000 + "]" * 5_000), 3, "nests too deeply"),
    Case("keras-injecting-names-github", _verify(_keras("m.keras", _injecting_config(), names=("dense", _INJECT)),
                                                 "-f", "github", "--allow-empty"), 0, fmt="github"),
    Case("keras-injecting-names-json", _verify(_keras("m.keras", _injecting_config(), names=("dense", _INJECT)),
                                               "-f", "json", "--allow-empty"), 0, fmt="json"),
    Case("keras-injecting-names-identify", lambda folder: ["identify", _keras(
        "m.keras", _injecting_config(), names=("dense", _INJECT))(folder), "-f", "markdown"], 0, fmt="markdown"),
]


# --------------------------------------------------------------------------- ONNX

def _onnx(name: str, external: dict[str, str] | None = None, raw: bytes | None = None,
          dims: tuple[int, ...] = (64, 32)) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        import onnx
        from onnx import TensorProto, helper

        tensor = helper.make_tensor("fc.weight", TensorProto.FLOAT, [64, 32], _w().T.tobytes(), raw=True)
        if raw is not None:  # make_tensor checks sizes: the lie is written over a valid tensor
            tensor.raw_data = raw
            del tensor.dims[:]
            tensor.dims.extend(dims)
        if external is not None:
            tensor.ClearField("raw_data")
            tensor.data_location = TensorProto.EXTERNAL
            for key, value in external.items():
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
        node = helper.make_node("Gemm", ["x", "fc.weight"], ["y"], transB=1)
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [tensor])
        (folder / "secret.txt").write_text(SECRET * 1000)
        (folder / "sub").mkdir()
        (folder / "sub" / name).write_bytes(helper.make_model(graph).SerializeToString())
        onnx.checker  # noqa: B018 - the package imports; the model is deliberately not checked
        return f"sub/{name}"

    return build


def _fifo_data(folder: Path) -> str:
    target = _onnx("m.onnx", {"location": "data.bin", "length": str(64 * 32 * 4)})(folder)
    os.mkfifo(folder / "sub" / "data.bin")
    return target


def _good_external(folder: Path) -> str:
    target = _onnx("m.onnx", {"location": "data.bin", "offset": "0", "length": str(64 * 32 * 4)})(folder)
    (folder / "sub" / "data.bin").write_bytes(_w().T.tobytes())
    return target


ONNX_CASES = [
    _case("onnx-good-external-data-passes", _good_external, 0, None, "-a0"),
    _case("onnx-external-parent-folder", _onnx("m.onnx", {"location": "../secret.txt"}), 3, "outside",
          extra=_no_secret),
    _case("onnx-external-absolute", _onnx("m.onnx", {"location": "/etc/passwd"}), 3, "outside"),
    _case("onnx-external-missing", _onnx("m.onnx", {"location": "nothing.bin"}), 3, "missing"),
    _case("onnx-external-fifo", _fifo_data, 3, "fifo"),
    _case("onnx-external-length-lies", _onnx("m.onnx", {"location": "m.onnx", "length": "8"}), 3),
    _case("onnx-raw-data-shorter-than-dims", _onnx("m.onnx", raw=b"\x00" * 64), 3, "need"),
    _case("onnx-dims-overflow", _onnx("m.onnx", raw=b"\x00" * 64, dims=(2**40, 2**40)), 3),
    _case("onnx-link-to-secret", _secret_link("x.onnx", f"{SECRET}\n".encode()), 3, "not a valid ONNX",
          extra=_no_secret),
]


# --------------------------------------------------------------------------- Flax msgpack

def _msgpack(name: str, data: bytes | Callable[[], bytes]) -> Callable[[Path], str]:
    def build(folder: Path) -> str:
        (folder / name).write_bytes(data() if callable(data) else data)
        return name

    return build


def _good_flax() -> bytes:
    return fc.flax_bytes({"params": {"Dense_0": {"kernel": _w(), "bias": np.zeros(64, np.float32)}}})


def _lying_bin() -> bytes:
    import msgpack

    header = msgpack.packb(((32, 64), "float32"), use_bin_type=True)[1:]  # the array's first two items
    payload = b"\x93" + header + b"\xc6" + (10**9).to_bytes(4, "big") + b"\x00" * 16
    return bytes(msgpack.packb({"w": msgpack.ExtType(1, payload)}))


def _many_arrays() -> bytes:
    return fc.flax_bytes({f"t{i}": np.zeros(1, np.float32) for i in range(500)})


MSGPACK_CASES = [
    _case("msgpack-good-file-passes", _msgpack("p.msgpack", _good_flax), 0, None, "-a0"),
    _case("msgpack-nested-10000-deep", _msgpack("p.msgpack", b"\x81\xa1a" * 10_000 + b"\xc0"), 3, "nest"),
    _case("msgpack-map-count-bomb", _msgpack("p.msgpack", b"\xdf\xff\xff\xff\xff"), 3),
    _case("msgpack-array-count-bomb", _msgpack("p.msgpack", b"\xdd\xff\xff\xff\xff" + b"\xc0" * 1000), 3),
    _case("msgpack-lying-bin-length", _msgpack("p.msgpack", _lying_bin), 3),
    _case("msgpack-truncated", _msgpack("p.msgpack", lambda: _good_flax()[:-100]), 3, "truncated"),
    _case("msgpack-map-key-is-a-map", _msgpack("p.msgpack", b"\x81\x81\xa1a\xc0\xc0"), 3, "not a string"),
    _case("msgpack-not-msgpack", _msgpack("p.msgpack", b"\xc1" * 8), 3, "msgpack"),
    _case("msgpack-trailing-data", _msgpack("p.msgpack", lambda: _good_flax() + b"\x00" * 8), 3, "follows"),
    _case("msgpack-many-arrays", _msgpack("p.msgpack", _many_arrays), 3, "--max-tensors", "--max-tensors", "100"),
    _case("msgpack-link-to-secret", _secret_link("x.msgpack", f"{SECRET}\n".encode()), 3, extra=_no_secret),
]

CASES: list[Case] = [*H5_CASES, *ONNX_CASES, *MSGPACK_CASES]
