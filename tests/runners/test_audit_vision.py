"""audit on look-alikes of torchvision and timm vision models (tests/audit_vision_models.py cites each source):
what the forward pass must read in each, and what must not be a finding. The real models are checked in
tests/test_audit_vision_real.py (frameworks marker)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from kaiming_cli.api import audit  # noqa: E402
from tests import audit_vision_models as models  # noqa: E402


def rows(result):  # type: ignore[no-untyped-def]
    return {w.name: w for w in result.weights}


def test_containers_named_for_a_norm_are_traced_through_and_se_layers_are_gates() -> None:
    """torchvision's Conv2dNormActivation is a Sequential whose class name says Norm: read whole as a norm, it
    hid its conv and the Hardswish after the BatchNorm. SqueezeExcitation's fc2 is a gate (hardsigmoid, then
    a product with the signal); its fc1 only reaches the signal through the gate."""
    result = audit(models.mobilenet_like())
    by = rows(result)
    assert result.graph == "forward pass"
    assert by["0.0.weight"].activation == "hardswish" and by["0.0.weight"].role == "scale-free"
    assert by["1.0.0.weight"].activation == "relu"
    assert by["1.1.fc1.weight"].activation == "relu"
    assert by["1.1.fc2.weight"].activation == "hardsigmoid" and by["1.1.fc2.weight"].role == "gate"
    assert result.signal is not None and result.signal.verdict == "stable"
    # the head at normal(0, 0.01) is smaller than recommended: the logits start near uniform, no finding
    assert by["6.weight"].role == "head" and by["6.weight"].verdict == "different"
    assert result.findings() == [], [(f.name, f.message) for f in result.findings()]


def test_layer_scaled_branches_are_left_out_of_the_depth_verdict() -> None:
    """ConvNeXt's gamma = 1e-6 multiplies each block's branch: the gradient reaching the branch's layers is 1e-6
    of the stream's by design. Read as depth, it was 'vanishing'."""
    result = audit(models.convnext_like())
    assert result.signal is not None
    backward = dict(result.signal.backward_signal)
    assert backward["2.fc2"] < 1e-4 * backward["19"]  # the branch's gradient, damped by gamma (stage 1, block 1)
    assert result.signal.verdict == "stable"
    by = rows(result)
    assert by["2.fc1.weight"].activation == "gelu"
    assert by["2.conv_dw.weight"].role == "scale-free"
    assert not [f for f in result.findings() if f.kind == "signal"]


def test_zero_init_last_norm_is_the_known_trick_not_a_finding() -> None:
    result = audit(models.resnet_zero_init_last())
    by = rows(result)
    bn2 = by["3.bn2.weight"]
    assert bn2.role == "residual end" and bn2.verdict == "different"
    assert "zero-init-residual" in bn2.note and "not a finding" in bn2.note
    assert result.findings() == []
    # the same norm weight at zeros where it does not end a residual branch (bn1) stays a finding
    model = models.resnet_zero_init_last()
    torch.nn.init.zeros_(model[3].bn1.weight)
    names = {f.name for f in audit(model).findings()}
    assert "3.bn1.weight" in names and "3.bn2.weight" not in names


def test_vit_runs_on_its_declared_input_size_with_its_own_params_first() -> None:
    """timm's ViT holds cls_token and pos_embed itself (the first module with parameters is the model), and its
    PatchEmbed refuses any input but the declared size: the input is inferred from the patch conv, and the
    size from pretrained_cfg after the 32x32 guess raises."""
    result = audit(models.vit_like())
    assert result.graph == "forward pass"
    assert any("3,64,64" in n for n in result.notes)
    by = rows(result)
    assert by["cls_token"].role == "token" and by["pos_embed"].role == "position table"
    assert by["blocks.0.fc1.weight"].activation == "gelu"
    assert by["blocks.0.qkv.weight"].feeds == "scaled_dot_product_attention"
    assert result.signal is not None and result.signal.verdict == "stable"
    assert result.findings() == []


def test_a_larger_head_is_still_a_finding() -> None:
    model = models.mobilenet_like()
    torch.nn.init.normal_(model[6].weight, 0, 1.0)  # ~8x He's std for a 48-wide linear output
    names = {f.name for f in audit(model).findings()}
    assert "6.weight" in names


def test_a_network_normalized_throughout_says_so_instead_of_an_empty_growth() -> None:
    """Every conv of a ResNet feeds a BatchNorm: no depth series is left, and the line says why ("growth -" was
    printed, read as a missing number)."""
    from kaiming_cli.render.text import audit_signal_lines

    result = audit(models.resnet_zero_init_last())
    assert result.signal is not None and result.signal.direction == "normalized"
    first = audit_signal_lines(result)[0]
    assert "no growth over depth to judge" in first and "-," not in first
    assert "growth over depth forward" in audit_signal_lines(audit(models.convnext_like()))[0]
