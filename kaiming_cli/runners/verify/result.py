"""What ``kaiming verify`` finds: the verdict on each tensor and on the run (frozen results; the renderers read them).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ...io.inputs import FileError, GlobCount
from ...stats.battery import TestResult
from ...stats.empirical import Empirical
from ...stats.power import DEFAULT_MAX_DETECTABLE
from ...stats.structure import STRUCTURE_TESTS
from ...theory.spec import InitSpec

#: What became of one tensor: tested and passed or failed, inconclusive (passed, but too small to detect a
#: std error of --max-detectable), uninitialized (it holds memory no init wrote: ``stats/uninitialized.py``; a
#: failure of its own, outside the correction across tensors, since it is a finding rather than a p-value),
#: skipped (no rule asked for it), or an error.
Status = Literal["pass", "fail", "skip", "error", "inconclusive", "uninitialized"]


@dataclass(frozen=True)
class TensorResult:
    """The verdict on one tensor."""

    file: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    status: Status
    """pass, fail, inconclusive, uninitialized, skip or error."""
    rule: str
    """Which rule decided what this tensor should be."""
    reason: str = ""
    spec: InitSpec | None = None
    constant: float | None = None
    empirical: Empirical | None = None
    tests: tuple[TestResult, ...] = ()
    pvalue: float | None = None
    pvalue_adjusted: float | None = None
    histogram: list[int] = field(default_factory=list)
    detectable: float | None = None
    """The smallest relative std error this tensor detects with 90% power (stats/power.py); None if untested."""
    looks_like: dict[str, Any] | None = None
    """A failing tensor's best law by identify (``runners/looks_like.py``): ``{call, law, std_ratio, change}``."""
    zero_rows_excluded: int = 0
    """Exactly-zero stored rows left out of the structure and shape tests: padding-like, at most one (an
    ``nn.Embedding``'s ``padding_idx`` row; more are tested; docs/statistics.md §2.9). Said in every format."""
    zero_row: int | None = None
    """The first such row's index."""

    def zero_rows_note(self) -> str:
        """The note every format shows for a tensor with zero rows left out, or ``""``."""
        if not self.zero_rows_excluded:
            return ""
        k = self.zero_rows_excluded
        return (f"{self.name}: {k} stored row{'s' if k > 1 else ''} exactly zero (row {self.zero_row}: an "
                "embedding's padding_idx?) left out of the structure and shape tests")

    def updated(self, **changes: Any) -> TensorResult:
        """``dataclasses.replace`` without its walk over every field, which ``finalize`` paid for each of a
        checkpoint's thousands of results: a shallow copy with ``changes`` set (field names only; every field is
        a plain value that nothing derives from)."""
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise TypeError(f"TensorResult has no field {sorted(unknown)[0]!r}")
        new = object.__new__(TensorResult)  # what copy.copy does for it, without its protocol's calls
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    @property
    def failed(self) -> bool:
        """A failure of the run by this tensor's own verdict: FAIL, or memory never initialized (errors and
        --strict's inconclusive are the report's to add)."""
        return self.status in ("fail", "uninitialized")

    @property
    def std_ratio(self) -> float | None:
        if self.spec is None or self.empirical is None:
            return None
        return self.empirical.rms / self.spec.std

    def to_dict(self) -> dict[str, Any]:
        expected: dict[str, Any] | None
        if self.spec is not None:
            expected = self.spec.to_dict()
        elif self.constant is not None:
            expected = {"constant": self.constant}
        else:
            expected = None
        return {
            "file": self.file, "name": self.name, "shape": list(self.shape), "dtype": self.dtype,
            "status": self.status, "expected": expected, "rule": self.rule,
            "empirical": self.empirical.to_dict() if self.empirical else None,
            "tests": [t.to_dict() for t in self.tests], "pvalue": self.pvalue,
            "pvalue_adjusted": self.pvalue_adjusted, "reason": self.reason, "std_ratio": self.std_ratio,
            "detectable": self.detectable if self.detectable is not None and math.isfinite(self.detectable)
            else None,
            "looks_like": self.looks_like, "zero_rows_excluded": self.zero_rows_excluded,
        }


@dataclass(frozen=True)
class VerifyResult:
    tensors: tuple[TensorResult, ...]
    alpha: float
    correction: str
    trained: bool = False
    notes: tuple[str, ...] = ()
    errors: tuple[FileError, ...] = ()
    """Paths that could not be read (each also makes the exit code 3)."""
    rules: tuple[GlobCount, ...] = ()
    """Per rule of the config: how many tensors it decided."""
    globs: tuple[GlobCount, ...] = ()
    """Per ``--tensor`` glob: how many of the files' tensors it selected."""
    found: int | None = None
    """Tensors in the files before ``--tensor`` filtered them (None: no filter)."""
    allow_empty: bool = False
    """A run that tested no tensor passes only when this is set (``--allow-empty``)."""
    strict: bool = False
    """``--strict``: an inconclusive tensor fails the run."""
    max_detectable: float = DEFAULT_MAX_DETECTABLE

    @property
    def tested(self) -> int:
        """Tensors that got a verdict (statistical, constant, or memory never initialized): pass, fail,
        inconclusive or uninitialized."""
        return sum(self._statuses[s] for s in ("pass", "fail", "inconclusive", "uninitialized"))

    @property
    def empty(self) -> bool:
        """Nothing was tested and that is not allowed: the gate must not pass on nothing."""
        return self.tested == 0 and not self.allow_empty

    @property
    def passed(self) -> bool:
        fine = ("pass", "skip") if self.strict else ("pass", "skip", "inconclusive")
        return not self.empty and not self.errors and set(self._statuses) <= set(fine)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or self._statuses["error"] > 0

    def count(self, status: Status) -> int:
        return self._statuses[status]

    @functools.cached_property
    def _statuses(self) -> Counter[str]:
        """How many tensors have each status, counted once: the summary line, the exit code and the report's
        header ask a dozen times, each a pass over thousands of tensors (issue 25)."""
        return Counter(t.status for t in self.tensors)

    def unmatched(self) -> list[str]:
        """Rules and ``--tensor`` globs that matched no tensor, for a note."""
        rules = [f"rule {i + 1} {r.match!r}" for i, r in enumerate(self.rules) if not r.matched]
        return rules + [f"--tensor {g.match!r}" for g in self.globs if not g.matched]

    def empty_reason(self) -> str:
        """Why no tensor was tested, in words."""
        n = len(self.tensors)
        if self.found == 0 or (self.found is None and n == 0):
            return "the input files hold no tensors" if not self.errors else "no file could be read"
        if n == 0:
            globs = ", ".join(repr(g.match) for g in self.globs)
            return f"--tensor {globs} matched none of the {self.found} tensors"
        if self.count("skip") == n:
            by_rule = sum(t.reason.startswith("skipped by rule") for t in self.tensors)
            how = f" ({by_rule} by skip rules, {n - by_rule} matched by no rule)" if 0 < by_rule < n else \
                " by skip rules" if by_rule == n else " (no rule and no spec option covers them)"
            return f"all {n} tensors were skipped{how}"
        return f"none of the {n} tensors could be tested"

    def first_error(self) -> str | None:
        if self.errors:
            return self.errors[0].reason
        for t in self.tensors:
            if t.status == "error":
                return f"{t.name}: {t.reason}"
        return None

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("pass", "fail", "uninitialized", "inconclusive", "skip", "error")
                 if self.count(s)]
        failed = sum(t.failed for t in self.tensors)
        verdict = "PASS" if self.passed else ("ERROR" if self.has_errors and not failed else "FAIL")
        if self.passed and not self.count("pass") and self.count("inconclusive"):
            verdict = "INCONCLUSIVE"  # exit 0 (--strict fails it), but nothing was shown to follow its law
        line = f"{verdict}: {plural(len(self.tensors), 'tensor')}: {', '.join(parts) or 'none'} " \
               f"(alpha = {self.alpha:g}, {self.correction} across tested tensors)"
        if self.count("inconclusive"):
            line += f"; inconclusive: too few values to detect a std error of {self.max_detectable:g} " \
                    "with 90% power" + (", failed by --strict" if self.strict else " (--strict fails them)")
        if self.errors:
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            line += f"; unreadable: {self.errors[0].reason}{more}"
        elif self.has_errors:
            line += f"; first error: {self.first_error()}"
        if self.tested == 0 and not self.has_errors:
            line = f"FAIL: no tensor was tested: {self.empty_reason()}; pass --allow-empty if that is expected" \
                if self.empty else f"PASS: no tensor was tested ({self.empty_reason()}), allowed by --allow-empty"
        if self.trained:
            line += ". The weights look TRAINED, not freshly initialized: most tensors miss their init law " \
                    "by a wide margin."
        return line

    def to_dict(self, tensors: bool = True) -> dict[str, Any]:
        """The report; ``tensors=False`` leaves out its last key, the tensors (render/json.py writes them one by
        one)."""
        head = {"passed": self.passed, "alpha": self.alpha, "correction": self.correction, "tested": self.tested,
                "looks_trained": self.trained, "summary": self.summary(), "notes": list(self.notes),
                "rules": [r.to_dict() for r in self.rules], "tensor_globs": [g.to_dict() for g in self.globs],
                "errors": [e.to_dict() for e in self.errors]}
        return {**head, "tensors": [t.to_dict() for t in self.tensors]} if tensors else head


def plural(n: int, noun: str) -> str:
    """``1 tensor``, ``2 tensors``: "1 tensors" read as a bug."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def failure_reason(tests: Sequence[TestResult]) -> str:
    """The failed tests' details, a marginal test (distribution, scale, tails) first whenever one failed; the
    structure tests (rows, cols, spectrum) follow, still listed. A wrong std or family is what the user must fix
    first, and the structure tests can react to it (issue 26); when the arrangement alone is wrong (sorted rows, a
    permuted copy) the marginal tests pass and a structure test leads. A copied half or a tiled block that also
    fails a marginal test (fewer independent values than it seems) is named by both, the marginal one first."""
    failed = [t for t in tests if not t.passed]
    if not failed:
        return ""
    failed.sort(key=lambda t: t.name in STRUCTURE_TESTS)
    return "; ".join(t.detail for t in failed)
