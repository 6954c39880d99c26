"""What ``identify`` says about one tensor (``IdentifyResult``), the candidates it scored and the law a file states.

Its own module so that the fitting and ranking (``__init__``) stay under the project's module limit; the names are
re-exported from the package, where every caller imports them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, NamedTuple

from ...stats.fit import Fit
from .candidates import Candidate

#: What ``confidence`` means, said wherever it is shown: it cannot speak for laws that were not listed.
CONFIDENCE_SCOPE = ("posterior probability among the listed candidates only (flat prior over them); "
                    "it says nothing about inits outside the list")


class Scored(NamedTuple):
    """A candidate and its log-likelihood on the tensor. A named tuple, not a frozen dataclass: each tensor ranks
    ~40 of them and a forked worker pickles them all, so their making and unpickling is per-tensor cost (issue 25:
    0.7 us against 1.0 us to make one)."""

    candidate: Candidate
    loglik: float


@dataclass(frozen=True)
class Stated:
    """The initializer a file states for a tensor, and whether the data are consistent with it."""

    label: str
    origin: str
    agrees: bool | None
    """True: its law is within a Bayes factor of 100 of the best candidate and the verdict is not unknown;
    None: the file names an initializer kaiming cannot express (the rule skips it)."""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "origin": self.origin, "agrees": self.agrees}


@dataclass(frozen=True)
class IdentifyResult:
    """The ranking for one tensor."""

    file: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    verdict: str
    """The best label, ``unknown``, or ``skipped``."""
    ranked: tuple[Scored, ...] = ()
    indistinguishable: tuple[str, ...] = ()
    """Labels this shape and size cannot tell from the best (exact aliases first)."""
    aliases: tuple[str, ...] = ()
    """The subset that is the very same law for this shape."""
    near: tuple[tuple[str, float], ...] = ()
    """Near-aliases with the number of elements that would separate them."""
    confidence: float = math.nan
    """Posterior probability (flat prior) of the best law, aliases included."""
    pvalue: float | None = None
    """Goodness of fit (the check battery) of the best candidate."""
    reason: str = ""
    fitted: Candidate | None = None
    n: int = 0
    empirical_std: float = math.nan
    notes: tuple[str, ...] = field(default=())
    layout: str = "torch"
    """The layout the fans were computed in (``--layout``, else the file's own, else torch)."""
    stated: Stated | None = None
    """What the file itself says the init was (a .keras config), and whether the data agree."""
    fits: tuple[Fit, ...] = ()
    """Every family fitted (stats/fit.py), best first."""
    law: Fit | None = None
    """The best family's fit: the law the verdict is about."""

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with ``ranked`` as two plain tuples (the candidates, their log-likelihoods): a forked worker
        sends every result to the parent, and ~40 ``Scored`` pickled one by one cost more than the tensor's
        battery (issue 25: 104 us of 121 us per tensor to pickle a 16x16 tensor's result, 27 us of 99 us to
        unpickle it)."""
        state = dict(self.__dict__)
        ranked = self.ranked
        state["ranked"] = (tuple([s[0] for s in ranked]), tuple([s[1] for s in ranked]))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        candidates, logliks = state["ranked"]
        pairs = zip(candidates, logliks, strict=True)
        self.__dict__.update(state, ranked=tuple(map(tuple.__new__, repeat(Scored), pairs)))

    @property
    def call(self) -> str | None:
        """The verdict as a call in the init-call grammar (what ``-f rules`` writes), None when unknown/skipped."""
        if self.verdict in ("unknown", "skipped", "uninitialized"):
            return None
        chosen = self.chosen
        return chosen.call if chosen is not None else self.verdict

    @property
    def chosen(self) -> Candidate | None:
        for s in self.ranked:
            if s.candidate.label == self.verdict:
                return s.candidate
        return None

    def kind(self) -> str:
        """The tensor's kind (``theory.kinds.tensor_kind``: conv weight, bias, ...), made once: the report's
        grouping and the files' form ask it several times per tensor (issue 25)."""
        kind: str | None = self.__dict__.get("_kind")
        if kind is None:
            from ...theory.kinds import tensor_kind

            kind = self.__dict__["_kind"] = tensor_kind(self.name, self.shape)
        return kind

    def to_dict(self, top: int = 5) -> dict[str, Any]:
        def cand(s: Scored, pvalue: float | None) -> dict[str, Any]:
            c = s.candidate
            return {"label": c.label, "family": c.family, "distribution": c.distribution, "mode": c.mode,
                    "gain": c.gain, "std": c.std if c.distribution != "constant" else 0.0,
                    "low": -c.law.bound if c.distribution in ("uniform", "truncated_normal") and c.law.bound else None,
                    "high": c.law.bound if c.distribution in ("uniform", "truncated_normal") else None,
                    "value": c.value, "loglik": s.loglik if math.isfinite(s.loglik) else None,
                    "pvalue": pvalue, "init": c.call, "prior": c.prior, "fan_in": c.fan_in, "fan_out": c.fan_out,
                    "note": c.note or None, "std_ci": list(c.std_ci) if c.std_ci else None,
                    "explanations": list(c.explanations)}

        shown = [cand(s, self.pvalue if i == 0 else None) for i, s in enumerate(self.ranked[:top])]
        if self.fitted is not None and all(s.candidate is not self.fitted for s in self.ranked[:top]):
            shown.append(cand(Scored(self.fitted, math.nan), None))
        law = None
        if self.law is not None:
            law = {**self.law.to_dict(), "call": self.fitted.call if self.fitted is not None else self.call}
        return {"file": self.file, "name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "verdict": self.verdict, "confidence": self.confidence, "pvalue": self.pvalue,
                "candidates": shown, "indistinguishable": list(self.indistinguishable),
                "exact_aliases": list(self.aliases),
                "near_aliases": [{"label": lab, "n_needed": n} for lab, n in self.near],
                "reason": self.reason, "n": self.n, "layout": self.layout,
                "stated": self.stated.to_dict() if self.stated else None,
                "init": self.call, "law": law, "fits": [f.to_dict() for f in self.fits],
                "confidence_scope": CONFIDENCE_SCOPE}
