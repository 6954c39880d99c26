"""What a sample looks like next to its law: the empirical moments, and histograms in a shared window.

Shared by every runner (check, verify) and by rendering, so it lives below them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..theory.spec import InitSpec
from .battery import BatteryResult, ConfidenceInterval
from .laws import Law, law_from_spec
from .summary import Summary


@dataclass(frozen=True)
class Empirical:
    """What the sample looks like."""

    n: int
    n_ks: int
    mean: float
    std: float
    rms: float
    min: float
    max: float
    skewness: float
    excess_kurtosis: float
    std_ci: ConfidenceInterval

    @classmethod
    def from_summary(cls, s: Summary, battery: BatteryResult) -> Empirical:
        return cls(
            n=s.n, n_ks=battery.n_ks, mean=s.mean, std=s.std, rms=s.rms, min=s.min, max=s.max,
            skewness=s.skewness, excess_kurtosis=s.excess_kurtosis, std_ci=battery.std_ci,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "n_ks": self.n_ks, "mean": self.mean, "std": self.std, "rms": self.rms,
            "min": self.min, "max": self.max, "skewness": self.skewness,
            "excess_kurtosis": self.excess_kurtosis, "std_ci": list(self.std_ci),
        }


def law_of(spec: InitSpec) -> Law:
    """The null law the tests use for a spec: its exact law (``ValueError`` for laws not supported yet)."""
    law = spec.exact_law
    # an orthogonal law carries its library's matrix view (theory/initializers.py decides it from the call: torch
    # (shape[0], rest), Keras (rest, last), JAX (rest, column_axis)), whatever the layout name says
    return law_from_spec(law, spec.shape, groups=law.groups or 1)


HIST_BINS = 24


def histogram_edges(law: Law) -> tuple[float, float]:
    """A window that shows the whole law: the support (5% wider), or mean +-4 std for the unbounded laws; the
    exact laws (constant, identity) get their values' span, at least one unit wide."""
    if law.distribution in ("normal", "sparse", "orthogonal"):
        c, half = law.mean, 4.0 * law.std
        return c - half * 1.05, c + half * 1.05
    lo, hi = law.support
    if law.distribution in ("constant", "identity"):
        pad = max(abs(lo), abs(hi), 1.0) * 0.05
        return lo - pad, hi + pad
    if law.bounded and law.symmetric and law.center == 0:
        edge = max(abs(lo), abs(hi))
        return -edge * 1.05, edge * 1.05
    pad = (hi - lo) * 0.025
    return lo - pad, hi + pad


def histogram_counts(sample: Any, law: Law, bins: int = HIST_BINS) -> list[int]:
    import numpy as np

    lo, hi = histogram_edges(law)
    # values beyond the edges are not piled into the edge bins, where they looked like real mass: they are
    # left out here, and the renderers say how many (sample size - sum of the counts)
    counts, _ = np.histogram(sample, bins=bins, range=(lo, hi))
    return [int(c) for c in counts]


def histogram_rows(values: Any, law: Law, bins: int = HIST_BINS) -> list[list[int]]:
    """``histogram_counts`` of each row of ``values`` (2-D float64), in one pass over them all: numpy's own
    algorithm for equal bins (``numpy.histogram``: the index from the scaled offset, then corrected by one where
    it lands within an ulp of an edge), with each row's bins offset, so the counts are numpy's to the value."""
    import numpy as np

    lo, hi = histogram_edges(law)
    first, last = float(lo), float(hi)
    edges = np.linspace(first, last, bins + 1)
    rows = values.shape[0]
    x = values.reshape(-1)
    row = np.repeat(np.arange(rows), values.shape[1])
    keep = (x >= first) & (x <= last)
    x, row = x[keep], row[keep]
    index = ((x - first) / (last - first) * bins).astype(np.intp)
    index[index == bins] -= 1
    index[x < edges[index]] -= 1
    index[(x >= edges[index + 1]) & (index != bins - 1)] += 1
    counts = np.bincount(row * bins + index, minlength=rows * bins).reshape(rows, bins)
    out: list[list[int]] = counts.tolist()
    return out


def expected_histogram(law: Law, total: int, bins: int = HIST_BINS) -> list[float]:
    """Counts the law predicts per bin for a sample of ``total`` values (tails beyond the edges excluded)."""
    import numpy as np

    lo, hi = histogram_edges(law)
    edges = np.linspace(lo, hi, bins + 1)
    return [float(v) for v in np.diff(law.cdf(edges)) * total]
