"""``kaiming audit TARGET``: build the user's model. THIS MODULE RUNS THE USER'S OWN CODE.

Every other reader in ``io/`` refuses to run code from a file (docs/security.md). This one exists to do exactly
that: ``TARGET`` is ``package.module:callable`` or ``path/to/file.py:callable``, and building the model means
importing that module and calling that callable, as ``python -c "from m import f; f()"`` would. It is only ever
reached from ``kaiming audit`` and ``kaiming_cli.api.audit``; never point it at code you would not run.

Every failure of the user's code (a missing module or callable, an exception or ``sys.exit`` in the module or
the constructor, a result that is not a model) becomes one ``InputError`` line (exit 3), never a traceback.
Whatever the user's code prints goes to stderr, so that ``-f json`` stays one document on stdout.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..errors import InputError

#: Longest ``--args`` JSON accepted (it is typed on a command line).
MAX_ARGS_JSON = 1 << 16


@dataclass(frozen=True)
class Target:
    """``TARGET`` split: where the code is (a module name or a ``.py`` path) and the callable's name."""

    module: str
    attribute: str
    is_file: bool

    @property
    def text(self) -> str:
        return f"{self.module}:{self.attribute}"


def parse_target(text: str) -> Target:
    """``pkg.mod:fn``, ``pkg.mod:Class`` or ``dir/file.py:fn`` (a dotted attribute path is allowed)."""
    module, sep, attribute = text.rpartition(":")
    if not sep or not module or not attribute:
        raise InputError(f"target {text!r} names no callable: write package.module:callable or "
                         "path/to/file.py:callable.")
    if not all(part.isidentifier() for part in attribute.split(".")):
        raise InputError(f"target {text!r}: {attribute!r} is not a Python name; write module:callable.")
    is_file = module.endswith(".py") or os.sep in module or "/" in module
    if not is_file and not all(part.isidentifier() for part in module.split(".")):
        raise InputError(f"target {text!r}: {module!r} is neither a module name nor a .py file.")
    return Target(module, attribute, is_file)


def parse_args_json(text: str | None) -> dict[str, Any]:
    """``--args '{"num_classes": 10}'``: keyword arguments for the callable, as a JSON object."""
    if text is None:
        return {}
    if len(text) > MAX_ARGS_JSON:
        raise InputError(f"--args is longer than {MAX_ARGS_JSON} characters.")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InputError(f"--args is not JSON ({exc}); write an object such as '{{\"depth\": 18}}'.") from None
    if not isinstance(value, dict):
        raise InputError("--args must be a JSON object of keyword arguments, such as '{\"depth\": 18}'.")
    return value


@contextlib.contextmanager
def _user_code(what: str) -> Any:
    """Run user code: its stdout goes to stderr, and any failure is one InputError line naming ``what``."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except InputError:
        raise
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        raise InputError(f"{what} called sys.exit({exc.code!r}).") from None
    except BaseException as exc:  # noqa: B036 - the user's code may raise anything; it is reported in one line
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError(f"{what} raised {type(exc).__name__}" + (f": {detail}" if detail else "") +
                         " (run it in Python to see the traceback).") from None


def _import_file(path: str) -> ModuleType:
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file; TARGET is package.module:callable or path/to/file.py:callable.")
    name = "kaiming_audit_target_" + "".join(ch if ch.isalnum() else "_" for ch in os.path.abspath(path))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot be imported as Python source (it must end in .py).")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)  # the file's own sibling imports work, as with `python file.py`
    try:
        with _user_code(f"importing {path}"):
            spec.loader.exec_module(module)
    except InputError:
        sys.modules.pop(name, None)
        raise
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    return module


def _import_module(name: str) -> ModuleType:
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: modules of the working directory are found
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    except Exception as exc:  # a parent package's __init__ raised
        raise InputError(f"importing {name} raised {type(exc).__name__}: {exc}") from None
    if spec is None:
        raise InputError(f"no module named {name!r}: install it, run from its folder, or give path/to/file.py:"
                         "callable.")
    with _user_code(f"importing {name}"):
        return importlib.import_module(name)


def load_callable(target: Target) -> Any:
    """Import the module (running its top-level code) and find the callable."""
    module = _import_file(target.module) if target.is_file else _import_module(target.module)
    obj: Any = module
    for part in target.attribute.split("."):
        if not hasattr(obj, part):
            raise InputError(f"{target.module} has no attribute {target.attribute!r}: name a function or class "
                             "that builds the model.")
        obj = getattr(obj, part)
    return obj


def build_model(target_text: str, kwargs: dict[str, Any] | None = None, seed: int | None = 0) -> Any:
    """The model ``TARGET`` builds: imported, called with ``kwargs``, under ``torch.manual_seed(seed)`` when torch
    is importable (so that a second seed draws a second set of weights). Models that are already built (a
    module-level ``model = ...``) are returned as they are."""
    target = parse_target(target_text)
    factory = load_callable(target)
    if _is_model(factory):
        return factory
    if not callable(factory):
        raise InputError(f"{target.text} is a {type(factory).__name__}, not a callable that builds a model.")
    _seed_frameworks(seed)
    with _user_code(f"{target.text}()"):
        model = factory(**(kwargs or {}))
    if not _is_model(model):
        raise InputError(f"{target.text}() returned a {type(model).__name__}, not a torch.nn.Module or a "
                         "keras.Model.")
    return model


def _seed_frameworks(seed: int | None) -> None:
    if seed is None:
        return
    if "torch" in sys.modules or importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(seed)
    if "keras" in sys.modules:
        with contextlib.suppress(Exception):
            sys.modules["keras"].utils.set_random_seed(seed)


def model_kind(model: Any) -> str | None:
    """``torch`` for a ``torch.nn.Module``, ``keras`` for a ``keras.Model`` (or Layer), else None."""
    for cls in type(model).__mro__:
        mod = cls.__module__ or ""
        if cls.__name__ == "Module" and mod.startswith("torch.nn"):
            return "torch"
        if cls.__name__ in ("Model", "Layer") and (mod.startswith("keras") or mod.startswith("tf_keras")):
            return "keras"
    return None


def _is_model(obj: Any) -> bool:
    return not isinstance(obj, type) and model_kind(obj) is not None
