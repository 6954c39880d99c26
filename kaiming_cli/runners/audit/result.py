"""The audit's result types: the laws a parameter may have, what identify says it got, one row per parameter and
the whole result. Apart from the judging (``__init__.py``) so that both stay under the size limit and the
renderers read one small module's types."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ...io.sources import TensorSource
from .signal import TURN, Signal

TURN_TEXT = f"{TURN:g}x"

VERDICTS = ("as recommended", "framework default", "different", "scale-free", "ambiguous")


# --------------------------------------------------------------------------- what the identifier returns

@dataclass(frozen=True)
class ExpectedLaw:
    """A law the audit would accept for a tensor, with the init call (rules grammar) that produces it."""

    distribution: str
    """normal, uniform, truncated_normal or constant."""
    std: float
    call: str
    value: float | None = None
    mode: str | None = None
    role: str = "recommended"
    """recommended (the init the graph implies) or default (the framework's own init of this layer)."""


@dataclass(frozen=True)
class GotLaw:
    """One law identify names for a tensor."""

    label: str
    family: str
    distribution: str
    mode: str | None
    gain: float | None
    std: float
    value: float | None = None


@dataclass(frozen=True)
class Got:
    """What a weight actually got: identify's verdict, and which expected laws the data are consistent with."""

    label: str
    """identify's verdict label, ``unknown`` or ``skipped``."""
    law: GotLaw | None
    plausible: tuple[GotLaw, ...]
    empirical_std: float
    n: int
    matches: tuple[bool, ...]
    """One per expected law passed in."""
    reason: str = ""


class Identifier(Protocol):
    def __call__(self, source: TensorSource, expected: Sequence[ExpectedLaw], *, bias_fan_in: int | None = ...,
                 layout: str = ..., seed: int = ..., alpha: float = ...) -> Got: ...


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Finding:
    """One thing a gate should fail on: its kind (``signal``, ``different``, ``framework default``), the
    parameter or layer, the message, and the fix (the init call; the measured LSUV gain factor)."""

    kind: str
    name: str
    message: str
    fix: str | None = None
    gain_fix: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "message": self.message, "fix": self.fix,
                "gain_fix": self.gain_fix}


@dataclass(frozen=True)
class AuditedWeight:
    """One parameter's row of the audit."""

    name: str
    layer_type: str
    shape: tuple[int, ...]
    activation: str
    gain: float | None
    recommended: str | None
    """The init call the graph implies (or the layer's own default where the graph implies nothing)."""
    actual: str
    """identify's verdict label, or ``unknown``."""
    actual_call: str | None
    """What the weight has, as an init call in the rules grammar (None when no known init explains it)."""
    std_ratio: float | None
    verdict: str
    note: str = ""
    equivalents: tuple[str, ...] = ()
    """Other calls that give this tensor the very same law (mode='fan_in' and 'fan_out' of a square conv)."""
    feeds: str = ""
    """The operation(s) the layer's output feeds in the forward pass (``silu``, ``norm → linear``, ``product``)."""
    forward_std: float | None = None
    """Measured std of the owning layer's output at init (weights of Linear/Conv layers)."""
    grad_std: float | None = None
    """Measured std of this weight's gradient for a unit-variance random projection of the output."""
    gain_fix: float | None = None
    """LSUV-style factor: multiplying this weight by it brings its layer's output std to the previous layer's."""
    role: str = ""
    """What the parameter is when it is not judged by fans: ``scale-free`` (a norm follows before any
    nonlinearity), ``embedding``, ``position table``, ``token``, ``residual block``; else empty."""
    exempt: bool = False
    """A ``different`` verdict that is no finding: an embedding, or in a normalized residual block whose measured
    stream is stable (roles.py)."""

    @property
    def rule_init(self) -> str | None:
        """The init a rules file should require: what the weight has unless the verdict is ``different``."""
        if self.verdict == "different":
            return self.recommended
        return self.actual_call

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "layer_type": self.layer_type, "shape": list(self.shape),
                "activation": self.activation, "gain": self.gain, "recommended": self.recommended,
                "actual": self.actual, "actual_call": self.actual_call, "std_ratio": self.std_ratio,
                "verdict": self.verdict, "note": self.note, "feeds": self.feeds, "forward_std": self.forward_std,
                "grad_std": self.grad_std, "gain_fix": self.gain_fix, "role": self.role}


@dataclass(frozen=True)
class AuditResult:
    """A whole audit: every parameter in graph order, whether fx traced the model, and run notes."""

    target: str
    framework: str
    traced: bool
    weights: tuple[AuditedWeight, ...]
    notes: tuple[str, ...] = ()
    seed: int = 0
    signal: Signal | None = None
    """The signal measured at init (torch models run on a sample input); None when the model was not run."""
    graph: str = ""
    """How the graph was read: ``forward pass``, ``torch.fx``, ``module order`` or ``keras``."""
    strict: bool = False
    """``--strict``: framework defaults whose scale matters are findings too, and their rules the fix."""

    def findings(self, strict: bool = False) -> list[Finding]:
        """What should fail a gate: a measured signal that is not stable, and every ``different`` weight whose
        scale matters (not scale-free, not an embedding); with ``strict``, also framework defaults (JSON
        ``findings`` lists the first kind only: docs/cli.md)."""
        out = []
        if self.signal is not None and self.signal.is_finding:
            sig = self.signal
            growth = sig.forward_growth if sig.direction == "forward" else sig.backward_growth
            where = f", past {TURN_TEXT} the first layer's at {sig.turns_at}" if sig.turns_at else ""
            row = next((w for w in self.weights if w.name in (f"{sig.turns_at}.weight", f"{sig.turns_at}/kernel")),
                       None)  # torch's layer.weight, Keras's layer/kernel
            out.append(Finding("signal", sig.turns_at or "", f"the {sig.direction} signal is {sig.verdict}: its std "
                               f"changes {growth:.3g}x over depth{where}", row.recommended if row else None,
                               row.gain_fix if row else None))
        for w in self.weights:
            if (w.verdict == "different" and not w.exempt) or (
                    strict and w.verdict == "framework default" and w.recommended and not w.role):
                out.append(Finding(w.verdict, w.name, w.note or w.verdict, w.recommended, w.gain_fix))
        return out

    def rule_init(self, w: AuditedWeight) -> str | None:
        """The init a rules file requires of ``w``: the recommended one where it is a finding (so the gate fails
        until the model's init code is fixed, and passes once it is), else ``w.rule_init``."""
        if w.recommended and any(f.name == w.name and f.kind != "signal" for f in self.findings(self.strict)):
            return w.recommended
        return w.rule_init

    @property
    def finding_count(self) -> int:
        return len(self.findings())

    def count(self, verdict: str) -> int:
        return sum(w.verdict == verdict for w in self.weights)

    @property
    def has_different(self) -> bool:
        return any(w.verdict == "different" for w in self.weights)

    def summary(self) -> str:
        parts = [f"{self.count(v)} {v}" for v in VERDICTS if self.count(v)]
        noun = "parameter" if len(self.weights) == 1 else "parameters"
        return f"{len(self.weights)} {noun} audited: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "framework": self.framework, "traced": self.traced, "seed": self.seed,
                "summary": self.summary(), "notes": list(self.notes),
                "counts": {v: self.count(v) for v in VERDICTS}, "graph": self.graph,
                "signal": self.signal.to_dict() if self.signal is not None else None,
                "findings": [f.to_dict() for f in self.findings()],
                "weights": [w.to_dict() for w in self.weights]}

    def failures(self, allow: Iterable[str] = ()) -> list[AuditedWeight]:
        """Rows that are not as recommended, minus those whose verdict or name (a glob) is in ``allow``."""
        allowed = list(allow)
        return [w for w in self.weights if w.verdict != "as recommended" and w.verdict not in allowed
                and not w.exempt
                and not any(fnmatch.fnmatchcase(w.name, g) for g in allowed)]
