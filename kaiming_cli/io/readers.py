"""From a path to its tensors: the reader of each format, chosen by suffix, and the checks every input gets.

This is the boundary for hostile input (security.md): ``read_path`` turns whatever a reader raises on a corrupt
file into one ``InputError`` line, and applies ``entries.vet_entries`` (counts, unique names, aliasing) to every
input whatever its format. The readers: ``.npy``/``.npz`` (``numpyfile``), ``.safetensors``, a sharded folder or
its ``*.index.json`` (``safetensorsfile``), and, each imported only when such a file is given, with its optional
package: ``.pt``/``.pth``/``.bin``/``.ckpt`` (``torchfile``, read without torch), ``.keras``/``.h5``
(``kerasfile``), ``.onnx`` (``onnxfile``) and Flax ``.msgpack`` (``flaxfile``). Their shared types and openers
are in ``sources``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .entries import vet_entries
from .limits import Limits
from .numpyfile import read_npy, read_npz
from .safetensorsfile import read_safetensors, read_safetensors_index
from .sources import DEFAULT_LIMITS, InputFile, TensorSource, display, too_many_tensors, vet

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
SUFFIXES = (".npy", ".npz", ".safetensors", *TORCH_SUFFIXES, ".json", *KERAS_SUFFIXES, ".onnx", ".msgpack")

# --------------------------------------------------------------------------- dispatch

READERS: dict[str, Callable[[InputFile, Limits], list[TensorSource]]] = {
    ".npy": read_npy, ".npz": read_npz, ".safetensors": read_safetensors,
}


def read_path(path: str, limits: Limits = DEFAULT_LIMITS) -> list[TensorSource]:
    """Every tensor in a file, a sharded folder or an index; ``InputError`` for anything unusable.

    This is the boundary for hostile input: whatever a parser raises on a corrupt file becomes
    one ``InputError`` line (naming the exception type, never quoting its text: it may hold file
    bytes), never a traceback.
    """
    try:
        return vet_entries(_read_path(path, limits), display(path), limits)
    except (InputError, MemoryError, KeyboardInterrupt):
        raise
    except RecursionError:
        raise InputError(f"{display(path)} nests too deeply to be a weight file; refusing it.") from None
    except Exception as exc:
        raise InputError(f"{display(path)} is corrupt or unreadable ({type(exc).__name__}).") from None


def _read_path(path: str, limits: Limits) -> list[TensorSource]:
    if not os.path.lexists(path):
        raise InputError(f"{display(path)} does not exist.")
    if os.path.isdir(path):
        return _read_folder(path, limits)
    name = Path(path).name
    suffix = Path(path).suffix.lower()
    if name.endswith(".index.json"):
        return read_safetensors_index(_readable(vet(path)), limits)
    reader = READERS.get(suffix) or _optional_reader(suffix)
    if reader is None:
        raise InputError(f"{display(path)}: unsupported file type {display(suffix or '(none)')}; give .npy, .npz, "
                         ".safetensors, a sharded folder or its .index.json, .pt/.pth/.bin/.ckpt, .keras/.h5, "
                         ".onnx or a Flax .msgpack.")
    return reader(_readable(vet(path)), limits)


def _optional_reader(suffix: str) -> Callable[[InputFile, Limits], list[TensorSource]] | None:
    """The reader of a format whose module (and optional dependency) loads only when such a file is given."""
    if suffix in TORCH_SUFFIXES:
        from .torchfile import read_torch

        return read_torch
    if suffix in KERAS_SUFFIXES:
        from .kerasfile import read_keras

        return read_keras
    if suffix == ".onnx":
        from .onnxfile import read_onnx

        return read_onnx
    if suffix == ".msgpack":
        from .flaxfile import read_flax

        return read_flax
    return None


def _readable(f: InputFile) -> InputFile:
    if not os.access(f.real, os.R_OK):
        raise InputError(f"cannot read {f.where}: permission denied.")
    return f


def _read_folder(path: str, limits: Limits) -> list[TensorSource]:
    p = Path(path)
    index = sorted(p.glob("*.safetensors.index.json"))
    if index:
        return read_safetensors_index(_readable(vet(str(index[0]))), limits)
    shards = sorted(p.glob("*.safetensors"))
    if not shards:
        raise InputError(f"{display(path)} is a folder without .safetensors files or an index: give a weight file.")
    sources: list[TensorSource] = []
    for shard in shards:
        sources += read_safetensors(_readable(vet(str(shard))), limits)
        if len(sources) > limits.max_tensors:
            raise too_many_tensors(display(path), limits)
    return sources
