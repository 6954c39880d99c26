"""Shared helpers for statistical tests: run the battery on arbitrary data."""

from __future__ import annotations

import numpy as np

from kaiming_cli.engine.stream import scan, subsample_positions
from kaiming_cli.stats.battery import KS_MAX_SAMPLES, BatteryResult, run_battery
from kaiming_cli.stats.laws import Law


def battery_on(data: np.ndarray, law: Law, alpha: float = 1e-3, seed: int = 0,
               tests: tuple[str, ...] = ("mean", "std", "kurtosis", "range", "ks")) -> BatteryResult:
    """The battery of `law` applied to `data` exactly as `check` does (chunked, subsampled)."""
    flat = np.ascontiguousarray(data, dtype=np.float32).reshape(-1)
    positions = subsample_positions(flat.size, KS_MAX_SAMPLES, np.random.SeedSequence(seed))
    summary, sample = scan(flat.size, lambda _i, a, b: flat[a:b], positions=positions)
    return run_battery(law, summary, sample, alpha, tests)
