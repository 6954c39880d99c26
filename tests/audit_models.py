"""Models that reproduce real architectures' wiring and init code, for ``kaiming audit`` (tests and bench).

torchvision's wheel does not import next to the CPU torch of this project, so the architectures are rebuilt
here from their sources, with the lines that matter quoted:

- ResNet: torchvision/models/resnet.py (BasicBlock, Bottleneck, ResNet.__init__'s init loop:
  ``nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")`` for every nn.Conv2d,
  ``nn.init.constant_(m.weight, 1)`` / ``nn.init.constant_(m.bias, 0)`` for BatchNorm, the fc left at nn.Linear's
  default). ``resnet50_like`` is ResNet-50's exact layer list (Bottleneck, [3, 4, 6, 3], 25.6 M parameters).
- Transformer block: timm/models/vision_transformer.py (``Block``: ``x = x + attn(norm1(x))``,
  ``x = x + mlp(norm2(x))``; ``Mlp``: fc1 -> GELU -> fc2; ``Attention``: qkv -> reshape -> permute -> unbind,
  ``q @ k.transpose(-2, -1)``, softmax, ``attn @ v``, proj; ``init_weights_vit_timm``:
  ``trunc_normal_(module.weight, std=.02)`` and ``nn.init.zeros_(module.bias)`` for every nn.Linear).
- GAN generator: pytorch/examples dcgan/main.py (``Generator``: ConvTranspose2d -> BatchNorm2d -> activation,
  last ConvTranspose2d -> Tanh; ``weights_init``: ``torch.nn.init.normal_(m.weight, 0.0, 0.02)`` for Conv,
  ``normal_(m.weight, 1.0, 0.02)`` and ``zeros_(m.bias)`` for BatchNorm), with the LeakyReLU(0.2) of its
  discriminator in the hidden layers, as many GAN generators use.
- LSTM language model: pytorch/examples word_language_model/model.py (``RNNModel``: Embedding -> Dropout ->
  LSTM -> Dropout -> Linear decoder, ``F.log_softmax(decoded, dim=1)``; ``init_weights``:
  ``nn.init.uniform_(self.encoder.weight, -initrange, initrange)``, ``nn.init.zeros_(self.decoder.bias)``,
  ``nn.init.uniform_(self.decoder.weight, -initrange, initrange)`` with ``initrange = 0.1``).
- A plain MLP left at PyTorch's defaults.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------- ResNet (torchvision)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: list[int], width: int = 64,
                 num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], 2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], 2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)
        for m in self.modules():  # torchvision resnet.py, ResNet.__init__
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int,
                    stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers: list[nn.Module] = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def small_resnet() -> ResNet:
    """A ResNet-18-shaped net, narrower (width 16, one block per stage) so that tests run fast."""
    return ResNet(BasicBlock, [1, 1, 1, 1], width=16, num_classes=10)


def resnet_one_default_conv() -> ResNet:
    """``small_resnet`` where one conv (followed by BN and ReLU) was left at nn.Conv2d's default init."""
    model = small_resnet()
    model.layer2[0].conv1.reset_parameters()
    return model


def resnet50_like() -> ResNet:
    """ResNet-50's exact layers: Bottleneck, [3, 4, 6, 3], width 64, 1000 classes (25,557,032 parameters)."""
    return ResNet(Bottleneck, [3, 4, 6, 3])


# --------------------------------------------------------------------------- transformer block (timm ViT)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int = 4) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.drop = nn.Dropout(0.0)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """Two timm ViT blocks between a linear patch embedding and a classifier head, timm's init."""

    def __init__(self, dim: int = 64, depth: int = 2, num_classes: int = 10) -> None:
        super().__init__()
        self.patch_embed = nn.Linear(48, dim)
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.apply(init_weights_vit_timm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.blocks(self.patch_embed(x)))
        return self.head(x[:, 0])


def init_weights_vit_timm(module: nn.Module) -> None:
    """timm vision_transformer.py: ``trunc_normal_(module.weight, std=.02)``, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


# --------------------------------------------------------------------------- GAN generator (DCGAN)


class Generator(nn.Module):
    def __init__(self, nz: int = 16, ngf: int = 16, nc: int = 3, slope: float = 0.2) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.LeakyReLU(slope, True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4),
            nn.LeakyReLU(slope, True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2),
            nn.LeakyReLU(slope, True),
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


def dcgan_weights_init(m: nn.Module) -> None:
    """pytorch/examples dcgan/main.py ``weights_init``."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def dcgan_generator() -> Generator:
    """The generator with DCGAN's own init: N(0, 0.02) convs, whatever follows them."""
    g = Generator()
    g.apply(dcgan_weights_init)
    return g


def kaiming_generator() -> Generator:
    """The same generator initialized for what follows each conv: leaky_relu(0.2), and tanh at the output."""
    g = Generator()
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    for conv in convs[:-1]:
        nn.init.kaiming_normal_(conv.weight, a=0.2, nonlinearity="leaky_relu")
    nn.init.kaiming_normal_(convs[-1].weight, nonlinearity="tanh")
    return g


# --------------------------------------------------------------------------- LSTM language model


class RNNModel(nn.Module):
    """pytorch/examples word_language_model/model.py, LSTM flavour."""

    def __init__(self, ntoken: int = 1000, ninp: int = 64, nhid: int = 200, nlayers: int = 2,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden


# --------------------------------------------------------------------------- plain MLP


def plain_mlp() -> nn.Sequential:
    """Linear -> ReLU -> Linear -> ReLU -> Linear, every layer at PyTorch's default init."""
    return nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


class FunctionalNet(nn.Module):
    """Activations written as functions and Tensor methods instead of modules (F.relu, torch.tanh, .sigmoid)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(64, 128)
        self.b = nn.Linear(128, 128)
        self.c = nn.Linear(128, 128)
        self.d = nn.Linear(128, 128)
        self.e = nn.Linear(128, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.a(x))
        x = torch.tanh(self.b(x))
        x = self.c(x).sigmoid()
        x = F.leaky_relu(self.d(x), 0.1)
        return self.e(x)


class Branching(nn.Module):
    """One linear whose output feeds a ReLU branch and a Tanh branch: its activation is ambiguous."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(32, 64)
        self.left = nn.Linear(64, 8)
        self.right = nn.Linear(64, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        return self.left(torch.relu(h)) + self.right(torch.tanh(h))


class Untraceable(nn.Module):
    """Control flow on tensor values: torch.fx cannot trace it, the audit falls back to module order."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(64, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc1(x))
        if h.sum() > 0:
            h = h * 2
        return self.fc2(h)


def he_std(gain: float, fan: int) -> float:
    """std = gain / sqrt(fan), written out for the expected values of the tests."""
    return gain / math.sqrt(fan)


# --------------------------------------------------------------------------- transformers look-alikes (issue 27)
# Each reproduces the block structure of a Hugging Face model (transformers 5.x source cited) in plain torch,
# so that the plain suite reads their graphs without transformers installed.

class RMSNorm(nn.Module):
    """transformers/models/llama/modeling_llama.py LlamaRMSNorm: x * rsqrt(mean(x^2) + eps), times a weight."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))


class LlamaMLP(nn.Module):
    """modeling_llama.py LlamaMLP.forward: down_proj(act_fn(gate_proj(x)) * up_proj(x)), act_fn SiLU."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class T5DenseActDense(nn.Module):
    """transformers/models/t5/modeling_t5.py T5DenseActDense: wi -> act (ReLU) -> dropout -> wo."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.wi = nn.Linear(dim, hidden, bias=False)
        self.wo = nn.Linear(hidden, dim, bias=False)
        self.dropout = nn.Dropout(0.1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wo(self.dropout(self.act(self.wi(x))))


class MixedBlock(nn.Module):
    """A pre-norm residual block: x + attn-free Llama MLP (RMSNorm first), then x + T5's DenseReluDense."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = RMSNorm(dim)
        self.mlp = LlamaMLP(dim, 2 * dim)
        self.norm2 = RMSNorm(dim)
        self.DenseReluDense = T5DenseActDense(dim, 2 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mlp(self.norm1(x))
        return x + self.DenseReluDense(self.norm2(x))


class BertLayer(nn.Module):
    """transformers/models/bert/modeling_bert.py without attention: BertIntermediate (dense -> gelu) and BertOutput
    (dense -> dropout -> LayerNorm(h + input)), the post-norm residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(dim, 4 * dim)
        self.output = nn.Module()
        self.output.dense = nn.Linear(4 * dim, dim)
        self.output.LayerNorm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(self.output.dense(h) + x)


class Conv1D(nn.Module):
    """transformers/pytorch_utils.py Conv1D (GPT-2's linear): weight (in, out), torch.addmm(bias, x, weight)."""

    def __init__(self, nf: int, nx: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addmm(self.bias, x.reshape(-1, x.size(-1)), self.weight)
        return out.view(*x.shape[:-1], -1)


class GPT2Block(nn.Module):
    """modeling_gpt2.py GPT2MLP in a pre-norm residual block: ln_2 -> c_fc -> gelu (tanh form) -> c_proj."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = nn.Module()
        self.mlp.c_fc = Conv1D(4 * dim, dim)
        self.mlp.c_proj = Conv1D(dim, 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh"))


class TinyGPT2(nn.Module):
    """Token and position embeddings, GPT-2 blocks, a final LayerNorm and a tied head, with GPT-2's init
    (modeling_gpt2.py _init_weights: N(0, 0.02) everywhere, c_proj at 0.02/sqrt(2 n_layer))."""

    def __init__(self, vocab: int = 100, dim: int = 64, n_layer: int = 4, ctx: int = 32) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(ctx, dim)
        self.h = nn.ModuleList([GPT2Block(dim) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(dim)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layer))
            elif name in ("wte.weight", "wpe.weight"):
                nn.init.normal_(p, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.h:
            x = block(x)
        return F.linear(self.ln_f(x), self.wte.weight)


class TransformerLookalikes(nn.Module):
    """The three look-alikes in one model: a Llama MLP block and a T5 DenseReluDense, then a BERT layer."""

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.block = MixedBlock(dim)
        self.bert = BertLayer(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bert(self.block(self.proj(x)))


class PatchEmbedWithTokens(nn.Module):
    """timm VisionTransformer's embedding: a cls_token and a pos_embed table around a linear patch embedding."""

    def __init__(self, dim: int = 32, patches: int = 8) -> None:
        super().__init__()
        self.patch = nn.Linear(48, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, patches + 1, dim) * 0.02)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.norm(x)[:, 0])


def relu_mlp(init: str = "default", depth: int = 40, width: int = 256, act: type[nn.Module] = nn.ReLU,
             bias: bool = True) -> nn.Sequential:
    """The issue's deep MLP: torch's default init (variance 1/(3 fan_in): 1/6 of He's), N(0, 0.15), or He's."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        lin = nn.Linear(width, width, bias=bias)
        if init == "n015":
            nn.init.normal_(lin.weight, 0.0, 0.15)
        elif init == "kaiming":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            if bias:
                nn.init.zeros_(lin.bias)
        layers += [lin, act()]
    return nn.Sequential(*layers[:-1])


def mlp_one_default(fixed: bool = False) -> nn.Sequential:
    """Five Linear+ReLU layers of 64 with He's init (zero biases) and a Linear(64, 10) head with LeCun's
    (``kaiming_normal_(nonlinearity='linear')``), where the third Linear (``4``, followed by ReLU: its scale
    matters) was left at nn.Linear's default (std 1/sqrt(3 fan_in), 0.41x He's); ``fixed``: He's init there too."""
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(5):
        lin = nn.Linear(64, 64)
        nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU()]
    head = nn.Linear(64, 10)
    nn.init.kaiming_normal_(head.weight, nonlinearity="linear")
    nn.init.zeros_(head.bias)
    model = nn.Sequential(*layers, head)
    if not fixed:
        model[4].reset_parameters()
    return model
