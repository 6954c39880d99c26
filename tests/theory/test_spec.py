"""Theoretical std, bound and truncation against docs/init-semantics.md §8 (formula columns)."""

from __future__ import annotations

import math

import pytest

from kaiming_cli.theory.spec import TRUNC_STD_FACTOR, make_spec

SQ5 = math.sqrt(5)


@pytest.mark.parametrize(
    "row,shape,kw,std,bound",
    [
        (1, (256, 128), {}, 0.125, None),
        (2, (256, 128), {"distribution": "uniform"}, 0.125, 0.216506351),
        (3, (256, 128), {"mode": "fan_out", "nonlinearity": "relu"}, 0.0883883476, None),
        (4, (64, 3, 7, 7), {"mode": "fan_out", "nonlinearity": "relu"}, 0.0252538136, None),
        (5, (64, 3, 7, 7), {"nonlinearity": "relu"}, 0.116642369, None),
        (6, (128, 64, 3, 3), {"distribution": "uniform", "negative_slope": SQ5}, 0.0240562612, 0.0416666667),
        (7, (50, 100), {"distribution": "uniform", "negative_slope": SQ5}, 0.0577350269, 0.1),
        (9, (50, 100), {"negative_slope": 0.2}, 0.138675049, None),
        (10, (50, 100), {"negative_slope": 0.01}, 0.141414286, None),
        (11, (50, 100), {"nonlinearity": "tanh"}, 0.166666667, None),
        (12, (50, 100), {"nonlinearity": "selu"}, 0.075, None),
        (13, (50, 100), {"nonlinearity": "linear"}, 0.1, None),
        (14, (50, 100), {"negative_slope": 0.5, "nonlinearity": "relu"}, 0.141421356, None),
        (15, (16, 32, 3, 3), {}, 0.0833333333, None),  # torch's view of a ConvTranspose weight
        (17, (64, 8, 3, 3), {"mode": "fan_out", "nonlinearity": "relu"}, 0.0589255651, None),
        (18, (64, 8, 3, 3), {"nonlinearity": "relu"}, 0.166666667, None),
        (19, (4, 1, 3, 3), {"mode": "fan_out"}, 0.23570226, None),
        (20, (33, 16, 5), {"distribution": "uniform"}, 0.158113883, 0.273861279),
        (21, (8, 4, 3, 3, 3), {}, 0.136082763, None),
        (22, (50, 100), {"mode": "fan_avg", "nonlinearity": "linear", "distribution": "uniform"}, 0.115470054, 0.2),
        (23, (50, 100), {"mode": "fan_avg", "nonlinearity": "relu"}, 0.163299316, None),
        (27, (128, 256), {"layout": "keras", "distribution": "truncated_normal"}, 0.125, 0.284211809),
        (28, (128, 256), {"layout": "keras", "distribution": "uniform"}, 0.125, 0.216506351),
        (29, (3, 3, 64, 128), {"layout": "keras", "distribution": "truncated_normal"}, 0.0589255651, 0.133978731),
        (30, (3, 3, 64, 128), {"layout": "keras", "mode": "fan_out", "distribution": "uniform"}, 0.0416666667,
         0.0721687836),
        (32, (128, 256), {"layout": "keras", "mode": "fan_avg", "nonlinearity": "linear", "distribution": "uniform"},
         0.0721687836, 0.125),
        (33, (128, 256), {"layout": "keras", "nonlinearity": "linear", "distribution": "truncated_normal"},
         0.0883883476, 0.200968097),
        (34, (100000,), {"layout": "keras", "distribution": "truncated_normal"}, 0.00447213595, 0.0101682708),
        (35, (3, 3, 32, 16), {"layout": "keras", "distribution": "truncated_normal"}, 0.0833333333, 0.189474539),
        (39, (3, 3, 64, 128), {"layout": "jax", "distribution": "uniform"}, 0.0589255651, 0.102062073),
        (43, (3, 3, 3, 64, 128), {"layout": "jax", "distribution": "truncated_normal"}, 0.0340206909, 0.0773526567),
    ],
)
def test_reference_rows(row: int, shape: tuple[int, ...], kw: dict, std: float, bound: float | None) -> None:
    spec = make_spec(shape, **kw)
    assert spec.std == pytest.approx(std, rel=1e-8), f"row {row}"
    if bound is None:
        assert spec.bound is None
    else:
        assert spec.bound == pytest.approx(bound, rel=1e-8), f"row {row}"


def test_truncation_constant() -> None:
    # std of N(0,1) truncated to (-2, 2), written out: sqrt(1 - 2*2*phi(2)/(2*Phi(2)-1))
    phi2 = math.exp(-2) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert TRUNC_STD_FACTOR == pytest.approx(math.sqrt(1 - 4 * phi2 / mass), rel=1e-15)
    spec = make_spec((128, 256), layout="keras", distribution="truncated_normal")
    assert spec.sigma_pre == pytest.approx(0.142105904, rel=1e-8)


def test_uniform_bound_is_sqrt3_std() -> None:
    spec = make_spec((64, 3, 3, 3), distribution="uniform", mode="fan_out", nonlinearity="relu")
    assert spec.bound == pytest.approx(math.sqrt(6 / 576), rel=1e-14)


@pytest.mark.parametrize(
    "kw,call",
    [
        ({"mode": "fan_out", "nonlinearity": "relu"},
         "torch.nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu')"),
        ({"distribution": "uniform", "negative_slope": 0.2},
         "torch.nn.init.kaiming_uniform_(w, a=0.2, mode='fan_in', nonlinearity='leaky_relu')"),
        ({"layout": "torch-transpose"}, "torch.nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='leaky_relu')"),
        ({"layout": "keras", "distribution": "truncated_normal"}, "keras.initializers.HeNormal()"),
        ({"layout": "keras"}, "keras.initializers.VarianceScaling(scale=2.0, mode='fan_in', "
                              "distribution='untruncated_normal')"),
        ({"layout": "jax", "distribution": "uniform"}, "jax.nn.initializers.he_uniform()"),
        ({"layout": "jax", "nonlinearity": "linear", "mode": "fan_avg", "distribution": "truncated_normal"},
         "jax.nn.initializers.glorot_normal()"),
        ({"mode": "fan_avg", "nonlinearity": "tanh"},
         "torch.nn.init.xavier_normal_(w, gain=torch.nn.init.calculate_gain('tanh'))"),
    ],
)
def test_calls(kw: dict, call: str) -> None:
    assert make_spec((64, 3, 3, 3), **kw).call == call


def test_slope_ignored_note() -> None:
    spec = make_spec((10, 10), nonlinearity="relu", negative_slope=0.3)
    assert spec.gain == math.sqrt(2) and "ignored" in spec.notes[0]
