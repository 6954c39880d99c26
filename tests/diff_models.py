"""Models that ``kaiming diff`` builds from ``module:callable`` targets in the tests (tests/test_diff.py).

- ``cnn``: torchvision's ResNet init (``torchvision/models/resnet.py``, ``ResNet.__init__``: every ``nn.Conv2d`` gets
  ``nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")``, BatchNorm weight 1 and bias 0, ``fc``
  the ``nn.Linear`` default), as in tests/lookalikes.py; ``cnn_broken`` leaves ``layer1.2`` at the ``nn.Conv2d``
  default (``kaiming_uniform_(a=sqrt(5))``, ``torch/nn/modules/conv.py``, ``_ConvNd.reset_parameters``) and draws
  ``conv1`` with ``mode="fan_in"``: the two mistakes diff must find, and only those (both layers have fan_in !=
  fan_out, so each law has one name).
- ``TinyLM``: a transformers-style decoder whose ``_init_weights`` follows ``GPT2PreTrainedModel._init_weights``
  (``transformers/models/gpt2/modeling_gpt2.py``: Linear and Embedding ``normal_(mean=0.0, std=0.02)``, biases zero,
  LayerNorm weight 1 and bias 0); ``__init__`` ends with ``init_weights()`` as ``post_init()`` does. On the meta
  device that init draws nothing, and ``to_empty()`` leaves memory as it was: ``init_weights`` must run again.
- ``garbage`` and ``zeros`` write what ``to_empty()`` leaves (recycled memory, read as floats; fresh zeroed pages)
  deterministically: real ``torch.empty`` contents depend on the allocator, so a test cannot rely on them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _cnn(fan_in_layer: bool = False, default_layer: bool = False) -> nn.Module:
    m = nn.Module()
    m.conv1 = nn.Conv2d(3, 32, 7, bias=False)
    m.bn1 = nn.BatchNorm2d(32)
    m.layer1 = nn.Sequential(nn.Conv2d(32, 32, 3, bias=False), nn.BatchNorm2d(32), nn.Conv2d(32, 64, 3, bias=False))
    m.fc = nn.Linear(64, 10)
    for name, mod in m.named_modules():
        if isinstance(mod, nn.Conv2d):
            if default_layer and name == "layer1.2":
                continue
            mode = "fan_in" if fan_in_layer and name == "conv1" else "fan_out"
            nn.init.kaiming_normal_(mod.weight, mode=mode, nonlinearity="relu")
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.constant_(mod.weight, 1)
            nn.init.constant_(mod.bias, 0)
    return m


def cnn() -> nn.Module:
    return _cnn()


def cnn_broken() -> nn.Module:
    return _cnn(fan_in_layer=True, default_layer=True)


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.out = nn.Linear(4 * d, d)


class TinyLM(nn.Module):
    def __init__(self, vocab: int = 96, d: int = 32, layers: int = 2) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(64, d)
        self.h = nn.ModuleList(Block(d) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.init_weights()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def init_weights(self) -> None:
        self.apply(self._init_weights)


def garbage(model: nn.Module) -> None:
    """Every parameter as recycled memory: seeded random bytes read as float32."""
    rng = np.random.default_rng(7)
    with torch.no_grad():
        for p in model.parameters():
            raw = np.frombuffer(rng.bytes(p.numel() * 4), dtype=np.float32).reshape(tuple(p.shape))
            p.copy_(torch.from_numpy(raw.copy()))


def zeros(model: nn.Module) -> None:
    """Every parameter as fresh zeroed pages."""
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
