"""Small models that reproduce the wiring and init code of torchvision and timm vision models, for ``kaiming
audit`` (the real ones are checked in tests/test_audit_vision_real.py under the frameworks marker). Sources, with
the lines that matter:

- torchvision/ops/misc.py ``Conv2dNormActivation`` (a ``Sequential`` of Conv2d, BatchNorm2d, activation: a
  container whose class name says "Norm" and "Activation") and ``SqueezeExcitation`` (avgpool -> fc1 ->
  activation -> fc2 -> scale_activation; ``return scale * input``); torchvision/models/mobilenetv3.py's init:
  ``nn.init.kaiming_normal_(m.weight, mode="fan_out")`` for Conv2d, ones/zeros for BatchNorm,
  ``nn.init.normal_(m.weight, 0, 0.01)`` for Linear.
- timm/models/convnext.py ``ConvNeXtBlock``: conv_dw (7x7 depthwise) -> LayerNorm -> Mlp (fc1 -> GELU -> fc2) ->
  ``x.mul(self.gamma.reshape(1, -1, 1, 1))`` with ``gamma = ls_init_value * torch.ones(dim)``, ``ls_init_value
  = 1e-6``, then ``+ shortcut``; ``_init_weights``: ``trunc_normal_(module.weight, std=.02)``, zero biases.
- timm/models/resnet.py ``BasicBlock.zero_init_last``: ``nn.init.zeros_(self.bn2.weight)`` (the last norm of each
  residual branch starts at zero).
- timm/models/vision_transformer.py ``VisionTransformer``: ``cls_token`` and ``pos_embed`` are the model's own
  parameters (defined before ``patch_embed``'s conv is run), ``PatchEmbed`` asserts the input size it was built
  for (``_assert(H == self.img_size[0], ...)``), and ``pretrained_cfg["input_size"]`` declares it.
"""

from __future__ import annotations

import torch
from torch import nn

# --------------------------------------------------------------------------- MobileNetV3 (torchvision)


class Conv2dNormActivation(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1,
                 act: type[nn.Module] | None = nn.Hardswish) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                                   nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


def mobilenet_like() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        Conv2dNormActivation(3, 16, stride=2),
        nn.Sequential(Conv2dNormActivation(16, 16, groups=16, act=nn.ReLU), SqueezeExcitation(16, 8),
                      Conv2dNormActivation(16, 24, k=1, act=None)),
        Conv2dNormActivation(24, 48, stride=2),
        nn.Sequential(Conv2dNormActivation(48, 48, groups=48), SqueezeExcitation(48, 16),
                      Conv2dNormActivation(48, 48, k=1, act=None)),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    return model


# --------------------------------------------------------------------------- ConvNeXt (timm)


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, ls_init_value: float = 1e-6) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(ls_init_value * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_dw(x).permute(0, 2, 3, 1)
        x = self.fc2(self.act(self.fc1(self.norm(x)))).permute(0, 3, 1, 2)
        return x.mul(self.gamma.reshape(1, -1, 1, 1)) + shortcut


def convnext_like(blocks: int = 2) -> nn.Module:
    """ConvNeXt-atto's plan at a quarter of its widths: a 4x4 stem, four stages of ``blocks`` blocks, each stage
    after the first opened by LayerNorm2d and a 2x2 stride-2 conv (on a 32x32 input the last map is 1x1, as in
    the real model)."""
    torch.manual_seed(0)
    dims = (8, 16, 24, 32)
    layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0])]
    for i, dim in enumerate(dims):
        if i:
            layers += [LayerNorm2d(dims[i - 1]), nn.Conv2d(dims[i - 1], dim, 2, stride=2)]
        layers += [ConvNeXtBlock(dim) for _ in range(blocks)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LayerNorm(dims[-1]), nn.Linear(dims[-1], 10)]
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
    return model


# --------------------------------------------------------------------------- ResNet with zero_init_last (timm)


class ZeroLastBlock(nn.Module):
    def __init__(self, planes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(out + x)


def resnet_zero_init_last(blocks: int = 4) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
                          *[ZeroLastBlock(16) for _ in range(blocks)], nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(16, 10))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    for m in model.modules():
        if isinstance(m, ZeroLastBlock):
            nn.init.zeros_(m.bn2.weight)
    return model


# --------------------------------------------------------------------------- ViT (timm)


class PatchEmbed(nn.Module):
    def __init__(self, img_size: int = 64, patch: int = 16, dim: int = 32) -> None:
        super().__init__()
        self.img_size = (img_size, img_size)
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.img_size:
            raise AssertionError(f"Input height ({x.shape[-2]}) doesn't match model ({self.img_size[0]}).")
        return self.proj(x).flatten(2).transpose(1, 2)


class Block(nn.Module):
    """timm's ``Block``: ``x = x + attn(norm1(x))``, ``x = x + mlp(norm2(x))``; ``Attention``: qkv -> heads ->
    ``F.scaled_dot_product_attention`` -> proj."""

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, c))
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm2(x))))


class TinyViT(nn.Module):
    def __init__(self, img_size: int = 64, dim: int = 32, depth: int = 4) -> None:
        super().__init__()
        self.pretrained_cfg = {"input_size": (3, img_size, img_size)}
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (img_size // 16) ** 2 + 1, dim) * 0.02)
        self.patch_embed = PatchEmbed(img_size, 16, dim)
        self.blocks = nn.ModuleList(Block(dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.cls_token, std=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


def vit_like() -> nn.Module:
    torch.manual_seed(0)
    return TinyViT()
