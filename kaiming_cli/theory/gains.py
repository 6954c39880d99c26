"""The gain registry: the single source of truth for every nonlinearity's gain.

Values follow ``torch.nn.init.calculate_gain`` (torch 2.13.0) exactly, including its types:
the "linear-like" names return the int 1 there, which we keep as 1.0. Standard-library only,
so the lookups never pay for numpy or scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .limits import slope_problem

#: Slope that ``calculate_gain('leaky_relu')`` uses when no param is given.
CALCULATE_GAIN_DEFAULT_SLOPE = 0.01
#: ``nn.Linear``/``nn.Conv*`` default: ``kaiming_uniform_(w, a=math.sqrt(5))``.
TORCH_DEFAULT_LAYER_SLOPE = math.sqrt(5.0)


@dataclass(frozen=True)
class GainSpec:
    """One nonlinearity as ``calculate_gain`` knows it."""

    name: str
    formula: str
    """Display form of the gain, e.g. ``sqrt(2 / (1 + a^2))``."""
    fn: Callable[[float], float]
    """Gain as a function of the negative slope (ignored except for leaky_relu)."""
    uses_slope: bool
    reference: str


def _const(value: float) -> Callable[[float], float]:
    return lambda _a: value


def _leaky(a: float) -> float:
    return math.sqrt(2.0 / (1 + a**2))


_LINEAR_REF = "torch calculate_gain"

GAINS: dict[str, GainSpec] = {
    spec.name: spec
    for spec in (
        GainSpec("linear", "1", _const(1.0), False, _LINEAR_REF),
        GainSpec("conv1d", "1", _const(1.0), False, _LINEAR_REF),
        GainSpec("conv2d", "1", _const(1.0), False, _LINEAR_REF),
        GainSpec("conv3d", "1", _const(1.0), False, _LINEAR_REF),
        GainSpec("conv_transpose1d", "1", _const(1.0), False, _LINEAR_REF),
        GainSpec("conv_transpose2d", "1", _const(1.0), False, _LINEAR_REF),
        GainSpec("conv_transpose3d", "1", _const(1.0), False, _LINEAR_REF),
        GainSpec("sigmoid", "1", _const(1.0), False, "torch calculate_gain"),
        GainSpec("tanh", "5/3", _const(5.0 / 3), False, "torch calculate_gain"),
        GainSpec("relu", "sqrt(2)", _const(math.sqrt(2.0)), False, "He et al. 2015 (10)"),
        GainSpec(
            "leaky_relu",
            "sqrt(2 / (1 + a^2))",
            _leaky,
            True,
            "He et al. 2015 (15)",
        ),
        GainSpec(
            "selu",
            "3/4",
            _const(3.0 / 4),
            False,
            "PyTorch PR #50664",
        ),
    )
}

NONLINEARITIES: tuple[str, ...] = tuple(GAINS)


def _key(name: str) -> str:
    """A spelling-insensitive key: ``LeakyReLU``, ``leaky-relu`` and ``leaky_relu`` are one name."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


#: Other spellings of the registered names: torch's module class names (``nn.LeakyReLU``, ``nn.Identity``,
#: ``nn.ConvTranspose2d``) and common abbreviations, keyed by ``_key``. Unregistered activations are not here.
ALIASES: dict[str, str] = {
    **{_key(n): n for n in GAINS},
    "lrelu": "leaky_relu", "leaky": "leaky_relu", "identity": "linear", "none": "linear", "sigm": "sigmoid",
}


@dataclass(frozen=True)
class Unregistered:
    """An activation that ``calculate_gain`` does not know: what people use for it, and why."""

    name: str
    advice: str
    nearest: str
    """The registered nonlinearity whose gain people use instead (the one to pass to ``--nonlinearity``)."""


_RELU_LIKE = ("{name} has no gain in torch.nn.init.calculate_gain. It behaves like ReLU for large inputs, "
              "so most code uses the ReLU gain sqrt(2) (kaiming_*_(nonlinearity='relu')); transformers "
              "often use normal_(std=0.02) whatever the activation. Check such a tensor with "
              "--nonlinearity relu, or --nonlinearity linear for gain 1.")
UNREGISTERED: dict[str, Unregistered] = {
    _key(u.name): u for u in (
        *(Unregistered(n, _RELU_LIKE.format(name=n), "relu")
          for n in ("gelu", "silu", "swish", "mish", "elu", "celu", "softplus", "hardswish", "relu6", "quick_gelu",
                    "gelu_new", "squared_relu")),
        Unregistered("prelu", "prelu has no gain in torch.nn.init.calculate_gain; its slope starts at 0.25 "
                     "(nn.PReLU), so the leaky-ReLU gain at that slope fits: --nonlinearity leaky_relu -a 0.25.",
                     "leaky_relu"),
        Unregistered("hardtanh", "hardtanh has no gain in torch.nn.init.calculate_gain; it is tanh's linear "
                     "piece, and code usually uses tanh's 5/3 or gain 1: --nonlinearity tanh or linear.", "tanh"),
        Unregistered("softsign", "softsign has no gain in torch.nn.init.calculate_gain; code usually uses "
                     "tanh's 5/3 (a similar saturating curve) or gain 1: --nonlinearity tanh or linear.", "tanh"),
        Unregistered("hardsigmoid", "hardsigmoid has no gain in torch.nn.init.calculate_gain; code uses the "
                     "sigmoid gain 1: --nonlinearity sigmoid (or linear).", "sigmoid"),
        *(Unregistered(n, f"{n} has no gain in torch.nn.init.calculate_gain; a layer that feeds a {n} is a head "
                       "and wants gain 1: --nonlinearity linear.", "linear")
          for n in ("softmax", "log_softmax", "logsoftmax")),
        Unregistered("glu", "glu has no gain in torch.nn.init.calculate_gain; it halves the width and gates it "
                     "with a sigmoid, and code usually uses gain 1: --nonlinearity linear.", "linear"),
    )
}


def canonical_nonlinearity(name: str) -> str | None:
    """The registered name for a spelling of it (``LeakyReLU``, ``lrelu``, ``Conv2d``), or None."""
    return ALIASES.get(_key(name))


def suggest_nonlinearity(name: str) -> str | None:
    """The registered name meant, for a did-you-mean hint: a spelling of it, or a close typo.

    Activations that ``calculate_gain`` lacks (gelu, silu, ...) get no suggestion here: a nearby
    spelling such as ``selu`` for ``gelu`` would be a harmful answer (``unregistered`` says what to do).
    """
    canonical = canonical_nonlinearity(name)
    if canonical is not None:
        return canonical
    if _key(name) in UNREGISTERED:
        return None
    import difflib  # only for a misspelt name

    close = difflib.get_close_matches(_key(name), list(ALIASES), n=1, cutoff=0.75)
    return ALIASES[close[0]] if close else None


def unregistered(name: str) -> Unregistered | None:
    """What is known about an activation that has no gain in torch, or None for a name nobody uses."""
    return UNREGISTERED.get(_key(name))


def unknown_nonlinearity_message(name: str) -> str:
    """One line: what to use for an activation torch has no gain for, or a did-you-mean, and the choices."""
    known = unregistered(name)
    if known is not None:
        return known.advice
    hint = suggest_nonlinearity(name)
    did_you_mean = f" Did you mean {hint!r}?" if hint else ""
    return (
        f"unknown nonlinearity {name!r}.{did_you_mean} "
        f"Choose one of: {', '.join(NONLINEARITIES)}."
    )


def validate_slope(a: float) -> None:
    """Reject slopes that cannot describe a leaky ReLU (NaN, infinite, or beyond ±MAX_SLOPE; negative is legal)."""
    problem = slope_problem(a)
    if problem is not None:
        raise ValueError(problem)


def gain(nonlinearity: str, negative_slope: float | None = None) -> float:
    """Gain as ``torch.nn.init.calculate_gain(nonlinearity, negative_slope)`` returns it.

    ``negative_slope=None`` means ``calculate_gain``'s own default of 0.01 for leaky_relu;
    ``kaiming_*_`` passes ``a=0`` instead, which callers must say explicitly.
    """
    canonical = canonical_nonlinearity(nonlinearity)
    if canonical is None:
        raise ValueError(unknown_nonlinearity_message(nonlinearity))
    spec = GAINS[canonical]
    a = CALCULATE_GAIN_DEFAULT_SLOPE if negative_slope is None else float(negative_slope)
    validate_slope(a)
    return spec.fn(a)


def variance_scale(nonlinearity: str, negative_slope: float) -> float:
    """``gain**2`` written exactly, the ``scale`` of Keras/JAX ``VarianceScaling`` (He: 2.0)."""
    if nonlinearity == "relu":
        return 2.0
    if nonlinearity == "leaky_relu":
        validate_slope(negative_slope)
        return 2.0 / (1 + negative_slope**2)
    return gain(nonlinearity) ** 2


@dataclass(frozen=True)
class GainEntry:
    """One row of ``kaiming gain``: a nonlinearity's gain at a slope, with its formula and source."""

    nonlinearity: str
    negative_slope: float | None
    """The slope used, or None where the nonlinearity has none."""
    gain: float
    formula: str
    reference: str

    def to_dict(self) -> dict[str, object]:
        return {"nonlinearity": self.nonlinearity, "negative_slope": self.negative_slope, "gain": self.gain,
                "formula": self.formula, "reference": self.reference}


@dataclass(frozen=True)
class GainTable:
    """What ``kaiming gain`` answers: one entry (a nonlinearity was named) or all, and notes on the slope."""

    entries: tuple[GainEntry, ...]
    notes: tuple[str, ...]
    single: bool


def gain_table(nonlinearity: str | None = None, negative_slope: float | None = None) -> GainTable:
    """The gain of one nonlinearity (or of all), at ``negative_slope`` (default 0, as ``kaiming_*`` uses)."""
    names = [nonlinearity] if nonlinearity else list(GAINS)
    slope = 0.0 if negative_slope is None else negative_slope
    entries = tuple(GainEntry(n, slope if GAINS[n].uses_slope else None, gain(n, slope), GAINS[n].formula,
                              GAINS[n].reference) for n in names)
    notes: list[str] = []
    if "leaky_relu" in names and negative_slope is None:
        notes.append(
            f"leaky_relu uses a = 0 here, as kaiming_* does; calculate_gain('leaky_relu') alone uses "
            f"a = {CALCULATE_GAIN_DEFAULT_SLOPE}: gain {gain('leaky_relu', CALCULATE_GAIN_DEFAULT_SLOPE)!r}."
        )
    if negative_slope not in (None, 0.0) and nonlinearity and not GAINS[nonlinearity].uses_slope:
        notes.append(f"-a is ignored: {nonlinearity} does not use a slope.")
    return GainTable(entries, tuple(notes), single=nonlinearity is not None)
