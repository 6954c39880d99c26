"""Keras, ONNX and Flax files written with their own low-level libraries, laid out exactly as the frameworks do.

* Keras 3 (keras/src/saving/saving_lib.py, ``H5IOStore`` and ``_save_state``/``_save_container_state``;
  ``Layer.save_own_variables``): a group ``<path>/vars`` per layer, with the layer's name as its ``name``
  attribute and datasets ``"0"``, ``"1"``, ... (trainable variables first, in creation order); ``<path>`` is
  ``layers/<snake_case class>[_n]``. A ``.keras`` is a zip (zipfile's default: stored) holding ``metadata.json``,
  ``config.json`` and ``model.weights.h5``; the config serializes initializers as ``{"module": ...,
  "class_name": ..., "config": {...}, "registered_name": ...}``.
* legacy Keras 2 ``.h5``: ``layer_names`` on the root, ``weight_names`` on each layer group, datasets at
  ``<layer>/<weight name>``.
* ONNX: ``onnx.helper``/``numpy_helper`` as ``torch.onnx.export`` lays out a small conv net (Conv weights
  (out, in, kh, kw), Gemm with transB=1), optionally with external data (``onnx.external_data_helper``).
* Flax (flax/serialization.py, ``msgpack_serialize`` and ``_ndarray_to_bytes``): the state dict packed with
  ``msgpack.packb(tree, strict_types=True)``, each array as ``ExtType(1, packb((shape, dtype.name,
  arr.tobytes("C")), use_bin_type=True))``; arrays over 2**30 bytes become ``__msgpack_chunked_array__`` dicts.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

Layer = tuple[str, str, list[np.ndarray]]
"""(weights path such as ``layers/dense``, layer name, variables in Keras's order)"""


def keras3_h5(target: Any, layers: list[Layer]) -> None:
    import h5py

    with h5py.File(target, "w") as h5:
        for path, name, variables in layers:
            group = h5.create_group(path).create_group("vars") if path else h5.create_group("vars")
            if name:  # Keras 3.6 and later; before, no attribute (an empty name here)
                group.attrs["name"] = name
            for i, value in enumerate(variables):
                group[f"{i}"] = value


def initializer(class_name: str, **config: Any) -> dict[str, Any]:
    return {"module": "keras.initializers", "class_name": class_name, "config": {"seed": None, **config},
            "registered_name": None}


def dense_config(name: str, units: int, kernel: dict[str, Any], bias: dict[str, Any] | None = None,
                 cls: str = "Dense", **extra: Any) -> dict[str, Any]:
    config = {"name": name, "trainable": True, "dtype": "float32", "use_bias": bias is not None,
              "kernel_initializer": kernel, "bias_initializer": bias or initializer("Zeros"), **extra}
    key = "units" if cls == "Dense" else "filters"
    config[key] = units
    return {"module": "keras.layers", "class_name": cls, "config": config, "registered_name": None}


def sequential_config(layers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": "sequential", "trainable": True, "dtype": "float32",
                       "layers": [{"module": "keras.layers", "class_name": "InputLayer",
                                   "config": {"name": "input_layer", "batch_shape": [None, 8]}}, *layers]},
            "registered_name": None}


def keras_archive(path: Path, config: dict[str, Any] | None, layers: list[Layer], before_3_6: bool = False) -> Path:
    buffer = io.BytesIO()
    keras3_h5(buffer, [(p, "" if before_3_6 else n, v) for p, n, v in layers])
    with zipfile.ZipFile(path, "w") as zf:  # ZIP_STORED, as saving_lib's zipfile.ZipFile(fileobj, "w")
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.11.0", "date_saved": "2026-11-29"}))
        if config is not None:
            zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", buffer.getvalue())
    return path


def legacy_h5(path: Path, layers: list[tuple[str, list[tuple[str, np.ndarray]]]],
              model_config: dict[str, Any] | None = None) -> Path:
    import h5py

    with h5py.File(path, "w") as h5:
        root = h5.create_group("model_weights") if model_config is not None else h5
        if model_config is not None:
            h5.attrs["model_config"] = json.dumps(model_config).encode()
        root.attrs["layer_names"] = [name.encode() for name, _ in layers]
        for name, weights in layers:
            group = root.create_group(name)
            group.attrs["weight_names"] = [w.encode() for w, _ in weights]
            for weight, value in weights:
                group.create_dataset(weight, data=value)
    return path


# --------------------------------------------------------------------------- Flax

def flax_bytes(tree: Any) -> bytes:
    """``flax.serialization.to_bytes`` of a state dict (nested dicts of numpy arrays), without flax."""
    import msgpack

    def ext(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return msgpack.ExtType(1, msgpack.packb((x.shape, x.dtype.name, x.tobytes("C")), use_bin_type=True))
        if isinstance(x, np.generic):
            return msgpack.ExtType(3, msgpack.packb(((), x.dtype.name, np.asarray(x).tobytes("C")),
                                                    use_bin_type=True))
        return x

    return bytes(msgpack.packb(tree, default=ext, strict_types=True))


def flax_chunked(arr: np.ndarray, chunk: int) -> dict[str, Any]:
    """flax.serialization._chunk, with a small chunk size (flax's is 2**30 bytes)."""
    flat = arr.reshape(-1)
    chunks = [flat[i:i + chunk] for i in range(0, flat.size, chunk)]
    return {"__msgpack_chunked_array__": True, "shape": {str(i): d for i, d in enumerate(arr.shape)},
            "chunks": {str(i): c for i, c in enumerate(chunks)}}


# --------------------------------------------------------------------------- ONNX

def onnx_convnet(path: Path, weights: dict[str, np.ndarray], external: bool = False, matmul: bool = False) -> Path:
    """A conv net as torch.onnx.export writes it: Conv(conv.weight, conv.bias) -> Relu -> Flatten ->
    Gemm(fc.weight, fc.bias, transB=1) (or MatMul with the transposed weight, as for 3-D inputs)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    conv_w, fc_w = weights["conv.weight"], weights["fc.weight"]
    inits = [numpy_helper.from_array(v, k) for k, v in weights.items() if k != "fc.weight"]
    nodes = [helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Flatten", ["r"], ["f"])]
    if matmul:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(fc_w.T), "onnx::MatMul_7"))
        nodes += [helper.make_node("MatMul", ["f", "onnx::MatMul_7"], ["m"]),
                  helper.make_node("Add", ["m", "fc.bias"], ["output"])]
    else:
        inits.append(numpy_helper.from_array(fc_w, "fc.weight"))
        nodes.append(helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["output"], transB=1))
    side = int(round((fc_w.shape[1] // conv_w.shape[0]) ** 0.5))
    graph = helper.make_graph(
        nodes, "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, conv_w.shape[1], side, side])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, fc_w.shape[0]])], inits)
    model = helper.make_model(graph, producer_name="pytorch", opset_imports=[helper.make_opsetid("", 17)])
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return path
