"""Agreement with PyTorch itself (torch==2.13.0 in CI): fans, gains, the exact std and bound that
kaiming_*_ passes to normal_/uniform_, and `check --backend torch` over a grid."""

from __future__ import annotations

import itertools
import math
from unittest import mock

import numpy as np
import pytest
import scipy.stats as st

torch = pytest.importorskip("torch")  # CI installs it (conftest turns a missing torch into an error)
nn = torch.nn
init = torch.nn.init

from kaiming_cli.engine.stream import scan, subsample_positions  # noqa: E402
from kaiming_cli.engine.torch_backend import torch_producer  # noqa: E402
from kaiming_cli.runners.check import run_check  # noqa: E402
from kaiming_cli.stats.battery import run_battery  # noqa: E402
from kaiming_cli.stats.empirical import law_of  # noqa: E402
from kaiming_cli.theory.gains import NONLINEARITIES  # noqa: E402
from kaiming_cli.theory.spec import make_spec  # noqa: E402

SLOPES = [0.0, 0.01, 0.2, math.sqrt(5)]
SHAPES = [(20, 30), (33, 16, 5), (64, 3, 3, 3), (8, 4, 3, 3, 3), (3, 7, 2, 1, 2)]
MODES = ["fan_in", "fan_out"]


def _grid() -> list[tuple[str, float, str, tuple[int, ...]]]:
    out = []
    for nl, mode, shape in itertools.product(NONLINEARITIES, MODES, SHAPES):
        for a in SLOPES if nl == "leaky_relu" else [0.0]:
            out.append((nl, a, mode, shape))
    return out


GRID = _grid()


def _torch_args(fn_name: str, w: torch.Tensor, **kw: object) -> tuple:
    """The (args) that kaiming_*_ passes to Tensor.normal_/uniform_, captured with a spy."""
    captured: list[tuple] = []
    method = "normal_" if fn_name == "kaiming_normal_" else "uniform_"
    original = getattr(torch.Tensor, method)

    def spy(self: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        captured.append(args)
        return original(self, *args, **kwargs)

    with mock.patch.object(torch.Tensor, method, spy):
        getattr(init, fn_name)(w, **kw)
    assert len(captured) == 1
    return captured[0]


@pytest.mark.parametrize("nl,a,mode,shape", GRID)
def test_fans_gain_std_bound_are_torchs(nl: str, a: float, mode: str, shape: tuple[int, ...]) -> None:
    w = torch.empty(shape)
    spec = make_spec(shape, mode=mode, nonlinearity=nl, negative_slope=a)
    assert (spec.fan_in, spec.fan_out) == init._calculate_fan_in_and_fan_out(w)
    assert spec.gain == pytest.approx(init.calculate_gain(nl, a), rel=1e-15, abs=0)
    mean, std = _torch_args("kaiming_normal_", w, a=a, mode=mode, nonlinearity=nl)
    assert (mean, spec.std) == (0, pytest.approx(std, rel=1e-15, abs=0))
    lo, hi = _torch_args("kaiming_uniform_", w, a=a, mode=mode, nonlinearity=nl)
    uniform = make_spec(shape, mode=mode, nonlinearity=nl, negative_slope=a, distribution="uniform")
    assert uniform.bound == pytest.approx(hi, rel=1e-15, abs=0) and lo == -hi


def test_calculate_gain_default_slope() -> None:
    from kaiming_cli.theory.gains import gain

    assert gain("leaky_relu") == init.calculate_gain("leaky_relu")


@pytest.mark.parametrize("module,groups", [
    (nn.Conv1d(16, 33, 5), 1), (nn.Conv2d(32, 64, 3, groups=4), 4), (nn.Conv2d(4, 4, 3, groups=4), 4),
    (nn.Conv3d(4, 8, 3), 1), (nn.Linear(100, 50), 1), (nn.Conv2d(3, 64, 7), 1),
])
def test_real_conv_and_linear_weights(module: nn.Module, groups: int) -> None:
    w = module.weight
    spec = make_spec(tuple(w.shape))
    assert (spec.fan_in, spec.fan_out) == init._calculate_fan_in_and_fan_out(w)


@pytest.mark.parametrize("cin,cout,k,groups", [(16, 32, 3, 1), (16, 32, 3, 4), (8, 8, (3, 5), 8), (6, 4, 3, 2)])
def test_transposed_conv_layouts(cin: int, cout: int, k: object, groups: int) -> None:
    """ConvTranspose weights are (in, out/groups, *k): torch's fans read them as (out, in, *k)."""
    w = nn.ConvTranspose2d(cin, cout, k, groups=groups).weight
    shape = tuple(w.shape)
    rf = math.prod(shape[2:])
    as_torch = make_spec(shape, layout="torch")
    assert (as_torch.fan_in, as_torch.fan_out) == init._calculate_fan_in_and_fan_out(w)
    assert as_torch.fan_in == (cout // groups) * rf  # what torch calls fan_in
    meant = make_spec(shape, layout="torch-transpose")
    assert (meant.fan_in, meant.fan_out) == (cin * rf, (cout // groups) * rf)
    # the call we print for torch-transpose makes torch produce exactly that std
    spec = make_spec(shape, layout="torch-transpose", mode="fan_in", nonlinearity="relu")
    assert "mode='fan_out'" in spec.call
    _, std = _torch_args("kaiming_normal_", torch.empty(shape), mode="fan_out", nonlinearity="relu")
    assert spec.std == pytest.approx(std, rel=1e-15)


def test_default_linear_init_is_uniform_inverse_sqrt_fan_in() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(300, 200)
    w = lin.weight.detach().numpy()
    spec = make_spec((200, 300), distribution="uniform", negative_slope=math.sqrt(5))
    assert spec.bound == pytest.approx(1 / math.sqrt(300), rel=1e-15)
    assert np.abs(w).max() <= spec.bound
    ks = st.kstest(w.ravel(), "uniform", args=(-spec.bound, 2 * spec.bound))
    assert ks.pvalue > 1e-3


def _check_torch(spec_true, spec_claimed, seed: int = 0, alpha: float = 1e-3):
    n = math.prod(spec_true.shape)
    produce, _ = torch_producer(spec_true, seed)
    positions = subsample_positions(n, 100_000, np.random.SeedSequence(seed))
    summary, sample = scan(n, produce, positions=positions)
    return run_battery(law_of(spec_claimed), summary, sample, alpha)


@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
def test_check_backend_torch_passes_on_the_grid(distribution: str) -> None:
    """Every grid point, sampled by torch itself, passes; failures stay within the alpha budget."""
    alpha = 1e-3
    failures = []
    for i, (nl, a, mode, shape) in enumerate(GRID):
        spec = make_spec(shape, mode=mode, nonlinearity=nl, negative_slope=a, distribution=distribution)
        res = run_check(spec, backend="torch", seed=i, alpha=alpha, samples=max(math.prod(shape), 5000))
        if not res.passed:
            failures.append((nl, a, mode, shape, res.battery.pvalue))
    assert len(failures) <= st.binom(len(GRID), alpha).isf(1e-4), failures


def test_check_backend_torch_reports_the_call() -> None:
    spec = make_spec((64, 3, 3, 3), mode="fan_out", nonlinearity="relu")
    res = run_check(spec, backend="torch", seed=1)
    assert res.passed and torch.__version__ in res.backend_info
    assert "kaiming_normal_(w, mode='fan_out', nonlinearity='relu')" in res.backend_info


@pytest.mark.parametrize("seed", range(3))
def test_wrong_expectation_fails(seed: int) -> None:
    """torch sampled with fan_in, checked as fan_out: rejected."""
    truth = make_spec((64, 3, 3, 3), mode="fan_in", nonlinearity="relu")
    claimed = make_spec((64, 3, 3, 3), mode="fan_out", nonlinearity="relu")
    assert _check_torch(truth, truth, seed).passed
    assert not _check_torch(truth, claimed, seed).passed


def test_trunc_normal_matches_keras_convention() -> None:
    spec = make_spec((256, 128), distribution="truncated_normal", nonlinearity="relu")
    res = run_check(spec, backend="torch", samples=200_000, seed=2)
    assert res.passed and res.empirical.max <= spec.bound
    normal = make_spec((256, 128), distribution="normal", nonlinearity="relu")
    assert not _check_torch(normal, spec, seed=2).passed  # untruncated data is not truncated


def test_keras_layout_on_torch_backend() -> None:
    spec = make_spec((3, 3, 64, 128), layout="keras", distribution="uniform")
    res = run_check(spec, backend="torch", seed=3)
    assert res.passed and "torch.empty(128, 64, 3, 3)" in res.backend_info
