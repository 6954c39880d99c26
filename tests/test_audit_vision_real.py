"""Issue 27 on real torchvision and timm models (frameworks marker; `make test-frameworks` installs timm and the
torchvision that matches the pinned torch). What each must read comes from its source: torchvision/models/
resnet.py (conv -> bn -> relu, fc the output), mobilenetv3.py and ops/misc.py (Conv2dNormActivation with
Hardswish, SqueezeExcitation's fc1 -> ReLU -> fc2 -> Hardsigmoid gate), efficientnet.py (SiLU, Sigmoid gate);
timm vision_transformer.py (fc1 -> GELU, qkv -> attention), convnext.py (layer scale 1e-6), resnet.py
(zero_init_last: bn2 weights at zero)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.frameworks
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def libs() -> tuple[Any, Any]:
    # tests/conftest.py stubs torchvision's fake-kernel registrations (built for CUDA torch, they fail here)
    return pytest.importorskip("torchvision"), pytest.importorskip("timm")


def build(libs: tuple[Any, Any], name: str) -> Any:
    torchvision, timm = libs
    torch.manual_seed(0)
    lib, _, arch = name.partition(":")
    return getattr(torchvision.models, arch)() if lib == "tv" else timm.create_model(arch, pretrained=False)


CASES = {
    "tv:resnet18": ({"conv1.weight": "relu", "layer1.0.conv2.weight": "relu", "fc.weight": "none"}, set()),
    "tv:mobilenet_v3_small": ({"features.0.0.weight": "hardswish", "features.1.block.1.fc1.weight": "relu",
                               "features.1.block.1.fc2.weight": "hardsigmoid"},
                              {"classifier.0.weight"}),  # normal(0, 0.01) before a Hardswish: He's std is ~8x
    "tv:efficientnet_b0": ({"features.0.0.weight": "silu", "features.1.0.block.1.fc2.weight": "sigmoid"}, set()),
    "timm:vit_tiny_patch16_224": ({"blocks.0.mlp.fc1.weight": "gelu", "blocks.0.mlp.fc2.weight": "none"}, set()),
    "timm:convnext_atto": ({"stages.0.blocks.0.mlp.fc1.weight": "gelu"}, set()),
    "timm:resnet18": ({"conv1.weight": "relu", "layer1.0.conv1.weight": "relu"}, set()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_vision_models_read_right(libs: tuple[Any, Any], name: str) -> None:
    from kaiming_cli.api import audit

    result = audit(build(libs, name))
    activations, findings = CASES[name]
    assert result.graph == "forward pass"
    by = {w.name: w for w in result.weights}
    for pname, activation in activations.items():
        assert by[pname].activation == activation, (pname, by[pname].feeds)
    assert result.signal is not None and result.signal.verdict == "stable", result.signal
    assert {f.name for f in result.findings()} == findings, [(f.name, f.message) for f in result.findings()]
