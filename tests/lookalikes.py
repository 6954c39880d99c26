"""Small torch models that reproduce the init code of real libraries, line by line, with the true law of each tensor.

Each builder returns (state_dict, truths): ``truths`` maps a glob to the set of calls (in the init-call grammar of
docs/cli.md) any of which is the law the library's code gives that tensor. The sources reproduced (read from the
public repositories; names of file and function so that a reader can check them):

- torchvision ``torchvision/models/resnet.py``, ``ResNet.__init__``: every ``nn.Conv2d`` gets
  ``nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")``; BatchNorm/GroupNorm
  ``nn.init.constant_(m.weight, 1)``, ``nn.init.constant_(m.bias, 0)``; ``fc`` keeps ``nn.Linear``'s default
  (``torch/nn/modules/linear.py``, ``Linear.reset_parameters``: ``init.kaiming_uniform_(self.weight, a=math.sqrt(5))``
  and ``init.uniform_(self.bias, -bound, bound)`` with ``bound = 1 / math.sqrt(fan_in)``).
- torchvision ``torchvision/models/vision_transformer.py``: ``VisionTransformer.__init__``:
  ``nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))``, ``nn.init.zeros_(self.conv_proj.bias)``,
  ``nn.init.zeros_(self.heads.head.weight)``, ``nn.init.zeros_(self.heads.head.bias)``; ``MLPBlock.__init__``:
  ``nn.init.xavier_uniform_(m.weight)``, ``nn.init.normal_(m.bias, std=1e-6)``; ``Encoder.__init__``:
  ``self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, hidden_dim).normal_(std=0.02))``; the attention is
  ``nn.MultiheadAttention`` (``torch/nn/modules/activation.py``, ``MultiheadAttention._reset_parameters``:
  ``xavier_uniform_(self.in_proj_weight)``, ``constant_(self.in_proj_bias, 0.0)``, ``constant_(self.out_proj.bias,
  0.0)``; ``out_proj.weight`` keeps the Linear default).
- timm ``timm/models/vision_transformer.py``: ``init_weights_vit_timm``: ``trunc_normal_(module.weight, std=.02)``,
  ``nn.init.zeros_(module.bias)`` for every ``nn.Linear``; ``VisionTransformer.init_weights``:
  ``trunc_normal_(self.pos_embed, std=.02)``, ``nn.init.normal_(self.cls_token, std=1e-6)``.
- transformers ``models/bert/modeling_bert.py``, ``BertPreTrainedModel._init_weights``: Linear
  ``module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)`` (0.02), bias zero; Embedding the same
  normal with the ``padding_idx`` row zeroed; LayerNorm weight 1, bias 0.
- transformers ``models/gpt2/modeling_gpt2.py``, ``GPT2PreTrainedModel._init_weights``: Conv1D/Linear/Embedding
  ``normal_(mean=0.0, std=config.initializer_range)``; then for ``name == "c_proj.weight"``:
  ``p.data.normal_(mean=0.0, std=(self.config.initializer_range / math.sqrt(2 * self.config.n_layer)))``.
- torch defaults: ``nn.Embedding.reset_parameters`` (``init.normal_(self.weight)``: N(0, 1));
  ``RNNBase.reset_parameters`` (``stdv = 1.0 / math.sqrt(self.hidden_size)``; ``init.uniform_(weight, -stdv, stdv)``
  for every weight and bias); ``nn.TransformerEncoderLayer`` (MultiheadAttention as above, ``linear1``/``linear2``
  Linear defaults, LayerNorm ones/zeros).
- GAN discriminators: ``kaiming_normal_(m.weight, a=0.2, mode='fan_in', nonlinearity='leaky_relu')`` (pi-GAN's
  ``kaiming_leaky_init``; ESRGAN-style ``_init_weights`` in several public repositories).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Truths = dict[str, set[str]]
Built = tuple[dict[str, torch.Tensor], Truths]

KAIMING_FAN_OUT_RELU = "kaiming_normal_(mode='fan_out', nonlinearity='relu')"
LINEAR_DEFAULT = {"default('Linear')", "kaiming_uniform_(a=sqrt(5)) [PyTorch nn.Linear/nn.Conv default]"}
BIAS_DEFAULT = {"default('Linear')"}
ZEROS = {"zeros_"}
ONES = {"ones_"}


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().contiguous() for k, v in module.state_dict().items() if v.is_floating_point()}


def resnet(seed: int) -> Built:
    torch.manual_seed(seed)
    m = nn.Module()
    m.conv1 = nn.Conv2d(3, 32, 7, bias=False)
    m.bn1 = nn.BatchNorm2d(32)
    m.layer1 = nn.Sequential(nn.Conv2d(32, 32, 3, bias=False), nn.BatchNorm2d(32), nn.Conv2d(32, 64, 3, bias=False))
    m.fc = nn.Linear(64, 10)
    for mod in m.modules():  # torchvision ResNet.__init__
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.constant_(mod.weight, 1)
            nn.init.constant_(mod.bias, 0)
    state = {k: v for k, v in _state(m).items() if "running" not in k}
    return state, {"conv1.weight": {KAIMING_FAN_OUT_RELU}, "layer1.0.weight": {KAIMING_FAN_OUT_RELU},
                   "layer1.2.weight": {KAIMING_FAN_OUT_RELU}, "*bn1.weight": ONES, "layer1.1.weight": ONES,
                   "*bn1.bias": ZEROS, "layer1.1.bias": ZEROS, "fc.weight": LINEAR_DEFAULT, "fc.bias": BIAS_DEFAULT}


def torchvision_vit(seed: int) -> Built:
    torch.manual_seed(seed)
    hidden, mlp = 64, 256
    m = nn.Module()
    m.conv_proj = nn.Conv2d(3, hidden, 8, stride=8)
    m.attn = nn.MultiheadAttention(hidden, 4)
    m.mlp = nn.Sequential(nn.Linear(hidden, mlp), nn.GELU(), nn.Linear(mlp, hidden))
    m.head = nn.Linear(hidden, 10)
    m.pos_embedding = nn.Parameter(torch.empty(1, 65, hidden).normal_(std=0.02))  # Encoder.__init__
    fan_in = m.conv_proj.in_channels * m.conv_proj.kernel_size[0] * m.conv_proj.kernel_size[1]
    nn.init.trunc_normal_(m.conv_proj.weight, std=math.sqrt(1 / fan_in))  # VisionTransformer.__init__
    nn.init.zeros_(m.conv_proj.bias)
    for lin in (m.mlp[0], m.mlp[2]):  # MLPBlock.__init__
        nn.init.xavier_uniform_(lin.weight)
        nn.init.normal_(lin.bias, std=1e-6)
    nn.init.zeros_(m.head.weight)
    nn.init.zeros_(m.head.bias)
    patch = {"trunc_normal_(std=1/sqrt(fan_in))", "normal_(std=1/sqrt(fan_in))", "lecun_normal (untruncated)",
             "kaiming_normal_(mode='fan_in', nonlinearity='linear')"}
    return _state(m), {"conv_proj.weight": patch, "conv_proj.bias": ZEROS, "attn.in_proj_weight": {"xavier_uniform_()"},
                       "attn.in_proj_bias": ZEROS, "attn.out_proj.weight": LINEAR_DEFAULT, "attn.out_proj.bias": ZEROS,
                       "mlp.*.weight": {"xavier_uniform_()"}, "mlp.*.bias": {"normal_(std=1e-06)"},
                       "head.*": ZEROS, "pos_embedding": {"normal_(std=0.02)"}}


def timm_vit(seed: int) -> Built:
    torch.manual_seed(seed)
    hidden = 64
    m = nn.Module()
    m.qkv = nn.Linear(hidden, 3 * hidden)
    m.proj = nn.Linear(hidden, hidden)
    m.fc1 = nn.Linear(hidden, 4 * hidden)
    m.pos_embed = nn.Parameter(torch.zeros(1, 65, hidden))
    m.cls_token = nn.Parameter(torch.zeros(1, 1, hidden))
    nn.init.trunc_normal_(m.pos_embed, std=0.02)  # VisionTransformer.init_weights
    nn.init.normal_(m.cls_token, std=1e-6)
    for lin in (m.qkv, m.proj, m.fc1):  # init_weights_vit_timm
        nn.init.trunc_normal_(lin.weight, std=0.02)
        nn.init.zeros_(lin.bias)
    std02 = {"normal_(std=0.02)", "trunc_normal_(std=0.02)"}
    return _state(m), {"*.weight": std02, "*.bias": ZEROS, "pos_embed": std02,
                       "cls_token": {"normal_(std=1e-06)", "trunc_normal_(std=1e-06)"}}


def bert(seed: int) -> Built:
    torch.manual_seed(seed)
    hidden = 96
    m = nn.Module()
    m.word_embeddings = nn.Embedding(500, hidden, padding_idx=0)
    m.query = nn.Linear(hidden, hidden)
    m.intermediate = nn.Linear(hidden, 4 * hidden)
    m.LayerNorm = nn.LayerNorm(hidden)
    for mod in m.modules():  # BertPreTrainedModel._init_weights
        if isinstance(mod, nn.Linear):
            mod.weight.data.normal_(mean=0.0, std=0.02)
            mod.bias.data.zero_()
        elif isinstance(mod, nn.Embedding):
            mod.weight.data.normal_(mean=0.0, std=0.02)
            mod.weight.data[mod.padding_idx].zero_()
        elif isinstance(mod, nn.LayerNorm):
            mod.bias.data.zero_()
            mod.weight.data.fill_(1.0)
    std02 = {"normal_(std=0.02)", "trunc_normal_(std=0.02)"}
    return _state(m), {"LayerNorm.weight": ONES, "*.weight": std02, "*.bias": ZEROS}


def gpt2(seed: int, n_layer: int = 4) -> Built:
    torch.manual_seed(seed)
    hidden = 64
    state: dict[str, torch.Tensor] = {"wte.weight": torch.empty(300, hidden).normal_(mean=0.0, std=0.02)}
    for i in range(n_layer):
        state[f"h.{i}.attn.c_attn.weight"] = torch.empty(hidden, 3 * hidden).normal_(mean=0.0, std=0.02)
        state[f"h.{i}.attn.c_attn.bias"] = torch.zeros(3 * hidden)
        state[f"h.{i}.attn.c_proj.weight"] = torch.empty(hidden, hidden).normal_(
            mean=0.0, std=0.02 / math.sqrt(2 * n_layer))  # GPT2PreTrainedModel._init_weights
        state[f"h.{i}.mlp.c_proj.weight"] = torch.empty(4 * hidden, hidden).normal_(
            mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
    std02 = {"normal_(std=0.02)", "trunc_normal_(std=0.02)"}
    return state, {"*.c_proj.weight": {f"normal_(std=0.02/sqrt(2*{n_layer}))"}, "*.c_attn.weight": std02,
                   "*.bias": ZEROS, "wte.weight": std02}


def torch_defaults(seed: int) -> Built:
    torch.manual_seed(seed)
    m = nn.Module()
    m.embedding = nn.Embedding(300, 32)
    m.lstm = nn.LSTM(32, 48)
    m.encoder = nn.TransformerEncoderLayer(32, 4, dim_feedforward=128)
    lstm = {"default('LSTM')"}
    return _state(m), {"embedding.weight": {"default('Embedding')", "normal_()", "normal_(std=1)"},
                       "lstm.*": lstm, "encoder.self_attn.in_proj_weight": {"xavier_uniform_()"},
                       "encoder.self_attn.in_proj_bias": ZEROS, "encoder.self_attn.out_proj.weight": LINEAR_DEFAULT,
                       "encoder.self_attn.out_proj.bias": ZEROS, "encoder.linear*.weight": LINEAR_DEFAULT,
                       "encoder.linear*.bias": BIAS_DEFAULT, "encoder.norm*.weight": ONES, "encoder.norm*.bias": ZEROS}


def gan(seed: int) -> Built:
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(3, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(128, 256, 4, 2, 1))
    for mod in m.modules():  # kaiming_leaky_init
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, a=0.2, mode="fan_in", nonlinearity="leaky_relu")
            nn.init.zeros_(mod.bias)
    return _state(m), {"*.weight": {"kaiming_normal_(a=0.2, mode='fan_in', nonlinearity='leaky_relu')"},
                       "*.bias": ZEROS}


MODELS: dict[str, Callable[[int], Built]] = {"resnet": resnet, "torchvision_vit": torchvision_vit,
                                             "timm_vit": timm_vit, "bert": bert, "gpt2": gpt2,
                                             "torch_defaults": torch_defaults, "gan": gan}


def truth_for(truths: Truths, name: str) -> set[str]:
    """The calls a tensor's true law may be written as (first glob that matches, like rules)."""
    import fnmatch

    for pattern, calls in truths.items():
        if fnmatch.fnmatchcase(name, pattern):
            return calls
    raise KeyError(name)


def reinit_one(state: dict[str, torch.Tensor], name: str, factor: float = 1.5) -> dict[str, Any]:
    """The same state with one tensor re-initialized at ``factor`` times its std (same family: the values scaled)."""
    out = dict(state)
    out[name] = state[name] * factor
    return out
