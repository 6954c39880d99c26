"""Keras (.keras, .weights.h5, legacy .h5), ONNX and Flax msgpack files, written as their frameworks write them
(tests/formatcraft.py; ONNX by torch.onnx.export itself): verify passes with the right rules (a .keras with none),
fails one wrongly initialized layer by name, and identify agrees with the same weights saved as safetensors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.stats as st
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.io.kerasconfig import (
    attention_sublayer,
    einsum_axes,
    keras_release,
    stated_rule,
    variable_names,
)
from kaiming_cli.io.readers import read_path
from kaiming_cli.theory.spec import SpecOptions
from tests import formatcraft as fc

pytest.importorskip("h5py")
pytest.importorskip("onnx")
pytest.importorskip("msgpack")
save_safetensors = pytest.importorskip("safetensors.numpy").save_file

TRUNC = 0.87962566103423978  # std of a standard normal cut at +-2


def run(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, [*args, "-f", "json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["tensors"]}


# --------------------------------------------------------------------------- Keras

def truncated(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Keras's truncated normal of this std: N(0, (std/0.8796)^2) cut at 2 sigma (scipy draws it)."""
    sigma = std / TRUNC
    return st.truncnorm.rvs(-2, 2, scale=sigma, size=shape, random_state=rng).astype(np.float32)


def keras_weights(wrong: bool = False) -> dict[str, np.ndarray]:
    """Kernels (*k, in, out) drawn as their initializers draw them, fans written out by hand."""
    rng = np.random.default_rng(7)
    glorot_limit = math.sqrt(6 / (3 * 3 * 16 + 3 * 3 * 16))  # GlorotUniform, fans 144 and 144
    return {
        "conv/kernel": truncated(rng, (3, 3, 3, 16), math.sqrt(2 / 27)),  # HeNormal: fan_in 3*3*3
        "conv/bias": np.zeros(16, np.float32),
        "conv_1/kernel": rng.uniform(-1, 1, (3, 3, 16, 16)).astype(np.float32) * glorot_limit * (1.6 if wrong else 1),
        "fc1/kernel": rng.uniform(-1, 1, (256, 64)).astype(np.float32) * math.sqrt(6 / 256),  # HeUniform
        "fc1/bias": np.zeros(64, np.float32),
        "vs/kernel": (rng.standard_normal((64, 32)) * math.sqrt(0.5 / 32)).astype(np.float32),  # scale 0.5 fan_out
        "head/kernel": truncated(rng, (32, 10), math.sqrt(1 / 32)),  # LecunNormal
        "emb/embeddings": rng.uniform(-0.05, 0.05, (100, 8)).astype(np.float32),  # RandomUniform
    }


def keras_model(folder: Path, wrong: bool = False, name: str = "model.keras",
                before_3_6: bool = False) -> tuple[Path, dict[str, np.ndarray]]:
    w = keras_weights(wrong)
    ini = fc.initializer
    config = fc.sequential_config([
        fc.dense_config("conv", 16, ini("HeNormal"), ini("Zeros"), cls="Conv2D", kernel_size=[3, 3]),
        fc.dense_config("conv_1", 16, ini("GlorotUniform"), None, cls="Conv2D", kernel_size=[3, 3]),
        fc.dense_config("fc1", 64, ini("HeUniform"), ini("Zeros")),
        fc.dense_config("vs", 32, ini("VarianceScaling", scale=0.5, mode="fan_out",
                                      distribution="untruncated_normal"), None),
        fc.dense_config("head", 10, ini("LecunNormal"), None),
        {"module": "keras.layers", "class_name": "Embedding", "registered_name": None,
         "config": {"name": "emb", "input_dim": 100, "output_dim": 8,
                    "embeddings_initializer": ini("RandomUniform", minval=-0.05, maxval=0.05)}},
    ])
    layers: list[fc.Layer] = [
        ("layers/conv2d", "conv", [w["conv/kernel"], w["conv/bias"]]),
        ("layers/conv2d_1", "conv_1", [w["conv_1/kernel"]]),
        ("layers/dense", "fc1", [w["fc1/kernel"], w["fc1/bias"]]),
        ("layers/dense_1", "vs", [w["vs/kernel"]]),
        ("layers/dense_2", "head", [w["head/kernel"]]),
        ("layers/embedding", "emb", [w["emb/embeddings"]]),
    ]
    return fc.keras_archive(folder / name, config, layers, before_3_6), w


def test_keras_archive_names_layouts_and_values(tmp_path: Path) -> None:
    path, w = keras_model(tmp_path)
    sources = {s.name: s for s in read_path(str(path))}
    assert set(sources) == set(w)
    for name, s in sources.items():
        produce, _, close = s.open()
        np.testing.assert_array_equal(produce(0, 0, s.numel), w[name].reshape(-1))
        close()
        assert s.layout == "keras" and s.shape == w[name].shape


@pytest.mark.parametrize("before_3_6", [False, True])
def test_keras_archive_verifies_with_no_rules(tmp_path: Path, before_3_6: bool) -> None:
    """Keras 3.6+ names each layer's vars group; before, the layer is found from its path and the config."""
    path, _ = keras_model(tmp_path, before_3_6=before_3_6)
    code, doc = run("verify", str(path), "--no-config")
    t = by_name(doc)
    assert code == 0 and doc["passed"], [x for x in doc["tensors"] if x["status"] not in ("pass", "skip")]
    assert {n for n, x in t.items() if x["status"] == "pass"} == {
        "conv/kernel", "conv/bias", "conv_1/kernel", "fc1/kernel", "fc1/bias", "vs/kernel", "head/kernel",
        "emb/embeddings"}  # RandomUniform(-0.05, 0.05) as an init-call rule
    assert t["conv/bias"]["expected"] == {"constant": 0.0}
    expected = {"conv/kernel": (math.sqrt(2 / 27), "truncated_normal"),
                "conv_1/kernel": (math.sqrt(2 / 288), "uniform"),  # std = limit/sqrt(3) = sqrt(2/(fan_in+fan_out))
                "fc1/kernel": (math.sqrt(2 / 256), "uniform"), "vs/kernel": (math.sqrt(0.5 / 32), "normal"),
                "head/kernel": (math.sqrt(1 / 32), "truncated_normal")}
    for name, (std, dist) in expected.items():
        spec = t[name]["expected"]
        assert spec["layout"] == "keras" and spec["distribution"] == dist
        assert spec["std"] == pytest.approx(std, rel=1e-12), name


def test_keras_wrong_layer_fails_by_name(tmp_path: Path) -> None:
    path, _ = keras_model(tmp_path, wrong=True)
    code, doc = run("verify", str(path), "--no-config")
    failed = [x["name"] for x in doc["tensors"] if x["status"] == "fail"]
    assert code == 1 and failed == ["conv_1/kernel"]


@pytest.mark.parametrize("wrong", [False, True])
def test_keras_identify_matches_safetensors(tmp_path: Path, wrong: bool) -> None:
    path, w = keras_model(tmp_path, wrong)
    save_safetensors(w, str(tmp_path / "same.safetensors"))
    _, keras_doc = run("identify", str(path))
    _, st_doc = run("identify", str(tmp_path / "same.safetensors"), "--layout", "keras")
    verdicts = {n: x["verdict"] for n, x in by_name(keras_doc).items()}
    assert verdicts == {n: x["verdict"] for n, x in by_name(st_doc).items()}
    assert keras_doc["layout"] == "auto" and all(x["layout"] == "keras" for x in keras_doc["tensors"])
    stated = {n: x["stated"]["agrees"] for n, x in by_name(keras_doc).items()}
    assert stated["emb/embeddings"] is True  # RandomUniform(-0.05, 0.05), an init-call rule
    disagree = {n for n, a in stated.items() if a is False}
    assert disagree == ({"conv_1/kernel"} if wrong else set())
    assert any(line.startswith("conv_1/kernel: the file states keras.initializers.GlorotUniform()")
               for line in keras_doc["summary"]) == wrong


def test_layout_option_overrides_the_files(tmp_path: Path) -> None:
    """--layout torch on a Keras file: the fans are torch's (out=3, in=3 for conv (3,3,3,16))."""
    path, _ = keras_model(tmp_path)
    w = keras_weights()
    fc.keras3_h5(tmp_path / "bare.weights.h5", [("layers/dense", "fc1", [w["fc1/kernel"]])])
    _, doc = run("verify", str(tmp_path / "bare.weights.h5"), "--no-config", "--layout", "torch")
    assert by_name(doc)["fc1/kernel"]["expected"]["fan_in"] == 64
    _, doc = run("verify", str(tmp_path / "bare.weights.h5"), "--no-config", "-a0")  # the defaults, said aloud
    assert by_name(doc)["fc1/kernel"]["expected"]["fan_in"] == 256


def test_weights_h5_without_config(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    kernel = (rng.standard_normal((3, 3, 8, 32)) * math.sqrt(2 / 72)).astype(np.float32)  # He normal, fan_in 72
    fc.keras3_h5(tmp_path / "m.weights.h5", [("layers/conv2d", "stem", [kernel, np.zeros(32, np.float32)]),
                                             ("layers/batch_normalization", "bn", [np.ones(32, np.float32)] * 2
                                              + [np.zeros(32, np.float32), np.ones(32, np.float32)])])
    names = [s.name for s in read_path(str(tmp_path / "m.weights.h5"))]
    assert sorted(names) == ["bn/beta", "bn/gamma", "bn/moving_mean", "bn/moving_variance", "stem/bias",
                             "stem/kernel"]
    code, doc = run("verify", str(tmp_path / "m.weights.h5"), "--no-config", "-a0")
    assert code == 0 and by_name(doc)["stem/kernel"]["status"] == "pass"
    assert by_name(doc)["stem/kernel"]["expected"]["fan_in"] == 72


def test_legacy_h5_names(tmp_path: Path) -> None:
    k = np.ones((4, 3), np.float32)
    fc.legacy_h5(tmp_path / "old.h5", [("dense", [("dense/kernel:0", k), ("dense/bias:0", np.zeros(3, np.float32))])],
                 model_config={"class_name": "Sequential", "config": {"name": "s", "layers": []}})
    sources = read_path(str(tmp_path / "old.h5"))
    assert sorted(s.name for s in sources) == ["dense/bias", "dense/kernel"]


def test_legacy_h5_with_a_weightless_layer(tmp_path: Path) -> None:
    """``model.save('x.h5')`` writes an empty ``weight_names`` for an input layer: an attribute with no bytes,
    on which HDF5's storage-size query fails (it made every legacy full-model file unreadable, exit 3)."""
    k = np.ones((4, 3), np.float32)
    fc.legacy_h5(tmp_path / "full.h5", [("input_layer", []), ("dense", [("dense/kernel", k)])],
                 model_config={"class_name": "Functional", "config": {"name": "f", "layers": []}})
    assert [s.name for s in read_path(str(tmp_path / "full.h5"))] == ["dense/kernel"]


def test_stated_rules_from_initializers() -> None:
    def spec_std(rule: Any, shape: tuple[int, ...]) -> float:
        return SpecOptions().overridden(rule.options).spec(shape).std

    vs = stated_rule("t", "l", "kernel", "Dense", {"kernel_initializer": fc.initializer(
        "VarianceScaling", scale=0.5, mode="fan_out", distribution="untruncated_normal")}, "f")
    assert vs is not None and spec_std(vs, (64, 32)) == pytest.approx(math.sqrt(0.5 / 32), rel=1e-12)
    big = stated_rule("t", "l", "kernel", "Dense", {"kernel_initializer": fc.initializer(
        "VarianceScaling", scale=25 / 9, mode="fan_avg", distribution="uniform")}, "f")
    assert big is not None and spec_std(big, (10, 30)) == pytest.approx(math.sqrt((25 / 9) / 20), rel=1e-12)
    const = stated_rule("t", "l", "bias", "Dense", {"bias_initializer": fc.initializer("Constant", value=0.1)}, "f")
    assert const is not None and const.constant == 0.1
    ortho = stated_rule("t", "l", "kernel", "Dense", {"kernel_initializer": fc.initializer("Orthogonal", gain=2)}, "f")
    assert ortho is not None and ortho.options == {"layout": "keras", "init": "keras.initializers.Orthogonal(gain=2.0)"}
    normal = stated_rule("t", "l", "kernel", "Dense", {"kernel_initializer": fc.initializer(
        "RandomNormal", mean=0.0, stddev=0.02, seed=7)}, "f")  # the seed is no part of the law
    assert normal is not None and spec_std(normal, (64, 32)) == pytest.approx(0.02, rel=1e-12)
    odd = stated_rule("t", "l", "kernel", "Dense", {"kernel_initializer": fc.initializer("STFT")}, "f")
    assert odd is not None and odd.skip and "STFT" in odd.origin
    text = stated_rule("t", "l", "kernel", "Dense", {"kernel_initializer": fc.initializer("RandomNormal",
                                                                                          stddev="x")}, "f")
    assert text is not None and text.skip
    huge = stated_rule("t", "l", "kernel", "Dense", {"kernel_initializer": fc.initializer(
        "VarianceScaling", scale=7.0)}, "f")
    assert huge is not None and huge.skip and "scale 7" in huge.origin


def test_depthwise_and_separable_kernels_use_their_own_initializers() -> None:
    """keras/src/layers/convolutional/base_depthwise_conv.py makes ``kernel`` with ``depthwise_initializer``."""
    cfg = {"kernel_initializer": fc.initializer("Zeros"), "depthwise_initializer": fc.initializer("HeUniform"),
           "pointwise_initializer": fc.initializer("LecunNormal"), "bias_initializer": fc.initializer("Zeros")}
    dw = stated_rule("dw/kernel", "dw", "kernel", "DepthwiseConv2D", cfg, "f", (3, 3, 16, 2))
    assert dw is not None and dw.options["distribution"] == "uniform" and "depthwise_initializer" in dw.origin
    assert variable_names("DepthwiseConv2D", {"use_bias": True}, "", 2) == ["kernel", "bias"]
    assert variable_names("SeparableConv2D", {}, "", 3) == ["depthwise_kernel", "pointwise_kernel", "bias"]
    pw = stated_rule("s/pointwise_kernel", "s", "pointwise_kernel", "SeparableConv2D", cfg, "f", (1, 1, 32, 8))
    assert pw is not None and pw.options["distribution"] == "truncated_normal"
    dense = stated_rule("d/kernel", "d", "kernel", "Dense", cfg, "f", (4, 4))  # a Dense's kernel is its own
    assert dense is not None and dense.constant == 0.0


@pytest.mark.parametrize(("equation", "shape", "fans"), [
    ("abc,cde->abde", (32, 8, 16), (32, 128)),  # MultiHeadAttention's query: (d_model, heads, head_dim)
    ("abcd,cde->abe", (8, 16, 32), (128, 32)),  # its output projection
    ("ab,bc->ac", (32, 64), (32, 64)),
    ("...b,bc->...c", (32, 64), (32, 64)),
    ("abc,cd->abd", (32, 48), (32, 48)),
    ("bc...,cd->bd...", (32, 48), (32, 48)),
    ("abc,bcd->ad", (4, 5, 6), (20, 6)),
])
def test_einsum_kernel_fans(equation: str, shape: tuple[int, ...], fans: tuple[int, int]) -> None:
    """Keras >= 3.15 (``_analyze_split_string``): a kernel letter in the output is an output axis, else input."""
    cfg = {"equation": equation, "kernel_initializer": fc.initializer("GlorotUniform")}
    rule = stated_rule("e/kernel", "e", "kernel", "EinsumDense", cfg, "f", shape, "3.15.1")
    assert rule is not None and (rule.options["fan_in"], rule.options["fan_out"]) == fans
    old = stated_rule("e/kernel", "e", "kernel", "EinsumDense", cfg, "f", shape, "3.14.1")
    assert old is not None and "fan_in" not in old.options  # compute_fans on the bare shape, as 3.14 did
    axes = stated_rule("e/kernel", "e", "kernel", "Dense", {"kernel_initializer": fc.initializer(
        "GlorotUniform", input_axes=[0], output_axes=[1])}, "f", (6, 7))  # the initializer's own axes win
    assert axes is not None and (axes.options["fan_in"], axes.options["fan_out"]) == (6, 7)


def test_attention_projections() -> None:
    cfg = {"kernel_initializer": fc.initializer("HeNormal"), "bias_initializer": fc.initializer("Zeros"),
           "use_bias": True}
    query = attention_sublayer("MultiHeadAttention", cfg, "query", 3)
    out = attention_sublayer("MultiHeadAttention", cfg, "attention_output", 3)
    assert query is not None and out is not None
    assert einsum_axes(query[1]["equation"], 3) == ([0], [1, 2]) and einsum_axes(out[1]["equation"], 3) == ([0, 1], [2])
    bias = attention_sublayer("MultiHeadAttention", cfg, "attention_output", 1)
    assert bias is not None and "equation" not in bias[1] and bias[1]["bias_initializer"] == cfg["bias_initializer"]
    assert attention_sublayer("Dense", cfg, "query", 3) is None and attention_sublayer(
        "MultiHeadAttention", cfg, "softmax", 3) is None
    assert keras_release("3.15.1") == (3, 15) and keras_release("2.15.0-tf") == (2, 15) and keras_release(None) is None


# --------------------------------------------------------------------------- ONNX

RULES = """
[[rule]]
match = "[02].weight"
mode = "fan_out"
nonlinearity = "relu"

[[rule]]
match = "[57].weight"          # nn.Linear's default: kaiming_uniform_(a=sqrt(5))
distribution = "uniform"
negative_slope = 2.23606797749979

[[rule]]
match = "*.bias"
skip = true
"""


def torch_net(wrong: bool = False) -> Any:
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(16 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 10))
    for i in (0, 2):
        mode = "fan_in" if wrong and i == 2 else "fan_out"
        nn.init.kaiming_normal_(net[i].weight, mode=mode, nonlinearity="relu")
    return net


def export(folder: Path, wrong: bool = False, external: bool = False) -> tuple[Path, Path]:
    """The net through torch.onnx.export (and onnx's external-data writer), and its state dict as safetensors."""
    import warnings

    import onnx
    import torch

    net = torch_net(wrong)
    path = folder / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.zeros(1, 3, 8, 8), str(path), dynamo=False,
                          training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    if external:
        model = onnx.load(str(path))
        onnx.save_model(model, str(path), save_as_external_data=True, location="net.onnx.data", size_threshold=0)
    save_safetensors({k: v.numpy() for k, v in net.state_dict().items()}, str(folder / "net.safetensors"))
    (folder / "rules.toml").write_text(RULES)
    return path, folder / "net.safetensors"


@pytest.mark.parametrize("external", [False, True])
def test_onnx_export_verifies_like_its_state_dict(tmp_path: Path, external: bool) -> None:
    onnx_path, st_path = export(tmp_path, external=external)
    if external:
        assert (tmp_path / "net.onnx.data").stat().st_size > 16 * 64 * 64 * 4
        assert onnx_path.stat().st_size < 10_000
    code, doc = run("verify", str(onnx_path), "--rules", str(tmp_path / "rules.toml"))
    _, ref = run("verify", str(st_path), "--rules", str(tmp_path / "rules.toml"))
    assert code == 0 and doc["passed"] and doc["tested"] == 4
    pvalues = {n: (x["status"], x["pvalue"]) for n, x in by_name(doc).items()}
    assert pvalues == {n: (x["status"], x["pvalue"]) for n, x in by_name(ref).items()}


def test_onnx_wrong_layer_fails_and_identify_agrees(tmp_path: Path) -> None:
    onnx_path, st_path = export(tmp_path, wrong=True)
    code, doc = run("verify", str(onnx_path), "--rules", str(tmp_path / "rules.toml"))
    assert code == 1 and [x["name"] for x in doc["tensors"] if x["status"] == "fail"] == ["2.weight"]
    _, ident = run("identify", str(onnx_path))
    _, ref = run("identify", str(st_path))
    assert {n: x["verdict"] for n, x in by_name(ident).items()} == {n: x["verdict"] for n, x in by_name(ref).items()}
    assert by_name(ident)["0.weight"]["verdict"].startswith("kaiming_normal_(mode='fan_out'")


def test_onnx_layouts_from_ops(tmp_path: Path) -> None:
    """MatMul keeps the Linear weight transposed, (in, out): its fans must still be the Linear's."""
    rng = np.random.default_rng(0)
    w = {"conv.weight": (rng.standard_normal((8, 3, 3, 3)) * math.sqrt(2 / 27)).astype(np.float32),
         "conv.bias": np.zeros(8, np.float32),
         "fc.weight": (rng.standard_normal((10, 128)) * math.sqrt(2 / 128)).astype(np.float32),
         "fc.bias": np.zeros(10, np.float32)}
    fc.onnx_convnet(tmp_path / "mm.onnx", w, matmul=True)
    layouts = {s.name: s.layout for s in read_path(str(tmp_path / "mm.onnx"))}
    assert layouts == {"conv.weight": "torch", "conv.bias": None, "onnx::MatMul_7": "jax", "fc.bias": None}
    code, doc = run("verify", str(tmp_path / "mm.onnx"), "--no-config", "-a0")
    assert code == 0 and by_name(doc)["onnx::MatMul_7"]["expected"]["fan_in"] == 128


# --------------------------------------------------------------------------- Flax

def flax_tree(wrong: bool = False) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Flax's default kernel init, lecun_normal: truncated normal of std sqrt(1/fan_in), kernels (*k, in, out)."""
    rng = np.random.default_rng(11)
    conv = truncated(rng, (3, 3, 3, 16), math.sqrt(1 / 27))
    dense = truncated(rng, (256, 64), math.sqrt(1 / 256) * (1.5 if wrong else 1))
    head = truncated(rng, (64, 10), math.sqrt(1 / 64))
    flat = {"params/Conv_0/kernel": conv, "params/Conv_0/bias": np.zeros(16, np.float32),
            "params/Dense_0/kernel": dense, "params/Dense_1/kernel": head}
    tree = {"params": {"Conv_0": {"kernel": conv, "bias": flat["params/Conv_0/bias"]},
                       "Dense_0": {"kernel": fc.flax_chunked(dense, 3000)},  # as flax splits arrays over 2**30 B
                       "Dense_1": {"kernel": head}}, "step": 0}
    return tree, flat


@pytest.mark.parametrize("wrong", [False, True])
def test_flax_msgpack(tmp_path: Path, wrong: bool) -> None:
    tree, flat = flax_tree(wrong)
    (tmp_path / "params.msgpack").write_bytes(fc.flax_bytes(tree))
    sources = {s.name: s for s in read_path(str(tmp_path / "params.msgpack"))}
    assert set(sources) == set(flat)
    produce, _, close = sources["params/Dense_0/kernel"].open()
    np.testing.assert_array_equal(produce(0, 2500, 9000), flat["params/Dense_0/kernel"].reshape(-1)[2500:9000])
    close()
    args = ["--no-config", "--nonlinearity", "linear", "--distribution", "truncated_normal"]
    code, doc = run("verify", str(tmp_path / "params.msgpack"), *args)
    assert by_name(doc)["params/Conv_0/kernel"]["expected"]["fan_in"] == 27
    assert [x["name"] for x in doc["tensors"] if x["status"] == "fail"] == (["params/Dense_0/kernel"] if wrong else [])
    assert code == (1 if wrong else 0)
    save_safetensors(flat, str(tmp_path / "same.safetensors"))
    _, ident = run("identify", str(tmp_path / "params.msgpack"))
    _, ref = run("identify", str(tmp_path / "same.safetensors"), "--layout", "jax")
    assert {n: x["verdict"] for n, x in by_name(ident).items()} == {n: x["verdict"] for n, x in by_name(ref).items()}


# --------------------------------------------------------------------------- a missing extra

@pytest.mark.parametrize(("module", "extra", "name"), [("h5py", "keras-files", "m.keras"),
                                                       ("onnx", "onnx", "m.onnx"),
                                                       ("msgpack", "flax-files", "m.msgpack")])
def test_missing_extra_is_one_line_exit_3(tmp_path: Path, module: str, extra: str, name: str) -> None:
    (tmp_path / name).write_bytes(b"\x00" * 64)
    code = (f"import sys; sys.modules[{module!r}] = None; sys.argv = ['kaiming', 'verify', {name!r}, '--no-config'];"
            "from kaiming_cli.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 3
    assert f"pip install 'kaiming[{extra}]'" in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2
    assert "Traceback" not in proc.stderr


def test_legacy_full_model_states_rules(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    kernel = rng.uniform(-1, 1, (40, 24)).astype(np.float32) * math.sqrt(6 / 64)  # GlorotUniform, fans 40 and 24
    config = fc.sequential_config([fc.dense_config("dense", 24, fc.initializer("GlorotUniform"),
                                                   fc.initializer("Zeros"))])
    fc.legacy_h5(tmp_path / "full.h5", [("dense", [("dense/kernel:0", kernel),
                                                   ("dense/bias:0", np.zeros(24, np.float32))])], model_config=config)
    code, doc = run("verify", str(tmp_path / "full.h5"), "--no-config")
    t = by_name(doc)
    assert code == 0 and t["dense/kernel"]["status"] == "pass" and t["dense/bias"]["expected"] == {"constant": 0.0}
    assert t["dense/kernel"]["expected"]["std"] == pytest.approx(math.sqrt(2 / 64), rel=1e-12)


def test_onnx_typed_fields(tmp_path: Path) -> None:
    """Tensors kept in float_data, int32_data (float16 bit patterns) and int64_data, not raw_data."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(2)
    f32 = rng.standard_normal((4, 6)).astype(np.float32)
    f16 = rng.standard_normal((3, 5)).astype(np.float16)
    i64 = np.arange(7, dtype=np.int64)
    inits = [helper.make_tensor("f32", TensorProto.FLOAT, f32.shape, f32.reshape(-1).tolist()),
             helper.make_tensor("f16", TensorProto.FLOAT16, f16.shape, f16.reshape(-1).tolist()),  # bits in int32_data
             helper.make_tensor("i64", TensorProto.INT64, i64.shape, i64.tolist())]
    assert not any(t.HasField("raw_data") for t in inits)
    graph = helper.make_graph([], "g", [], [], inits)
    onnx.save_model(helper.make_model(graph), str(tmp_path / "typed.onnx"))
    for s in read_path(str(tmp_path / "typed.onnx")):
        produce, _, close = s.open()
        values = produce(0, 0, s.numel)
        close()
        expected = {"f32": f32, "f16": f16, "i64": i64}[s.name]
        assert s.dtype == {"f32": "float32", "f16": "float16", "i64": "int64"}[s.name]
        np.testing.assert_array_equal(values, expected.reshape(-1).astype(values.dtype))
