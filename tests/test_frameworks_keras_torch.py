"""Keras's truncated normal on the torch backend, against real Keras draws (docs/statistics.md "Keras's truncated
normal"): its sampler leaves 4.3e-6 of the values outside +-2 stddev, and kaiming's law for a Keras truncated
initializer includes them. The draws are made in a subprocess with ``KERAS_BACKEND=torch`` (the backend is fixed
when keras is first imported, and the other framework tests import it on numpy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.api import verify_tensor
from kaiming_cli.cli import cli

pytestmark = pytest.mark.frameworks

#: 30 HeNormal 1024x1024 kernels and 6 TruncatedNormal(0.05) ones, by real Keras on torch.
DRAW = """
import sys, numpy as np, keras
assert keras.backend.backend() == "torch"
out = {}
for i in range(30):
    out[f"he{i}"] = np.asarray(keras.initializers.HeNormal(seed=1000 + i)((1024, 1024), dtype="float32").cpu())
for i in range(6):
    out[f"tn{i}"] = np.asarray(keras.initializers.TruncatedNormal(seed=2000 + i)((1024, 1024), dtype="float32").cpu())
np.savez(sys.argv[1], **out)
"""


def _need_keras_and_torch() -> None:
    """Skip without keras or torch (found, not imported: keras picks its backend when first imported)."""
    import importlib.util

    for module in ("keras", "torch"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")


@pytest.fixture(scope="module")
def torch_draws(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    _need_keras_and_torch()
    path = tmp_path_factory.mktemp("keras_torch") / "draws.npz"
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    subprocess.run([sys.executable, "-c", DRAW, str(path)], check=True, env=env, timeout=600)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def test_draws_do_leave_values_outside_the_cut(torch_draws: dict[str, np.ndarray]) -> None:
    """The premise: about 4.5 of every 1024x1024 kernel's values lie beyond 2 stddev (0.0455^4 of 2^20)."""
    import math

    he = [torch_draws[f"he{i}"] for i in range(30)]
    cut = 2 * math.sqrt(2 / 1024) / 0.87962566103423978
    beyond = sum(int(np.count_nonzero(np.abs(w) >= cut * (1 - 1e-6))) for w in he)
    assert 60 <= beyond <= 220  # Poisson(30 * 4.49 = 135): 6 sds either side


def test_he_normal_false_alarms_at_alpha(torch_draws: dict[str, np.ndarray]) -> None:
    """30 correct kernels at alpha = 0.01: Binomial(30, 0.01) exceeds 2 with probability 3e-3."""
    fails = [i for i in range(30)
             if verify_tensor(torch_draws[f"he{i}"], init="keras.initializers.HeNormal()", alpha=0.01,
                              seed=i).status != "pass"]
    assert len(fails) <= 2, fails


def test_identify_names_truncated_normal_and_he_normal(torch_draws: dict[str, np.ndarray], tmp_path: Path) -> None:
    for key, want in (("tn0", "keras.initializers.TruncatedNormal()"), ("tn1", "keras.initializers.TruncatedNormal()"),
                      ("tn2", "keras.initializers.TruncatedNormal()"), ("he0", "he_normal (Keras/JAX, truncated)"),
                      ("he1", "he_normal (Keras/JAX, truncated)")):
        np.save(tmp_path / f"{key}.npy", torch_draws[key])
        result = CliRunner().invoke(cli, ["identify", str(tmp_path / f"{key}.npy"), "--layout", "keras", "-f", "json"])
        doc = json.loads(result.stdout)
        tensor = doc["tensors"][0] if "tensors" in doc else doc
        assert tensor["verdict"] == want, (key, tensor["verdict"], tensor.get("reason"))


def test_keras_model_with_a_wide_he_normal_layer_verifies(tmp_path: Path) -> None:
    """A fresh .keras model drawn on the torch backend (a 1024x1024 HeNormal kernel: ~99% hold a value beyond
    the cut) passes verify with no rules, at 3 seeds."""
    _need_keras_and_torch()
    script = """
import sys, keras
for seed in (0, 1, 2):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((1024,)), keras.layers.Dense(1024, kernel_initializer="he_normal", name="a"),
                          keras.layers.Dense(10, kernel_initializer="glorot_normal", name="b")])
    m.save(f"{sys.argv[1]}/m{seed}.keras")
"""
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, env=env, timeout=600)
    for seed in (0, 1, 2):
        result = CliRunner().invoke(cli, ["verify", str(tmp_path / f"m{seed}.keras"), "--no-config", "-f", "json"])
        doc = json.loads(result.stdout)
        assert result.exit_code == 0, [(t["name"], t["status"], t.get("reason")) for t in doc["tensors"]]
