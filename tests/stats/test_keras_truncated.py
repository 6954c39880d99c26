"""Keras's truncated normal as its torch backend samples it (tests/keras_sampler.py, written out from Keras's
source): 4.3e-6 of the values lie outside +-2 stddev, and the law kaiming tests a Keras truncated initializer
against includes them (theory/law.py ``keras_truncated_normal``; docs/statistics.md "Keras's truncated normal").
Real Keras draws: tests/test_frameworks_keras_torch.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import norm

from kaiming_cli.api import verify_tensor
from kaiming_cli.cli import cli
from kaiming_cli.stats.laws import law_from_spec
from kaiming_cli.theory.law import keras_truncated_normal
from tests.keras_sampler import he_normal_kernel, torch_backend_truncated_normal


def test_the_mixture_mass_is_four_misses_in_a_row() -> None:
    spec = keras_truncated_normal(0.0, 1.0)
    assert spec.outside == pytest.approx((2 * norm.sf(2.0)) ** 4, rel=1e-12)


def test_law_matches_the_emulated_sampler() -> None:
    """CDF at a few points, the std and the fraction beyond the cut, against 4e6 emulated draws (5 sds)."""
    rng = np.random.default_rng(3)
    x = torch_backend_truncated_normal((4_000_000,), 1.0, rng).astype(np.float64)
    law = law_from_spec(keras_truncated_normal(0.0, 1.0), (x.size,))
    for v in (-1.5, -0.5, 0.0, 0.7, 1.9):
        p = float(law.cdf(np.array([v]))[0])
        assert abs(float(np.mean(x <= v)) - p) <= 5 * math.sqrt(p * (1 - p) / x.size)
    q = law.outside
    assert abs(int(np.count_nonzero(np.abs(x) >= 2)) - q * x.size) <= 5 * math.sqrt(q * x.size) + 1
    assert float(np.std(x)) == pytest.approx(law.std, rel=5 * math.sqrt((law.kurtosis - 1) / x.size) / 2)


@pytest.mark.parametrize("sigma,centre", [(1.0, 0.0), (0.05, 0.0), (0.3, 0.1)])
def test_the_cdf_is_the_integral_of_the_mixture_density_written_out(sigma: float, centre: float) -> None:
    """``Law.cdf`` of the mixture, pinned to its density integrated numerically: N(c, sigma^2) with
    1 - q of the mass inside c +- 2 sigma and q = P(|Z| >= 2)^4 in the tails. The sampler test above cannot see the
    tails' term (4.3e-6 of the mass); this one can, at every point, beyond the cut too (a CDF without it stops
    short of 1 by q)."""
    from scipy.integrate import quad

    q = (2 * norm.sf(2.0)) ** 4
    inside = 1 - 2 * norm.sf(2.0)

    def density(x: float) -> float:
        z = (x - centre) / sigma
        share = (1 - q) / inside if abs(z) < 2 else q / (1 - inside)
        return share * norm.pdf(z) / sigma

    law = law_from_spec(keras_truncated_normal(centre, sigma), (1000,))
    cut = (centre - 2 * sigma, centre + 2 * sigma)
    for z in (-6.0, -3.0, -2.0000001, -1.2, 0.0, 0.4, 1.99, 2.5, 4.0, 8.0):
        x = centre + z * sigma
        pieces = [(-math.inf, min(x, cut[0]))] + ([(cut[0], min(x, cut[1]))] if x > cut[0] else []) + \
            ([(cut[1], x)] if x > cut[1] else [])
        expected = sum(quad(density, lo, hi, epsabs=1e-14, epsrel=1e-12)[0] for lo, hi in pieces)
        assert float(law.cdf(np.array([x]))[0]) == pytest.approx(expected, rel=1e-9, abs=1e-13), z
    assert float(law.cdf(np.array([centre + 50 * sigma]))[0]) == pytest.approx(1.0, abs=1e-15)


def test_he_normal_1024_false_alarms_at_alpha() -> None:
    """30 emulated HeNormal 1024x1024 kernels (about 99% hold a value beyond the cut) at alpha = 0.01:
    Binomial(30, 0.01) exceeds 2 with probability 3e-3. The full truncation's law failed 29 of 30 (issue 26)."""
    rng = np.random.default_rng(26)
    fails, beyond = 0, 0
    cut = 2 * math.sqrt(2 / 1024) / 0.87962566103423978
    for i in range(30):
        w = he_normal_kernel((1024, 1024), rng)
        beyond += int(np.any(np.abs(w) >= cut))
        fails += verify_tensor(w, init="keras.initializers.HeNormal()", alpha=0.01, seed=i).status != "pass"
    assert beyond >= 25  # the premise: P(a kernel has one) = 1 - exp(-4.49) = 0.989
    assert fails <= 2


def test_untruncated_normal_data_still_fail_the_keras_law() -> None:
    """The mixture does not let an untruncated normal through (4.6% beyond the cut, not 4.3e-6)."""
    rng = np.random.default_rng(5)
    for n in (100, 10_000, 1_000_000):
        w = (rng.standard_normal((n // 100, 100)) * math.sqrt(2 / (n // 100))).astype(np.float32)
        assert verify_tensor(w, init="keras.initializers.HeNormal()", alpha=0.01).status == "fail"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_identify_names_truncated_normal_exactly(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(100 + seed)
    np.save(tmp_path / "w.npy", torch_backend_truncated_normal((1024, 1024), 0.05, rng))
    result = CliRunner().invoke(cli, ["identify", str(tmp_path / "w.npy"), "--layout", "keras", "-f", "json"])
    doc = json.loads(result.stdout)
    tensor = doc["tensors"][0] if "tensors" in doc else doc
    assert tensor["verdict"] == "keras.initializers.TruncatedNormal()", tensor.get("reason")
