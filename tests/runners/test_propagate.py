"""`kaiming propagate` against theory, and the PNG figures."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.runners.propagate import Conv2d
from kaiming_cli.runners.propagate import run_propagate as propagate


def by_label(result, prefix: str):  # type: ignore[no-untyped-def]
    return next(r for r in result.runs if r.init.label.startswith(prefix))


def test_relu_correct_gain_keeps_scale_and_gain_one_halves_variance() -> None:
    r = propagate("relu", depth=30, width=512, batch=256)
    right, wrong = by_label(r, "kaiming"), by_label(r, "gain 1")
    # input std is 1: the right gain keeps the last layer within a factor 2
    assert 0.5 < right.forward_std[-1] < 2.0
    # He et al.: with gain 1 each ReLU layer halves the variance: std(h_30) = 2^(-29/2) * std(h_1)
    exponent = math.log2(wrong.forward_std[-1] / wrong.forward_std[0])
    assert exponent == pytest.approx(-29 / 2, abs=1.0)
    assert math.log2(wrong.forward_std[-1]) == pytest.approx(-15, abs=1.0)


def test_backward_behaves_likewise() -> None:
    r = propagate("relu", mode="fan_out", depth=30, width=512, batch=256)
    right, wrong = by_label(r, "kaiming"), by_label(r, "gain 1")
    assert 0.5 < right.backward_std[0] < 2.0  # the output gradient has std 1
    assert math.log2(wrong.backward_std[0] / wrong.backward_std[-1]) == pytest.approx(-29 / 2, abs=1.0)


def test_tanh_with_gain_5_3_stays_bounded() -> None:
    r = propagate("tanh", depth=50, width=256, batch=128)
    right = by_label(r, "kaiming")
    assert all(0.3 < s < 3.0 for s in right.forward_std)
    # backward, 5/3 overshoots tanh'(h)^2's mean: gradients grow ~1.1x per layer, far from exploding
    assert right.backward_std[0] / right.backward_std[-1] < 1.15**50
    assert by_label(r, "PyTorch default").forward_std[-1] < 1e-3  # a=sqrt(5) shrinks tanh nets


@pytest.mark.parametrize("nonlinearity", ["leaky_relu", "selu", "sigmoid", "linear"])
def test_every_nonlinearity_runs(nonlinearity: str) -> None:
    r = propagate(nonlinearity, negative_slope=0.2, depth=10, width=64, batch=32)
    assert all(len(run.forward_std) == 10 and all(np.isfinite(run.forward_std)) for run in r.runs)


def test_conv_adjoint_is_exact_and_conv_keeps_scale() -> None:
    rng = np.random.default_rng(0)
    layer = Conv2d(4, 3)
    x, g, w = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((4, 4, 3, 3))
    assert np.vdot(layer.forward(x, w), g) == pytest.approx(np.vdot(x, layer.backward(g, w)), rel=1e-10)
    r = propagate("relu", depth=20, width=32, batch=16, conv=3)
    assert 0.5 < by_label(r, "kaiming").forward_std[-1] < 2.0
    assert by_label(r, "gain 1").forward_std[-1] < 1e-2


def test_cli_json_and_table() -> None:
    runner = CliRunner()
    doc = json.loads(runner.invoke(cli, ["propagate", "--depth", "8", "--width", "64", "-f", "json"]).stdout)
    assert (doc["depth"], doc["width"], doc["nonlinearity"]) == (8, 64, "relu")
    assert all(len(r["forward_std"]) == 8 and len(r["backward_std"]) == 8 for r in doc["runs"])
    assert {"label", "gain", "mode"} <= set(doc["runs"][0])
    out = runner.invoke(cli, ["propagate", "--depth", "8", "--width", "64"]).stdout
    assert "forward" in out and "│" in out
    assert runner.invoke(cli, ["propagate", "--conv", "2"]).exit_code == 2


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_propagate_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "p.png"
    result = CliRunner().invoke(cli, ["propagate", "--depth", "10", "--width", "64", "--plot", str(target)])
    assert result.exit_code == 0 and png_size(target) == (1200, 500)


def test_check_and_verify_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    runner = CliRunner()
    target = tmp_path / "c.png"
    args = ["check", "--shape", "64,3,3,3", "--distribution", "uniform", "--plot", str(target)]
    assert runner.invoke(cli, args).exit_code == 0
    assert png_size(target) == (1100, 360)
    w = np.random.default_rng(0).standard_normal((64, 27)).astype(np.float32)  # std 1: fails relu
    np.savez(tmp_path / "w.npz", a=w, b=w * np.float32(math.sqrt(2 / 27)), c=w, d=w)
    target = tmp_path / "v.png"
    result = runner.invoke(cli, ["verify", str(tmp_path / "w.npz"), "--nonlinearity", "relu", "--plot", str(target)])
    assert result.exit_code == 1 and png_size(target) == (1100, 3 * 360)  # one row per failing tensor


def test_plot_without_matplotlib_is_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = CliRunner().invoke(cli, ["propagate", "--depth", "3", "--width", "8", "--plot", "x.png"])
    clone = __import__("pathlib").Path(__file__).resolve().parents[2]  # `make test` installs this clone with -e
    assert result.exit_code == 3 and f"pip install -e '{clone}[plot]'" in " ".join(result.stderr.split())


def test_tanh_labels_follow_the_measurements() -> None:
    """Issue 15: with tanh the gain 5/3 run grows the gradient ~90x while the run labelled "gain 1 (wrong
    nonlinearity)" stayed within 0.1-1: labels say what each init is, and the measured text what it did."""
    from kaiming_cli.render.text import propagate_measured
    from kaiming_cli.runners.propagate import run_propagate

    result = run_propagate("tanh", depth=50, width=256, batch=128, seed=0)
    assert all("wrong" not in run.init.label for run in result.runs)
    kaiming = result.runs[0]
    growth = kaiming.backward_std[0] / kaiming.backward_std[-1]
    assert growth > 20  # measured independently of the text below
    line = propagate_measured(result)[0]
    assert line.startswith("kaiming, gain 1.667") and f"grows {growth:.3g}x" in line


def test_chart_tells_a_tenth_from_one() -> None:
    """The log scale spanned 1e-13..1e2 and drew 0.107 and 1.08 as the same bar."""
    from kaiming_cli.render.text import propagate_chart
    from kaiming_cli.runners.propagate import Init, PropagateResult, Run

    runs = (Run(Init("a", 1.0, "fan_in"), [0.107] * 4, [1.08] * 4),
            Run(Init("b", 1.0, "fan_in"), [1e-13] * 4, [94.0] * 4))
    chart = propagate_chart(PropagateResult("tanh", 0.0, 4, 8, 2, 0, None, 8, runs)).splitlines()
    bars = {line.split()[0] + line.split()[1]: line.split("│")[1] for line in chart[1:]}
    assert bars["forwarda"][0] != bars["backwarda"][0]
