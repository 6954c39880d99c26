"""theory/explanations.py: every named call whose exact law lies in a fitted interval (formulas written out here)."""

from __future__ import annotations

import math

from kaiming_cli.theory.explanations import bare_call, explain, fan_options, number, round_values


def calls(shape: tuple[int, ...], layout: str, dist: str, std: float, rel: float = 1e-3,
          **kw: object) -> dict[str, object]:
    return {e.call: e for e in explain(shape, layout, dist, std * (1 - rel), std * (1 + rel), std, **kw)}  # type: ignore[arg-type]


def test_keras_einsum_kernel_lists_lecun_with_its_split_fans() -> None:
    """MultiHeadAttention's query kernel (32, 8, 16): EinsumDense passes fan_in = 32, so std = sqrt(1/32)."""
    found = calls((32, 8, 16), "keras", "truncated_normal", math.sqrt(1 / 32))
    lecun = found["keras.initializers.LecunNormal()"]
    assert (lecun.fan_in, lecun.fan_out) == (32, 128)  # type: ignore[attr-defined]
    assert (32, 128, True) in fan_options((32, 8, 16), "keras")


def test_kaiming_named_slopes_and_solved_slope() -> None:
    fan = 64 * 4 * 4
    std02 = math.sqrt(2 / (1 + 0.2**2)) / math.sqrt(fan)
    assert "kaiming_normal_(a=0.2, mode='fan_in', nonlinearity='leaky_relu')" in calls((128, 64, 4, 4), "torch",
                                                                                     "normal", std02)
    odd = math.sqrt(2 / (1 + 0.737**2)) / math.sqrt(fan)
    found = calls((128, 64, 4, 4), "torch", "normal", odd, rel=1e-4)
    solved = [c for c, e in found.items() if e.fitted]  # type: ignore[attr-defined]
    assert "kaiming_normal_(a=0.737, mode='fan_in', nonlinearity='leaky_relu')" in solved


def test_gpt2_residual_projection_and_round_stds() -> None:
    found = calls((768, 3072), "torch", "normal", 0.02 / math.sqrt(2 * 12), rel=2e-3)
    assert "normal_(std=0.02/sqrt(2*12))" in found
    assert "normal_(std=0.02)" in calls((768, 768), "torch", "normal", 0.02)
    assert "trunc_normal_(std=0.02)" in calls((768, 768), "torch", "normal", 0.02)
    assert round_values(0.009, 0.021) == [0.01, 0.02]


def test_module_defaults_and_fans() -> None:
    hidden = 48
    assert "default('LSTM')" in calls((4 * hidden, 32), "torch", "uniform", 1 / math.sqrt(3 * hidden),
                                      name="lstm.weight_ih_l0")
    assert "default('Linear')" in calls((10, 64), "torch", "uniform", 1 / math.sqrt(3 * 64))
    bias = calls((10,), "torch", "uniform", 1 / math.sqrt(3 * 64), bias_fan_in=64)["default('Linear')"]
    assert bias.fan_in == 64  # type: ignore[attr-defined]
    head = calls((1000, 1280), "torch", "uniform", 1 / math.sqrt(3 * 1000))
    assert "uniform_(-1/sqrt(fan_out), 1/sqrt(fan_out))" in head
    assert "default('Embedding')" in calls((300, 32), "torch", "normal", 1.0, rel=0.05)


def test_xavier_named_gain_and_solved_gain() -> None:
    avg = (256 + 128) / 2
    assert "xavier_uniform_(gain=calculate_gain('relu'))" in calls((256, 128), "torch", "uniform",
                                                                    math.sqrt(2) / math.sqrt(avg))
    found = calls((256, 128), "torch", "normal", 1.234 / math.sqrt(avg), rel=1e-4)
    assert any(c.startswith("xavier_normal_(gain=1.23") for c in found)


def test_bare_call_stays_inside_the_interval() -> None:
    call = bare_call("normal", 0.0041666, 0.00416, 0.00417, "torch")
    value = float(call.split("=")[1].rstrip(")"))
    assert 0.00416 <= value <= 0.00417
    assert 0.004 <= float(number(0.0041234, 0.0041, 0.0042)) <= 0.0042
    assert bare_call("uniform", 0.01, 0.0099, 0.0101, "torch").startswith("uniform_(-0.0173")
