"""Each statement of `explain` is checked on the numbers it prints (computed here independently)."""

from __future__ import annotations

import math

import pytest

from kaiming_cli.theory.explain import explain
from kaiming_cli.theory.spec import make_spec


def sections(shape: tuple[int, ...], **kw: object) -> dict[str, str]:
    return {s.key: s.text for s in explain(make_spec(shape, **kw))}


def g6(x: float) -> str:
    return f"{x:.6g}"


def test_derivation_numbers() -> None:
    text = sections((64, 3, 3, 3), mode="fan_out", nonlinearity="relu")["derivation"]
    assert "fan_in = 27" in text and "fan_out = 576" in text
    assert f"= {g6(math.sqrt(2) / 24)}" in text  # sqrt(2)/sqrt(576)
    assert "kaiming_normal_(w, mode='fan_out', nonlinearity='relu')" in text


def test_uniform_and_truncated_derivations() -> None:
    u = sections((256, 128), distribution="uniform")["derivation"]
    assert g6(math.sqrt(3) * math.sqrt(2 / 128)) in u  # b = sqrt(3) * std = 0.216506
    t = sections((256, 128), distribution="truncated_normal")["derivation"]
    assert g6(0.125 / 0.87962566103423978) in t and g6(2 * 0.125 / 0.87962566103423978) in t


def test_nonlinearity_only_sets_gain() -> None:
    text = sections((50, 100), nonlinearity="tanh")["nonlinearity_only_sets_gain"]
    assert "never applied" in text and g6(5 / 3) in text


def test_softmax_head_numbers() -> None:
    text = sections((10, 512), nonlinearity="relu")["last_layer"]
    assert g6(1 / math.sqrt(512)) in text and g6(math.sqrt(2 / 512)) in text


def test_default_slope_trap_numbers() -> None:
    text = sections((64, 3, 3, 3), mode="fan_out")["leaky_relu_default_slope"]
    g001 = math.sqrt(2 / (1 + 0.01**2))
    assert repr(g001) in text  # 1.4141428569978354, calculate_gain('leaky_relu')
    assert g6(math.sqrt(2) / 24) in text and g6(g001 / 24) in text
    assert g6(1 - g001 / math.sqrt(2)) in text  # relative difference 5e-5


def test_selu_trap_numbers() -> None:
    text = sections((50, 100), nonlinearity="selu")["selu_gain"]
    assert g6(0.75 / 10) in text and g6(1 / 10) in text and "linear" in text


@pytest.mark.parametrize("shape,fan_in", [((50, 100), 100), ((128, 64, 3, 3), 576)])
def test_torch_default_init_numbers(shape: tuple[int, ...], fan_in: int) -> None:
    text = sections(shape)["torch_default_init"]
    assert g6(1 / math.sqrt(fan_in)) in text  # bound of U(+-1/sqrt(fan_in))
    assert g6(1 / math.sqrt(3 * fan_in)) in text  # its std
    assert f"fan_in = {fan_in}" in text


def test_transposed_conv_numbers() -> None:
    # nn.ConvTranspose2d(16, 32, 3).weight is (16, 32, 3, 3): torch's fans are (288, 144)
    text = sections((16, 32, 3, 3))["transposed_conv_fans"]
    assert "'fan_in' is 288" in text and "'fan_out' is 144" in text
    assert "fan_in is 144 and fan_out 288" in text


def test_grouped_conv_numbers() -> None:
    # Conv2d(32, 64, 3, groups=4).weight is (64, 8, 3, 3)
    text = sections((64, 8, 3, 3))["grouped_conv_fan_out"]
    assert "fan_in = 8·9 = 72" in text and "fan_out = 64·9 = 576" in text


def test_truncation_numbers() -> None:
    text = sections((3, 3, 64, 128), layout="keras")["keras_jax_truncation"]
    sp = math.sqrt(2 / 576) / 0.87962566103423978
    assert g6(sp) in text and g6(2 * sp) in text and "ABSOLUTE" in text
