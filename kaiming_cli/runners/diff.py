"""``kaiming diff A B``: were the tensors of two builds of a model drawn from the same laws? (docs/diff.md)

Tensors are matched by name. A pair of identical tensors (the same seed) is the same at once; a pair whose values
hold the marks of memory never initialized (``stats/uninitialized.py``) is ``uninitialized``; two constants are the
same when they are equal; any other pair gets the two-sample tests of ``stats/twosample.py``, and Holm's correction
across those pairs keeps the run's false-alarm rate at ``alpha``. Each pair that differs says what each side looks
like through ``looks_like``, an adapter the caller hands in (``runners/diff_identified.py``): this runner never
imports identify.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ..engine.sources import scan_source, structure_collector
from ..errors import InputError
from ..io.inputs import FileError
from ..io.sources import TensorSource, is_float, mantissa_bits
from ..stats.battery import KS_MAX_SAMPLES
from ..stats.summary import Summary
from ..stats.twosample import SideStructure, TwoSample, compare, holm
from ..stats.uninitialized import is_random, uninitialized_reason, zeros_where_random

Status = Literal["same", "differ", "uninitialized", "missing_a", "missing_b", "reshaped"]
LooksLike = Callable[[TensorSource], str]


@dataclass(frozen=True)
class Pair:
    """The verdict on one name."""

    name: str
    status: Status
    shape_a: tuple[int, ...] | None = None
    shape_b: tuple[int, ...] | None = None
    std_ratio: float | None = None
    std_ratio_ci: tuple[float, float] | None = None
    pvalue: float | None = None
    """The pair's own p-value (three tests, four with structure; Bonferroni); None when decided exactly."""
    pvalue_adjusted: float | None = None
    """After Holm across the tested pairs; None when decided exactly (identical, constants, uninitialized)."""
    a_looks_like: str | None = None
    b_looks_like: str | None = None
    reason: str = ""
    dtype_a: str | None = None
    dtype_b: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status,
                "shape_a": list(self.shape_a) if self.shape_a is not None else None,
                "shape_b": list(self.shape_b) if self.shape_b is not None else None,
                "dtype_a": self.dtype_a, "dtype_b": self.dtype_b,
                "std_ratio": self.std_ratio,
                "std_ratio_ci": list(self.std_ratio_ci) if self.std_ratio_ci is not None else None,
                "pvalue": self.pvalue, "pvalue_adjusted": self.pvalue_adjusted,
                "a_looks_like": self.a_looks_like, "b_looks_like": self.b_looks_like, "reason": self.reason}


@dataclass(frozen=True)
class DiffResult:
    """A whole ``diff`` run."""

    a: str
    b: str
    pairs: list[Pair]
    alpha: float
    seed: int = 0
    errors: list[FileError] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.errors and all(p.status == "same" for p in self.pairs)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    def count(self, status: Status) -> int:
        return sum(p.status == status for p in self.pairs)

    def differing(self) -> list[Pair]:
        return [p for p in self.pairs if p.status != "same"]

    def summary(self) -> str:
        """One line: how many pairs are the same law, and what the others are."""
        n = len(self.pairs)
        parts = [f"{self.count(s)} {s.replace('_', ' ')}" for s in
                 ("differ", "uninitialized", "missing_a", "missing_b", "reshaped") if self.count(s)]
        if self.errors:
            parts.append(f"{len(self.errors)} unreadable")
        head = f"{'PASS' if self.passed else 'FAIL'}: {self.count('same')} of {n} tensor{'s' if n != 1 else ''} " \
               f"the same law"
        return head + (f"; {', '.join(parts)}" if parts else "") + f" (alpha {self.alpha:g}, Holm)"

    def to_dict(self) -> dict[str, Any]:
        return {"command": "diff", "a": self.a, "b": self.b, "passed": self.passed, "alpha": self.alpha,
                "correction": "holm", "seed": self.seed, "summary": self.summary(),
                "counts": {s: self.count(s) for s in
                           ("same", "differ", "uninitialized", "missing_a", "missing_b", "reshaped")},
                "errors": [e.to_dict() for e in self.errors], "pairs": [p.to_dict() for p in self.pairs]}


@dataclass(frozen=True)
class Side:
    """One side's values: the summary of the finite values and the seeded subsample."""

    source: TensorSource
    summary: Summary
    sample: np.ndarray
    structure: SideStructure | None = None
    """The rows/cols/spectrum data (tensors of 2 or more dimensions) or, from a snapshot, those tests as judged
    when it was written; None where not collected."""

    @property
    def constant(self) -> bool:
        s = self.summary
        return s.n > 0 and s.min == s.max and not s.n_nan and not s.n_inf


Scan = Callable[[TensorSource], "Side"]
"""How one side's values are summarized: read from the source (``scanned``), gathered from the ranks' shards
(``distributed.diff_module``) or taken from a snapshot (``testing.assert_init_snapshot``)."""


def scanned(source: TensorSource, seed: int, jobs: int, max_ks: int = KS_MAX_SAMPLES) -> Side:
    # the layout is not known in a diff: the storage's own rows; both sides are read alike
    collector = structure_collector(source, "torch", seed)
    summary, sample = scan_source(source, seed=seed, jobs=jobs, max_ks=max_ks, structure=collector)
    return Side(source, summary, sample, collector.data() if collector is not None else None)


def own_marks(side: Side) -> str | None:
    """The marks of uninitialized memory in one side's own values (NaN/inf, huge values, subnormals)."""
    return uninitialized_reason(side.summary, side.sample, mantissa_bits(side.source.dtype))


def uninitialized_sides(a: Side, b: Side) -> dict[str, str | None]:
    """Why each side is uninitialized memory: its own marks, or all zeros where the other side holds a random law
    (a side that is itself uninitialized memory says nothing about what law is expected)."""
    marks = {"A": own_marks(a), "B": own_marks(b)}
    for key, side, other in (("A", a, b), ("B", b, a)):
        other_key = "B" if key == "A" else "A"
        if marks[key] is None and marks[other_key] is None and mantissa_bits(side.source.dtype) is not None:
            marks[key] = zeros_where_random(side.summary, is_random(other.summary))
    return marks


def exact_pair(base: Pair, a: Side, b: Side) -> Pair | None:
    """The pairs decided without a test: uninitialized memory, constants, non-float values, identical draws."""
    why = uninitialized_sides(a, b)
    if why["A"] or why["B"]:
        return replace(base, status="uninitialized", reason="; ".join(f"{k}: {w}" for k, w in why.items() if w))
    if a.constant or b.constant:
        if a.constant and b.constant and a.summary.min == b.summary.min:
            return replace(base, status="same", reason=f"both all {a.summary.min:g}")
        return replace(base, status="differ", reason=f"A {side_text(a)}, B {side_text(b)}")
    if not (is_float(a.source.dtype) and is_float(b.source.dtype)):
        same = a.summary == b.summary and np.array_equal(a.sample, b.sample)
        return replace(base, status="same" if same else "differ",
                       reason="identical values" if same else "integer values differ")
    return None


def side_text(side: Side) -> str:
    s = side.summary
    return f"all {s.min:g}" if side.constant else f"varies (std {s.std:.3g})"


def tested_pair(base: Pair, a: Side, b: Side, seed: int) -> tuple[Pair, TwoSample]:
    both = (a.structure, b.structure) if a.structure is not None and b.structure is not None else None
    t = compare(a.summary, b.summary, a.sample, b.sample, seed=seed, structure=both)
    reason = "identical values (the same draw)" if t.identical else ""
    return replace(base, status="same", std_ratio=t.std_ratio, std_ratio_ci=t.std_ratio_ci, pvalue=t.pvalue,
                   reason=reason), t


def pvalue(p: float) -> str:
    """A p-value as the reports write one (``runners/tensor_report.pvalue``, which this runner may not import)."""
    return "<1e-300" if p == 0 else (f"{p:.3g}" if p >= 1e-3 else f"{p:.2e}")


def difference_reason(p: Pair, t: TwoSample) -> str:
    """What differs most clearly, in words: the scale with its interval, the mean, or the shape of the law."""
    adjusted = f"p adj. {pvalue(p.pvalue_adjusted if p.pvalue_adjusted is not None else 1.0)}"
    if t.weakest == "scale":
        low, high = t.std_ratio_ci
        return f"scale differs: std A/B = {t.std_ratio:.3g} [{low:.3g}, {high:.3g}] ({adjusted})"
    if t.weakest == "location":
        return f"means differ ({adjusted})"
    if t.weakest == "structure":
        return f"structure differs: {t.structure_detail} ({adjusted})"
    return f"distribution shapes differ (two-sample KS, {adjusted})"


def run_diff(a: Sequence[TensorSource], b: Sequence[TensorSource], *, alpha: float = 1e-3, seed: int = 0,
             jobs: int = 1, looks_like_a: LooksLike | None = None, looks_like_b: LooksLike | None = None,
             errors: Sequence[FileError] = (), label_a: str = "A", label_b: str = "B", scan_a: Scan | None = None,
             scan_b: Scan | None = None) -> DiffResult:
    """Every name of ``a`` and ``b``: missing, reshaped, uninitialized, or tested; Holm across the tested pairs.
    ``scan_a``/``scan_b`` summarize a side's tensor (default: read it, ``scanned``)."""
    read_a = scan_a or (lambda source: scanned(source, seed, jobs))
    read_b = scan_b or (lambda source: scanned(source, seed, jobs))
    by_b = {s.name: s for s in b}
    names_a = {s.name for s in a}
    pairs: list[Pair] = []
    tests: dict[int, TwoSample] = {}
    problems = list(errors)
    for sa in a:
        sb = by_b.get(sa.name)
        if sb is None:
            pairs.append(Pair(sa.name, "missing_b", shape_a=sa.shape, dtype_a=sa.dtype, reason="not in B"))
            continue
        base = Pair(sa.name, "same", shape_a=sa.shape, shape_b=sb.shape, dtype_a=sa.dtype, dtype_b=sb.dtype)
        if sa.shape != sb.shape:
            pairs.append(replace(base, status="reshaped", reason=f"A {shape(sa.shape)}, B {shape(sb.shape)}"))
            continue
        unreadable = [s for s in (sa, sb) if s.error]
        if unreadable:
            problems += [FileError(s.file, f"{s.name}: {s.error}") for s in unreadable]
            continue
        try:
            side_a, side_b = read_a(sa), read_b(sb)
        except InputError as exc:
            problems.append(FileError(sa.file, str(exc)))
            continue
        decided = exact_pair(base, side_a, side_b)
        if decided is None:
            decided, tests[len(pairs)] = tested_pair(base, side_a, side_b, seed)
        pairs.append(decided)
    pairs += [Pair(s.name, "missing_a", shape_b=s.shape, dtype_b=s.dtype, reason="not in A")
              for s in b if s.name not in names_a]
    pairs = corrected(pairs, tests, alpha)
    return DiffResult(label_a, label_b, named(pairs, a, b, looks_like_a, looks_like_b), alpha, seed, problems)


def corrected(pairs: list[Pair], tests: dict[int, TwoSample], alpha: float) -> list[Pair]:
    """Holm across the tested pairs; a pair differs when its adjusted p-value is at most ``alpha``."""
    order = list(tests)
    adjusted = holm([tests[i].pvalue for i in order])
    out = list(pairs)
    for i, p_adj in zip(order, adjusted, strict=True):
        p = replace(out[i], pvalue_adjusted=p_adj)
        if p_adj <= alpha and not tests[i].identical:
            p = replace(p, status="differ")
            p = replace(p, reason=difference_reason(p, tests[i]))
        out[i] = p
    return out


def named(pairs: list[Pair], a: Sequence[TensorSource], b: Sequence[TensorSource], looks_like_a: LooksLike | None,
          looks_like_b: LooksLike | None) -> list[Pair]:
    """Each pair that is not the same says what each side looks like (identify's verdict, through the adapter)."""
    by_a, by_b = {s.name: s for s in a}, {s.name: s for s in b}
    out: list[Pair] = []
    for p in pairs:
        if p.status != "same":
            p = replace(p, a_looks_like=looked(looks_like_a, by_a.get(p.name)),
                        b_looks_like=looked(looks_like_b, by_b.get(p.name)))
        out.append(p)
    return out


def looked(looks_like: LooksLike | None, source: TensorSource | None) -> str | None:
    if looks_like is None or source is None or source.error:
        return None
    try:
        return looks_like(source)
    except InputError:
        return None


def shape(dims: Sequence[int]) -> str:
    return "×".join(str(d) for d in dims) if dims else "scalar"


def pair_shape(p: Pair) -> str:
    """One shape, or ``A / B`` for a reshaped pair."""
    if p.shape_a is not None and p.shape_b is not None and p.shape_a != p.shape_b:
        return f"{shape(p.shape_a)} / {shape(p.shape_b)}"
    return shape(p.shape_a if p.shape_a is not None else p.shape_b or ())


def pair_line(p: Pair) -> str:
    """One pair that is not the same law, in one line: what the reports, the annotations and the test helpers'
    failure messages say."""
    sides = ""
    if p.a_looks_like or p.b_looks_like:
        sides = f" (A: {p.a_looks_like or '-'}, B: {p.b_looks_like or '-'})"
    return f"{p.name} {pair_shape(p)}: {p.status}: {p.reason}{sides}"


def report_text(result: DiffResult) -> str:
    """The summary and one line per pair that is not the same law: ``assert_same_init``'s failure message."""
    return "\n".join([result.summary(), *(f"  {pair_line(p)}" for p in result.differing()),
                      *(f"  unreadable: {e.reason}" for e in result.errors)])
