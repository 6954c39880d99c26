"""ONNX models: the graph's initializers, read with the ``onnx`` package's protobuf parser.

The model file is parsed once (protobuf holds it in memory: at most 2 GiB, protobuf's own limit); tensor data
in the file (``raw_data`` or a typed field) is served in chunks from that parse, and external data (the
``location``/``offset``/``length`` entries ``onnx.external_data_helper`` writes) is read with ``pread`` in
chunks, never loaded whole. An external location must be a relative path whose resolved file lies inside the
model's folder (``sources.pointed_file``: a symlink out of it is refused before it is opened).

Each initializer's layout comes from the op that consumes it: a ``Conv`` weight is (out, in, *k) (torch),
a ``ConvTranspose`` weight (in, out/groups, *k) (torch-transpose), ``Gemm``'s B with ``transB=1`` is (out, in)
(torch, what ``torch.onnx.export`` writes for ``nn.Linear``), with ``transB=0`` and ``MatMul``'s B it is
(in, out), the 2-D jax layout. Names are the initializers' own (a PyTorch export keeps the state-dict keys).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError
from .limits import Limits
from .sources import (
    DEFAULT_LIMITS,
    Extent,
    InputFile,
    TensorSource,
    check_name,
    check_shape,
    display,
    itemsize,
    memory_opener,
    no_open,
    opened,
    pointed_file,
    pread_opener,
    quote,
    require,
    too_many_tensors,
)
from .ziparchive import pread_exact

#: protobuf cannot parse a message beyond 2 GiB; bigger models keep their tensors in external data
MAX_ONNX = 2**31 - 1
#: onnx.TensorProto.DataType -> (kaiming dtype, typed field holding it when not raw)
ONNX_DTYPES: dict[int, tuple[str, str]] = {
    1: ("float32", "float_data"), 2: ("uint8", "int32_data"), 3: ("int8", "int32_data"),
    4: ("uint16", "int32_data"), 5: ("int16", "int32_data"), 6: ("int32", "int32_data"),
    7: ("int64", "int64_data"), 9: ("bool", "int32_data"), 10: ("float16", "int32_data"),
    11: ("float64", "double_data"), 12: ("uint32", "uint64_data"), 13: ("uint64", "uint64_data"),
    16: ("bfloat16", "int32_data"),
}
EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


def read_onnx(f: InputFile, limits: Limits = DEFAULT_LIMITS) -> list[TensorSource]:
    onnx = require("onnx", "onnx", "ONNX models")
    where = f.where
    if f.size > MAX_ONNX:
        raise InputError(f"{where} is {f.size} bytes, more than protobuf's 2 GiB limit for one ONNX model file.")
    with opened(f) as fd:
        raw = pread_exact(fd, f.size, 0, where)
    try:
        model = onnx.ModelProto.FromString(raw)
    except Exception:  # protobuf's DecodeError (and RecursionError on crafted nesting): never quote it
        raise InputError(f"{where} is not a valid ONNX model (protobuf parse failed).") from None
    del raw
    graph = model.graph
    if len(graph.initializer) > limits.max_tensors:
        raise too_many_tensors(where, limits)
    layouts = consumer_layouts(graph)
    seen: set[str] = set()
    sources = []
    for tensor in graph.initializer:
        name = tensor.name
        check_name(where, name)
        if name in seen:
            raise InputError(f"{where}: initializer {quote(name)} appears twice; refusing a crafted model.")
        seen.add(name)
        sources.append(_source(f, tensor, layouts.get(name)))
    return sources


def consumer_layouts(graph: Any) -> dict[str, str | None]:
    """Initializer name -> the layout its consuming ops imply (None when they disagree or none is known)."""
    found: dict[str, set[str | None]] = {}
    for node in graph.node:
        for position, name in enumerate(node.input):
            found.setdefault(name, set()).add(_layout_for(node, position))
    return {name: next(iter(kinds)) if len(kinds) == 1 else None for name, kinds in found.items()}


def _layout_for(node: Any, position: int) -> str | None:
    if position != 1:
        return None
    if node.op_type == "Conv":
        return "torch"
    if node.op_type == "ConvTranspose":
        return "torch-transpose"
    if node.op_type == "MatMul":
        return "jax"
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return "torch" if trans_b else "jax"
    return None


def _source(f: InputFile, tensor: Any, layout: str | None) -> TensorSource:
    where, name = f.where, tensor.name
    shape = tuple(int(d) for d in tensor.dims)
    check_shape(where, name, shape)
    known = ONNX_DTYPES.get(tensor.data_type)
    if known is None:
        return TensorSource(f.label, name, shape, f"onnx type {tensor.data_type}", no_open, layout=layout,
                            error=f"ONNX data type {tensor.data_type} is not supported (floats, bfloat16 and "
                                  "integers are)")
    dtype, field = known
    numel = math.prod(shape)
    nbytes = numel * itemsize(dtype)
    if tensor.data_location == EXTERNAL:
        return _external(f, tensor, shape, dtype, nbytes, layout)
    if tensor.HasField("raw_data"):
        data = np.frombuffer(tensor.raw_data, dtype=np.uint8)
        if data.size != nbytes:
            raise InputError(f"{where}: initializer {quote(name)} holds {data.size} bytes; its shape and type "
                             f"need {nbytes}.")
        from .sources import DTYPES

        flat = data.view(np.dtype(DTYPES[dtype][0]))
    else:
        values = getattr(tensor, field)
        if len(values) != numel:
            raise InputError(f"{where}: initializer {quote(name)} holds {len(values)} values; its shape needs "
                             f"{numel}.")
        flat = _typed(np.asarray(values), dtype)
    return TensorSource(f.label, name, shape, dtype, memory_opener(flat, dtype), layout=layout)


def _typed(values: np.ndarray, dtype: str) -> np.ndarray:
    """A typed field's values in their disk dtype: 16-bit floats sit in int32_data as their bit patterns."""
    if dtype in ("float16", "bfloat16"):
        bits = values.astype(np.uint16)
        return bits.view(np.float16) if dtype == "float16" else bits
    from .sources import DTYPES

    return values.astype(np.dtype(DTYPES[dtype][0]))


def _external(f: InputFile, tensor: Any, shape: tuple[int, ...], dtype: str, nbytes: int,
              layout: str | None) -> TensorSource:
    """An initializer whose bytes lie in another file: inside the model's folder (``pointed_file``), read in place."""
    where, name = f.where, tensor.name
    entries = {e.key: e.value for e in tensor.external_data}
    location = entries.get("location", "")
    data = pointed_file(where, f, location, f"the external data {quote(location)} of {quote(name)}")
    try:
        offset = int(entries.get("offset", "0"))
        length = int(entries["length"]) if "length" in entries else nbytes
    except ValueError:
        raise InputError(f"{where}: initializer {quote(name)} has a non-numeric external offset or length.") from None
    if offset < 0 or length != nbytes or offset + nbytes > data.size:
        raise InputError(f"{where}: initializer {quote(name)} spans bytes [{offset}, {offset + length}) of "
                         f"{display(location)} but needs {nbytes} inside it; truncated or lying model.")
    return TensorSource(f.label, name, shape, dtype, pread_opener(data, offset, dtype), layout=layout,
                        extent=Extent(data.ident, offset, offset + nbytes), data_file=data.real)
