"""theory/explanations.py: every named call whose exact law lies in a fitted interval (formulas written out here)."""

from __future__ import annotations

import math
from typing import Any

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


def _intervals(std: float) -> list[tuple[float, float]]:
    """Intervals around a call's std: with it at either end, an ulp outside, and of several widths."""
    up, down = math.nextafter(std, math.inf), math.nextafter(std, 0.0)
    out = [(std, std), (down, std), (std, up), (up, 2 * up), (down / 2, down)]
    out += [(std * (1 - r), std * (1 + r)) for r in (1e-6, 1e-3, 0.02, 0.1, 0.5, 0.9)]
    out += [(std * (1 - r), std) for r in (1e-3, 0.3)] + [(std, std * (1 + r)) for r in (1e-3, 0.3)]
    return out


def test_the_table_is_the_collector_call_by_call(monkeypatch: Any) -> None:
    """``explain`` looks the named calls up in a shape's table (bisection over their stds); ``collected`` adds
    them one by one as the collector always did. The two must give the same calls in the same order for every
    interval: at a call's std exactly, an ulp beside it (the round values' own window: a uniform's bound and a
    truncated normal's sigma are rescaled before the std is), GPT-2's layer counts up to and past their cap,
    recurrent defaults hinted by the tensor's name, a bias's sibling fan, Keras einsum splits."""
    import kaiming_cli.theory.explanations as ex
    from kaiming_cli.theory.explanations import ROUND_VALUES, collected

    fallbacks: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> list[Any]:
        fallbacks.append(1)
        return collected(*args, **kwargs)

    monkeypatch.setattr(ex, "collected", counted)  # explain's own fallback; the test compares with the original

    cases = [((64, 32), "torch", None, "fc.weight"), ((32, 3, 3, 3), "torch", None, "conv.weight"),
             ((768, 3072), "torch", None, "h.0.mlp.c_proj.weight"), ((48, 16), "torch", None, "lstm.weight_ih_l0"),
             ((27, 9), "torch", None, "rnn_gru.weight_hh"), ((12, 4), "torch", None, "cell.rnn.weight"),
             ((64,), "torch", 48, "fc.bias"), ((32, 8, 16), "keras", None, "query/kernel"),
             ((3, 3, 16, 32), "keras", None, "conv/kernel"), ((16, 64), "jax", None, "Dense_0/kernel"),
             ((64, 32), "torch-transpose", None, "c_attn.weight"), ((1, 1), "torch", None, "scalar")]
    named = calls = 0
    for shape, layout, bias_fan_in, name in cases:
        for dist in ("normal", "uniform", "truncated_normal"):
            stds = {e.std for e in collected(shape, layout, dist, 0.0, math.inf, 1.0, bias_fan_in=bias_fan_in,
                                             name=name)}
            stds |= {0.02 / math.sqrt(2 * k) for k in (1, 3, 12, 48)}  # GPT-2's, by layer count
            stds |= {v / math.sqrt(3.0) for v in ROUND_VALUES[::3]} | {v * 0.87962566103423978 for v in
                                                                          ROUND_VALUES[::3]}
            for std in sorted(stds):
                for low, high in _intervals(std):
                    for std_hat in (std, 1.5 * std):
                        kw = {"bias_fan_in": bias_fan_in, "name": name}
                        got = explain(shape, layout, dist, low, high, std_hat, **kw)  # type: ignore[arg-type]
                        want = collected(shape, layout, dist, low, high, std_hat, **kw)  # type: ignore[arg-type]
                        assert got == want, (shape, layout, dist, low, high, std_hat)
                        named += any(not e.fitted for e in got)
                        calls += 1
    answered = calls - len(fallbacks)  # by the table: a named call inside, no pass of the collector
    assert named > 3000 and answered > 3000 and answered >= named - len(cases) * 3
