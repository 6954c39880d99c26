"""``detectable`` (stats/power.py, docs/statistics.md §10), checked by simulating the std test itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import chdtrc

from kaiming_cli.stats.battery import std_test
from kaiming_cli.stats.laws import Law
from kaiming_cli.stats.power import detectable_error
from kaiming_cli.stats.summary import summarize

LEVEL = 0.001 / 5  # alpha / k for the default battery of five tests
REPS = 4000


def chi_square_power(n: int, ratio: float, rng: np.random.Generator) -> float:
    """The two-sided chi-square std test of a normal law, simulated from draws with the true std ``ratio``."""
    x = rng.standard_normal((REPS, n)) * ratio
    t = np.sum(x * x, axis=1)
    upper = chdtrc(n, t)
    p = np.minimum(1.0, 2.0 * np.minimum(upper, 1.0 - upper))
    return float(np.mean(p <= LEVEL))


@pytest.mark.parametrize("n", [20, 50, 300])
def test_normal_power_is_90_percent_at_detectable(n: int) -> None:
    rng = np.random.default_rng(15)
    delta = detectable_error(Law("normal", 1.0), n, LEVEL)
    up, down = chi_square_power(n, 1 + delta, rng), chi_square_power(n, max(1e-9, 1 - delta), rng)
    # the binding side has power 0.9 (binomial s.e. 0.005 for 4000 runs); the other side has at least that
    assert min(up, down) == pytest.approx(0.9, abs=0.02)
    assert max(up, down) >= 0.88


def test_uniform_power_by_simulating_battery_std_test() -> None:
    """The kurtosis-aware approximation: simulated through battery.std_test on real uniform draws."""
    rng = np.random.default_rng(150)
    law, n = Law("uniform", 1.0), 2000
    delta = detectable_error(law, n, LEVEL)
    bound = math.sqrt(3.0)
    rejected = {1 + delta: 0, 1 - delta: 0}
    for ratio in rejected:
        for _ in range(1000):
            x = rng.uniform(-bound * ratio, bound * ratio, n)
            _, p, _, _ = std_test(law, summarize(x), LEVEL)
            rejected[ratio] += p <= LEVEL
    powers = [count / 1000 for count in rejected.values()]
    assert min(powers) == pytest.approx(0.9, abs=0.035) and max(powers) >= 0.87


def test_small_tensors_detect_nothing_useful() -> None:
    """check --shape 2,2 used to PASS with a std CI of [0.50, 5.97]: 4 values detect only a 3x error."""
    assert detectable_error(Law("normal", 1.0), 4, LEVEL) > 2.5
    assert detectable_error(Law("uniform", 1.0), 4, LEVEL) == math.inf
    assert detectable_error(Law("normal", 1.0), 10**6, LEVEL) < 0.01


def test_battery_computes_detectable_only_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """identify and audit run the battery hundreds of times and never read ``detectable``: its power bisection
    runs on the first reading, and gives what ``detectable_error`` gives at the std test's level alpha/k."""
    import kaiming_cli.stats.battery as battery

    calls: list[int] = []

    def counted(law: Law, n: int, level: float) -> float:
        calls.append(n)
        return detectable_error(law, n, level)

    monkeypatch.setattr(battery, "detectable_error", counted)
    x = np.random.default_rng(3).standard_normal(500)
    result = battery.run_battery(Law("normal", 1.0), summarize(x), np.sort(x), 1e-3,
                                 tests=("mean", "std", "kurtosis", "ks"))
    assert calls == []
    k = len(result.tests)  # Bonferroni: the std test is judged at alpha / k
    assert result.detectable == detectable_error(Law("normal", 1.0), 500, 1e-3 / k)
    assert result.detectable == result.detectable and calls == [500]  # computed once, then kept
