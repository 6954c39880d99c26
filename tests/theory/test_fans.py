"""Fan rules for the four layouts, against the frameworks' code written out (docs/init-semantics.md §3)."""

from __future__ import annotations

import pytest

from kaiming_cli.theory.fans import compute_fans, parse_shape


@pytest.mark.parametrize(
    "shape,fan_in,fan_out,rf",
    [
        ((256, 128), 128, 256, 1),  # nn.Linear(128, 256).weight is (out, in)
        ((33, 16, 5), 80, 165, 5),  # Conv1d(16, 33, 5)
        ((64, 3, 3, 3), 27, 576, 9),  # conv1 of the headline example
        ((64, 3, 7, 7), 147, 3136, 49),  # ResNet conv1
        ((64, 8, 3, 3), 72, 576, 9),  # Conv2d(32, 64, 3, groups=4): fan_out NOT divided by groups
        ((4, 1, 3, 3), 9, 36, 9),  # depthwise Conv2d(4, 4, 3, groups=4): pytorch#23854
        ((8, 4, 3, 3, 3), 108, 216, 27),  # Conv3d(4, 8, 3)
        ((16, 32, 3, 3), 288, 144, 9),  # ConvTranspose2d(16, 32, 3) weight as torch computes: (288, 144)
    ],
)
def test_torch(shape: tuple[int, ...], fan_in: int, fan_out: int, rf: int) -> None:
    f = compute_fans(shape, "torch")
    assert (f.fan_in, f.fan_out, f.receptive_field) == (fan_in, fan_out, rf)


@pytest.mark.parametrize(
    "shape,fan_in,fan_out",
    [
        ((16, 32, 3, 3), 144, 288),  # ConvTranspose2d(16, 32, 3): in = 16 -> fan_in 16*9
        ((16, 8, 3, 3), 144, 72),  # ConvTranspose2d(16, 32, 3, groups=4): weight (16, 8, 3, 3)
        ((10, 20), 10, 20),
    ],
)
def test_torch_transpose(shape: tuple[int, ...], fan_in: int, fan_out: int) -> None:
    f = compute_fans(shape, "torch-transpose")
    assert (f.fan_in, f.fan_out) == (fan_in, fan_out)


@pytest.mark.parametrize("layout", ["keras", "jax"])
@pytest.mark.parametrize(
    "shape,fan_in,fan_out",
    [
        ((3, 5), 3, 5),  # Dense kernel (in, out)
        ((3, 3, 16, 32), 144, 288),  # keras compute_fans((3,3,16,32)) == (144, 288)
        ((3, 3, 64, 128), 576, 1152),  # docs/init-semantics.md §3.3
        ((3, 3, 3, 64, 128), 1728, 3456),  # DHWIO, row 43
        ((5, 16, 33), 80, 165),  # Conv1D kernel (k, in, out)
    ],
)
def test_keras_jax(layout: str, shape: tuple[int, ...], fan_in: int, fan_out: int) -> None:
    f = compute_fans(shape, layout)
    assert (f.fan_in, f.fan_out) == (fan_in, fan_out)


def test_keras_1d_is_its_length_and_jax_refuses() -> None:
    f = compute_fans((7,), "keras")  # keras compute_fans((7,)) == (7, 7)
    assert (f.fan_in, f.fan_out) == (7, 7)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        compute_fans((7,), "jax")


@pytest.mark.parametrize("layout", ["torch", "torch-transpose", "jax"])
def test_fewer_than_two_dims(layout: str) -> None:
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        compute_fans((10,), layout)


@pytest.mark.parametrize("shape", [(0, 5), (3, 3, 0, 32)])
def test_zero_dims_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="zero or negative"):
        compute_fans(shape, "torch")


def test_overflow() -> None:
    with pytest.raises(ValueError, match="overflows"):
        compute_fans((10**10, 10**10), "torch")


@pytest.mark.parametrize(
    "text,shape",
    [("64,3,3,3", (64, 3, 3, 3)), ("64x3x3x3", (64, 3, 3, 3)), ("(256, 128)", (256, 128)), ("10,", (10,))],
)
def test_parse_shape(text: str, shape: tuple[int, ...]) -> None:
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["64,,3", "-1", "0", "abc", "", "3,0", "1.5,2"])
def test_parse_shape_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shape(text)
