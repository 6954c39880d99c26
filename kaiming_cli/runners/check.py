"""``kaiming check``: sample a tensor with the expected init and test it against the theory."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..engine.stream import default_jobs, scan, subsample_positions
from ..stats.battery import DEFAULT_TESTS, KS_MAX_SAMPLES, BatteryResult, run_battery
from ..stats.laws import Law
from ..stats.summary import Summary
from ..theory.spec import InitSpec


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
    std_ci: tuple[float, float]

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


@dataclass(frozen=True)
class CheckResult:
    """The outcome of ``kaiming check``; echoes every input."""

    spec: InitSpec
    seed: int
    backend: str
    backend_info: str
    """Which library and call produced the sample (e.g. the torch version and call)."""
    empirical: Empirical
    battery: BatteryResult
    histogram: list[int] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    sample: Any = field(default=None, repr=False, compare=False)
    """The EDF subsample (float64), kept for plots; not part of the JSON."""

    @property
    def passed(self) -> bool:
        return self.battery.passed

    def to_dict(self) -> dict[str, Any]:
        d = self.spec.to_dict()
        d["notes"] = list(self.spec.notes) + list(self.battery.notes) + list(self.notes)
        d.update(
            seed=self.seed,
            backend=self.backend,
            backend_info=self.backend_info,
            alpha=self.battery.alpha,
            empirical=self.empirical.to_dict(),
            tests=[t.to_dict() for t in self.battery.tests],
            pvalue=self.battery.pvalue,
            passed=self.passed,
        )
        return d


def law_of(spec: InitSpec) -> Law:
    return Law(spec.distribution, spec.std)


def run_check(
    spec: InitSpec,
    *,
    samples: int | None = None,
    seed: int = 0,
    alpha: float = 1e-3,
    tests: tuple[str, ...] = DEFAULT_TESTS,
    backend: str = "numpy",
    jobs: int | None = None,
    max_ks: int = KS_MAX_SAMPLES,
) -> CheckResult:
    """Sample ``samples`` values (default: one tensor of ``spec.shape``) and run the battery."""
    import numpy as np

    from ..engine.sampling import producer, seeds

    n = samples if samples is not None else math.prod(spec.shape)
    law = law_of(spec)
    sub_seed, chunk_seeds = seeds(seed, n)
    positions = subsample_positions(n, max_ks, sub_seed)
    if backend == "torch":
        from ..engine.torch_backend import torch_producer

        produce, info = torch_producer(spec, seed)
        summary, sample = scan(n, produce, positions=positions, jobs=1)
    elif backend == "numpy":
        info = f"numpy {np.__version__}: Generator(PCG64(SeedSequence({seed}))), float32"
        summary, sample = scan(n, producer(law, chunk_seeds), positions=positions,
                               jobs=jobs or default_jobs())
    else:
        raise ValueError(f"backend {backend!r} is not supported: use numpy or torch.")
    battery = run_battery(law, summary, sample, alpha, tests)
    hist = histogram_counts(sample, law)
    return CheckResult(
        spec=spec, seed=seed, backend=backend, backend_info=info,
        empirical=Empirical.from_summary(summary, battery), battery=battery, histogram=hist, sample=sample,
    )


HIST_BINS = 24


def histogram_edges(law: Law) -> tuple[float, float]:
    """A window that shows the whole law: the support, or +-4 std for the normal."""
    edge = law.bound if law.bound is not None else 4.0 * law.std
    return -edge * 1.05, edge * 1.05


def histogram_counts(sample: Any, law: Law, bins: int = HIST_BINS) -> list[int]:
    import numpy as np

    lo, hi = histogram_edges(law)
    counts, _ = np.histogram(np.clip(sample, lo, hi), bins=bins, range=(lo, hi))
    return [int(c) for c in counts]


def expected_histogram(law: Law, total: int, bins: int = HIST_BINS) -> list[float]:
    """Counts the law predicts per bin (the edge bins also hold the clipped tails)."""
    import numpy as np

    lo, hi = histogram_edges(law)
    edges = np.linspace(lo, hi, bins + 1)
    cdf = law.cdf(edges)
    cdf[0], cdf[-1] = 0.0, 1.0
    return [float(v) for v in np.diff(cdf) * total]
