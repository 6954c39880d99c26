"""The files of issue 25, built with numpy and safetensors only: many small tensors, as real checkpoints hold.

- ``many1000``: 1000 tensors of 64x64 float32, kaiming_normal_(relu) with fan_in 64 (16 MB);
- ``tiny9k``: 9000 tensors of 16x16 float32, the same law (9 MB);
- ``resnet50``: the 320 entries of torchvision's ``resnet50().state_dict()``, with their shapes written out
  (torchvision/models/resnet.py: Bottleneck blocks [3, 4, 6, 3], expansion 4): convs kaiming_normal_(fan_out,
  relu) as ``ResNet.__init__`` draws them, BatchNorm weight 1, bias 0, running_mean 0, running_var 1,
  num_batches_tracked 0 (int64), and fc as nn.Linear's default (U(+-1/sqrt(fan_in)) for weight and bias);
- ``many10k``: 10,000 tensors of 32x32 float32 (40 MB), the scaling row.

``python bench/realmodels.py OUTDIR`` writes them (and ``resnet50-rules.toml``) and prints their paths.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

RESNET50_RULES = """\
[[rule]]
match = "*conv*.weight"
mode = "fan_out"
nonlinearity = "relu"

[[rule]]
match = "*downsample.0.weight"
mode = "fan_out"
nonlinearity = "relu"

[[rule]]
match = "fc.weight"
init = "default('Linear')"

[[rule]]
match = "fc.bias"
init = "default('Linear')"
fan_in = 2048

[[rule]]
match = "*.weight"
constant = 1.0

[[rule]]
match = "*.running_var"
constant = 1.0

[[rule]]
match = "*.num_batches_tracked"
constant = 0.0

[[rule]]
match = "*"
constant = 0.0
"""
"""Rules for the resnet50 file: what torchvision's ResNet.__init__ and nn.Linear/BatchNorm2d's defaults do."""


def resnet50_shapes() -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape, kind) of every entry of torchvision's resnet50 state_dict, in its order."""
    out: list[tuple[str, tuple[int, ...], str]] = []

    def bn(prefix: str, c: int) -> None:
        for suffix in ("weight", "bias", "running_mean", "running_var"):
            out.append((f"{prefix}.{suffix}", (c,), suffix))
        out.append((f"{prefix}.num_batches_tracked", (), "num_batches_tracked"))

    out.append(("conv1.weight", (64, 3, 7, 7), "conv"))
    bn("bn1", 64)
    inplanes = 64
    for layer, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3), strict=True), start=1):
        for b in range(blocks):
            p = f"layer{layer}.{b}"
            out.append((f"{p}.conv1.weight", (planes, inplanes, 1, 1), "conv"))
            bn(f"{p}.bn1", planes)
            out.append((f"{p}.conv2.weight", (planes, planes, 3, 3), "conv"))
            bn(f"{p}.bn2", planes)
            out.append((f"{p}.conv3.weight", (planes * 4, planes, 1, 1), "conv"))
            bn(f"{p}.bn3", planes * 4)
            if b == 0:
                out.append((f"{p}.downsample.0.weight", (planes * 4, inplanes, 1, 1), "conv"))
                bn(f"{p}.downsample.1", planes * 4)
            inplanes = planes * 4
    out.append(("fc.weight", (1000, 2048), "linear"))
    out.append(("fc.bias", (1000,), "linear_bias"))
    return out


def resnet50_tensors(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {}
    for name, shape, kind in resnet50_shapes():
        if kind == "conv":
            fan_out = shape[0] * math.prod(shape[2:])
            x = rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(2.0 / fan_out))
        elif kind in ("linear", "linear_bias"):
            bound = 1.0 / math.sqrt(2048)
            x = rng.uniform(-bound, bound, shape).astype(np.float32)
        elif kind in ("weight", "running_var"):
            x = np.ones(shape, dtype=np.float32)
        elif kind == "num_batches_tracked":
            x = np.zeros(shape, dtype=np.int64)
        else:
            x = np.zeros(shape, dtype=np.float32)
        tensors[name] = x
    return tensors


def many(count: int, side: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``count`` tensors of side x side float32 drawn from kaiming_normal_(relu), fan_in = side."""
    rng = np.random.default_rng(seed)
    std = np.float32(math.sqrt(2.0 / side))
    return {f"layers.{i}.weight": rng.standard_normal((side, side), dtype=np.float32) * std for i in range(count)}


FILES = {"many1000": lambda: many(1000, 64), "tiny9k": lambda: many(9000, 16),
         "resnet50": resnet50_tensors, "many10k": lambda: many(10_000, 32)}


def build(out: Path) -> dict[str, Path]:
    """Write every file (once: an existing file is kept) and the resnet50 rules; their paths by name."""
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in FILES.items():
        path = out / f"{name}.safetensors"
        if not path.exists():
            save_file(make(), str(path))
        paths[name] = path
    rules = out / "resnet50-rules.toml"
    rules.write_text(RESNET50_RULES)
    paths["resnet50-rules"] = rules
    return paths


if __name__ == "__main__":
    for key, p in build(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out")).items():
        print(key, p)
