"""`check --backend torch` for every torch.nn.init function (torch==2.13.0 in CI): the backend's values are bit for
bit torch's own call with the same seeded generator (the expected values come from torch, with the arguments written
out here), they pass the battery, and the same values fail a wrong call."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # CI installs it (conftest turns a missing torch into an error)

from click.testing import CliRunner  # noqa: E402

from kaiming_cli.api import verify_tensor  # noqa: E402
from kaiming_cli.cli import cli  # noqa: E402
from kaiming_cli.engine.frameworks import choose_backend, drawer  # noqa: E402
from kaiming_cli.runners.check import run_check  # noqa: E402
from kaiming_cli.theory.backend_calls import NoExactCall, backend_call  # noqa: E402
from kaiming_cli.theory.spec import make_init_spec, make_spec  # noqa: E402

SEED = 7


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr

#: (init call, shape, torch function, its arguments written out, a wrong call the same values must fail)
CASES: list[tuple[str, tuple[int, ...], str, dict[str, Any], str]] = [
    ("uniform_(a=-0.3, b=0.7)", (64, 48), "uniform_", {"a": -0.3, "b": 0.7}, "uniform_(a=-0.3, b=0.8)"),
    ("normal_(std=0.02)", (64, 48), "normal_", {"mean": 0.0, "std": 0.02}, "normal_(std=0.025)"),
    ("nn.init.normal_(m.weight, mean=0.1, std=0.02)", (64, 48), "normal_", {"mean": 0.1, "std": 0.02},
     "normal_(mean=0.1, std=0.025)"),
    ("trunc_normal_(std=0.02)", (64, 48), "trunc_normal_", {"mean": 0.0, "std": 0.02, "a": -2.0, "b": 2.0},
     "normal_(std=0.025)"),
    ("trunc_normal_(mean=0.0, std=1.0, a=-0.5, b=1.5)", (64, 48), "trunc_normal_",
     {"mean": 0.0, "std": 1.0, "a": -0.5, "b": 1.5}, "trunc_normal_(mean=0.0, std=1.0, a=-0.4, b=1.5)"),
    ("constant_(val=0.3)", (64, 48), "constant_", {"val": 0.3}, "constant_(val=0.31)"),
    ("ones_", (64, 48), "ones_", {}, "zeros_"),
    ("zeros_", (64, 48), "zeros_", {}, "constant_(0.001)"),
    ("eye_", (48, 64), "eye_", {}, "zeros_"),
    ("dirac_", (16, 8, 3, 3), "dirac_", {}, "dirac_(groups=2)"),
    ("dirac_(groups=2)", (16, 8, 3, 3), "dirac_", {"groups": 2}, "dirac_"),
    ("xavier_uniform_(gain=calculate_gain('tanh'))", (64, 32, 3, 3), "xavier_uniform_", {"gain": 5.0 / 3},
     "xavier_uniform_"),
    ("xavier_normal_", (64, 32, 3, 3), "xavier_normal_", {"gain": 1.0}, "xavier_normal_(gain=1.2)"),
    ("kaiming_uniform_(a=math.sqrt(5))", (64, 32, 3, 3), "kaiming_uniform_", {"a": math.sqrt(5)},
     "kaiming_uniform_"),
    ("kaiming_normal_(mode='fan_out', nonlinearity='relu')", (64, 32, 3, 3), "kaiming_normal_",
     {"mode": "fan_out", "nonlinearity": "relu"}, "kaiming_normal_(nonlinearity='relu')"),
    ("kaiming_normal_(a=0.2)", (64, 48), "kaiming_normal_", {"a": 0.2}, "kaiming_normal_(a=0.2, mode='fan_out')"),
    ("orthogonal_(gain=2.0)", (32, 96), "orthogonal_", {"gain": 2.0}, "orthogonal_(gain=1.5)"),
    ("orthogonal_", (64, 8, 3, 3), "orthogonal_", {}, "normal_(std=0.1)"),
    ("sparse_(sparsity=0.1, std=0.02)", (100, 40), "sparse_", {"sparsity": 0.1, "std": 0.02},
     "sparse_(sparsity=0.1, std=0.025)"),
    ("default('Linear')", (64, 48), "kaiming_uniform_", {"a": math.sqrt(5)}, "kaiming_uniform_"),
]
IDS = [c[0] for c in CASES]


def torch_itself(function: str, shape: tuple[int, ...], kwargs: dict[str, Any], seed: int) -> np.ndarray:
    """What torch's own call gives: a float32 tensor, the generator seeded as a user would."""
    w = torch.empty(shape, dtype=torch.float32)
    fn = getattr(torch.nn.init, function)
    if function in ("constant_", "ones_", "zeros_", "eye_", "dirac_"):
        fn(w, **kwargs)
    else:
        torch.manual_seed(seed)  # sparse_'s zeros come from torch.randperm on the global generator
        fn(w, **kwargs, generator=torch.Generator().manual_seed(seed))
    return w.numpy().copy()


def backend_values(call: str, shape: tuple[int, ...], seed: int = SEED) -> np.ndarray:
    spec = make_init_spec(shape, call)
    draw, _info = drawer(backend_call(spec, "torch"), shape, seed)
    return draw(0).copy().reshape(shape)


@pytest.mark.parametrize("call,shape,function,kwargs,_wrong", CASES, ids=IDS)
def test_bit_for_bit_torchs_own_call(call: str, shape: tuple[int, ...], function: str, kwargs: dict[str, Any],
                                     _wrong: str) -> None:
    got = backend_values(call, shape)
    expected = torch_itself(function, shape, kwargs, SEED)
    assert got.dtype == np.float32 and got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("call,shape,_function,_kwargs,wrong", CASES, ids=IDS)
def test_samples_pass_and_a_wrong_call_fails(call: str, shape: tuple[int, ...], _function: str,
                                             _kwargs: dict[str, Any], wrong: str) -> None:
    result = run_check(make_init_spec(shape, call), seed=SEED, backend="torch")
    assert result.backend == "torch" and result.status == "pass", result.battery
    assert "torch 2." in result.backend_info
    x = backend_values(call, shape)
    assert verify_tensor(x, init=wrong).status == "fail"


def test_repeated_calls_continue_the_generator() -> None:
    """-n beyond the tensor repeats the call on the same generator: the second block is torch's second call."""
    spec = make_init_spec((30, 20), "normal_(std=0.5)")
    draw, _ = drawer(backend_call(spec, "torch"), (30, 20), 3)
    first, second = draw(0).copy(), draw(1).copy()
    w, g = torch.empty(30, 20), torch.Generator().manual_seed(3)
    torch.nn.init.normal_(w, std=0.5, generator=g)
    assert first.tobytes() == w.numpy().reshape(-1).tobytes()
    torch.nn.init.normal_(w, std=0.5, generator=g)
    assert second.tobytes() == w.numpy().reshape(-1).tobytes()
    assert run_check(spec, samples=3 * 600 + 17, backend="torch").status == "pass"


@pytest.mark.parametrize("call,function,kwargs", [
    ("keras.initializers.RandomNormal(stddev=0.3)", "normal_", {"mean": 0.0, "std": 0.3}),
    ("RandomUniform(-0.05, 0.05)", "uniform_", {"a": -0.05, "b": 0.05}),
    ("jax.nn.initializers.uniform(0.2)", "uniform_", {"a": 0.0, "b": 0.2}),
    ("Constant(0.25)", "constant_", {"val": 0.25}),
    ("default('Embedding')", "normal_", {"mean": 0.0, "std": 1.0}),
    ("default('LSTM')", "uniform_", {"a": -1 / math.sqrt(16), "b": 1 / math.sqrt(16)}),
])
def test_other_libraries_translate_exactly(call: str, function: str, kwargs: dict[str, Any]) -> None:
    shape = (64, 48)
    assert backend_values(call, shape).tobytes() == torch_itself(function, shape, kwargs, SEED).tobytes()


def test_keras_he_normal_on_torch_is_its_truncated_normal() -> None:
    spec = make_init_spec((3, 3, 64, 128), "HeNormal()")
    call = backend_call(spec, "torch")
    sigma = math.sqrt(2 / (3 * 3 * 64)) / 0.87962566103423978
    assert call.name == "trunc_normal_" and call.translated_from == "keras.initializers.HeNormal()"
    assert call.args["std"] == pytest.approx(sigma, rel=1e-15)
    assert call.args["a"] == pytest.approx(-2 * sigma, rel=1e-15) and call.args["b"] == -call.args["a"]
    assert run_check(spec, backend="torch").status == "pass"


def test_orthogonal_translates_only_to_an_init_that_sets_the_same_axis_apart() -> None:
    """torch's orthogonal_ sets axis 0 apart ((shape[0], rest)), JAX's orthogonal(column_axis=0) too (the same
    matrix transposed: the same Haar law); Keras's Orthogonal sets the last axis apart, whatever --layout says."""
    shape = (8, 3, 3, 16)
    spec = make_init_spec(shape, "jax.nn.initializers.orthogonal(0.5, column_axis=0)")
    call = backend_call(spec, "torch")
    assert (call.name, call.args) == ("orthogonal_", {"gain": 0.5})
    assert run_check(spec, backend="torch").status == "pass"
    jax_call = backend_call(make_init_spec(shape, "orthogonal_(gain=2.0)"), "jax")
    assert (jax_call.name, jax_call.args) == ("orthogonal", {"scale": 2.0, "column_axis": 0})
    for text in ("jax.nn.initializers.orthogonal(column_axis=1)", "keras.initializers.Orthogonal()"):
        with pytest.raises(NoExactCall, match="use --backend"):
            backend_call(make_init_spec(shape, text, layout="torch"), "torch")


def test_no_exact_call_says_which_backend() -> None:
    with pytest.raises(NoExactCall, match="use --backend torch or --backend numpy"):
        backend_call(make_init_spec((64, 48), "trunc_normal_(std=0.02)"), "keras")
    with pytest.raises(NoExactCall, match="use --backend torch"):
        backend_call(make_init_spec((64, 48), "sparse_(0.1)"), "jax")
    with pytest.raises(NoExactCall, match="use --backend keras"):
        backend_call(make_init_spec((4, 4, 8, 16), "keras.initializers.Orthogonal()"), "torch")


def test_default_backend_is_the_calls_framework_or_numpy() -> None:
    torch_spec = make_spec((64, 3, 3, 3), mode="fan_out", nonlinearity="relu")
    assert choose_backend(torch_spec, None)[0] == "torch"
    backend, why = choose_backend(torch_spec, None, installed=lambda _name: False)
    assert backend == "numpy" and "self-test of the formula" in why and "kaiming[torch]" in why
    keras_spec = make_init_spec((64, 48), "HeNormal")
    backend, why = choose_backend(keras_spec, None, installed=lambda _name: False)
    assert backend == "numpy" and "kaiming[keras]" in why
    assert choose_backend(torch_spec, "numpy")[0] == "numpy"


def test_cli_backend_torch_with_init(runner) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(runner, "check", "--shape", "64,48", "--init", "normal_(std=0.02)", "--backend", "torch",
                       "-f", "json")
    doc = json.loads(out)
    assert code == 0 and doc["backend"] == "torch" and doc["init"] == "torch.nn.init.normal_(std=0.02)"
    assert "torch.nn.init.normal_(w, mean=0.0, std=0.02)" in doc["backend_info"]
    assert doc["backend_reason"].startswith("torch (asked for")
    code, out, _ = run(runner, "check", "--shape", "64,48", "--init", "normal_(std=0.02)", "-f", "json")
    assert code == 0 and json.loads(out)["backend"] == "torch"  # the default: torch is installed


def test_cli_no_exact_call_is_exit_2(runner) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(runner, "check", "--shape", "64,48", "--init", "sparse_(0.1)", "--backend", "keras")
    assert code == 2 and "--backend torch" in err and "Traceback" not in err


def test_cli_missing_torch(runner, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Asked for: exit 3 with the install hint; by default: numpy, and the report says why."""
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    code, _, err = run(runner, "check", "--shape", "64,48", "--init", "normal_(std=0.02)", "--backend", "torch")
    assert code == 3 and "pip install" in err and "torch" in err and "Traceback" not in err
    code, out, _ = run(runner, "check", "--shape", "64,48", "--init", "normal_(std=0.02)", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and doc["backend"] == "numpy" and "self-test of the formula" in doc["backend_reason"]
