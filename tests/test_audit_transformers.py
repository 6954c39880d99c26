"""Issue 27 on real Hugging Face models (tiny configs; transformers in the frameworks extra, ``make
test-frameworks``): the graph read by running the model says what each model's source says, and a standard
transformer init passes ``--strict`` (findings(strict=True) is empty). Sources: transformers/models/llama/
modeling_llama.py LlamaMLP (down_proj(act_fn(gate_proj(x)) * up_proj(x))), t5/modeling_t5.py T5DenseActDense
(wi -> act -> dropout -> wo), bert/modeling_bert.py BertIntermediate (dense -> intermediate_act_fn), gpt2/
modeling_gpt2.py GPT2MLP (c_fc -> act -> c_proj), vit/modeling_vit.py ViTIntermediate (dense -> act)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.frameworks
torch = pytest.importorskip("torch")

from kaiming_cli.api import audit  # noqa: E402


def build(name: str) -> Any:
    t = pytest.importorskip("transformers")  # here, not at import: `make test` deselects this file, not skips it
    torch.manual_seed(0)
    if name == "llama":
        return t.LlamaForCausalLM(t.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2))
    if name == "t5":
        return t.T5Model(t.T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4))
    if name == "bert":
        return t.BertModel(t.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                        intermediate_size=64))
    if name == "gpt2":
        return t.GPT2LMHeadModel(t.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=0,
                                              eos_token_id=0))
    return t.ViTModel(t.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                  image_size=32, patch_size=8))


EXPECTED = {
    "llama": {"model.layers.0.mlp.gate_proj.weight": "silu", "model.layers.0.mlp.up_proj.weight": "none",
              "model.layers.0.mlp.down_proj.weight": "none"},
    "t5": {"encoder.block.0.layer.1.DenseReluDense.wi.weight": "relu",
           "encoder.block.0.layer.1.DenseReluDense.wo.weight": "none"},
    "bert": {"encoder.layer.0.intermediate.dense.weight": "gelu", "encoder.layer.0.output.dense.weight": "none"},
    "gpt2": {"transformer.h.0.mlp.c_fc.weight": "gelu", "transformer.h.0.mlp.c_proj.weight": "none"},
    "vit": {"layers.0.mlp.fc1.weight": "gelu", "layers.0.mlp.fc2.weight": "none"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tiny_hugging_face_models_read_right(name: str) -> None:
    result = audit(build(name))
    assert result.graph == "forward pass"
    by = {w.name: w for w in result.weights}
    for pname, activation in EXPECTED[name].items():
        key = pname if pname in by else next(n for n in by if n.endswith(pname.split(".", 1)[1]))
        assert by[key].activation == activation, (key, by[key].feeds)
    assert result.signal is not None and result.signal.verdict == "stable"


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_standard_transformer_init_passes_strict(name: str) -> None:
    result = audit(build(name))
    assert result.findings(strict=True) == [], [(f.name, f.message) for f in result.findings(strict=True)]
