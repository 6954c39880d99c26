"""The pickle inside a PyTorch checkpoint, run by a small machine that never imports or calls anything.

It knows only the opcodes torch's own ``weights_only`` unpickler accepts (protocol 2). Every global the pickle
names is looked up in an allowlist of *our* constructors (dicts, the tensor rebuild functions, storage types,
dtypes, ``torch.Size``, ...), which only record descriptions (``Storage``, ``TensorRef``): nothing from the file
is imported or called. Budgets (``limits``) bound the objects it creates; containers are flattened with a visited
set, so shared references (``x = [x, x]`` 40 deep) cost their size, not 2^40. ``torchfile`` reads the zip
archive around it and the tensors' bytes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from .limits import MAX_NDIM, Limits
from .sources import check_name, quote, too_many_tensors

#: torch storage classes (in ``torch``, ``torch.cuda`` or ``torch.storage``) -> element dtype
STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "QInt8Storage": "qint8", "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4",
    "UntypedStorage": "uint8",
}
#: every dtype torch pickles by name, with its size in bytes (None: packed sub-byte types)
TORCH_ITEMSIZES: dict[str, int | None] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2, "int8": 1,
    "uint64": 8, "uint32": 4, "uint16": 2, "uint8": 1, "bool": 1, "complex32": 4, "complex64": 8,
    "complex128": 16, "qint8": 1, "quint8": 1, "qint32": 4, "quint4x2": 1, "quint2x4": 1,
    "float8_e4m3fn": 1, "float8_e4m3fnuz": 1, "float8_e5m2": 1, "float8_e5m2fnuz": 1, "float8_e8m0fnu": 1,
    "float4_e2m1fn_x2": 1, "bits1x8": 1, "bits2x4": 1, "bits4x2": 1, "bits8": 1, "bits16": 2,
    **{f"int{b}": None for b in range(1, 8)}, **{f"uint{b}": None for b in range(1, 8)},
}
_CALLS = {
    "collections.OrderedDict": "dict", "collections.Counter": "dict",
    "torch._utils._rebuild_tensor": "tensor", "torch._utils._rebuild_tensor_v2": "tensor_v2",
    "torch._utils._rebuild_tensor_v3": "tensor_v3", "torch._utils._rebuild_parameter": "parameter",
    "torch._utils._rebuild_parameter_with_state": "parameter", "torch._tensor._rebuild_from_type_v2": "from_type",
    "torch.Size": "size", "torch.device": "device", "_codecs.encode": "encode", "builtins.set": "set",
    "builtins.complex": "complex", "builtins.bytearray": "bytearray",
}
_TENSOR_CALLS = {"tensor", "tensor_v2", "tensor_v3", "parameter"}
_TYPES = {"torch.Tensor", "torch.nn.parameter.Parameter"}
_UNSUPPORTED_KINDS = {"torch.serialization._get_layout", "torch.per_tensor_affine", "torch.per_tensor_symmetric",
                      "torch.per_channel_affine", "torch.per_channel_symmetric",
                      "torch.per_channel_affine_float_qparams"}
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_MAX_STORAGE_KEY = 256


class _Global:
    """What a GLOBAL opcode pushes: a tag for one of our constructors, a storage type, a dtype or a type."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: str) -> None:
        self.kind, self.value = kind, value


class _Dict(dict[Any, Any]):
    """A dict made by ``collections.OrderedDict``/``Counter``: BUILD may give it attributes (ignored)."""

    __slots__ = ()


@dataclass(frozen=True, eq=False)
class Storage:
    key: str
    dtype: str
    numel: int


@dataclass(frozen=True, eq=False)
class TensorRef:
    """A tensor as the pickle describes it: a view (offset, shape, strides in elements) of a storage."""

    storage: Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str
    negative: bool = False


class Unpickler:
    """Protocol-2 pickles with torch's ``weights_only`` opcodes; budgets on objects and tensors."""

    def __init__(self, data: bytes, where: str, limits: Limits) -> None:
        self.data, self.where, self.limits = data, where, limits
        self.pos = 0
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.budget = limits.max_objects
        self.tensors = 0
        self.storages: dict[str, Storage] = {}
        self.ops: dict[int, Callable[[], None]] = {
            0x80: self._proto, ord("c"): self._global, 0x81: self._newobj, ord("R"): self._reduce,
            ord("b"): self._build, ord("a"): self._append, ord("e"): self._appends, ord("s"): self._setitem,
            ord("u"): self._setitems, ord("("): self._mark, ord("t"): self._tuple, 0x85: self._tuple1,
            0x86: self._tuple2, 0x87: self._tuple3, ord("N"): lambda: self.stack.append(None),
            0x88: lambda: self.stack.append(True), 0x89: lambda: self.stack.append(False),
            ord(")"): lambda: self.stack.append(()), ord("]"): lambda: self.stack.append([]),
            ord("}"): lambda: self.stack.append({}), 0x8F: self._empty_set, ord("J"): self._binint,
            ord("K"): lambda: self.stack.append(self._take(1)[0]),
            ord("M"): lambda: self.stack.append(struct.unpack("<H", self._take(2))[0]),
            ord("G"): lambda: self.stack.append(struct.unpack(">d", self._take(8))[0]),
            0x8A: self._long1, ord("X"): self._binunicode, ord("U"): self._short_binstring,
            ord("Q"): self._binpersid, ord("h"): lambda: self._get(self._take(1)[0]),
            ord("j"): lambda: self._get(struct.unpack("<I", self._take(4))[0]),
            ord("q"): lambda: self._put(self._take(1)[0]),
            ord("r"): lambda: self._put(struct.unpack("<I", self._take(4))[0]),
        }

    # -- the loop

    def load(self) -> Any:
        try:
            return self._run()
        except (InputError, MemoryError, KeyboardInterrupt):
            raise
        except (IndexError, KeyError, TypeError, ValueError, struct.error, UnicodeDecodeError, RecursionError):
            raise self._corrupt("its pickle is malformed") from None

    def _run(self) -> Any:
        data = self.data
        ops = self.ops
        while self.pos < len(data):
            op = data[self.pos]
            self.pos += 1
            self._spend(1)
            if op == ord("."):
                return self.stack.pop()
            handler = ops.get(op)
            if handler is None:
                raise InputError(f"{self.where}: its pickle uses opcode {op:#04x}, which torch.load(weights_only=True) "
                                 "refuses too; re-save it with torch.save's default pickle protocol (2).")
            handler()
        raise self._corrupt("its pickle ends without STOP (truncated)")

    def _spend(self, units: int) -> None:
        self.budget -= units
        if self.budget < 0:
            raise InputError(f"{self.where}: its pickle creates more than {self.limits.max_objects} objects (the "
                             "limit, 1M plus 64 per tensor that --max-tensors allows); refusing the file.")

    def _corrupt(self, what: str) -> InputError:
        return InputError(f"{self.where} is not a readable PyTorch checkpoint: {what}.")

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise self._corrupt("its pickle is truncated")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def _line(self) -> str:
        end = self.data.find(b"\n", self.pos, self.pos + 256)
        if end < 0:
            raise self._corrupt("a global name is malformed or longer than 256 bytes")
        text = self.data[self.pos:end].decode("utf-8")
        self.pos = end + 1
        return text

    def _pop_mark(self) -> list[Any]:
        items = self.stack
        self.stack = self.marks.pop()
        return items

    # -- opcodes

    def _proto(self) -> None:
        if not 2 <= self._take(1)[0] <= 5:
            raise self._corrupt("unknown pickle protocol")

    def _global(self) -> None:
        module, name = self._line(), self._line()
        self.stack.append(self._find(module, name))

    def _newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if isinstance(cls, _Global) and cls.kind == "call" and cls.value == "dict":
            self.stack.append(_Dict())
        elif isinstance(cls, _Global) and cls.kind == "type" and cls.value.endswith("Parameter"):
            self.stack.append(self._parameter(*args))
        else:
            raise self._refuse_call("NEWOBJ", cls)

    def _reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if not isinstance(func, _Global) or func.kind != "call" or not isinstance(args, tuple):
            raise self._refuse_call("REDUCE", func)
        self.stack[-1] = self._call(func.value, args)

    def _build(self) -> None:
        state = self.stack.pop()
        if type(self.stack[-1]) is not _Dict or not (state is None or isinstance(state, dict)):
            # torch's BUILD on a tensor calls set_(), replacing its data after the fact: never here
            raise InputError(f"{self.where}: its pickle sets state on a {type(self.stack[-1]).__name__} after "
                             "building it (BUILD), which torch.save never writes; refusing the file.")

    def _append(self) -> None:
        item = self.stack.pop()
        self._list(self.stack[-1]).append(item)

    def _appends(self) -> None:
        items = self._pop_mark()
        self._spend(len(items))
        self._list(self.stack[-1]).extend(items)

    def _setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._dict(self.stack[-1])[self._key(key)] = value

    def _setitems(self) -> None:
        items = self._pop_mark()
        self._spend(len(items))
        target = self._dict(self.stack[-1])
        if len(items) % 2:
            raise self._corrupt("SETITEMS has an odd number of items")
        for i in range(0, len(items), 2):
            target[self._key(items[i])] = items[i + 1]

    def _mark(self) -> None:
        self.marks.append(self.stack)
        self.stack = []

    def _tuple(self) -> None:
        items = self._pop_mark()
        self._spend(len(items))
        self.stack.append(tuple(items))

    def _tuple1(self) -> None:
        self.stack[-1] = (self.stack[-1],)

    def _tuple2(self) -> None:
        second = self.stack.pop()
        self.stack[-1] = (self.stack[-1], second)

    def _tuple3(self) -> None:
        third = self.stack.pop()
        second = self.stack.pop()
        self.stack[-1] = (self.stack[-1], second, third)

    def _empty_set(self) -> None:
        self._spend(3)  # an empty set is ~4 times an empty dict
        self.stack.append(set())

    def _binint(self) -> None:
        self.stack.append(struct.unpack("<i", self._take(4))[0])

    def _long1(self) -> None:
        self.stack.append(int.from_bytes(self._take(self._take(1)[0]), "little", signed=True))

    def _binunicode(self) -> None:
        (n,) = struct.unpack("<I", self._take(4))
        self.stack.append(self._take(n).decode("utf-8", "surrogatepass"))

    def _short_binstring(self) -> None:
        self.stack.append(self._take(self._take(1)[0]).decode("utf-8"))

    def _binpersid(self) -> None:
        self.stack.append(self._storage(self.stack.pop()))

    def _get(self, index: int) -> None:
        self.stack.append(self.memo[index])

    def _put(self, index: int) -> None:
        self.memo[index] = self.stack[-1]

    # -- checks on containers and keys

    def _list(self, target: Any) -> list[Any]:
        if type(target) is not list:
            raise self._corrupt(f"APPEND to a {type(target).__name__}")
        return target

    def _dict(self, target: Any) -> dict[Any, Any]:
        if type(target) not in (dict, _Dict):
            raise self._corrupt(f"SETITEM on a {type(target).__name__}")
        return target  # type: ignore[no-any-return]

    def _key(self, key: Any) -> Any:
        """Names and small numbers only: crafted ints (k * (2**61 - 1)) or tuples could collide in one hash
        bucket and make every insert cost the size of the dict."""
        if isinstance(key, float) and not math.isfinite(key):  # NaN never equals itself: keys that never collide
            raise InputError(f"{self.where}: its pickle has a non-finite float dict key; kaiming reads dicts keyed "
                             "by names and small numbers (what state dicts use).")
        if isinstance(key, (str, bytes, bool, float)) or key is None:
            return key
        if isinstance(key, int) and -(2**61) < key < 2**61 - 1:
            return key
        raise InputError(f"{self.where}: its pickle has a dict key of type {type(key).__name__}; kaiming reads "
                         "dicts keyed by names and small numbers (what state dicts use).")

    # -- globals and calls

    def _find(self, module: str, name: str) -> _Global:
        module = {"__builtin__": "builtins", "torch.tensor": "torch._tensor"}.get(module, module)
        full = f"{module}.{name}"
        if full in _CALLS:
            return _Global("call", _CALLS[full])
        if full in _TYPES:
            return _Global("type", name)
        if module in ("torch", "torch.cuda", "torch.storage") and name in STORAGE_DTYPES:
            return _Global("storage", STORAGE_DTYPES[name])
        if module == "torch" and name in TORCH_ITEMSIZES:
            return _Global("dtype", name)
        if full in _UNSUPPORTED_KINDS or (module == "torch._utils" and name.startswith("_rebuild")):
            raise InputError(f"{self.where} holds a tensor kaiming cannot read ({quote(full)}: sparse, quantized, "
                             "meta, nested or device-only tensors); save dense CPU tensors (.to_dense(), "
                             ".dequantize(), .cpu()).")
        # a whole model (torch.save(model)) pickles its classes: say what to save instead
        raise InputError(f"{self.where} contains pickled code or objects, which kaiming never loads "
                         f"({quote(full)} is not a tensor, a container or a number); for a whole model "
                         "saved with torch.save(model), save model.state_dict() instead.")

    def _refuse_call(self, opcode: str, target: Any) -> InputError:
        what = f"{target.kind} {target.value}" if isinstance(target, _Global) else type(target).__name__
        return InputError(f"{self.where}: its pickle calls a {quote(what)} with {opcode}, which a state dict "
                          "never does; refusing the file.")

    def _call(self, tag: str, args: tuple[Any, ...]) -> Any:
        if tag in _TENSOR_CALLS or tag == "from_type":
            return self._tensor_call(tag, args)
        if tag == "dict":
            return self._new_dict(*args)
        if tag == "size":
            (seq,) = args
            return self._ints(seq, "a torch.Size")
        if tag == "device":
            return _Global("device", "")
        if tag == "encode":
            text, encoding = args
            if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
                raise self._corrupt("_codecs.encode is called with unexpected arguments")
            return text.encode("latin-1")
        if tag == "set":
            items = args[0] if args else ()
            if not isinstance(items, (list, tuple)) or len(args) > 1:
                raise self._corrupt("set() is called with unexpected arguments")
            self._spend(3 + len(items))
            return {self._key(item) for item in items}
        if tag == "complex":
            if not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args) or len(args) > 2:
                raise self._corrupt("complex() is called with unexpected arguments")
            return complex(*args)
        if not all(isinstance(a, bytes) for a in args) or len(args) > 1:  # bytearray(n) would allocate n bytes
            raise self._corrupt("bytearray() is called with unexpected arguments")
        return bytearray(*args)

    def _new_dict(self, *args: Any) -> _Dict:
        if not args:
            return _Dict()
        (source,) = args
        if isinstance(source, dict):
            pairs: list[Any] | tuple[Any, ...] = list(source.items())
        elif isinstance(source, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in source):
            pairs = source
        else:
            raise self._corrupt("OrderedDict() is called with unexpected arguments")
        self._spend(len(pairs))
        out = _Dict()
        for key, value in pairs:
            out[self._key(key)] = value
        return out

    def _tensor_call(self, tag: str, args: tuple[Any, ...]) -> TensorRef:
        if tag == "from_type":  # a Tensor or Parameter with Python attributes: the attributes are ignored
            func, new_type, inner, _state = args
            if not (isinstance(func, _Global) and func.kind == "call" and func.value in _TENSOR_CALLS
                    and isinstance(new_type, _Global) and new_type.kind == "type" and isinstance(inner, tuple)):
                raise self._corrupt("a tensor subclass is rebuilt with unexpected arguments")
            return self._tensor_call(func.value, inner)
        if tag == "parameter":
            return self._parameter(*args)
        if tag == "tensor":
            storage, offset, size, stride = args
            return self._tensor(storage, offset, size, stride, None, None)
        if tag == "tensor_v2":
            storage, offset, size, stride, _requires_grad, _hooks, *metadata = args
            return self._tensor(storage, offset, size, stride, None, metadata[0] if metadata else None)
        storage, offset, size, stride, _requires_grad, _hooks, dtype, *metadata = args
        if not isinstance(dtype, _Global) or dtype.kind != "dtype":
            raise self._corrupt("a tensor names no dtype")
        return self._tensor(storage, offset, size, stride, dtype.value, metadata[0] if metadata else None)

    def _parameter(self, data: Any, *_rest: Any) -> TensorRef:
        if not isinstance(data, TensorRef):
            raise self._corrupt("a Parameter wraps something that is not a tensor")
        return data

    def _ints(self, seq: Any, what: str) -> tuple[int, ...]:
        if not isinstance(seq, (tuple, list)) or len(seq) > MAX_NDIM or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in seq):
            raise InputError(f"{self.where}: {what} is not a list of at most {MAX_NDIM} non-negative integers "
                             "(corrupt or crafted file).")
        return tuple(seq)

    def _tensor(self, storage: Any, offset: Any, size: Any, stride: Any, dtype: str | None,
                metadata: Any) -> TensorRef:
        if not isinstance(storage, Storage):
            raise self._corrupt("a tensor has no storage")
        (offset,) = self._ints((offset,), "a tensor's storage offset")
        shape, strides = self._ints(size, "a tensor's shape"), self._ints(stride, "a tensor's strides")
        if len(strides) != len(shape):
            raise self._corrupt("a tensor's strides do not match its shape")
        if metadata is not None and not isinstance(metadata, dict):
            raise self._corrupt("a tensor's metadata is not a dict")
        self.tensors += 1
        if self.tensors > self.limits.max_tensors:
            raise too_many_tensors(self.where, self.limits)
        return TensorRef(storage, offset, shape, strides, dtype or storage.dtype,
                         bool(metadata and metadata.get("neg")))

    def _storage(self, pid: Any) -> Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] in ("storage", b"storage")):
            raise self._corrupt("a persistent id is not a storage")
        _tag, kind, key, _location, numel = pid
        if isinstance(key, bytes):
            key = key.decode("ascii")
        if not (isinstance(kind, _Global) and kind.kind == "storage" and isinstance(key, str)
                and len(key) <= _MAX_STORAGE_KEY and isinstance(numel, int) and not isinstance(numel, bool)
                and numel >= 0):
            raise self._corrupt("a storage is described with unexpected fields")
        # as in torch.load, the first description of a key is the one that counts
        return self.storages.setdefault(key, Storage(key, kind.value, numel))


# --------------------------------------------------------------------------- flattening

def flatten(root: Any, where: str, limits: Limits) -> list[tuple[str, TensorRef]]:
    """(dotted name, tensor) in depth-first order; each container is entered once (shared ones: first path)."""
    out: list[tuple[str, TensorRef]] = []
    seen: set[int] = set()
    pending: list[tuple[str, Any, Any]] = [("", None, root)]
    while pending:
        prefix, key, obj = pending.pop()
        name = prefix if key is None else (f"{prefix}.{key}" if prefix else str(key))
        check_name(where, name)
        if isinstance(obj, TensorRef):
            out.append((name or "tensor", obj))
            if len(out) > limits.max_tensors:
                raise too_many_tensors(where, limits)
            continue
        if not isinstance(obj, (dict, list, tuple)) or id(obj) in seen:
            continue
        seen.add(id(obj))
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        children = [(name, k, v) for k, v in items if isinstance(v, (TensorRef, dict, list, tuple))]
        pending.extend(reversed(children))
    return out
