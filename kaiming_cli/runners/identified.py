"""The seam between ``audit`` and ``identify``: what a weight actually got, as ``identify`` ranks it.

``runners/audit/`` never imports another runner (the independence contract in pyproject.toml); the callers
(``cli/audit.py``, ``api.py``) pass ``identified`` to ``run_audit``. Only this module knows how identify works, so
when identify learns to fit the scale within each family, only this adapter changes.

``identified(source, expected, ...)`` answers two questions about one tensor:
1. identify's verdict (its label, family, law, and the laws this size cannot tell from it), and
2. for each ``expected`` law the audit would recommend, whether it explains the data as well as the best
   candidate does: within a Bayes factor of 100 of identify's best (or of the best expected law, when those
   fit better than any of identify's candidates), and passing the test battery.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..engine.sources import rel_eps_for
from ..io.sources import TensorSource, is_float
from ..stats.battery import NON_SPECTRAL_TESTS, run_battery
from .audit import ExpectedLaw, Got, GotLaw
from .identify import LN100, Read, identify_read
from .identify.candidates import Candidate

#: The subsample audit judges each weight on (verify and identify take 100,000): audit asks which law a fresh
#: build drew, and the ranking's likelihoods use every value's moments (the summary), so 10,000 values for the
#: shape tests tell the families apart with room to spare while a ResNet-50's 161 tensors cost a tenth of the
#: sorting (docs/audit.md §8).
AUDIT_MAX_KS = 10_000
#: The tests audit runs on identify's winner: identify's battery without the spectrum (a fresh build never looks
#: trained) and without ``shape``, the binned test on every value's rounding cell: the ranking already tells the
#: families apart on every value's moments and maximum, the subsample's KS and kurtosis tests judge the shape,
#: and the expected laws (``_matches``) were already tested without it. Counting the cells of a ResNet-50's
#: 25.5 M values and binning them cost ~0.15 s of its audit (issue 27 point 7; docs/audit.md §8).
AUDIT_TESTS: tuple[str, ...] = tuple(t for t in NON_SPECTRAL_TESTS if t != "shape")


def _got_law(c: Candidate) -> GotLaw:
    return GotLaw(c.label, c.family, c.distribution, c.mode, c.gain, c.std, c.value)


def identified(source: TensorSource, expected: Sequence[ExpectedLaw], *, bias_fan_in: int | None = None,
               layout: str = "torch", seed: int = 0, alpha: float = 1e-3) -> Got:
    """identify's reading of ``source``, and which of the ``expected`` laws the data are consistent with."""
    result, data = identify_read(source, layout=layout, alpha=alpha, seed=seed, bias_fan_in=bias_fan_in,
                                 max_ks=AUDIT_MAX_KS, tests=AUDIT_TESTS)
    best = result.ranked[0] if result.ranked else None
    by_label = {s.candidate.label: s.candidate for s in result.ranked}
    plausible = tuple(_got_law(by_label[lab]) for lab in (result.verdict, *result.indistinguishable)
                      if lab in by_label)
    law = _got_law(best.candidate) if best is not None and result.verdict != "unknown" else None
    passed = [law] if law is not None else []  # identify's winner already passed the battery
    matches = _matches(source, data, expected, best.loglik if best is not None else -math.inf, alpha, passed)
    return Got(label=result.verdict, law=law, plausible=plausible, empirical_std=result.empirical_std,
               n=result.n, matches=matches, reason=result.reason)


def _same(e: ExpectedLaw, law: GotLaw) -> bool:
    if e.distribution == "constant" or law.distribution == "constant":
        return e.distribution == law.distribution and e.value == law.value
    return e.distribution == law.distribution and math.isclose(e.std, law.std, rel_tol=1e-9)


def _matches(source: TensorSource, data: Read | None, expected: Sequence[ExpectedLaw], best_loglik: float,
             alpha: float, passed: Sequence[GotLaw]) -> tuple[bool, ...]:
    """Whether each expected law explains the data as well as the best candidate and passes the battery, on the
    summary and subsample identify read (``data``: the same values a second read would give, at no second read)."""
    if not expected or data is None or source.numel == 0 or not is_float(source.dtype):
        return tuple(False for _ in expected)
    known = [any(_same(e, law) for law in passed) for e in expected]
    if all(known) or (passed and passed[0].distribution == "constant"):
        return tuple(known)
    summary, sample = data
    eps = rel_eps_for(source.dtype)
    if summary.n_nan or summary.n_inf:
        return tuple(False for _ in expected)
    out: list[bool] = []
    cands = [None if e.distribution == "constant" else
             Candidate("expected", "expected", e.distribution, None, None, e.std) for e in expected]
    logliks = [c.loglik(summary, eps) if c is not None else -math.inf for c in cands]
    top = max([best_loglik, *logliks])
    for e, c, ll, ok in zip(expected, cands, logliks, known, strict=True):
        if ok:
            out.append(True)
        elif c is None:
            out.append(summary.min == summary.max == e.value)
        elif not math.isfinite(ll) or top - ll >= LN100:
            out.append(False)
        else:
            out.append(run_battery(c.law, summary, sample, alpha, AUDIT_TESTS, rel_eps=eps).passed)
    return tuple(out)
