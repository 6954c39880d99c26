"""Models built from ``module:callable`` targets as ``TensorSource``s: ``kaiming diff``'s other kind of input.

Building a model RUNS USER CODE (``io/target.py``, as ``kaiming audit`` does; docs/diff.md says so). On request the
model is built on the meta device, materialized with ``to_empty()`` (memory that holds whatever it held) and
initialized by a named function: the recipe of large-model pretraining scripts, whose mistakes ``diff`` finds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..errors import InputError
from .memory import array_source
from .sources import TensorSource
from .target import _user_code, build_model, load_callable, parse_target

DEVICES = ("cpu", "meta")


def is_target(text: str) -> bool:
    """``pkg.mod:build`` or ``file.py:build`` rather than a path: it has a colon and names no existing file."""
    return ":" in text and not os.path.exists(text)


def state_sources(model: Any, file: str = "<memory>") -> list[TensorSource]:
    """Every entry of the model's ``state_dict`` (parameters and buffers, torch order), as in a saved file."""
    if not hasattr(model, "state_dict"):
        raise InputError(f"{file}: a {type(model).__name__} has no state_dict(); give a torch.nn.Module.")
    return named_sources(model.state_dict().items(), file)


def named_sources(named: Iterable[tuple[str, Any]], file: str) -> list[TensorSource]:
    out = []
    for name, tensor in named:
        source = array_source(tensor, name)
        out.append(TensorSource(file, source.name, source.shape, source.dtype, source.open,
                                forkable=source.forkable))
    return out


def init_model(model: Any, init: str, seed: int) -> None:
    """Run the named init: a method of the model (``init_weights``, ``reset_parameters``) or ``module:function``
    called with the model; under ``torch.manual_seed(seed)``."""
    import torch

    torch.manual_seed(seed)
    if ":" in init:
        fn = load_callable(parse_target(init))
        with _user_code(f"{init}(model)"):
            fn(model)
        return
    method = getattr(model, init, None)
    if not callable(method):
        raise InputError(f"the model has no method {init!r}: name one (init_weights) or a module:function that "
                         "takes the model.")
    with _user_code(f"model.{init}()"):
        method()


def built_model(target: str, *, seed: int = 0, device: str = "cpu", init: str | None = None) -> Any:
    """The model ``target`` builds under ``seed``; on ``device="meta"`` then ``to_empty(device="cpu")``."""
    if device not in DEVICES:
        raise InputError(f"device {device!r}: use one of {', '.join(DEVICES)}.")
    if device == "meta":
        import torch

        with torch.device("meta"):
            model = build_model(target, seed=seed)
        model = model.to_empty(device="cpu")
    else:
        model = build_model(target, seed=seed)
    if init is not None:
        init_model(model, init, seed)
    return model


def target_sources(target: str, *, seed: int = 0, device: str = "cpu", init: str | None = None
                   ) -> list[TensorSource]:
    """The state of the model ``target`` builds, named ``target`` in reports."""
    return state_sources(built_model(target, seed=seed, device=device, init=init), target)
