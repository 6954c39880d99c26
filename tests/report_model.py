"""A torchvision resnet18 look-alike (its names and its init, channels divided by ``scale``) with BERT-style
attention weights, and a copy with three broken layers, for the report tests (issue 24).

torchvision ``torchvision/models/resnet.py``, ``ResNet.__init__``: every ``nn.Conv2d`` gets
``nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")``; BatchNorm ``constant_(weight, 1)``,
``constant_(bias, 0)``; ``fc`` keeps ``nn.Linear``'s default. transformers ``modeling_bert.py``,
``BertPreTrainedModel._init_weights``: Linear ``normal_(mean=0.0, std=0.02)``, bias zero.
The three breaks: ``layer2.0.conv1.weight`` re-drawn with ``mode='fan_in'`` (its fans differ by two),
``layer3.1.conv2.weight`` with ``normal_(std=0.02)``, ``layer4.0.conv1.weight`` left at ``nn.Conv2d``'s default.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

BROKEN = {"layer2.0.conv1.weight": "fan_in", "layer3.1.conv2.weight": "std=0.02",
          "layer4.0.conv1.weight": "Conv2d default"}
#: Real names of about 40 characters (BERT's); the longest name a report must keep whole from 100 columns.
BERT = ["encoder.layer.11.attention.self.query.weight", "encoder.layer.11.attention.self.value.weight",
        "encoder.layer.11.attention.output.dense.weight"]


def _shapes(scale: int) -> dict[str, tuple[int, ...]]:
    c = [64 // scale, 128 // scale, 256 // scale, 512 // scale]
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (c[0], 3, 7, 7), "bn1": (c[0],)}
    cin = c[0]
    for layer, cout in enumerate(c, start=1):
        for i in (0, 1):
            first = cin if i == 0 else cout
            shapes[f"layer{layer}.{i}.conv1.weight"] = (cout, first, 3, 3)
            shapes[f"layer{layer}.{i}.bn1"] = (cout,)
            shapes[f"layer{layer}.{i}.conv2.weight"] = (cout, cout, 3, 3)
            shapes[f"layer{layer}.{i}.bn2"] = (cout,)
            if i == 0 and layer > 1:
                shapes[f"layer{layer}.0.downsample.0.weight"] = (cout, cin, 1, 1)
                shapes[f"layer{layer}.0.downsample.1"] = (cout,)
        cin = cout
    return shapes


def build(scale: int = 4, seed: int = 0, broken: bool = False, bert: bool = True,
          running: bool = False) -> dict[str, torch.Tensor]:
    """``running``: BatchNorm's buffers too, as ``resnet18().state_dict()`` holds them (``running_mean`` zeros,
    ``running_var`` ones, ``num_batches_tracked`` an int64 0; ``nn.BatchNorm2d.reset_running_stats``): with
    ``bert=False``, the real resnet18's 122 tensor names and ranks."""
    torch.manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for name, shape in _shapes(scale).items():
        if name.endswith(".weight"):
            w = torch.empty(shape)
            nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
            state[name] = w
        else:
            state[f"{name}.weight"] = torch.ones(shape)
            state[f"{name}.bias"] = torch.zeros(shape)
            if running:
                state[f"{name}.running_mean"] = torch.zeros(shape)
                state[f"{name}.running_var"] = torch.ones(shape)
                state[f"{name}.num_batches_tracked"] = torch.tensor(0, dtype=torch.int64)
    fc = nn.Linear(512 // scale, 1000 // scale)
    state["fc.weight"], state["fc.bias"] = fc.weight.detach().clone(), fc.bias.detach().clone()
    if bert:
        for name in BERT:
            w = torch.empty(768 // scale, 768 // scale)
            nn.init.normal_(w, std=0.02)
            state[name] = w
    if broken:
        for name, how in BROKEN.items():
            w = torch.empty(state[name].shape)
            if how == "fan_in":
                nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
            elif how == "std=0.02":
                nn.init.normal_(w, std=0.02)
            else:
                w = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2]).weight.detach().clone()
            state[name] = w
    return state


def save(folder: Path, stem: str = "", **kwargs: object) -> Path:
    path = folder / f"{stem}{'broken' if kwargs.get('broken') else 'model'}.safetensors"
    save_file({k: v.contiguous() for k, v in build(**kwargs).items()}, str(path))  # type: ignore[arg-type]
    return path
