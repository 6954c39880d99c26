"""Keras layers whose kernels are not ``(*k, in, out)`` (issue 26 point 4), against the real Keras 3.

EinsumDense and the attention projections (Keras >= 3.15 computes their fans from the equation's axes),
DepthwiseConv2D (its ``depthwise_initializer``), and a legacy ``model.save('x.h5')`` full-model file, in verify,
identify and diff. Expected fans come from Keras itself (``compute_fans`` with the axes Keras's own
``_analyze_einsum_string`` finds); the laws from the layer's built kernels.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.io.readers import read_path
from kaiming_cli.theory.spec import SpecOptions

pytestmark = pytest.mark.frameworks

SEEDS = (0, 1, 2, 3, 4)
HEADS, KEY_DIM, D_MODEL, SEQ = 8, 32, 32, 16


def _model(keras: Any, seed: int, mha_init: str = "glorot_uniform", dw_init: str = "glorot_uniform") -> Any:
    """Every layer the issue names, with Keras's defaults unless told (a token input feeds the Embedding)."""
    keras.utils.set_random_seed(seed)
    image = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(16, 3, padding="same", name="conv")(image)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", depthwise_initializer=dw_init,
                                     name="dw")(x)
    x = keras.layers.Reshape((64, D_MODEL))(x)
    x = keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=KEY_DIM, kernel_initializer=mha_init, name="mha")(x, x)
    x = keras.layers.LayerNormalization(name="ln")(x)
    x = keras.layers.EinsumDense("abc,cd->abd", output_shape=(None, 48), bias_axes="d", kernel_initializer="he_normal",
                                 name="ein")(x)
    x = keras.layers.Dense(10, name="head")(x)
    tokens = keras.Input((5,), dtype="int32")
    e = keras.layers.Embedding(100, 16, name="emb")(tokens)
    return keras.Model([image, tokens], [x, e])


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    config = ["--no-config"] if args[0] == "verify" else []
    result = CliRunner().invoke(cli, [*args, *config, "-f", "json"])
    return result.exit_code, json.loads(result.stdout)


def _keras_fans(keras: Any, model: Any) -> dict[str, tuple[int, int]]:
    """(fan_in, fan_out) Keras itself gives each EinsumDense kernel: the axes its ``_analyze_einsum_string``
    finds for the layer's equation, through its ``compute_fans``."""
    from keras.src.initializers.random_initializers import compute_fans
    from keras.src.layers.core.einsum_dense import _analyze_einsum_string

    mha, ein = model.get_layer("mha"), model.get_layer("ein")
    query_shape = (None, 64, D_MODEL)
    heads_shape = (None, 64, HEADS, KEY_DIM)
    layers = {"mha/query": (mha.query_dense, query_shape), "mha/key": (mha.key_dense, query_shape),
              "mha/value": (mha.value_dense, query_shape), "mha/attention_output": (mha.output_dense, heads_shape),
              "ein": (ein, query_shape)}
    out = {}
    for name, (layer, input_shape) in layers.items():
        kernel_shape, _, _, ins, outs = _analyze_einsum_string(layer.equation, layer.bias_axes, input_shape,
                                                               layer.partial_output_shape)
        assert tuple(kernel_shape) == tuple(layer.kernel.shape)
        out[f"{name}/kernel"] = compute_fans(kernel_shape, ins, outs)
    return out


def test_einsum_and_attention_fans_are_keras_own(keras, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _model(keras, 0)
    model.save(tmp_path / "m.keras")
    expected = _keras_fans(keras, model)
    sources = {s.name: s for s in read_path(str(tmp_path / "m.keras"))}
    for name, (fan_in, fan_out) in expected.items():
        rule = sources[name].rule
        assert rule is not None and (rule.options.get("fan_in"), rule.options.get("fan_out")) == (fan_in, fan_out)
    # the case of the issue: compute_fans on the bare 3-D shape reads (32, 8, 32) as a conv kernel
    from keras.src.initializers.random_initializers import compute_fans

    assert compute_fans((D_MODEL, HEADS, KEY_DIM))[0] == HEADS * D_MODEL != expected["mha/query/kernel"][0] == D_MODEL


@pytest.mark.parametrize("seed", SEEDS)
def test_fresh_model_verifies_with_no_rules(keras, tmp_path: Path, seed: int) -> None:  # type: ignore[no-untyped-def]
    inits = [("glorot_uniform", "glorot_uniform"), ("he_normal", "he_uniform"), ("lecun_normal", "glorot_normal")]
    mha_init, dw_init = inits[seed % len(inits)]
    model = _model(keras, seed, mha_init, dw_init)
    model.save(tmp_path / "m.keras")
    code, doc = _run("verify", str(tmp_path / "m.keras"))
    statuses = {t["name"]: t["status"] for t in doc["tensors"]}
    assert code == 0, [t for t in doc["tensors"] if t["status"] != "pass"]
    assert set(statuses) == {w.path for w in model.weights}  # named as Keras names its variables
    assert set(statuses.values()) == {"pass"}  # Embedding's RandomUniform too: nothing skipped


def test_depthwise_law_is_its_depthwise_initializer(keras, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The depthwise kernel's rule is ``depthwise_initializer`` with Keras's fans, and its std is Keras's (to
    rounding); a config that names another initializer for the same kernel fails it."""
    from keras.src.initializers.random_initializers import compute_fans

    model = _model(keras, 0, dw_init="he_uniform")
    model.save(tmp_path / "m.keras")
    source = next(s for s in read_path(str(tmp_path / "m.keras")) if s.name == "dw/kernel")
    assert source.rule is not None and "depthwise_initializer HeUniform" in source.rule.origin
    spec = SpecOptions(layout="keras").overridden(source.rule.options).spec(source.shape)
    fan_in, _ = compute_fans(source.shape)
    assert spec.distribution == "uniform" and math.isclose(spec.std, math.sqrt(2.0 / fan_in), rel_tol=1e-12)
    kernel = keras.ops.convert_to_numpy(model.get_layer("dw").kernel)
    limit = math.sqrt(6.0 / fan_in)  # HeUniform's own bound
    assert np.abs(kernel).max() <= limit and np.isclose(limit, math.sqrt(3) * spec.std)
    lie = _rewrite(tmp_path, "dw", "depthwise_initializer", "GlorotUniform")
    code, doc = _run("verify", str(lie))
    assert code == 1 and [t["name"] for t in doc["tensors"] if t["status"] == "fail"] == ["dw/kernel"]


def test_a_wrong_attention_scale_is_caught(keras, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The query kernel rescaled by 1.25 (the fans of a wrong rule would be off by more) fails, alone."""
    model = _model(keras, 1)
    query = model.get_layer("mha").query_dense.kernel
    query.assign(keras.ops.convert_to_numpy(query) * 1.25)
    model.save(tmp_path / "m.keras")
    code, doc = _run("verify", str(tmp_path / "m.keras"))
    assert code == 1 and [t["name"] for t in doc["tensors"] if t["status"] == "fail"] == ["mha/query/kernel"]


def test_identify_names_the_initializers(keras, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _model(keras, 2, mha_init="he_normal").save(tmp_path / "m.keras")
    code, doc = _run("identify", str(tmp_path / "m.keras"))
    found = {t["name"]: t for t in doc["tensors"]}
    assert code == 0
    assert all(t["stated"] is not None and t["stated"]["agrees"] for t in found.values()), \
        [(n, t["stated"]) for n, t in found.items() if not (t["stated"] or {}).get("agrees")]
    for name in ("mha/query/kernel", "mha/key/kernel", "mha/value/kernel", "mha/attention_output/kernel",
                 "ein/kernel"):
        assert "HeNormal" in found[name]["verdict"] or "he_normal" in found[name]["verdict"], found[name]["verdict"]
    assert "GlorotUniform" in found["dw/kernel"]["verdict"] and "RandomUniform" in found["emb/embeddings"]["verdict"]


def test_legacy_h5_full_model_reads_in_every_command(keras, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _model(keras, 3)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")  # keras/src/legacy/saving/legacy_h5_format.py
    names = {w.path for w in model.weights}
    code, doc = _run("verify", str(tmp_path / "m.h5"))
    assert code == 0 and {t["name"] for t in doc["tensors"]} == names
    assert {t["status"] for t in doc["tensors"]} == {"pass"}
    code, doc = _run("identify", str(tmp_path / "m.h5"))
    assert code == 0 and {t["name"] for t in doc["tensors"]} == names
    assert all(t["stated"]["agrees"] for t in doc["tensors"])
    code, doc = _run("diff", str(tmp_path / "m.h5"), str(tmp_path / "m.keras"))
    assert code == 0 and {t["name"] for t in doc["pairs"]} == names and doc["counts"]["same"] == len(names)
    sources = {s.name: s for s in read_path(str(tmp_path / "m.h5"))}
    for w in model.weights:  # the very values Keras holds
        produce, _, close = sources[w.path].open()
        np.testing.assert_array_equal(produce(0, 0, sources[w.path].numel), keras.ops.convert_to_numpy(w).ravel())
        close()


def test_older_keras_keeps_compute_fans_on_the_bare_shape(keras, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Keras before 3.15 initialized EinsumDense kernels with compute_fans on the shape (keras-team/keras#22789):
    a file that says it was saved by 3.14 gets those fans; one that names no version, the new ones, said so."""
    _model(keras, 0).save(tmp_path / "m.keras")
    for version, fans in (("3.14.1", None), (None, (D_MODEL, HEADS * KEY_DIM))):
        path = _rewrite_member(tmp_path / "m.keras", tmp_path / f"v{version}.keras", "metadata.json",
                               lambda meta, v=version: {**meta, "keras_version": v} if v else {})
        rule = next(s for s in read_path(str(path)) if s.name == "mha/query/kernel").rule
        assert rule is not None and (rule.options.get("fan_in"), rule.options.get("fan_out")) == (fans or (None, None))
        assert (version is None) == ("names no Keras version" in rule.origin)
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:  # a metadata.json that is not JSON: no version, still read
        members = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, b"{not json" if name == "metadata.json" else data)
    rule = next(s for s in read_path(str(tmp_path / "bad.keras")) if s.name == "mha/query/kernel").rule
    assert rule is not None and rule.options.get("fan_in") == D_MODEL and "names no Keras version" in rule.origin


def _rewrite(tmp_path: Path, layer: str, key: str, initializer: str) -> Path:
    def edit(config: dict[str, Any]) -> dict[str, Any]:
        for entry in config["config"]["layers"]:
            if entry["config"]["name"] == layer:
                entry["config"][key] = {"module": "keras.initializers", "class_name": initializer,
                                        "config": {"seed": None}, "registered_name": None}
        return config

    return _rewrite_member(tmp_path / "m.keras", tmp_path / "lie.keras", "config.json", edit)


def _rewrite_member(src: Path, dst: Path, member: str, edit: Any) -> Path:
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[member] = json.dumps(edit(json.loads(members[member]))).encode()
    with zipfile.ZipFile(dst, "w") as zf:  # stored, as Keras writes it
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def test_grouped_query_separable_and_depthwise_1d(keras, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """GroupedQueryAttention (its folders are ``_query_dense``...), an attention without biases and with its own
    value_dim and output_shape, SeparableConv2D's two kernels and DepthwiseConv1D: Keras's fans, every variable
    passing in both file formats."""
    from keras.src.initializers.random_initializers import compute_fans
    from keras.src.layers.core.einsum_dense import _analyze_einsum_string

    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 32))
    x = keras.layers.SeparableConv2D(64, 3, padding="same", depthwise_initializer="he_uniform",
                                     pointwise_initializer="lecun_normal", name="sep")(inputs)
    x = keras.layers.Reshape((64, 64))(x)
    x = keras.layers.DepthwiseConv1D(5, depth_multiplier=2, padding="same", name="dw1")(x)
    gqa = keras.layers.GroupQueryAttention(head_dim=32, num_query_heads=4, num_key_value_heads=2,
                                           kernel_initializer="he_normal", name="gqa")
    x = gqa(x, x)
    mha = keras.layers.MultiHeadAttention(num_heads=4, key_dim=32, value_dim=48, output_shape=(96,), use_bias=False,
                                          name="mha")
    model = keras.Model(inputs, mha(x, x))
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    sequence, heads = (None, 64, 128), (None, 64, 4)
    layers = {"gqa/query": (gqa._query_dense, sequence), "gqa/key": (gqa._key_dense, sequence),
              "gqa/attention_output": (gqa._output_dense, (*heads, 32)), "mha/value": (mha.value_dense, sequence),
              "mha/attention_output": (mha.output_dense, (*heads, 48))}
    expected = {}
    for name, (layer, input_shape) in layers.items():
        shape, _, _, ins, outs = _analyze_einsum_string(layer.equation, layer.bias_axes, input_shape,
                                                        layer.partial_output_shape)
        expected[f"{name}/kernel"] = compute_fans(shape, ins, outs)
    for path in ("m.keras", "m.h5"):
        sources = {s.name: s for s in read_path(str(tmp_path / path))}
        assert set(sources) == {w.path for w in model.weights}
        for name, fans in expected.items():
            rule = sources[name].rule
            assert rule is not None and (rule.options.get("fan_in"), rule.options.get("fan_out")) == fans, name
        code, doc = _run("verify", str(tmp_path / path))
        assert code == 0 and {t["status"] for t in doc["tensors"]} == {"pass"}, \
            [(t["name"], t["status"]) for t in doc["tensors"] if t["status"] != "pass"]
