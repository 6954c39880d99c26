"""Sampling with the real PyTorch, Keras 3 and JAX initializers (``kaiming check --backend torch|keras|jax``).

Each backend makes the call ``theory/backend_calls.py`` chose, on a float32 tensor of the spec's shape, seeded as
a user would seed it: torch with ``torch.Generator().manual_seed(seed)``, Keras with ``seed=seed`` (an int, as the
initializer takes it), JAX with ``jax.random.key(seed)``. The first draw is bit for bit what that call returns.
When more values are asked for than the tensor holds, the call is repeated: torch on the same generator, Keras
with ``seed + k``, JAX with ``jax.random.fold_in(key, k)`` for the k-th repeat. A framework is imported here only,
when it is the chosen backend.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from ..theory.backend_calls import EXTRA, LABEL, BackendCall, NoExactCall, backend_call, native_library
from ..theory.spec import InitSpec
from .stream import Producer

#: jax.nn.initializers members that are initializers, not factories of one.
JAX_DIRECT = ("zeros", "ones")
#: The k-th whole tensor of a call, flattened, float32.
Drawer = Callable[[int], np.ndarray]


def import_framework(backend: str) -> Any:
    """The framework's module; ``InputError`` (exit 3) with the install hint when it is missing or broken."""
    from ..about import install_hint

    try:
        return importlib.import_module(backend)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or backend
        if backend == "keras" and missing.split(".")[0] != "keras":
            raise InputError(f"--backend keras: Keras is installed but its backend ({missing}) is not: set "
                             "KERAS_BACKEND to an installed one (jax, torch, numpy) or install it.") from None
        raise InputError(f"--backend {backend} needs {LABEL[backend]} ({missing} is not installed); install it "
                         f"with: {install_hint(EXTRA[backend])}") from None
    except Exception as exc:  # noqa: BLE001  keras without a usable KERAS_BACKEND raises what its backend raises
        raise InputError(f"--backend {backend}: {LABEL[backend]} is installed but fails to import "
                         f"({type(exc).__name__}); fix its installation or use --backend numpy.") from None


def _installed(backend: str) -> bool:
    """Is the framework there to import (without importing it)?"""
    import importlib.util

    return importlib.util.find_spec(backend) is not None


def choose_backend(spec: InitSpec, requested: str | None,
                   installed: Callable[[str], bool] = _installed) -> tuple[str, str]:
    """(backend, why): the one asked for, else the call's own framework when it is installed and has an exact
    call for this spec, else numpy. Imports the framework only when it is chosen (``InputError`` if it was asked
    for and cannot be imported; a default that cannot be imported falls back to numpy)."""
    if requested == "numpy":
        return "numpy", "numpy (asked for): a self-test of the formula, not of a framework's own sampler"
    if requested is not None:
        if requested != "torch" or spec.init is not None:  # the mode options on torch: torch_backend.py
            backend_call(spec, requested)
        import_framework(requested)
        return requested, f"{requested} (asked for with --backend)"
    native = native_library(spec)
    fallback = (f"numpy: a self-test of the formula; install kaiming[{EXTRA[native]}] to sample with "
                f"{LABEL[native]} itself")
    if not installed(native):
        from ..about import install_hint

        return "numpy", f"{fallback} ({install_hint(EXTRA[native])})"
    try:
        if spec.init is not None:
            backend_call(spec, native)
        import_framework(native)
    except NoExactCall as exc:
        return "numpy", f"numpy: {exc}".rstrip(".") + "."
    except InputError as exc:
        return "numpy", f"numpy: a self-test of the formula ({exc})"
    return native, f"{native}: the library of this call, installed (--backend numpy: the self-test of the formula)"


def drawer(call: BackendCall, shape: tuple[int, ...], seed: int) -> tuple[Drawer, str]:
    """The drawer of ``call`` on a float32 tensor of ``shape``, and what it does in words (``backend_info``)."""
    make = {"torch": _torch, "keras": _keras, "jax": _jax}[call.library]
    draw, info = make(call, shape, seed)
    if call.translated_from is not None:
        info += f" (the exact equivalent of {call.translated_from})"
    return draw, info


def _torch(call: BackendCall, shape: tuple[int, ...], seed: int) -> tuple[Drawer, str]:
    torch = import_framework("torch")
    function = getattr(torch.nn.init, call.name)
    seeded = "generator" in inspect.signature(function).parameters  # eye_, dirac_, constant_ draw nothing
    generator = torch.Generator().manual_seed(seed)
    weight = torch.empty(shape, dtype=torch.float32)
    extra = {"generator": generator} if seeded else {}
    # sparse_ draws its zeros with torch.randperm on the global generator: seed that one too, in a fork of it
    # (the caller's global state is left alone), and carry its state from one call to the next
    global_state: dict[str, Any] = {"rng": None}

    def draw(_k: int) -> np.ndarray:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            if global_state["rng"] is None:
                torch.manual_seed(seed)
            else:
                torch.set_rng_state(global_state["rng"])
            function(weight, **call.args, **extra)
            global_state["rng"] = torch.get_rng_state()
        out: np.ndarray = weight.reshape(-1).numpy()  # a view: the next call overwrites it (read in order)
        return out

    on = f"w = torch.empty({', '.join(map(str, shape))})"
    with_seed = f" with generator=torch.Generator().manual_seed({seed})" if seeded else ""
    if call.name == "sparse_":
        with_seed += f" after torch.manual_seed({seed}) (its zeros come from the global generator)"
    return draw, f"torch {torch.__version__}: {on}; {call.text()}{with_seed}"


def _keras(call: BackendCall, shape: tuple[int, ...], seed: int) -> tuple[Drawer, str]:
    keras = import_framework("keras")
    cls = getattr(keras.initializers, call.name)
    seeded = "seed" in inspect.signature(cls.__init__).parameters

    def draw(k: int) -> np.ndarray:
        initializer = cls(**call.args, **({"seed": seed + k} if seeded else {}))
        values = keras.ops.convert_to_numpy(initializer(shape, dtype="float32"))
        return np.asarray(values, dtype=np.float32).reshape(-1)

    args = ", ".join([*(f"{k}={v!r}" for k, v in call.args.items()), *([f"seed={seed}"] if seeded else [])])
    text = f"keras.initializers.{call.name}({args})(shape={tuple(shape)}, dtype='float32')"
    return draw, f"keras {keras.__version__} (backend {keras.backend.backend()}): {text}"


def _jax(call: BackendCall, shape: tuple[int, ...], seed: int) -> tuple[Drawer, str]:
    jax = import_framework("jax")
    import jax.numpy as jnp

    factory = getattr(jax.nn.initializers, call.name)
    direct = call.name in JAX_DIRECT  # zeros and ones are initializers themselves, not factories
    initializer = factory if direct else factory(**call.args)
    key = jax.random.key(seed)

    def draw(k: int) -> np.ndarray:
        values = initializer(key if k == 0 else jax.random.fold_in(key, k), shape, jnp.float32)
        return np.asarray(values, dtype=np.float32).reshape(-1)

    args = "" if direct else "(" + ", ".join(f"{k}={v!r}" for k, v in call.args.items()) + ")"
    text = f"jax.nn.initializers.{call.name}{args}(jax.random.key({seed}), {tuple(shape)}, jnp.float32)"
    return draw, f"jax {jax.__version__}: {text}"


def repeated(draw: Drawer, size: int) -> Producer:
    """A sequential producer (run it with one job) of values from repeated calls, ``size`` values each."""
    state: dict[str, Any] = {"draw": -1, "flat": np.empty(0, dtype=np.float32)}

    def flat_of(k: int) -> np.ndarray:
        if state["draw"] != k:
            if k != state["draw"] + 1:
                raise RuntimeError("a framework producer must be read in order")
            state["draw"], state["flat"] = k, draw(k)
        flat: np.ndarray = state["flat"]
        return flat

    def produce(_i: int, start: int, stop: int) -> np.ndarray:
        out = np.empty(stop - start, dtype=np.float32)
        pos = start
        while pos < stop:
            k, offset = divmod(pos, size)
            take = min(stop - pos, size - offset)
            out[pos - start : pos - start + take] = flat_of(k)[offset : offset + take]
            pos += take
        return out

    return produce
