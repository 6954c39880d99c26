"""A small torchvision-style model, initialized as torchvision's ResNet does, saved in every format."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

RULES = f"""
alpha = 0.001
correction = "holm"

[[rule]]
match = "*downsample.1.*"      # the BatchNorm of the shortcut
constant = {{value}}

[[rule]]
match = "*conv*.weight"
mode = "fan_out"
nonlinearity = "relu"

[[rule]]
match = "*downsample.0.weight"
mode = "fan_out"
nonlinearity = "relu"

[[rule]]
match = "fc.weight"            # nn.Linear default: kaiming_uniform_(a=sqrt(5))
distribution = "uniform"
negative_slope = {math.sqrt(5)!r}

[[rule]]
match = "*bn*.weight"
constant = 1.0

[[rule]]
match = "*bn*.running_var"
constant = 1.0

[[rule]]
match = "*bn*.bias"
constant = 0.0

[[rule]]
match = "*bn*.running_mean"
constant = 0.0

[[rule]]
match = "*num_batches_tracked"
constant = 0

[[rule]]
match = "fc.bias"
skip = true
"""


def rules_text() -> str:
    # the shortcut BN: its weight/var are 1, bias/mean 0; keep it simple with a skip
    return RULES.replace('constant = {value}', 'skip = true')


def build_model(seed: int = 0, wrong: str | None = None):  # type: ignore[no-untyped-def]
    """ResNet-like: conv1 7x7, two basic blocks, a downsampling block, fc head."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

    class TinyResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.layer1 = nn.Sequential(Block(16, 16), Block(16, 16))
            self.layer2 = nn.Sequential(Block(16, 32, 2), Block(32, 32))
            self.fc = nn.Linear(32, 10)
            for name, m in self.named_modules():
                if isinstance(m, nn.Conv2d):
                    mode = "fan_in" if name == wrong else "fan_out"
                    nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    return TinyResNet()


def save_all(folder: Path, seed: int = 0, wrong: str | None = None) -> dict[str, Path]:
    """The model as .pt, .safetensors (F32 and BF16) and .npz; returns the paths by format."""
    import torch
    from safetensors.torch import save_file

    sd = build_model(seed, wrong).state_dict()
    paths = {"pt": folder / "model.pt", "safetensors": folder / "model.safetensors",
             "bf16": folder / "model-bf16.safetensors", "npz": folder / "model.npz"}
    torch.save(sd, paths["pt"])
    save_file({k: v.contiguous() for k, v in sd.items()}, str(paths["safetensors"]))
    save_file({k: (v.to(torch.bfloat16) if v.is_floating_point() else v).contiguous() for k, v in sd.items()},
              str(paths["bf16"]))
    np.savez(paths["npz"], **{k: v.numpy() for k, v in sd.items()})
    (folder / "rules.toml").write_text(rules_text())
    return paths
