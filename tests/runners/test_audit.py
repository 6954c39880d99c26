"""``kaiming audit`` on models that reproduce real architectures (tests/audit_models.py cites their sources).

Expected activations are read off each model's code by hand; expected stds come from torch itself
(``calculate_gain`` and ``_calculate_fan_in_and_fan_out``), never from kaiming.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from kaiming_cli.api import assert_audit, audit  # noqa: E402
from tests import audit_models as M  # noqa: E402


def torch_std(weight: torch.Tensor, nonlinearity: str, a: float = 0.0, mode: str = "fan_in") -> float:
    """The std ``kaiming_normal_`` gives, computed by torch's own functions."""
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(weight)
    fan = fan_in if mode == "fan_in" else fan_out
    return torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)


def rows(result):  # noqa: ANN001, ANN201 - a small test helper
    return {w.name: w for w in result.weights}


# --------------------------------------------------------------------------- ResNet (torchvision)

def test_resnet_every_conv_is_followed_by_relu_and_is_as_recommended():
    torch.manual_seed(0)
    model = M.small_resnet()
    result = audit(model)
    assert result.traced
    by = rows(result)
    assert set(by) == {n for n, _ in model.named_parameters()}
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 12  # stem, 2 per block, 3 downsample shortcuts
    for name in convs:
        w = by[f"{name}.weight"]
        # conv -> bn -> relu, conv2 -> bn2 -> (+= identity) -> relu, downsample.0 -> downsample.1 -> += -> relu
        assert w.activation == "relu", name
        assert w.verdict == "as recommended", (name, w)
        assert w.recommended == "kaiming_normal_(mode='fan_out', nonlinearity='relu')"
        assert 0.9 < w.std_ratio < 1.1
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert by[f"{name}.weight"].verdict == by[f"{name}.bias"].verdict == "as recommended"
            assert by[f"{name}.weight"].actual_call == "ones_" and by[f"{name}.bias"].actual_call == "zeros_"
    # torchvision leaves fc at nn.Linear's default: a head wants gain 1, the default gives 1/3 of that variance
    fc = by["fc.weight"]
    assert fc.activation == "none" and fc.verdict == "framework default" and fc.gain == 1.0
    assert "1/3" in fc.note
    assert fc.std_ratio == pytest.approx(1 / math.sqrt(3), rel=0.1)
    assert by["fc.bias"].verdict == "framework default"
    assert not result.has_different


def test_one_conv_left_at_the_default_is_flagged_on_exactly_that_layer():
    torch.manual_seed(1)
    model = M.resnet_one_default_conv()
    result = audit(model)
    flagged = [w.name for w in result.weights if w.layer_type == "Conv2d" and w.verdict != "as recommended"]
    assert flagged == ["layer2.0.conv1.weight"]
    w = rows(result)["layer2.0.conv1.weight"]
    # conv -> BatchNorm -> ReLU: the norm divides the scale out, so the default's 1/6 of He's variance is
    # scale-free for the forward pass (issue 27), and still said
    assert w.verdict == "scale-free" and w.activation == "relu" and w.feeds == "norm → relu (layer2.0.relu)"
    assert "1/6" in w.note and "normalized" in w.note  # (1/3 fan_in) / (2 / fan_in)
    assert w.std_ratio == pytest.approx(1 / math.sqrt(6), rel=0.1)
    with pytest.raises(AssertionError, match=r"layer2\.0\.conv1\.weight"):
        assert_audit(model, allow=("fc.*",))  # scale-free is not allowed here
    assert_audit(model)  # by default only 'different' fails


# --------------------------------------------------------------------------- transformer block (timm)

def test_transformer_block_gelu_mlp_and_layernorm():
    torch.manual_seed(2)
    model = M.TinyViT()
    result = audit(model)
    by = rows(result)
    expected_act = {"patch_embed": "none", "attn.qkv": "none", "attn.proj": "none", "mlp.fc1": "gelu",
                    "mlp.fc2": "none", "head": "none"}
    for name, _ in model.named_parameters():
        key = next((k for k in expected_act if name.removeprefix("blocks.0.").removeprefix("blocks.1.")
                    .startswith(k + ".")), None)
        if key is not None:
            assert by[name].activation == expected_act[key], name
    for i in (0, 1):
        fc1 = by[f"blocks.{i}.mlp.fc1.weight"]
        assert fc1.recommended == "kaiming_normal_(mode='fan_in', nonlinearity='relu')"
        assert "no gain for gelu" in fc1.note
        # timm's trunc_normal_(std=.02): different, at 0.02 / sqrt(2/fan_in)
        assert fc1.verdict == "different"
        want = 0.02 / torch_std(model.blocks[i].mlp.fc1.weight, "relu")
        assert fc1.std_ratio == pytest.approx(want, rel=0.05)
        assert fc1.actual == "normal_(std=0.02)"
        assert by[f"blocks.{i}.norm1.weight"].verdict == "as recommended"
        assert by[f"blocks.{i}.mlp.fc2.bias"].verdict == "as recommended"
    assert result.count("different") == 10  # the ten Linear weights
    assert "followed by matmul" in by["blocks.0.attn.qkv.weight"].note


# --------------------------------------------------------------------------- GAN generator (DCGAN)

def test_gan_generator_leaky_relu_and_tanh_output():
    torch.manual_seed(3)
    dcgan = M.dcgan_generator()
    result = audit(dcgan)
    convs = [(n, m) for n, m in dcgan.named_modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    by = rows(result)
    for n, _ in convs[:-1]:
        assert by[f"{n}.weight"].activation == "leaky_relu(0.2)"
    last_name, last = convs[-1]
    assert by[f"{last_name}.weight"].activation == "tanh"
    for n, m in convs:
        w = by[f"{n}.weight"]
        # DCGAN's N(0, 0.02) whatever follows: different before the tanh; BatchNorm follows the others
        assert w.verdict == ("different" if n == last_name else "scale-free")
        want = 0.02 / (torch_std(m.weight, "tanh") if n == last_name else torch_std(m.weight, "leaky_relu", 0.2))
        assert w.std_ratio == pytest.approx(want, rel=0.1)
    assert by[f"{last_name}.weight"].recommended == "kaiming_normal_(mode='fan_in', nonlinearity='tanh')"

    torch.manual_seed(4)
    fixed = audit(M.kaiming_generator())
    assert all(w.verdict == "as recommended" for w in fixed.weights), [w for w in fixed.weights
                                                                        if w.verdict != "as recommended"]
    assert rows(fixed)["main.0.weight"].recommended == \
        "kaiming_normal_(a=0.2, mode='fan_in', nonlinearity='leaky_relu')"


# --------------------------------------------------------------------------- LSTM language model

def test_lstm_language_model():
    torch.manual_seed(5)
    model = M.RNNModel()
    result = audit(model)
    by = rows(result)
    assert result.traced
    lstm = [n for n in by if n.startswith("rnn.")]
    assert len(lstm) == 8
    assert all(by[n].verdict == "as recommended" and by[n].recommended == "default('LSTM')" for n in lstm)
    assert by["decoder.weight"].activation == "softmax"  # decoded.view(...) -> F.log_softmax
    assert by["encoder.weight"].activation == "none"  # embedding -> dropout -> LSTM
    # init_weights: uniform_(-0.1, 0.1) has std 0.1/sqrt(3)
    assert by["decoder.weight"].verdict == "different"
    assert by["decoder.weight"].std_ratio == pytest.approx((0.1 / math.sqrt(3)) * math.sqrt(200), rel=0.05)
    assert by["encoder.weight"].verdict == "different"
    assert by["encoder.weight"].std_ratio == pytest.approx(0.1 / math.sqrt(3), rel=0.05)
    assert by["decoder.bias"].verdict == "as recommended"


# --------------------------------------------------------------------------- plain MLP, functional, branches

def test_plain_mlp_at_pytorch_defaults():
    torch.manual_seed(6)
    result = audit(M.plain_mlp())
    by = rows(result)
    assert [by[f"{i}.weight"].activation for i in (0, 2, 4)] == ["relu", "relu", "none"]
    assert all(w.verdict == "framework default" for w in result.weights)
    assert "1/6" in by["0.weight"].note and "1/3" in by["4.weight"].note
    assert by["0.weight"].std_ratio == pytest.approx(1 / math.sqrt(6), rel=0.05)


def test_functional_activations_and_tensor_methods():
    torch.manual_seed(7)
    result = audit(M.FunctionalNet())
    acts = [w.activation for w in result.weights if w.name.endswith("weight")]
    assert acts == ["relu", "tanh", "sigmoid", "leaky_relu(0.1)", "none"]
    b = rows(result)["b.weight"]
    # default vs tanh: (1/3) / (5/3)^2 = 3/25 of the variance
    assert b.std_ratio == pytest.approx(math.sqrt(3 / 25), rel=0.05)


def test_branches_that_disagree_are_ambiguous():
    torch.manual_seed(8)
    w = rows(audit(M.Branching()))["stem.weight"]
    assert w.activation == "ambiguous" and w.verdict == "ambiguous" and w.recommended is None
    assert "relu" in w.note and "tanh" in w.note


def test_untraceable_model_is_read_by_running_it():
    torch.manual_seed(9)
    result = audit(M.Untraceable())  # control flow on tensor values: torch.fx cannot trace it; running can
    assert result.traced and result.graph == "forward pass"
    assert any("forward pass on an input inferred from the first layer: 4,32" in n for n in result.notes)
    assert rows(result)["fc1.weight"].activation == "relu" and rows(result)["fc1.weight"].feeds == "relu (act)"
    assert rows(result)["fc2.weight"].activation == "none" and rows(result)["fc2.weight"].feeds == "output"


def test_untraceable_model_that_cannot_be_run_falls_back_to_module_order_with_a_note():
    class FirstLayerLies(M.Untraceable):
        """fc2 is defined first, so the inferred input (64 features) does not fit fc1: the run fails."""

        def __init__(self) -> None:
            torch.nn.Module.__init__(self)
            self.fc2 = torch.nn.Linear(64, 4)
            self.fc1 = torch.nn.Linear(32, 64)
            self.act = torch.nn.ReLU()

    torch.manual_seed(9)
    result = audit(FirstLayerLies())
    assert not result.traced and result.graph == "module order" and result.signal is None
    assert any("was not run" in n for n in result.notes) and any("could not trace" in n for n in result.notes)
    assert "module order" in rows(result)["fc1.weight"].note


def test_audit_result_is_frozen_and_serializable():
    import dataclasses
    import json

    torch.manual_seed(10)
    result = audit(M.plain_mlp())
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.traced = False  # type: ignore[misc]
    doc = json.loads(json.dumps(result.to_dict()))
    keys = {"name", "layer_type", "activation", "gain", "recommended", "actual", "std_ratio", "verdict", "note"}
    assert keys <= set(doc["weights"][0])


def test_untraceable_model_with_input_shape_uses_the_order_modules_ran() -> None:
    class Reordered(torch.nn.Module):
        """Defined fc2-act-fc1, run fc1 -> act -> fc2, with data-dependent control flow."""

        def __init__(self) -> None:
            super().__init__()
            self.fc2 = torch.nn.Linear(64, 4)
            self.act = torch.nn.Tanh()
            self.fc1 = torch.nn.Linear(32, 64)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.act(self.fc1(x))
            if h.sum() > 0:
                h = h * 2
            return self.fc2(h)

    torch.manual_seed(11)
    model = Reordered()
    by_definition = rows(audit(model))
    by_run = rows(audit(model, input_shape=(2, 32)))
    assert by_definition["fc1.weight"].activation == "none"  # nothing after fc1 in definition order
    assert by_run["fc1.weight"].activation == "tanh" and by_run["fc2.weight"].activation == "none"


def test_parameters_used_functionally_are_followed_from_the_op_that_reads_them() -> None:
    class Functional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.empty(64, 32))
            torch.nn.init.kaiming_normal_(self.w, nonlinearity="relu")
            self.head = torch.nn.Linear(64, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.nn.functional.relu(torch.nn.functional.linear(x, self.w)))

    torch.manual_seed(12)
    w = rows(audit(Functional()))["w"]
    assert w.activation == "relu" and w.verdict == "as recommended"
    assert w.recommended == "kaiming_normal_(mode='fan_in', nonlinearity='relu')"


def test_multihead_attention_keeps_its_own_init() -> None:
    class WithAttention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(64, 4)
            self.fc = torch.nn.Linear(64, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, _ = self.attn(x, x, x)
            return self.fc(torch.relu(a))

    torch.manual_seed(13)
    result = audit(WithAttention())
    assert result.traced
    by = rows(result)
    # torch's MultiheadAttention._reset_parameters: xavier_uniform_(in_proj_weight), zero biases, out_proj at
    # nn.Linear's default
    assert by["attn.in_proj_weight"].recommended == "xavier_uniform_"
    assert by["attn.out_proj.weight"].recommended == "default('Linear')"
    assert all(by[n].verdict == "as recommended" for n in by if n.startswith("attn."))
    assert by["attn.out_proj.weight"].activation == "relu"  # the module's output goes through torch.relu
