"""Every gain against values written out independently (torch.nn.init.calculate_gain docs, He et al.)."""

from __future__ import annotations

import math

import pytest

from kaiming_cli.theory.gains import (
    GAINS,
    NONLINEARITIES,
    canonical_nonlinearity,
    gain,
    suggest_nonlinearity,
    unknown_nonlinearity_message,
    variance_scale,
)

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


@pytest.mark.parametrize("bad", [-1000.5, math.nan, math.inf])
def test_bad_slopes(bad: float) -> None:
    with pytest.raises(ValueError, match="negative slope"):
        gain("leaky_relu", bad)


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        gain("rleu")
    with pytest.raises(ValueError, match="gelu has no gain in torch.nn.init.calculate_gain"):
        gain("gelu")
    assert suggest_nonlinearity("leaky-relu") == "leaky_relu"


@pytest.mark.parametrize("name", ["gelu", "GELU", "silu", "SiLU", "swish", "mish", "elu", "softplus", "hardswish",
                                  "celu", "relu6", "prelu", "hardtanh", "softmax"])
def test_unregistered_activations_get_advice_not_a_lookalike(name: str) -> None:
    """gelu used to suggest selu (gain 0.75, harmful): now the message says what people use instead."""
    message = unknown_nonlinearity_message(name)
    assert suggest_nonlinearity(name) is None
    assert "no gain in torch.nn.init.calculate_gain" in message and "Did you mean" not in message
    assert "--nonlinearity" in message and "selu" not in message.replace(name.lower(), "")


@pytest.mark.parametrize(("spelling", "name"), [("lrelu", "leaky_relu"), ("leakyrelu", "leaky_relu"),
                                                ("LeakyReLU", "leaky_relu"), ("leaky-relu", "leaky_relu"),
                                                ("ReLU", "relu"), ("Tanh", "tanh"), ("SELU", "selu"),
                                                ("Identity", "linear"), ("ConvTranspose2d", "conv_transpose2d")])
def test_spellings_name_the_registered_nonlinearity(spelling: str, name: str) -> None:
    assert canonical_nonlinearity(spelling) == name
    assert gain(spelling, 0.2) == gain(name, 0.2)


def test_negative_slopes_follow_torch() -> None:
    """torch's calculate_gain squares the slope: a = -0.5 gives sqrt(2 / 1.25) = 1.2649..."""
    assert gain("leaky_relu", -0.5) == pytest.approx(math.sqrt(2 / 1.25), rel=1e-15)
    assert math.sqrt(2 / 1.25) == pytest.approx(1.2649110640673518)


def test_every_entry_has_a_reference() -> None:
    for spec in GAINS.values():
        assert spec.reference and spec.formula
        assert spec.fn(0.0) > 0
