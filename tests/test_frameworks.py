"""Cross-checks against the real Keras 3 and JAX (optional: `make test-frameworks` installs them).

Marked `frameworks` and deselected by default, so the main suite never skips them silently.
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest

from kaiming_cli.theory.spec import make_spec
from tests.helpers import battery_on

pytestmark = pytest.mark.frameworks

KERAS_SHAPES = [(7,), (3, 5), (128, 256), (3, 3, 64, 128), (3, 3, 3, 64, 128), (5, 16, 33), (3, 3, 32, 1)]



@pytest.mark.parametrize("shape", KERAS_SHAPES)
def test_keras_fans(keras, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    from keras.src.initializers.random_initializers import compute_fans

    spec = make_spec(shape, layout="keras")
    assert (spec.fan_in, spec.fan_out) == compute_fans(shape)


@pytest.mark.parametrize("shape", KERAS_SHAPES)
@pytest.mark.parametrize("cls,mode,dist,method", [
    ("HeNormal", "fan_in", "truncated_normal", "truncated_normal"),
    ("HeUniform", "fan_in", "uniform", "uniform"),
    ("GlorotNormal", "fan_avg", "truncated_normal", "truncated_normal"),
    ("LecunUniform", "fan_in", "uniform", "uniform"),
])
def test_keras_stddev_and_limit_exactly(keras, shape, cls: str, mode: str, dist: str, method: str) -> None:  # type: ignore[no-untyped-def]
    import keras.src.initializers.random_initializers as ri

    captured: list[dict] = []
    original = getattr(ri.random, method)

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        captured.append(kwargs)
        return original(*args, **kwargs)

    with mock.patch.object(ri.random, method, spy):
        getattr(keras.initializers, cls)(seed=1)(shape, dtype="float32")
    nl = "linear" if cls.startswith(("Glorot", "Lecun")) else "relu"
    spec = make_spec(shape, layout="keras", mode=mode, nonlinearity=nl, distribution=dist)
    if dist == "uniform":
        assert spec.bound == pytest.approx(captured[0]["maxval"], rel=1e-15)
    else:
        assert spec.sigma_pre == pytest.approx(captured[0]["stddev"], rel=1e-15)
    assert spec.call.startswith(f"keras.initializers.{cls}(")


@pytest.mark.parametrize("cls,dist", [("HeNormal", "truncated_normal"), ("HeUniform", "uniform")])
def test_keras_samples_pass_our_check(keras, cls: str, dist: str) -> None:  # type: ignore[no-untyped-def]
    shape = (3, 3, 64, 128)
    seeds = keras.random.SeedGenerator(0)
    x = np.concatenate([np.asarray(getattr(keras.initializers, cls)(seed=seeds)(shape)).ravel() for _ in range(3)])
    spec = make_spec(shape, layout="keras", distribution=dist)
    assert battery_on(x, _law(spec)).passed
    if dist == "truncated_normal":  # and Keras' he_normal is NOT the untruncated normal torch draws
        assert not battery_on(x, _law(make_spec(shape, layout="keras"))).passed


def _law(spec):  # type: ignore[no-untyped-def]
    from kaiming_cli.stats.empirical import law_of

    return law_of(spec)


@pytest.mark.parametrize("shape", [(3, 5), (128, 256), (3, 3, 64, 128), (3, 3, 3, 64, 128), (5, 16, 33)])
def test_jax_fans(jax, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    from jax._src.nn.initializers import _compute_fans

    spec = make_spec(shape, layout="jax")
    assert (spec.fan_in, spec.fan_out) == _compute_fans(shape)


def test_jax_refuses_1d_like_us(jax) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        jax.nn.initializers.he_normal()(jax.random.key(0), (10,))
    with pytest.raises(ValueError):
        make_spec((10,), layout="jax")


@pytest.mark.parametrize("name,mode,nl,dist", [
    ("he_normal", "fan_in", "relu", "truncated_normal"),
    ("he_uniform", "fan_in", "relu", "uniform"),
    ("lecun_normal", "fan_in", "linear", "truncated_normal"),
    ("glorot_uniform", "fan_avg", "linear", "uniform"),
])
def test_jax_samples_pass_our_check(jax, name: str, mode: str, nl: str, dist: str) -> None:  # type: ignore[no-untyped-def]
    shape = (3, 3, 64, 128)
    keys = jax.random.split(jax.random.key(0), 2)
    x = np.concatenate([np.asarray(getattr(jax.nn.initializers, name)()(k, shape)).ravel() for k in keys])
    spec = make_spec(shape, layout="jax", mode=mode, nonlinearity=nl, distribution=dist)
    assert spec.call == f"jax.nn.initializers.{name}()"
    res = battery_on(x, _law(spec))
    assert res.passed, res
    assert float(np.std(x)) == pytest.approx(spec.std, rel=5e-3)


def test_jax_variance_scaling_normal_is_untruncated(jax) -> None:  # type: ignore[no-untyped-def]
    shape = (256, 512)
    init = jax.nn.initializers.variance_scaling(2.0, "fan_in", "normal")
    x = np.asarray(init(jax.random.key(1), shape)).ravel()
    spec = make_spec(shape, layout="jax")
    assert battery_on(x, _law(spec)).passed
    assert math.isclose(spec.std, math.sqrt(2 / 256))


# --------------------------------------------------------------------------- files written by the frameworks

def _verify_json(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    import json

    from click.testing import CliRunner

    from kaiming_cli.cli import cli

    result = CliRunner().invoke(cli, ["verify", *args, "--no-config", "-f", "json"])
    return result.exit_code, json.loads(result.stdout)


def _keras_model(keras, wrong: bool = False):  # type: ignore[no-untyped-def]
    keras.utils.set_random_seed(0)
    conv_init = keras.initializers.HeNormal()
    dense_init = keras.initializers.RandomNormal(stddev=0.2) if wrong else keras.initializers.GlorotUniform()
    return keras.Sequential([
        keras.Input((12, 12, 3)),
        keras.layers.Conv2D(32, 3, kernel_initializer=conv_init, name="conv"),
        keras.layers.Conv2D(16, 3, kernel_initializer=keras.initializers.VarianceScaling(
            0.5, "fan_out", "uniform"), name="conv_b"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, kernel_initializer="lecun_normal", name="fc1"),
        keras.layers.Dense(10, kernel_initializer=dense_init, name="head"),
    ])


def test_keras_save_and_save_weights_are_read_as_keras_shows_them(keras, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kaiming_cli.io.readers import read_path

    model = _keras_model(keras)
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    expected = {w.path.split("/", 1)[1]: np.asarray(w.numpy()) for w in model.weights}  # drop the model's name
    for path in ("m.keras", "m.weights.h5"):
        sources = {s.name: s for s in read_path(str(tmp_path / path))}
        assert set(sources) == set(expected)
        for name, s in sources.items():
            produce, _, close = s.open()
            np.testing.assert_array_equal(produce(0, 0, s.numel), expected[name].reshape(-1))
            close()
            assert s.layout == "keras"


def test_keras_model_verifies_with_no_rules(keras, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _keras_model(keras).save(tmp_path / "m.keras")
    code, doc = _verify_json(str(tmp_path / "m.keras"))
    statuses = {t["name"]: t["status"] for t in doc["tensors"]}
    assert code == 0, doc["summary"]
    assert all(statuses[f"{n}/kernel"] == "pass" for n in ("conv", "conv_b", "fc1", "head"))
    assert statuses["bn/moving_variance"] == "pass" and statuses["bn/gamma"] == "pass"


def test_keras_wrong_layer_is_named(keras, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A RandomNormal kernel is verified as RandomNormal; the same weights said to be GlorotUniform fail."""
    import json
    import zipfile

    _keras_model(keras, wrong=True).save(tmp_path / "m.keras")
    code, doc = _verify_json(str(tmp_path / "m.keras"))
    head = next(t for t in doc["tensors"] if t["name"] == "head/kernel")
    assert code == 0 and head["status"] == "pass" and "RandomNormal(mean=0.0, stddev=0.2)" in head["expected"]["call"]
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:  # the config now claims GlorotUniform
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    for layer in config["config"]["layers"]:
        if layer["config"]["name"] == "head":
            layer["config"]["kernel_initializer"] = {"module": "keras.initializers", "class_name": "GlorotUniform",
                                                     "config": {"seed": None}, "registered_name": None}
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "lie.keras", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    code, doc = _verify_json(str(tmp_path / "lie.keras"))
    assert code == 1 and [t["name"] for t in doc["tensors"] if t["status"] == "fail"] == ["head/kernel"]


def test_flax_to_bytes_is_read(jax, tmp_path) -> None:  # type: ignore[no-untyped-def]
    flax = pytest.importorskip("flax")
    from flax import linen as nn

    from kaiming_cli.io.readers import read_path

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):  # type: ignore[no-untyped-def]
            x = nn.Conv(32, (3, 3))(x)
            x = nn.Dense(64)(x.reshape(x.shape[0], -1))
            return nn.Dense(10, kernel_init=nn.initializers.he_uniform())(x)

    params = Net().init(jax.random.PRNGKey(0), np.zeros((1, 8, 8, 3), np.float32))
    (tmp_path / "p.msgpack").write_bytes(flax.serialization.to_bytes(params))
    flat = {"/".join(str(getattr(k, "key", k)) for k in path): np.asarray(v)
            for path, v in jax.tree_util.tree_leaves_with_path(params)}
    sources = {s.name: s for s in read_path(str(tmp_path / "p.msgpack"))}
    assert set(sources) == set(flat)
    for name, s in sources.items():
        produce, _, close = s.open()
        np.testing.assert_array_equal(produce(0, 0, s.numel), flat[name].reshape(-1))
        close()
    code, doc = _verify_json(str(tmp_path / "p.msgpack"), "--tensor", "params/[CD]*_0/kernel", "--nonlinearity",
                             "linear", "--distribution", "truncated_normal")  # flax's default: lecun_normal
    assert code == 0 and doc["tested"] == 2, doc["summary"]
    code, doc = _verify_json(str(tmp_path / "p.msgpack"), "--tensor", "params/Dense_1/kernel", "--distribution",
                             "uniform", "--nonlinearity", "relu")
    assert code == 0 and doc["tested"] == 1, doc["summary"]


def test_keras_bfloat16_weights(keras, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Keras stores bf16 as a 2-byte opaque dataset tagged dtype="bfloat16" (saving_lib H5IOStore)."""
    from kaiming_cli.io.readers import read_path

    keras.config.set_dtype_policy("bfloat16")
    try:
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, kernel_initializer="he_normal",
                                                                         name="fc")])
    finally:
        keras.config.set_dtype_policy("float32")
    model.save_weights(tmp_path / "bf.weights.h5")
    kernel = next(s for s in read_path(str(tmp_path / "bf.weights.h5")) if s.name == "fc/kernel")
    produce, _, close = kernel.open()
    values = produce(0, 0, kernel.numel)
    close()
    assert kernel.dtype == "bfloat16"
    np.testing.assert_array_equal(values.reshape(64, 128), np.asarray(model.weights[0].numpy()).astype(np.float32))
