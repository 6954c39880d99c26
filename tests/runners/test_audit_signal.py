"""Issue 27: audit reads the graph by running the model, measures the signal at init and judges what matters.

Expected values are written out from the models' own code (tests/audit_models.py cites transformers' source)
and from signal-propagation theory (He et al. 2015: a ReLU layer multiplies the variance by fan_in * Var(w) / 2),
never taken from kaiming.
"""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from kaiming_cli.api import audit  # noqa: E402
from kaiming_cli.runners.audit.signal import Signal, measure_signal  # noqa: E402
from tests import audit_models as M  # noqa: E402


def rows(result):  # noqa: ANN001, ANN201 - a small test helper
    return {w.name: w for w in result.weights}


# --------------------------------------------------------------------------- the signal at init

@pytest.mark.parametrize(("init", "verdict"), [("default", "vanishing"), ("n015", "exploding"),
                                               ("kaiming", "stable")])
def test_forty_layer_relu_mlp_signal(init: str, verdict: str) -> None:
    torch.manual_seed(0)
    result = audit(M.relu_mlp(init))
    signal = result.signal
    assert signal is not None and signal.verdict == verdict
    assert len(signal.forward) == 40 and len(signal.backward) == 40
    kinds = [f.kind for f in result.findings()]
    assert ("signal" in kinds) == (verdict != "stable")
    if verdict == "vanishing":  # 1/sqrt(6) a layer: below a tenth of the first layer's within a few layers
        assert signal.direction == "forward" and signal.turns_at in {str(2 * i) for i in range(1, 6)}
        assert signal.forward_growth is not None and signal.forward_growth < 1e-3
    if verdict == "exploding":  # sqrt(256 * 0.15^2 / 2) = 1.70 a layer
        assert signal.forward_growth is not None and signal.forward_growth > 1e3


def per_layer(model: torch.nn.Module, width: int) -> list[float]:
    torch.manual_seed(1)
    signal = measure_signal(model, torch.randn(64, width), batches=3)
    stds = [s for _m, s in signal.forward]
    return [b / a for a, b in zip(stds, stds[1:], strict=False)]


def test_measured_growth_matches_theory_for_relu_and_tanh_stacks() -> None:
    width = 256
    torch.manual_seed(2)
    relu = per_layer(M.relu_mlp("default", depth=12, width=width, bias=False), width)
    # torch's default: Var(w) = 1/(3 fan_in); through a ReLU the variance is multiplied by fan_in Var(w)/2 = 1/6
    theory = math.sqrt(1 / 6)
    geo = math.exp(sum(math.log(r) for r in relu) / len(relu))
    assert geo == pytest.approx(theory, rel=0.05)
    torch.manual_seed(3)
    tanh = per_layer(M.relu_mlp("default", depth=40, width=width, act=torch.nn.Tanh, bias=False), width)
    # once the signal is small, tanh is the identity: fan_in Var(w) = 1/3 of the variance a layer
    deep = tanh[-10:]
    geo = math.exp(sum(math.log(r) for r in deep) / len(deep))
    assert geo == pytest.approx(math.sqrt(1 / 3), rel=0.02)


def test_signal_measurement_leaves_the_model_as_it_was() -> None:
    torch.manual_seed(4)
    model = M.small_resnet()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = audit(model)
    assert result.signal is not None and result.signal.verdict == "stable"
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # BatchNorm's running statistics restored
    assert all(p.grad is None for p in model.parameters())


# --------------------------------------------------------------------------- the graph, read by running it

def test_transformer_lookalikes_feed_what_their_code_says() -> None:
    torch.manual_seed(5)
    by = rows(audit(M.TransformerLookalikes()))
    assert by["block.mlp.gate_proj.weight"].activation == "silu"  # act_fn(gate_proj(x))
    assert by["block.mlp.up_proj.weight"].activation == "none"  # * up_proj(x): a gating product
    assert by["block.mlp.up_proj.weight"].feeds == "mul"
    assert by["block.mlp.down_proj.weight"].activation == "none"  # back into the residual stream
    assert by["block.DenseReluDense.wi.weight"].activation == "relu"
    assert by["block.DenseReluDense.wo.weight"].activation == "none"  # not the ReLU that follows wi
    assert by["bert.intermediate.dense.weight"].activation == "gelu"  # F.gelu: a function, not a module
    assert by["bert.output.dense.weight"].activation == "none"
    assert by["block.norm1.weight"].note != "not used in the forward pass"


def test_gpt2_init_passes_strict_and_is_judged_by_the_residual_stream() -> None:
    torch.manual_seed(6)
    result = audit(M.TinyGPT2())
    by = rows(result)
    assert result.signal is not None and result.signal.verdict == "stable"
    assert by["h.0.mlp.c_fc.weight"].activation == "gelu"
    fc = by["h.0.mlp.c_fc.weight"]
    assert fc.verdict == "different" and fc.role == "residual block" and fc.exempt
    assert "N(0, 0.02) scheme" in fc.note
    proj = by["h.0.mlp.c_proj.weight"]
    assert proj.role == "residual block" and "depth-scaled output projection" in proj.note
    assert by["wte.weight"].role == "embedding" and by["wpe.weight"].role in ("embedding", "position table")
    assert result.findings(strict=True) == []


def test_position_tables_and_tokens_get_no_fan_advice() -> None:
    torch.manual_seed(7)
    by = rows(audit(M.PatchEmbedWithTokens(), input_shape=(4, 8, 48)))
    for name, role in (("cls_token", "token"), ("pos_embed", "position table")):
        assert by[name].role == role and by[name].recommended is None and by[name].verdict == "ambiguous"


def test_a_weight_normalized_before_any_nonlinearity_is_scale_free() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                                torch.nn.Flatten(), torch.nn.Linear(16 * 30 * 30, 4))
    torch.manual_seed(8)
    torch.nn.init.normal_(model[0].weight, std=0.5)  # far from any fan rule
    by = rows(audit(model))
    assert by["0.weight"].verdict == "scale-free" and "normalized" in by["0.weight"].note
    assert by["0.weight"].feeds.startswith("norm")


def test_json_has_the_signal_and_per_weight_measurements() -> None:
    torch.manual_seed(9)
    doc = json.loads(json.dumps(audit(M.relu_mlp("default", depth=6, width=32)).to_dict()))
    assert set(doc["signal"]) >= {"input_shape", "forward", "backward", "forward_growth", "backward_growth",
                                  "verdict"}
    assert doc["signal"]["input_shape"] == [4, 32]
    assert set(doc["signal"]["forward"][0]) >= {"module", "std"}
    assert set(doc["signal"]["backward"][0]) == {"name", "grad_std"}
    w = doc["weights"][2]
    assert w["name"] == "2.weight" and w["feeds"] == "relu (3)"
    assert w["forward_std"] > 0 and w["grad_std"] > 0 and w["gain_fix"] > 1  # default init shrinks: fix grows
    assert isinstance(doc["findings"], list)


# --------------------------------------------------------------------------- one batch when it settles the verdict

def scaled_identity_stack(c: float, depth: int = 9, width: int = 32) -> torch.nn.Sequential:
    """Bias-free Linear layers of weight c * I: every layer multiplies the signal by exactly c, forward and
    backward, so both growths (last third over first third, docs/audit.md §7) are c ** (2 * depth / 3)."""
    layers = [torch.nn.Linear(width, width, bias=False) for _ in range(depth)]
    with torch.no_grad():
        for lin in layers:
            lin.weight.copy_(c * torch.eye(width))
    return torch.nn.Sequential(*layers)


def batches_run(model: torch.nn.Module, settle: bool = False) -> tuple[int, Signal]:
    """How many batches ``measure_signal`` ran (forward passes of the model), and its signal."""
    calls: list[int] = []
    handle = model.register_forward_pre_hook(lambda _m, _a: calls.append(1))
    try:
        signal = measure_signal(model, torch.randn(4, 32), seed=0, settle=settle)
    finally:
        handle.remove()
    return len(calls), signal


@pytest.mark.parametrize(("growth", "batches", "verdict"), [
    (1.0, 1, "stable"),          # 10x from both thresholds
    (0.5, 1, "stable"),          # 5x inside 1/10: more than the factor 3
    (0.15, 2, "stable"),         # within 3x of 1/10: a second batch
    (0.05, 2, "vanishing"),      # within 3x of 1/10 on the other side
    (1e-3, 1, "vanishing"),      # 100x beyond
])
def test_one_batch_when_it_settles_the_verdict(growth: float, batches: int, verdict: str) -> None:
    c = growth ** (1 / 6)  # 9 layers: the thirds' geometric means are 6 layers apart
    model = scaled_identity_stack(c)
    n, signal = batches_run(model, settle=True)
    assert n == batches and signal.verdict == verdict
    assert signal.forward_growth == pytest.approx(growth, rel=1e-4)
    assert signal.backward_growth == pytest.approx(growth, rel=1e-4)
    n_full, full = batches_run(model)  # without settle: every batch asked for, the same verdict
    assert n_full == 2 and full.verdict == verdict


def test_a_network_normalized_throughout_is_measured_on_one_batch() -> None:
    """Every conv of a ResNet meets its BatchNorm first: the norms hold the scale, there is no growth to judge,
    and the audit's run (one pass to read the graph, then the signal) stops after the first batch."""
    torch.manual_seed(10)
    model = M.small_resnet()
    calls: list[int] = []
    handle = model.register_forward_pre_hook(lambda _m, _a: calls.append(1))
    result = audit(model)
    handle.remove()
    assert result.signal is not None and result.signal.direction == "normalized"
    assert len(calls) == 2  # the graph's pass and one batch


def test_gradient_stds_match_a_hand_run_backward() -> None:
    """Each weight's gradient std (taken by a hook as backward accumulates it, the gradient then freed) is the
    std of the gradient a plain backward gives on the same batch and projection: the batch and the projection
    drawn as docs/audit.md §7 says (a generator seeded seed + 1: the batch, then the projection), the loss their
    product summed over the batch's mean; the std unbiased, on every value (each weight here is under 16,384)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                                torch.nn.Linear(64, 10))
    inputs = torch.zeros(4, 32)
    signal = measure_signal(model, inputs, batches=1, seed=5)
    assert all(p.grad is None for p in model.parameters())  # the model is left as it was
    assert all(not getattr(p, "_post_accumulate_grad_hooks", None) for p in model.parameters())  # hooks removed
    gen = torch.Generator().manual_seed(6)
    batch = torch.randn(inputs.shape, generator=gen)
    out = model(batch)
    projection = torch.randn(out.shape, generator=gen)
    model.zero_grad(set_to_none=True)
    ((out * projection).sum() / out.shape[0]).backward()
    expected = {n: float(p.grad.std()) for n, p in model.named_parameters() if p.dim() >= 2}
    assert dict(signal.backward) == pytest.approx(expected, rel=1e-6)
