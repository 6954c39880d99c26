"""Keras weight files: ``.keras`` archives, Keras 3 ``.weights.h5`` and legacy (Keras 2) ``.h5``, read with h5py.

The layouts, as Keras writes them (keras/src/saving/saving_lib.py: ``H5IOStore``, ``_save_state``,
``_save_container_state``; ``Layer.save_own_variables`` in keras/src/layers/layer.py):

* Keras 3 ``.weights.h5``: the variables of each layer are the datasets ``"0"``, ``"1"``, ... of a group
  ``<path>/vars`` whose ``name`` attribute is the layer's name; ``<path>`` is made of snake-cased class names
  (``layers/dense_1``); variables are numbered trainable first, in creation order (Dense: kernel, bias).
* ``.keras``: a zip holding ``config.json`` and ``model.weights.h5``, stored (zipfile's default), so the HDF5
  file is read in place inside the archive.
* legacy ``.h5``: the root (or ``model_weights``) attribute ``layer_names``; each layer group's
  ``weight_names`` attribute names its datasets (``dense/kernel:0``); a full model (``model.save('x.h5')``,
  keras/src/legacy/saving/legacy_h5_format.py) adds ``model_config`` and ``keras_version``; a layer without
  weights has an empty ``weight_names`` (an attribute HDF5 stores with no bytes).
* an attention layer's projections (``MultiHeadAttention``) are sublayers: Keras 3 stores them in folders
  ``<layer>/query_dense/vars`` (named ``query``), a legacy file as ``mha/query/kernel``; both are shown as Keras
  shows the variable, ``mha/query/kernel``.

h5py parses only the metadata, through a file object over the vetted descriptor (HDF5 never opens a file by
name); every value is read with ``pread`` at the dataset's offset, chunk by chunk. Refused: external and soft
links, virtual datasets, external storage, and chunked (possibly compressed) datasets, which Keras never
writes. Names are ``layer/kernel`` as Keras shows them; every tensor gets the ``keras`` layout.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import InputError
from .config import Rule
from .kerasconfig import (
    ATTENTION,
    ATTENTION_SUBLAYERS,
    MAX_CONFIG,
    attention_sublayer,
    layer_configs,
    path_configs,
    stated_rule,
    variable_names,
)
from .limits import MAX_NAME, Limits
from .sources import (
    DEFAULT_LIMITS,
    Extent,
    InputFile,
    TensorSource,
    check_name,
    check_shape,
    memory_opener,
    no_open,
    numpy_dtype_name,
    opened,
    pread_opener,
    quote,
    require,
    too_many_tensors,
)
from .ziparchive import STORED, Member, pread_exact, read_directory

WEIGHTS_MEMBER = "model.weights.h5"
CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
#: groups may nest (a model inside a model) but not deeper than this
MAX_H5_DEPTH = 32
#: the size of one HDF5 attribute kaiming reads (a legacy ``model_config``: the model's JSON)
MAX_ATTRIBUTE = MAX_CONFIG


class _Window(io.RawIOBase):
    """A read-only file object over ``[base, base + size)`` of a descriptor, read with ``pread``: h5py's
    ``fileobj`` driver reads the HDF5 metadata through it and can reach nothing else."""

    def __init__(self, fd: int, base: int, size: int, where: str) -> None:
        super().__init__()
        self.fd, self.base, self.size, self.where, self.pos = fd, base, size, where, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else self.pos + offset if whence == 1 else self.size + offset
        return self.pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self.size - self.pos))
        if n == 0:
            return 0
        data = pread_exact(self.fd, n, self.base + self.pos, self.where)
        view[:n] = data
        self.pos += n
        return n


def read_keras(f: InputFile, limits: Limits = DEFAULT_LIMITS) -> list[TensorSource]:
    """Every weight of a ``.keras`` archive or a Keras ``.h5`` file, with the rules its config states."""
    h5py = require("h5py", "keras-files", "Keras files")
    where = f.where
    with opened(f) as fd:
        if f.path.lower().endswith(".keras"):
            base, size, config, version = _archive_parts(fd, f, limits)
        else:
            base, size, config, version = 0, f.size, None, None
        try:
            h5 = h5py.File(_Window(fd, base, size, where), "r")
        except OSError:
            raise InputError(f"{where} is not an HDF5 file (or is corrupt); a Keras .weights.h5 or .keras is "
                             "expected.") from None
        with h5:
            datasets = dict(_walk(h5, "", 0, _Walk(where, limits, h5py)))
            if config is None:
                config = _legacy_config(h5, where)
                version = _text_attribute(h5, "keras_version", where)
            return _sources(f, h5, datasets, (base, size), config, version, limits)


def _archive_parts(fd: int, f: InputFile, limits: Limits) -> tuple[int, int, Any, str | None]:
    """(offset and size of model.weights.h5 inside the archive, the parsed config.json or None, the
    ``keras_version`` metadata.json names or None)."""
    members = read_directory(fd, f.size, f.where, limits.max_members)
    weights = members.get(WEIGHTS_MEMBER)
    if weights is None:
        raise InputError(f"{f.where} holds no {WEIGHTS_MEMBER}: not a Keras 3 .keras archive (a model saved "
                         "with the npz weights format is not read).")
    if weights.method != STORED:
        raise InputError(f"{f.where}: {WEIGHTS_MEMBER} is compressed; Keras stores it uncompressed (re-save it "
                         "with model.save).")
    return (weights.data_offset, weights.size, _archive_config(fd, members.get(CONFIG_MEMBER), f.where),
            _archive_version(fd, members.get(METADATA_MEMBER), f.where))


def _archive_config(fd: int, member: Member | None, where: str, name: str = CONFIG_MEMBER) -> Any:
    if member is None:
        return None
    if member.size > MAX_CONFIG:
        raise InputError(f"{where}: {name} is {member.size} bytes, more than the limit of {MAX_CONFIG}.")
    from .ziparchive import MemberReader

    return _parse_json(MemberReader(fd, member, where).read(), f"{where} ({name})")


def _archive_version(fd: int, member: Member | None, where: str) -> str | None:
    """The ``keras_version`` of ``metadata.json``; None when it is absent or unusable (it only decides the fans of
    EinsumDense kernels, and a rule made without it says so: no reason to refuse the weights)."""
    try:
        metadata = _archive_config(fd, member, where, METADATA_MEMBER)
    except InputError:
        return None
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    return version[:40] if isinstance(version, str) else None


def _parse_json(raw: bytes, where: str) -> Any:
    from .limits import MAX_INDEX_CONTAINERS

    if raw.count(b"{") + raw.count(b"[") > 64 * MAX_INDEX_CONTAINERS:
        raise InputError(f"{where} nests too many JSON objects to be a Keras model config.")
    try:
        return json.loads(raw)
    except RecursionError:
        raise InputError(f"{where} nests too deeply to be a Keras model config.") from None
    except ValueError:
        raise InputError(f"{where} is not valid JSON.") from None


def _legacy_config(h5: Any, where: str) -> Any:
    """A legacy full-model .h5's ``model_config`` attribute (the model's JSON), if any."""
    raw = _attribute(h5, "model_config", where)
    if raw is None:
        return None
    return _parse_json(raw if isinstance(raw, bytes) else str(raw).encode("utf-8"), f"{where} (model_config)")


def _attribute(obj: Any, key: str, where: str) -> Any:
    """One attribute, read only if it is small (a hostile file may declare a huge one).

    A variable-length string is stored as a 16-byte pointer into the file's global heap, so its stored size says
    nothing of the text, and many pointers may share one heap object: such an attribute is converted by HDF5
    into fixed-width strings as it is read (``_fixed_width``), so the memory is the width times the count,
    and a string that fills its width is refused.
    """
    if key not in obj.attrs:
        return None
    info = obj.attrs.get_id(key)
    if info.shape is not None and 0 in info.shape:  # no bytes stored: H5Aget_storage_size fails on it
        return np.zeros(info.shape)
    if info.get_storage_size() > MAX_ATTRIBUTE:
        raise InputError(f"{where}: the HDF5 attribute {quote(key)} is larger than {MAX_ATTRIBUTE} bytes.")
    kind = info.get_type()
    if kind.get_class() == _h5t_string() and kind.is_variable_str():
        return _fixed_width(info, kind, key, where)
    return obj.attrs[key]


def _fixed_width(info: Any, kind: Any, key: str, where: str) -> Any:
    """A variable-length string attribute read as fixed-width bytes: a name list at ``MAX_NAME`` + 1 bytes an
    entry (``check_name`` refuses longer names anyway), a single text (``model_config``) at ``MAX_ATTRIBUTE`` + 1;
    an entry that fills its width is longer than allowed."""
    import h5py

    count = math.prod(info.shape or ())
    width = MAX_ATTRIBUTE + 1 if count == 1 else MAX_NAME + 1
    if count * width > 4 * MAX_ATTRIBUTE:
        raise InputError(f"{where}: the HDF5 attribute {quote(key)} lists {count} strings; refusing the file.")
    out = np.empty(info.shape or (), dtype=f"S{width}")
    memory = h5py.h5t.py_create(out.dtype)
    memory.set_cset(kind.get_cset())
    info.read(out, mtype=memory)
    if any(len(text) >= width for text in out.reshape(-1)):
        raise InputError(f"{where}: the HDF5 attribute {quote(key)} holds a string of more than {width - 1} bytes "
                         "of text; refusing it.")
    return out[()] if out.ndim == 0 else out


def _text_attribute(obj: Any, key: str, where: str) -> str | None:
    """A short text attribute (``keras_version``), None when absent or not text."""
    raw = _attribute(obj, key, where)
    text = _text(raw) if isinstance(raw, (bytes, str)) else None
    return text[:40] if text else None


def _h5t_string() -> int:
    import h5py

    return int(h5py.h5t.STRING)


class _Walk:
    """What one walk of an HDF5 file has seen: groups (each may be entered once) and datasets (capped)."""

    def __init__(self, where: str, limits: Limits, h5py: Any) -> None:
        self.where, self.limits, self.h5py = where, limits, h5py
        self.groups: set[Any] = set()
        self.datasets = 0


def _walk(group: Any, prefix: str, depth: int, walk: _Walk) -> Iterator[tuple[str, Any]]:
    """(path, dataset) for every dataset under ``group``, refusing links that leave the file or alias a group.

    A group reached twice (hard links may form cycles, or fan out exponentially) refuses the file, so the work
    is one visit per link of the file.
    """
    where, h5py = walk.where, walk.h5py
    if depth > MAX_H5_DEPTH:
        raise InputError(f"{where}: HDF5 groups nest more than {MAX_H5_DEPTH} deep; refusing the file.")
    if group.id in walk.groups:
        raise InputError(f"{where}: an HDF5 group is linked twice (a cycle or a fan-out); refusing a crafted file.")
    walk.groups.add(group.id)
    if len(group) > walk.limits.max_members:
        raise too_many_tensors(where, walk.limits)
    for key in group:
        path = f"{prefix}{key}"
        check_name(where, path)
        link = group.get(key, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise InputError(f"{where}: {quote(path)} is an HDF5 external link (to another file); kaiming reads "
                             "one self-contained file.")
        if isinstance(link, h5py.SoftLink):
            raise InputError(f"{where}: {quote(path)} is an HDF5 soft link; Keras never writes one, refusing it.")
        obj = group.get(key)
        if isinstance(obj, h5py.Group):
            yield from _walk(obj, path + "/", depth + 1, walk)
        elif isinstance(obj, h5py.Dataset):
            walk.datasets += 1
            if walk.datasets > walk.limits.max_tensors:
                raise too_many_tensors(where, walk.limits)
            yield path, obj


_SUFFIX_N = re.compile(r"_[0-9]+$")


def _sources(f: InputFile, h5: Any, datasets: dict[str, Any], span: tuple[int, int], config: Any,
             version: str | None, limits: Limits) -> list[TensorSource]:
    where = f.where
    base, size = span
    if len(datasets) > limits.max_tensors:
        raise too_many_tensors(where, limits)
    layers = layer_configs(config) if config is not None else {}
    named = (_legacy_names(h5, datasets, layers, version, where, limits)
             or _keras3_names(h5, datasets, layers, path_configs(config), version, where))
    counts: dict[str, int] = {}
    for name, _path, _rule in named:
        counts[name] = counts.get(name, 0) + 1
    sources = []
    first: dict[Any, TensorSource] = {}  # dataset object -> its first source
    for name, path, rule in named:
        shown = name if counts[name] == 1 else path  # two layers of one name (nested models): the HDF5 path
        check_name(where, shown)
        ds = datasets[path]
        seen = first.get(ds.id)
        if seen is not None:  # one dataset under several hard links: stored once, read and tested once
            sources.append(replace(seen, name=shown, rule=rule, open=no_open, extent=None, same_as=seen.name))
            continue
        first[ds.id] = source = _dataset_source(f, ds, shown, path, base, size, rule)
        sources.append(source)
    return sources


Layers = dict[str, tuple[str, dict[str, Any]]]
ByPath = dict[str, tuple[str, str, dict[str, Any]]]


def _keras3_names(h5: Any, datasets: dict[str, Any], layers: Layers, by_path: ByPath, version: str | None,
                  where: str) -> list[tuple[str, str, Rule | None]]:
    """(name, HDF5 path, stated rule) for a Keras 3 file: ``layer/variable`` where the variable is known."""
    groups: dict[str, list[str]] = {}
    for path in datasets:
        head, _, index = path.rpartition("/")
        groups.setdefault(head, []).append(index)
    out: list[tuple[str, str, Rule | None]] = []
    for head, indices in groups.items():
        layer_path = head[:-len("/vars")] if head.endswith("/vars") else head
        if not head.endswith("vars") or not all(i.isdigit() for i in indices):
            out += [(f"{head}/{i}", f"{head}/{i}", None) for i in indices]
            continue
        name, found = _resolve(h5, head, layer_path, layers, by_path, where)
        kernel = datasets.get(f"{head}/0")
        sub = _attention_part(h5, layer_path, name, layers, by_path, len(kernel.shape or ()) if kernel else 0, where)
        if sub is not None:
            name, found = sub
        cls, cfg = found if found else ("", {})
        snake = _SUFFIX_N.sub("", layer_path.rpartition("/")[2])
        names = variable_names(cls, cfg, snake, len(indices))
        for i in sorted(indices, key=int):
            var = names[int(i)] if names is not None and int(i) < len(names) else None
            full = f"{name}/{var}" if var else f"{name}/vars/{i}"
            shape = tuple(int(d) for d in (datasets[f"{head}/{i}"].shape or ()))
            rule = stated_rule(full, name, var, cls, cfg, where, shape, version) if found and var else None
            out.append((full, f"{head}/{i}", rule))
    return out


def _resolve(h5: Any, vars_path: str, layer_path: str, layers: Layers, by_path: ByPath, where: str
             ) -> tuple[str, tuple[str, dict[str, Any]] | None]:
    """(layer name, (class, config) or None) of the layer whose variables are the group ``vars_path``."""
    name = _layer_name(h5[vars_path], where) if vars_path in h5 else None
    if name is not None:
        return name, layers.get(name)
    if layer_path in by_path:  # written by Keras before 3.6: the path names the layer
        return by_path[layer_path][0], by_path[layer_path][1:]
    return layer_path or "model", None


def _attention_part(h5: Any, layer_path: str, name: str, layers: Layers, by_path: ByPath, ndim: int,
                    where: str) -> tuple[str, tuple[str, dict[str, Any]]] | None:
    """(``mha/query``, its EinsumDense class and config) when ``layer_path`` is an attention layer's projection
    folder (``.../multi_head_attention/query_dense``), else None."""
    parent, _, folder = layer_path.rpartition("/")
    folder = folder.lstrip("_")  # GroupedQueryAttention's folders are its attributes' names: _query_dense
    if folder not in ATTENTION_SUBLAYERS or not parent:
        return None
    parent_name, parent_found = _resolve(h5, f"{parent}/vars", parent, layers, by_path, where)
    if parent_found is None or parent_found[0] not in ATTENTION:
        return None
    sub_name = name if name and name != layer_path else ATTENTION_SUBLAYERS[folder][0]
    sub = attention_sublayer(parent_found[0], parent_found[1], sub_name, ndim)
    return (f"{parent_name}/{sub_name}", sub) if sub is not None else None


def _layer_name(group: Any, where: str) -> str | None:
    """The layer's name from the ``vars`` group's ``name`` attribute (Keras 3.6 and later), else None."""
    raw = _attribute(group, "name", where)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return raw if isinstance(raw, str) and 0 < len(raw) <= MAX_NAME else None


def _legacy_names(h5: Any, datasets: dict[str, Any], layers: Layers, version: str | None, where: str,
                  limits: Limits) -> list[tuple[str, str, Rule | None]] | None:
    """(name, HDF5 path, stated rule) for a Keras 2 file (``layer_names``/``weight_names``); None for others."""
    root = h5["model_weights"] if any(p.startswith("model_weights/") for p in datasets) else h5
    prefix = "model_weights/" if root is not h5 else ""
    layer_names = _attribute(root, "layer_names", where)
    if layer_names is None:
        return None
    out: list[tuple[str, str, Rule | None]] = []
    listed: set[str] = set()
    for raw_layer in np.asarray(layer_names).reshape(-1)[: len(datasets) + 1]:
        layer = _text(raw_layer)
        if layer not in root:
            continue
        weight_names = _attribute(root[layer], "weight_names", where)
        for raw_weight in np.asarray(weight_names if weight_names is not None else []).reshape(-1):
            weight = _text(raw_weight)
            path = f"{prefix}{layer}/{weight}"
            if path not in datasets:
                raise InputError(f"{where}: weight {quote(weight)} of layer {quote(layer)} is missing.")
            if path in listed:
                raise InputError(f"{where}: weight {quote(weight)} of layer {quote(layer)} is listed twice; "
                                 "refusing a crafted file.")
            listed.add(path)
            if len(listed) > limits.max_tensors:
                raise too_many_tensors(where, limits)
            name = weight[:-2] if weight.endswith(":0") else weight
            shape = tuple(int(d) for d in (datasets[path].shape or ()))
            out.append((name, path, _legacy_rule(name, layer, layers.get(layer), shape, version, where)))
    return out


def _legacy_rule(name: str, layer: str, found: tuple[str, dict[str, Any]] | None, shape: tuple[int, ...],
                 version: str | None, where: str) -> Rule | None:
    """The stated rule of a legacy weight ``layer/variable`` (``mha/query/kernel`` for an attention layer's
    projection, whose initializers are the attention layer's)."""
    if found is None:
        return None
    parts = name.split("/")
    cls, cfg = found
    if len(parts) >= 3 and cls in ATTENTION:
        sub = attention_sublayer(cls, cfg, parts[-2], len(shape))
        if sub is None:
            return None
        cls, cfg = sub
    return stated_rule(name, layer, parts[-1], cls, cfg, where, shape, version)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _dataset_source(f: InputFile, ds: Any, name: str, path: str, base: int, size: int,
                    rule: Rule | None) -> TensorSource:
    where = f.where
    h5py = require("h5py", "keras-files", "Keras files")
    if ds.is_virtual:
        raise InputError(f"{where}: {quote(path)} is a virtual dataset (data in other files); refusing it.")
    if ds.external:
        raise InputError(f"{where}: {quote(path)} keeps its data in external files; refusing it.")
    shape = tuple(int(d) for d in (ds.shape or ()))
    check_shape(where, name, shape)
    tag = _attribute(ds, "dtype", where)
    if _text(tag) == "bfloat16" and ds.dtype.itemsize == 2:
        dtype, disk = "bfloat16", np.dtype("<u2")
    else:
        dtype, disk = numpy_dtype_name(ds.dtype) or "", ds.dtype
    if not dtype:
        return TensorSource(f.label, name, shape, str(ds.dtype)[:40], no_open, layout="keras", rule=rule,
                            error="this HDF5 datatype is not supported (float16/32/64, bfloat16 and integers are)")
    nbytes = math.prod(shape) * disk.itemsize
    kind = ds.id.get_create_plist().get_layout()
    if kind == h5py.h5d.CHUNKED:
        raise InputError(f"{where}: {quote(path)} is a chunked (possibly compressed) HDF5 dataset; Keras writes "
                         "contiguous ones, which kaiming reads in place: re-save with save_weights.")
    if kind == h5py.h5d.COMPACT:  # at most 64 KiB, held in the object header: read now
        values = np.ascontiguousarray(ds[()]).reshape(-1).view(disk) if nbytes else np.zeros(0, disk)
        return TensorSource(f.label, name, shape, dtype, memory_opener(values, dtype), layout="keras", rule=rule)
    offset = ds.id.get_offset()
    if nbytes and (offset is None or ds.id.get_storage_size() != nbytes or offset + nbytes > size):
        raise InputError(f"{where}: dataset {quote(path)} declares {nbytes} bytes that the file does not hold "
                         "(truncated or lying file).")
    start = base + (offset or 0)
    return TensorSource(f.label, name, shape, dtype, pread_opener(f, start, dtype, disk), layout="keras", rule=rule,
                        extent=Extent(f.ident, start, start + nbytes))

