"""Init calls as users write them: the parser of PyTorch, Keras 3 and JAX initializer calls, and of torch's
module defaults.

``parse_init_call("nn.init.trunc_normal_(m.weight, std=0.02)")`` reads the expression with ``ast`` (never
``eval``) into an ``InitCall``; ``InitCall.resolve(shape)`` gives the exact ``LawSpec`` that call draws from for a
tensor of that shape, with the fans it used. The grammar (names, prefixes, arguments, the arithmetic allowed in
them) lives here; each library's initializers, their parameters and laws are its tables in
``theory/initializers.py``, so a new initializer never touches the parser. Standard-library only: ``kaiming std
--init`` stays a lookup.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field

from .fans import compute_fans, format_shape
from .gains import gain as torch_gain
from .initializers import (
    _IGNORED,
    _REQUIRED,
    DEFAULT,
    DEFAULT_SIGNATURE,
    IMPLIED_LAYOUT,
    JAX,
    JAX_NAMES,
    JAX_SIGNATURES,
    KERAS,
    KERAS_NAMES,
    KERAS_SIGNATURES,
    LIBRARY_PREFIX,
    TORCH,
    TORCH_SIGNATURES,
    Context,
    Resolved,
    Signature,
    Value,
    _Missing,
)

#: Longest init call accepted, in characters (real ones are under 100).
MAX_CALL_CHARS = 500
#: Most syntax-tree nodes in one call.
MAX_NODES = 200

_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("torch.nn.init.", (TORCH,)), ("nn.init.", (TORCH,)), ("init.", (TORCH,)),
    ("tf.keras.initializers.", (KERAS,)), ("keras.src.initializers.", (KERAS,)), ("keras.initializers.", (KERAS,)),
    ("jax.nn.initializers.", (JAX,)), ("flax.linen.initializers.", (JAX,)), ("flax.nnx.initializers.", (JAX,)),
    ("linen.initializers.", (JAX,)), ("nnx.initializers.", (JAX,)), ("nn.initializers.", (JAX,)),
    ("initializers.", (KERAS, JAX)),
)


# --------------------------------------------------------------------------- a name, in the libraries' tables

def _torch_name(name: str) -> str | None:
    """torch's name with the trailing underscore (the deprecated aliases without it mean the same law)."""
    base = name[:-1] if name.endswith("_") else name
    full = base + "_"
    return full if full in TORCH_SIGNATURES else None


def _candidates(libraries: tuple[str, ...], name: str) -> list[Signature]:
    found: list[Signature] = []
    for library in libraries:
        if library == TORCH:
            torch_name = _torch_name(name)
            if torch_name:
                found.append(TORCH_SIGNATURES[torch_name])
        elif library == KERAS and name in KERAS_NAMES:
            found.append(KERAS_SIGNATURES[KERAS_NAMES[name]])
        elif library == JAX and name in JAX_NAMES:
            found.append(JAX_SIGNATURES[JAX_NAMES[name]])
    return found


def _closest_name(libraries: tuple[str, ...], name: str) -> str | None:
    """The initializer name of these libraries closest to a misspelt one (``he_normall``), or None."""
    import difflib

    names: list[str] = []
    for library in libraries:
        names += list(TORCH_SIGNATURES) if library == TORCH else list(KERAS_NAMES) if library == KERAS \
            else list(JAX_NAMES)
    close = difflib.get_close_matches(name, list(dict.fromkeys(names)), n=1, cutoff=0.8)
    return close[0] if close else None


# --------------------------------------------------------------------------- the expression grammar

class _Reject(ValueError):
    pass


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _reject(node: ast.AST, what: str) -> _Reject:
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):
        text = type(node).__name__
    return _Reject(f"{what} {_shown(text)}")


_GAIN_FUNCS = {"calculate_gain", "torch.nn.init.calculate_gain", "nn.init.calculate_gain", "init.calculate_gain"}
_SQRT_FUNCS = {"sqrt", "math.sqrt", "np.sqrt", "numpy.sqrt"}
_CONSTS = {"math.pi": math.pi, "math.e": math.e, "pi": math.pi}
_FANS = ("fan_in", "fan_out")


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def evaluate(node: ast.AST, fans: dict[str, float] | None) -> Value:
    """The value of one argument: numbers (as float), strings, None, tuples/lists of those; arithmetic; sqrt;
    calculate_gain; the names fan_in/fan_out (``fans`` None: they are not known yet, raises ``_Missing``)."""
    try:
        return _eval(node, fans)
    except (OverflowError, ZeroDivisionError) as exc:
        raise ValueError(f"{_shown(ast.unparse(node))} cannot be computed ({exc}): give a finite number.") from None


def _eval(node: ast.AST, fans: dict[str, float] | None) -> Value:
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)):
            return _finite(float(v), node)
        raise _reject(node, "unsupported constant")
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval(e, fans) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _number(_eval(node.operand, fans), node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        return _finite(_binop(node, fans), node)
    name = dotted(node)
    if name is not None:
        if name in _FANS:
            if fans is None or name not in fans:
                raise _Missing(f"{name} is used in the call but the tensor's {name} is unknown: give a shape of 2 "
                               f"or more dimensions or --{name.replace('_', '-')}.")
            return float(fans[name])
        if name in _CONSTS:
            return _CONSTS[name]
        raise _reject(node, "unsupported name")
    if isinstance(node, ast.Call) and not any(isinstance(k.value, ast.Starred) for k in node.keywords):
        func = dotted(node.func)
        args = [_eval(a, fans) for a in node.args]
        kwargs = {k.arg: _eval(k.value, fans) for k in node.keywords if k.arg is not None}
        if func in _SQRT_FUNCS and len(args) == 1 and not kwargs:
            x = _number(args[0], node.args[0])
            if x < 0:
                raise _reject(node, "square root of a negative number:")
            return math.sqrt(x)
        if func in _GAIN_FUNCS:
            return _calculate_gain(node, args, kwargs)
    raise _reject(node, "unsupported expression")


def _finite(v: float, node: ast.AST) -> float:
    if not math.isfinite(v):
        raise _reject(node, "a number that is not finite:")
    return v


def _binop(node: ast.BinOp, fans: dict[str, float] | None) -> float:
    left = _number(_eval(node.left, fans), node.left)
    right = _number(_eval(node.right, fans), node.right)
    op = node.op
    if isinstance(op, ast.Add):
        return left + right
    if isinstance(op, ast.Sub):
        return left - right
    if isinstance(op, ast.Mult):
        return left * right
    if isinstance(op, ast.Div):
        return left / right
    if isinstance(op, ast.Pow):
        result = left ** right
        if isinstance(result, complex):
            raise _reject(node, "a complex power")
        return float(result)
    raise _reject(node, "unsupported operator in")


def _number(v: Value, node: ast.AST) -> float:
    if isinstance(v, bool) or not isinstance(v, float):
        raise _reject(node, "not a number:")
    return v


def _calculate_gain(node: ast.AST, args: list[Value], kwargs: dict[str, Value]) -> float:
    names = ("nonlinearity", "param")
    if len(args) > 2 or set(kwargs) - set(names):
        raise _reject(node, "calculate_gain takes (nonlinearity, param=None), not")
    bound = dict(zip(names, args, strict=False)) | kwargs
    nl = bound.get("nonlinearity")
    if not isinstance(nl, str):
        raise _reject(node, "calculate_gain needs a nonlinearity name, not")
    param = bound.get("param")
    if param is not None and not isinstance(param, float):
        raise _reject(node, "calculate_gain's param must be a number, not")
    return torch_gain(nl, param)  # None: leaky_relu's 0.01, as calculate_gain does


# --------------------------------------------------------------------------- the parsed call

@dataclass(frozen=True)
class InitCall:
    """A parsed init call: which initializer, with which arguments (still expressions where they use fans)."""

    signature: Signature
    given: tuple[tuple[str, ast.expr], ...]
    """The arguments the user gave, by parameter name, in the signature's order (ignored ones dropped)."""
    source: str = field(compare=False)

    @property
    def library(self) -> str:
        return self.signature.library

    @property
    def implied_layout(self) -> str:
        return IMPLIED_LAYOUT[self.library]

    @property
    def text(self) -> str:
        """The canonical call: the full library name and every given argument by keyword."""
        if self.library == DEFAULT:
            inner = ", ".join(_canonical_value(v) if k == "module" else f"{k}={_canonical_value(v)}"
                              for k, v in self.given)
            return f"default({inner})"
        inner = ", ".join(f"{k}={_canonical_value(v)}" for k, v in self.given)
        return f"{self.signature.text()}({inner})"

    @property
    def name(self) -> str:
        """The initializer's own name in its library (``kaiming_normal_``, ``HeNormal``, ``he_normal``)."""
        return self.signature.name

    def arguments(self, shape: tuple[int, ...], layout: str | None = None, fan_in: float | None = None,
                  fan_out: float | None = None) -> dict[str, Value]:
        """Every argument the library's initializer takes (``seed``/``generator``/``dtype`` left out), the user's
        values evaluated on this shape's fans and the library's defaults elsewhere, by the library's parameter
        names: what a backend passes to the real initializer. Axes and counts that are whole numbers are ints.
        ``ValueError`` with a user-facing message (a required argument missing, a fan unknown)."""
        _ctx, args = self._bound(shape, layout or self.implied_layout, fan_in, fan_out)
        return {k: _library_value(k, v) for k, v in args.items()}

    def uses_fans(self) -> bool:
        return any(isinstance(n, ast.Name) and n.id in _FANS for _k, v in self.given for n in ast.walk(v))

    def resolve(self, shape: tuple[int, ...], layout: str | None = None, fan_in: float | None = None,
                fan_out: float | None = None) -> Resolved:
        """The exact law of this call on a tensor of ``shape``; ``ValueError`` with a user-facing message."""
        layout = layout or self.implied_layout
        ctx, args = self._bound(shape, layout, fan_in, fan_out)
        if self.signature.fans != "none" and self.library != DEFAULT:
            ctx = self._context(shape, layout, fan_in, fan_out, args)
        return self.signature.build(args, ctx)

    def _bound(self, shape: tuple[int, ...], layout: str, fan_in: float | None, fan_out: float | None
               ) -> tuple[Context, dict[str, Value]]:
        """(context, every argument): the library's defaults, then the user's values evaluated on this shape's
        fans; ``ValueError`` when a required argument is missing."""
        ctx = self._context(shape, layout, fan_in, fan_out)
        fans = {k: v for k, v in (("fan_in", ctx.fan_in), ("fan_out", ctx.fan_out)) if v is not None}
        args: dict[str, Value] = {name: default for name, default in self.signature.params if default is not _IGNORED}
        for name, node in self.given:
            args[name] = evaluate(node, fans)
        missing = [k for k, v in args.items() if v is _REQUIRED]
        if missing:
            raise ValueError(f"{self.signature.text()} needs the argument {missing[0]!r}.")
        return ctx, args

    def _context(self, shape: tuple[int, ...], layout: str, fan_in: float | None, fan_out: float | None,
                 args: dict[str, Value] | None = None) -> Context:
        computed = _library_fans(self.signature, shape, layout, args or {})
        fi, fo, rf, why = computed
        return Context(shape=tuple(shape), layout=layout, fan_in=fan_in if fan_in is not None else fi,
                       fan_out=fan_out if fan_out is not None else fo,
                       receptive_field=None if fan_in is not None and fan_out is not None else rf, missing=why)


#: Parameters the libraries need as ints (axes, group counts); the grammar reads every number as a float.
INTEGER_PARAMS = frozenset({"groups", "in_axis", "out_axis", "batch_axis", "column_axis", "input_axes",
                            "output_axes", "hidden_size"})


def _library_value(name: str, value: Value) -> Value:
    if name not in INTEGER_PARAMS:
        return value
    if isinstance(value, tuple):
        return tuple(_library_value(name, v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _canonical_value(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, float):
        return repr(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, float):
        return repr(-node.operand.value)
    return ast.unparse(node)


def _axes(value: Value, shape: tuple[int, ...], key: str) -> tuple[int, ...]:
    items = value if isinstance(value, tuple) else (value,)
    out = []
    for item in items:
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or not -len(shape) <= item < len(shape):
            raise ValueError(f"{key} = {value!r} is not an axis (or axes) of shape {format_shape(shape)}.")
        out.append(item)
    return tuple(out)


def _library_fans(sig: Signature, shape: tuple[int, ...], layout: str, args: dict[str, Value]
                  ) -> tuple[float | None, float | None, int | None, str]:
    """(fan_in, fan_out, receptive field, why-missing) as the library computes them for this layout."""
    rule = sig.fans
    if rule == "none":  # a law without fans may still name fan_in/fan_out in its arguments: the library's rule
        rule = {TORCH: "torch", KERAS: "keras", JAX: "jax", DEFAULT: "torch"}[sig.library]
    if rule == "keras" and args.get("input_axes") is not None and args.get("output_axes") is not None:
        fi = math.prod(shape[a] for a in _axes(args["input_axes"], shape, "input_axes"))
        fo = math.prod(shape[a] for a in _axes(args["output_axes"], shape, "output_axes"))
        return float(fi), float(fo), None, ""
    if rule == "jax" and any(args.get(k, d) != d for k, d in (("in_axis", -2), ("out_axis", -1), ("batch_axis", ()))):
        ins = _axes(args["in_axis"], shape, "in_axis")
        outs = _axes(args["out_axis"], shape, "out_axis")
        batch = _axes(args["batch_axis"], shape, "batch_axis")
        in_size = math.prod(shape[a] for a in ins)
        out_size = math.prod(shape[a] for a in outs)
        rf = math.prod(shape) / in_size / out_size / math.prod(shape[a] for a in batch)  # jax _compute_fans
        return in_size * rf, out_size * rf, None, ""
    if rule == "torch" and layout in ("torch", "torch-transpose"):
        layout = "torch"  # torch computes fans the same way whatever the weight means
    elif layout not in ("torch", "torch-transpose"):
        layout = "keras" if rule == "keras" else "jax"
    if len(shape) < (1 if layout == "keras" else 2):
        return None, None, None, (f"the fans of the 1-D shape {format_shape(shape)} are unknown under the {layout} "
                                  "rule: give --fan-in and --fan-out (fan_in/fan_out in a rule).")
    fans = compute_fans(shape, layout)
    return float(fans.fan_in), float(fans.fan_out), fans.receptive_field, ""


def _split_name(node: ast.AST) -> tuple[tuple[str, ...], str, str]:
    """(libraries to try, bare name, the prefix written) for a function reference."""
    name = dotted(node)
    if name is None:
        raise _reject(node, "unsupported initializer")
    for prefix, libraries in _PREFIXES:
        if name.startswith(prefix) and "." not in name[len(prefix):]:
            return libraries, name[len(prefix):], prefix
    if "." in name:
        raise _Reject(f"unknown prefix in {_shown(name)}: write torch.nn.init., nn.init., keras.initializers., "
                      "jax.nn.initializers. or nn.initializers. (or no prefix).")
    if name == "default":
        return (DEFAULT,), name, ""
    if name.endswith("_"):
        return (TORCH,), name, ""
    if name[:1].isupper():
        return (KERAS,), name, ""
    return (TORCH, JAX, KERAS), name, ""


def _is_tensor_arg(node: ast.expr) -> bool:
    """``m.weight``, ``w``, ``self.fc.weight.data``, ``layer.weight[0]``: what a user passes as the tensor."""
    if isinstance(node, ast.Subscript):
        return _is_tensor_arg(node.value)
    name = dotted(node)
    return name is not None and name not in _FANS and name not in _CONSTS


def _bind(sig: Signature, args: list[ast.expr], keywords: list[ast.keyword]) -> tuple[tuple[str, ast.expr], ...]:
    """The user's arguments by parameter name; ``_Reject`` naming the first that does not fit."""
    if sig.library == TORCH:
        if args and _is_tensor_arg(args[0]):
            args = args[1:]
        keywords = [k for k in keywords if k.arg != "tensor"]
    names = [n for n, _d in sig.params]
    shown_params = ", ".join(n for n, d in sig.params if d is not _IGNORED) or "no arguments"
    if len(args) > len(names):
        raise _reject(args[len(names)], f"{sig.text()} takes ({shown_params}); extra argument")
    bound: dict[str, ast.expr] = dict(zip(names, args, strict=False))
    for k in keywords:
        if k.arg is None:
            raise _Reject(f"**kwargs is not supported in {sig.text()}: write the arguments out.")
        if k.arg not in names:
            raise _Reject(f"{sig.text()} has no argument {k.arg!r}; it takes ({shown_params}).")
        if k.arg in bound:
            raise _Reject(f"{sig.text()} got {k.arg!r} twice.")
        bound[k.arg] = k.value
    ignored = {n for n, d in sig.params if d is _IGNORED}
    return tuple((n, bound[n]) for n in names if n in bound and n not in ignored)


def _check_args(given: tuple[tuple[str, ast.expr], ...]) -> None:
    """Every argument must be in the grammar now (fans may be unknown until a shape comes)."""
    for _name, node in given:
        if any(isinstance(n, ast.Name) and n.id in _FANS for n in ast.walk(node)):
            try:
                evaluate(node, {"fan_in": 1.0, "fan_out": 1.0})
            except _Reject:
                raise
            except ValueError:  # an error that depends on the fans (sqrt(fan_in - 2)) waits for the shape
                pass
        else:
            try:
                evaluate(node, None)
            except _Reject:
                raise
            except ValueError as exc:
                raise _Reject(str(exc).rstrip(".")) from None


def parse_init_call(text: str) -> InitCall:
    """Parse an init call; ``ValueError`` (one line, naming the unsupported token and the fix) otherwise."""
    if not isinstance(text, str):
        raise ValueError("an init call must be a string such as \"trunc_normal_(std=0.02)\", not "
                         f"{type(text).__name__}.")
    source = text.strip()
    if not source:
        raise ValueError("the init call is empty: write one such as \"kaiming_normal_(mode='fan_out', "
                         "nonlinearity='relu')\".")
    if len(source) > MAX_CALL_CHARS:
        raise ValueError(f"the init call has {len(source)} characters: at most {MAX_CALL_CHARS} are read.")
    try:
        return _parse(source)
    except _Reject as exc:
        reason = str(exc).rstrip(".")
        raise ValueError(f"init call {_shown(source)}: {reason}; see docs/cli.md \"Init calls\" for the grammar."
                         ) from None
    except _Missing as exc:
        raise ValueError(str(exc)) from None


def _parse(source: str) -> InitCall:
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) else "too deeply nested"
        raise _Reject(f"not a Python expression ({detail})") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise _Reject(f"more than {MAX_NODES} syntax nodes")
    node = tree.body
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a Keras string identifier
        name = KERAS_NAMES.get(node.value)
        if name is None:
            raise _Reject(f"unknown Keras initializer identifier {node.value!r}")
        return InitCall(KERAS_SIGNATURES[name], (), source)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Call):
            raise _reject(node, "call the initializer by its name and arguments only (drop the (key, shape) call):")
        libraries, name, prefix = _split_name(node.func)
        args, keywords = list(node.args), list(node.keywords)
        if any(isinstance(a, ast.Starred) for a in args):
            raise _Reject("*args is not supported: write the arguments out")
    else:
        libraries, name, prefix = _split_name(node)
        args, keywords = [], []
    if libraries == (DEFAULT,):
        given = _bind(DEFAULT_SIGNATURE, args, keywords)
        _check_args(given)
        return InitCall(DEFAULT_SIGNATURE, given, source)
    candidates = _candidates(libraries, name)
    if not candidates:
        where = " or ".join(LIBRARY_PREFIX[lib].rstrip(".") for lib in libraries)
        close = _closest_name(libraries, name)
        hint = f"; did you mean {prefix + close!r}?" if close else ""
        raise _Reject(f"unknown initializer {prefix + name!r} (not in {where}{hint})")
    first_error: _Reject | None = None
    for sig in candidates:
        try:
            given = _bind(sig, args, keywords)
        except _Reject as exc:
            first_error = first_error or exc
            continue
        _check_args(given)
        return InitCall(sig, given, source)
    assert first_error is not None
    raise first_error
