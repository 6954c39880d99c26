"""Every gain against values written out independently (torch.nn.init.calculate_gain docs, He et al.)."""

from __future__ import annotations

import math

import pytest

from kaiming_cli.theory.gains import GAINS, NONLINEARITIES, gain, suggest_nonlinearity, variance_scale

# torch 2.13.0 calculate_gain docstring table: linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2),
# leaky_relu sqrt(2/(1+negative_slope^2)), selu 3/4.
EXPECTED = {
    "linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0,
    "conv_transpose1d": 1.0, "conv_transpose2d": 1.0, "conv_transpose3d": 1.0,
    "sigmoid": 1.0, "tanh": 1.6666666666666667, "relu": 1.4142135623730951, "selu": 0.75,
}


def test_registry_is_torchs_list() -> None:
    # the Literal of calculate_gain's nonlinearity argument in torch 2.13.0 (docs/init-semantics.md §2)
    assert set(NONLINEARITIES) == set(EXPECTED) | {"leaky_relu"}


@pytest.mark.parametrize("name,value", sorted(EXPECTED.items()))
def test_fixed_gains(name: str, value: float) -> None:
    assert gain(name) == value
    assert gain(name, 0.5) == value  # the slope is ignored except by leaky_relu


@pytest.mark.parametrize(
    "a,expected",
    [
        (0.0, 1.4142135623730951),  # kaiming_* default a=0: the ReLU gain
        (0.01, 1.4141428569978354),  # calculate_gain('leaky_relu') default (docs/init-semantics.md §2)
        (0.2, 1.3867504905630728),  # sqrt(2/1.04)
        (math.sqrt(5), 0.5773502691896257),  # nn.Linear default: sqrt(1/3)
        (1.0, 1.0),  # a = 1 is the identity: linear
    ],
)
def test_leaky_relu(a: float, expected: float) -> None:
    assert gain("leaky_relu", a) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_default_slope_is_001() -> None:
    assert gain("leaky_relu") == pytest.approx(1.4141428569978354, rel=1e-15)


def test_variance_scale_is_exact() -> None:
    assert variance_scale("relu", 0.0) == 2.0  # Keras/JAX He scale, exactly
    assert variance_scale("leaky_relu", 0.0) == 2.0
    assert variance_scale("linear", 0.0) == 1.0


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf])
def test_bad_slopes(bad: float) -> None:
    with pytest.raises(ValueError, match="negative slope"):
        gain("leaky_relu", bad)


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        gain("Relu")
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        gain("gelu")
    assert suggest_nonlinearity("leaky-relu") == "leaky_relu"


def test_every_entry_has_a_reference() -> None:
    for spec in GAINS.values():
        assert spec.reference and spec.formula
        assert spec.fn(0.0) > 0
