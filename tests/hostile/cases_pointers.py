"""Files that point at other files, and many names for one stored tensor (issue 29's red-team round).

- a weight file's pointers (ONNX external data, an index's shards) that resolve outside the model's folder
  through a symlink: refused before anything is read, and no byte, value or size of the target is shown in any
  format (the attack rebuilt ``/etc/passwd`` from ``empirical.min`` of 64 one-value initializers);
- the Hugging Face cache layout (a snapshot's files are symlinks into ``blobs/``) still reads;
- a legacy Keras ``.h5`` listing one weight many times, or more weights than ``--max-tensors``;
- one HDF5 dataset hard-linked 1000 times and 1000 ONNX initializers on one byte range: read and tested once;
  byte ranges that overlap to multiply the reading: refused;
- ``-o``/``--plot`` over an ONNX model's external data: exit 2, nothing replaced;
- a 20 MiB variable-length string attribute, a list of them; msgpack integer keys; a NaN ``.pt`` dict key.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests import formatcraft as fc
from tests import ptcraft as pt

from .cases_readers import SECRET
from .harness import Case, Outcome

#: the planted secret: text whose bytes, read as float32, are ordinary-looking numbers
SECRET_BYTES = (SECRET * 16).encode()[:256]
#: its size on disk, an unusual number that must never be printed
SECRET_SIZE = 4133


def _plant_secret(folder: Path) -> Path:
    outside = folder / "outside"
    outside.mkdir()
    path = outside / "secret.bin"
    path.write_bytes(SECRET_BYTES.ljust(SECRET_SIZE, b"\x07"))
    return path


def _secret_values() -> list[str]:
    """How the secret's float32 values (and its size) would look in any report."""
    values = struct.unpack("<64f", SECRET_BYTES)
    shown = {f"{v:.6g}" for v in values if math.isfinite(v) and v != 0} | {repr(v) for v in values}
    return [s for s in shown if len(s) >= 5] + [str(SECRET_SIZE)]


def _no_secret_anywhere(folder: Path, outcome: Outcome) -> None:
    """Neither the secret's text, its values read as float32, nor its size appear in any output."""
    texts = [outcome.stdout, outcome.stderr] + [p.read_text("utf-8", "replace") for p in folder.glob("report*")]
    for leak in [SECRET, SECRET_BYTES[:8].hex(), *_secret_values()]:
        assert all(leak not in text for text in texts), f"the secret leaked as {leak!r}"


def _onnx_initializers(count: int, shape: tuple[int, ...], offsets: Callable[[int], int],
                       location: str = "data.bin") -> bytes:
    """An ONNX model of ``count`` float32 initializers whose data lie in ``data.bin`` at ``offsets(i)``."""
    from onnx import TensorProto, helper

    nbytes = math.prod(shape) * 4
    tensors = []
    for i in range(count):
        tensor = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=list(shape))
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", str(offsets(i))), ("length", str(nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        tensors.append(tensor)
    graph = helper.make_graph([], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], tensors)
    return bytes(helper.make_model(graph).SerializeToString())


def _onnx_symlinked_secret(folder: Path) -> str:
    """The attack: 64 [1,1] initializers at offsets 0, 4, 8 ... of data.bin, a symlink to the secret."""
    secret = _plant_secret(folder)
    model = folder / "m"
    model.mkdir()
    (model / "m.onnx").write_bytes(_onnx_initializers(64, (1, 1), lambda i: 4 * i))
    (model / "data.bin").symlink_to(secret)
    return "m/m.onnx"


def _onnx_linked_folder(folder: Path) -> str:
    """The same through a symlinked folder inside the model's folder: data in ``d/`` -> outside."""
    secret = _plant_secret(folder)
    model = folder / "m"
    model.mkdir()
    (model / "m.onnx").write_bytes(_onnx_initializers(64, (1, 1), lambda i: 4 * i, "d/secret.bin"))
    (model / "d").symlink_to(secret.parent)
    return "m/m.onnx"


def _he(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    """kaiming_normal_ (relu, fan_in = shape[1]) in torch's (out, in) layout: passes the default spec."""
    return (np.random.default_rng(seed).standard_normal(shape) * math.sqrt(2 / shape[1])).astype(np.float32)


def _onnx_symlink_inside(folder: Path) -> str:
    """A symlink that stays inside the model's folder is fine."""
    model = folder / "m"
    (model / "real").mkdir(parents=True)
    w = _he((64, 32))
    (model / "real" / "w.bin").write_bytes(w.tobytes())
    (model / "m.onnx").write_bytes(_onnx_initializers(1, (64, 32), lambda i: 0))
    (model / "data.bin").symlink_to("real/w.bin")
    return "m/m.onnx"


def _safetensors(tensors: dict[str, np.ndarray]) -> bytes:
    header: dict[str, object] = {}
    data, offset = b"", 0
    for name, value in tensors.items():
        raw = value.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(value.shape), "data_offsets": [offset, offset + len(raw)]}
        data, offset = data + raw, offset + len(raw)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _index(folder: Path, shard_of: dict[str, str]) -> None:
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": shard_of}))


def _shard_symlinked_out(folder: Path) -> str:
    """An index whose shard is a symlink to a safetensors file outside the folder."""
    (folder / "elsewhere").mkdir()
    (folder / "elsewhere" / "x.safetensors").write_bytes(_safetensors({"fc.weight": _he((64, 32))}))
    (folder / "m").mkdir()
    _index(folder / "m", {"fc.weight": "model-1.safetensors"})
    (folder / "m" / "model-1.safetensors").symlink_to(folder / "elsewhere" / "x.safetensors")
    return "m/model.safetensors.index.json"


def _hf_cache(folder: Path) -> str:
    """The Hugging Face cache: ``snapshots/<rev>/`` holds symlinks into ``blobs/`` (index and shards alike)."""
    repo = folder / "models--org--tiny"
    blobs, snapshot = repo / "blobs", repo / "snapshots" / "0123abc"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (blobs / "aa11").write_bytes(_safetensors({"fc1.weight": _he((64, 32), 1)}))
    (blobs / "bb22").write_bytes(_safetensors({"fc2.weight": _he((64, 32), 2)}))
    (blobs / "cc33").write_text(json.dumps({"weight_map": {"fc1.weight": "model-00001-of-00002.safetensors",
                                                           "fc2.weight": "model-00002-of-00002.safetensors"}}))
    for name, blob in (("model-00001-of-00002.safetensors", "aa11"), ("model-00002-of-00002.safetensors", "bb22"),
                       ("model.safetensors.index.json", "cc33")):
        (snapshot / name).symlink_to(Path("..", "..", "blobs", blob))
    return str(snapshot.relative_to(folder) / "model.safetensors.index.json")


def _legacy_repeated(times: int) -> Callable[[Path], str]:
    """A legacy Keras .h5 whose ``weight_names`` lists one dataset ``times`` times."""

    def build(folder: Path) -> str:
        import h5py

        with h5py.File(folder / "m.h5", "w", libver="latest") as h5:  # dense attribute storage: no 64 KiB cap
            h5.attrs["layer_names"] = [b"dense"]
            group = h5.create_group("dense")
            group.create_dataset("kernel:0", data=_he((32, 64)).T)
            group.attrs["weight_names"] = np.array([b"kernel:0"] * times)
        return "m.h5"

    return build


def _legacy_many(folder: Path) -> str:
    """40 distinct weights, checked under --max-tensors 10."""
    fc.legacy_h5(folder / "m.h5", [(f"dense{i}", [("kernel:0", _he((32, 64)).T)]) for i in range(40)])
    return "m.h5"


def _hard_linked(folder: Path) -> str:
    """One 16 MiB dataset under 1000 hard links (16 GB of reading if each were read)."""
    import h5py

    with h5py.File(folder / "m.weights.h5", "w") as h5:
        first = h5.create_group("layers/dense0/vars")
        first.create_dataset("0", data=_he((2048, 2048)).T)
        for i in range(1, 1000):
            h5[f"layers/dense{i}/vars/0"] = first["0"]
    return "m.weights.h5"


def _onnx_one_range(folder: Path) -> str:
    """1000 initializers with one location, offset and length over a 16 MiB file."""
    (folder / "m").mkdir()
    (folder / "m" / "data.bin").write_bytes(_he((2048, 2048)).tobytes())
    (folder / "m" / "m.onnx").write_bytes(_onnx_initializers(1000, (2048, 2048), lambda i: 0))
    return "m/m.onnx"


def _onnx_overlapping(folder: Path) -> str:
    """1000 initializers of 4 MiB, each 4 bytes further into one file: overlapping views, 4 GB of reading."""
    (folder / "m").mkdir()
    (folder / "m" / "data.bin").write_bytes(_he((1024, 1024 + 1000)).tobytes())
    (folder / "m" / "m.onnx").write_bytes(_onnx_initializers(1000, (1024, 1024), lambda i: 4 * i))
    return "m/m.onnx"


def _onnx_good(folder: Path) -> str:
    (folder / "m").mkdir()
    (folder / "m" / "data.bin").write_bytes(_he((64, 32)).tobytes())
    (folder / "m" / "m.onnx").write_bytes(_onnx_initializers(1, (64, 32), lambda i: 0))
    return "m/m.onnx"


def _vlen_name(value: object) -> Callable[[Path], str]:
    """A Keras 3 weights file whose ``vars`` group's ``name`` attribute is ``value``."""

    def build(folder: Path) -> str:
        import h5py

        with h5py.File(folder / "m.weights.h5", "w") as h5:
            group = h5.create_group("layers/dense/vars")
            group.create_dataset("0", data=_he((64, 32)).T)
            group.attrs["name"] = value
        assert h5py.check_string_dtype(h5py.File(folder / "m.weights.h5")["layers/dense/vars"].attrs.get_id(
            "name").dtype) is not None
        return "m.weights.h5"

    return build


def _vlen_legacy(layers: list[str]) -> Callable[[Path], str]:
    """A legacy .h5 whose ``layer_names``/``weight_names`` are lists of variable-length strings, as h5py stores
    the lists of bytes Keras's ``save_attributes_to_hdf5_group`` gives it."""

    def build(folder: Path) -> str:
        import h5py

        with h5py.File(folder / "m.h5", "w") as h5:
            h5.attrs["layer_names"] = [name.encode() for name in layers]
            group = h5.create_group(layers[0])
            group.create_dataset("kernel:0", data=_he((32, 64)).T)
            group.attrs["weight_names"] = [b"kernel:0"]
            assert h5py.check_string_dtype(h5.attrs.get_id("layer_names").dtype).length is None
        return "m.h5"

    return build


def _msgpack_int_key(folder: Path) -> str:
    import msgpack

    w = _he((32, 64))
    ext = msgpack.ExtType(1, msgpack.packb((list(w.shape), "float32", w.tobytes())))
    (folder / "p.msgpack").write_bytes(msgpack.packb({"params": {7: {"kernel": ext}}}))
    return "p.msgpack"


def _pt_nan_key(folder: Path) -> str:
    nan = b"G" + struct.pack(">d", float("nan"))
    pt.write_pt(folder / "m.pt", pt.op_dict([(nan, pt.tensor("0", 2048, (64, 32))),
                                             (nan, pt.tensor("0", 2048, (64, 32)))]),
                {"0": _he((64, 32)).tobytes()})
    return "m.pt"


def _verify(build: Callable[[Path], str], *extra: str) -> Callable[[Path], list[str]]:
    return lambda folder: ["verify", build(folder), "--no-config", *extra]


def _identify(build: Callable[[Path], str], *extra: str) -> Callable[[Path], list[str]]:
    return lambda folder: ["identify", build(folder), *extra]


def _tested_once(expected_skips: int) -> Callable[[Path, Outcome], None]:
    """verify's JSON: one tensor tested, the others skipped as the same stored bytes."""

    def check(_folder: Path, outcome: Outcome) -> None:
        report = json.loads(outcome.stdout)
        statuses = [t["status"] for t in report["tensors"]]
        same = [t for t in report["tensors"] if "same stored bytes" in (t.get("reason") or "")]
        assert statuses.count("pass") == 1 and len(same) == expected_skips, statuses[:5]

    return check


SYMLINK_FORMATS = ("json", "github", "junit", "markdown", "table")

CASES = [
    *[Case(f"onnx-external-symlink-to-secret-{fmt}", _verify(_onnx_symlinked_secret, "-a0", "-f", fmt), 3,
           "leads outside", fmt=fmt if fmt in ("json", "junit") else None, extra=_no_secret_anywhere)
      for fmt in SYMLINK_FORMATS],
    Case("onnx-external-symlink-to-secret-report-file",
         _verify(_onnx_symlinked_secret, "-a0", "-f", "json", "-o", "report.json"), 3, "leads outside",
         extra=_no_secret_anywhere),
    Case("onnx-external-symlink-to-secret-identify", _identify(_onnx_symlinked_secret, "-f", "json"), 3,
         "leads outside", fmt="json", extra=_no_secret_anywhere),
    Case("onnx-external-through-symlinked-folder", _verify(_onnx_linked_folder, "-a0", "-f", "json"), 3,
         "leads outside", fmt="json", extra=_no_secret_anywhere),
    Case("onnx-external-symlink-inside-folder-passes", _verify(_onnx_symlink_inside, "-a0"), 0),
    Case("index-shard-symlinked-out", _verify(_shard_symlinked_out, "-a0"), 3, "leads outside"),
    Case("index-hugging-face-cache-layout-passes", _verify(_hf_cache, "-a0"), 0),
    Case("h5-legacy-weight-listed-10000-times", _verify(_legacy_repeated(10_000), "-a0"), 3, "listed twice"),
    Case("h5-legacy-weight-listed-twice-identify", _identify(_legacy_repeated(2)), 3, "listed twice"),
    Case("h5-legacy-more-weights-than-max-tensors", _verify(_legacy_many, "-a0", "--max-tensors", "10"), 3,
         "more than 10 tensors"),
    Case("h5-dataset-hard-linked-1000-times", _verify(_hard_linked, "-a0", "-f", "json"), 0, fmt="json",
         extra=_tested_once(999), max_rss_mb=400),
    Case("onnx-1000-initializers-one-byte-range", _verify(_onnx_one_range, "-a0", "-f", "json"), 0, fmt="json",
         extra=_tested_once(999), max_rss_mb=400),
    Case("onnx-overlapping-ranges-multiply-reading", _verify(_onnx_overlapping, "-a0"), 3, "16 times over"),
    Case("output-over-onnx-external-data", _verify(_onnx_good, "-a0", "-o", "m/data.bin"), 2, "input file",
         protected=("m/data.bin",)),
    Case("plot-over-onnx-external-data", _verify(_onnx_good, "-a0", "--plot", "m/data.bin"), 2, "input file",
         protected=("m/data.bin",)),
    Case("identify-output-over-onnx-external-data", _identify(_onnx_good, "-o", "m/data.bin"), 2, "input file",
         protected=("m/data.bin",)),
    Case("h5-vlen-string-attribute-20MiB", _verify(_vlen_name("n" * (20 << 20)), "-a0"), 3, "more than 16777216",
         max_rss_mb=400),
    Case("h5-vlen-string-list-with-a-long-entry", _verify(_vlen_legacy(["dense", "x" * 2000]), "-a0"), 3,
         "more than 1024 bytes"),
    Case("h5-vlen-string-lists-as-keras-writes-them-pass", _verify(_vlen_legacy(["dense"]), "-a0"), 0),
    Case("msgpack-integer-map-key", _verify(_msgpack_int_key, "-a0"), 3, "not a string"),
    Case("pt-nan-dict-key", _verify(_pt_nan_key, "-a0"), 3, "non-finite"),
]
