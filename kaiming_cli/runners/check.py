"""``kaiming check``: sample a tensor with the expected init and test it against the theory."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..engine.parallel import default_jobs
from ..engine.stream import scan, subsample_positions
from ..stats.battery import DEFAULT_TESTS, KS_MAX_SAMPLES, BatteryResult, run_battery
from ..stats.empirical import Empirical, histogram_counts, law_of
from ..stats.laws import MATRIX_FAMILIES, Law
from ..stats.power import DEFAULT_MAX_DETECTABLE
from ..stats.shape import CellCounter
from ..stats.structure import STRUCTURE_TESTS, StructureCollector, has_structure
from ..stats.summary import Summary
from ..theory.backend_calls import BACKENDS, FRAMEWORKS
from ..theory.spec import InitSpec


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
    max_detectable: float = DEFAULT_MAX_DETECTABLE
    """A PASS whose ``detectable`` exceeds this is ``inconclusive``: the sample cannot support a verdict."""
    strict: bool = False
    """``--strict``: an inconclusive result fails the run."""
    backend_reason: str = ""
    """Why this backend: asked for, the call's own framework, or numpy (a self-test of the formula) and why."""

    @property
    def detectable(self) -> float:
        return self.battery.detectable

    @property
    def status(self) -> str:
        """fail, inconclusive (no evidence against the law, but too little data to matter) or pass."""
        if not self.battery.passed:
            return "fail"
        return "inconclusive" if self.detectable > self.max_detectable else "pass"

    @property
    def passed(self) -> bool:
        return self.status == "pass" or (self.status == "inconclusive" and not self.strict)

    def to_dict(self) -> dict[str, Any]:
        d = self.spec.to_dict()
        d["notes"] = list(self.spec.notes) + list(self.battery.notes) + list(self.notes)
        d.update(
            seed=self.seed,
            backend=self.backend,
            backend_info=self.backend_info,
            backend_reason=self.backend_reason,
            alpha=self.battery.alpha,
            empirical=self.empirical.to_dict(),
            tests=[t.to_dict() for t in self.battery.tests],
            pvalue=self.battery.pvalue,
            detectable=self.detectable if math.isfinite(self.detectable) else None,
            max_detectable=self.max_detectable,
            status=self.status,
            passed=self.passed,
        )
        return d


#: Keys the spectral submatrix's seed apart from the sampler's (SeedSequence([seed, key])).
STRUCTURE_SEED_KEY = 0x5354


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
    max_detectable: float = DEFAULT_MAX_DETECTABLE,
    strict: bool = False,
    backend_reason: str = "",
) -> CheckResult:
    """Sample ``samples`` values (default: one tensor of ``spec.shape``) and run the battery."""
    import numpy as np

    from ..engine.sampling import sample_law, seeds

    n = samples if samples is not None else math.prod(spec.shape)
    law = law_of(spec)
    sub_seed, _chunk_seeds = seeds(seed, n)
    positions = subsample_positions(n, max_ks, sub_seed)
    values = None
    # structure tests on the tensor itself (not on --samples draws, which have no shape)
    collector = StructureCollector(spec.shape, spec.layout, np.random.SeedSequence([seed, STRUCTURE_SEED_KEY])) \
        if n == math.prod(spec.shape) and has_structure(spec.shape) and set(tests) & set(STRUCTURE_TESTS) else None
    # every backend samples float32; beyond 2^22 values, chunks chosen by a seed of their own
    cells = CellCounter("float32", n, np.random.SeedSequence([seed, STRUCTURE_SEED_KEY + 1])) \
        if "shape" in tests else None
    if backend == "torch" and spec.init is None:
        from ..engine.torch_backend import torch_producer

        produce, info = torch_producer(spec, seed)
        summary, sample = scan(n, produce, positions=positions, jobs=1, structure=collector, cells=cells)
    elif backend == "numpy":
        info = f"numpy {np.__version__}: Generator(PCG64(SeedSequence({seed}))), float32"
        summary, sample, values = sample_law(law, n, seed, max_ks=max_ks, jobs=jobs or default_jobs(),
                                             structure=collector, cells=cells)
    elif backend in FRAMEWORKS:
        summary, sample, values, info = _framework_sample(spec, law, n, seed, backend, positions, collector, cells)
    else:
        raise ValueError(f"backend {backend!r} is not supported: use {', '.join(BACKENDS)}.")
    battery = run_battery(law, summary, sample, alpha, tests, values=values, seed=seed,
                          structure=collector.data() if collector is not None else None, cells=cells)
    hist = histogram_counts(sample, law)
    return CheckResult(
        spec=spec, seed=seed, backend=backend, backend_info=info, backend_reason=backend_reason,
        empirical=Empirical.from_summary(summary, battery), battery=battery, histogram=hist, sample=sample,
        max_detectable=max_detectable, strict=strict,
    )


def _framework_sample(spec: InitSpec, law: Law, n: int, seed: int, backend: str, positions: Any,
                      structure: StructureCollector | None, cells: CellCounter | None
                      ) -> tuple[Summary, Any, Any, str]:
    """(summary, EDF subsample, whole tensor or None, backend_info) from the framework's own initializer call."""
    from ..engine.frameworks import drawer, repeated
    from ..theory.backend_calls import backend_call

    draw, info = drawer(backend_call(spec, backend), spec.shape, seed)
    size = math.prod(spec.shape)
    if law.distribution in MATRIX_FAMILIES:  # structured: the battery reads the one tensor whole
        if n != size:
            raise ValueError(f"the {law.distribution} law is sampled as one tensor of {size} values, not {n}: "
                             "drop --samples.")
        values = draw(0).copy()
        summary, sample = scan(n, lambda _i, a, b: values[a:b], positions=positions, jobs=1, structure=structure,
                               cells=cells)
        return summary, sample, values, info
    summary, sample = scan(n, repeated(draw, size), positions=positions, jobs=1, structure=structure, cells=cells)
    return summary, sample, None, info
