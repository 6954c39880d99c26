"""`kaiming identify`: tensors made by the real torch functions are identified, or honestly not."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.io.memory import array_source
from kaiming_cli.runners.identify import identify_source
from kaiming_cli.runners.identify.candidates import Candidate, candidates, kl_divergence
from tests.models import save_all

torch = pytest.importorskip("torch")
init = torch.nn.init


def torch_sample(c: Candidate, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Draw with the torch function the candidate names (independent of the candidate's std)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.empty(shape)
    label = c.label
    if c.family == "kaiming":
        nl = label.split("nonlinearity='")[1].split("'")[0]
        a = 0.01 if nl == "leaky_relu" else 0.0
        fn = init.kaiming_normal_ if c.distribution == "normal" else init.kaiming_uniform_
        fn(w, a=a, mode=c.mode, nonlinearity=nl, generator=g)
    elif label.startswith("kaiming_uniform_(a=sqrt(5))"):
        init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)
    elif c.family == "xavier":
        (init.xavier_normal_ if c.distribution == "normal" else init.xavier_uniform_)(w, generator=g)
    elif c.family == "lecun":
        fn = init.kaiming_normal_ if c.distribution == "normal" else init.kaiming_uniform_
        fn(w, mode="fan_in", nonlinearity="linear", generator=g)
    elif c.family == "keras_jax":
        fan_in, fan_out = init._calculate_fan_in_and_fan_out(w)
        fan = fan_in if c.mode == "fan_in" else (fan_in + fan_out) / 2
        scale = 2.0 if label.startswith("he_") else 1.0
        sp = math.sqrt(scale / fan) / 0.87962566103423978
        init.trunc_normal_(w, std=sp, a=-2 * sp, b=2 * sp, generator=g)
    elif c.family == "fixed":
        init.normal_(w, 0.0, 0.02, generator=g)
    else:
        raise AssertionError(label)
    return w.numpy()


SHAPES = [(64, 3, 3, 3), (256, 256), (10, 512), (512, 128, 3, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_truth_is_the_verdict_or_indistinguishable(shape: tuple[int, ...]) -> None:
    for i, truth in enumerate(candidates(shape, "torch")):
        x = torch_sample(truth, shape, seed=i)
        r = identify_source(array_source(x, "w"))
        assert r.verdict != "unknown", (truth.label, r.reason)
        assert r.verdict == truth.label or truth.label in r.indistinguishable, (truth.label, r.verdict)
        best = r.ranked[0].candidate
        # separable (nothing within ln 100 but exact laws): the law must be exactly the truth's
        if set(r.indistinguishable) <= set(r.aliases):
            assert best.same_law(truth) or kl_divergence(truth, best) * r.n < math.log(100) * 100, truth.label


def test_large_tensor_separates_everything_but_relu_and_leaky() -> None:
    """docs/statistics.md §7: on 3072x768 only relu <-> leaky_relu(0.01) cannot be separated."""
    shape = (3072, 768)
    for i, truth in enumerate(candidates(shape, "torch")):
        r = identify_source(array_source(torch_sample(truth, shape, seed=100 + i), "w"))
        best = r.ranked[0].candidate
        twin = math.isclose(best.std, truth.std, rel_tol=1e-4) and best.distribution == truth.distribution
        assert best.same_law(truth) or twin, (truth.label, r.verdict)


@pytest.mark.parametrize("kind", ["heavy_tailed", "low_rank", "row_scaled"])
def test_trained_looking_tensors_are_unknown(kind: str) -> None:
    rng = np.random.default_rng(0)
    if kind == "heavy_tailed":
        x = rng.standard_t(3, (512, 256)) * 0.05
    elif kind == "low_rank":
        x = rng.standard_normal((512, 4)) @ rng.standard_normal((4, 256)) * 0.03
    else:
        x = rng.standard_normal((512, 256)) * rng.uniform(0.2, 3.0, (512, 1)) * 0.06
    r = identify_source(array_source(x.astype(np.float32), "w"))
    assert r.verdict == "unknown" and "fails the test battery" in r.reason
    assert r.fitted is not None and math.isclose(r.fitted.std, float(np.sqrt(np.mean(x.astype(np.float32) ** 2))),
                                                 rel_tol=1e-5)


def test_square_fans_are_exact_aliases() -> None:
    x = torch_sample(candidates((256, 256), "torch")[0], (256, 256), 1)  # kaiming_normal_ fan_in relu
    r = identify_source(array_source(x, "w"))
    assert "kaiming_normal_(mode='fan_out', nonlinearity='relu')" in r.aliases


@pytest.mark.parametrize("seed", range(4))
def test_a_kaiming_relu_tensor_is_one_verdict_with_its_class_confidence(seed: int) -> None:
    """Issue 24: on square fans kaiming relu fan_in = fan_out = xavier with gain sqrt(2) = VarianceScaling(scale=2)
    (std sqrt(2/256) for all of them): one verdict whose confidence is the posterior of that whole class, plus the
    near-aliases the size cannot separate (listed as near-aliases), never the class's probability split six ways."""
    g = torch.Generator().manual_seed(seed)
    w = torch.empty(256, 256)
    init.kaiming_normal_(w, nonlinearity="relu", generator=g)
    r = identify_source(array_source(w.numpy(), "w"))
    law = math.sqrt(2 / 256)
    same = {"kaiming_normal_(mode='fan_in', nonlinearity='relu')",
            "kaiming_normal_(mode='fan_out', nonlinearity='relu')",
            "xavier_normal_(gain=calculate_gain('relu'))"} | {
        f"keras.initializers.VarianceScaling(scale=2, mode={m!r}, distribution='untruncated_normal')"
        for m in ("fan_in", "fan_out", "fan_avg")}
    assert {r.verdict, *r.aliases} == same
    assert not set(r.aliases) & {label for label, _ in r.near}  # near-aliases are not called aliases
    # the class, from the formula (normal, std sqrt(2/256)) and the sizes the near-aliases need
    cls = {s.candidate.label for s in r.ranked
           if s.candidate.distribution == "normal" and math.isclose(s.candidate.std, law, rel_tol=1e-9)}
    cls |= {label for label, needed in r.near if needed > w.numel()}
    lls = [s.loglik for s in r.ranked if math.isfinite(s.loglik)]
    top = max(lls)
    total = sum(math.exp(ll - top) for ll in lls)
    expected = sum(math.exp(s.loglik - top) for s in r.ranked if s.candidate.label in cls) / total
    assert cls >= same and r.confidence == pytest.approx(expected, rel=1e-9) and r.confidence > 0.9


@pytest.mark.parametrize("seed", range(6))
def test_exact_aliases_are_ordered_by_prior_not_by_rounding(seed: int) -> None:
    """On square fans kaiming relu fan_in/fan_out, xavier with gain sqrt(2) and VarianceScaling(scale=2) are one law;
    their likelihoods differ only by the rounding of each std. The ranking must list them by prior (the named
    torch calls before the Keras spelling of the same law), whatever the data's last bits."""
    x = torch_sample(candidates((144, 144), "torch")[0], (144, 144), seed)
    ranked = identify_source(array_source(x, "w")).ranked
    head = ranked[0].loglik
    tied = [r for r in ranked if abs(r.loglik - head) <= 1e-9 * abs(head)]
    assert len(tied) >= 3
    priors = [r.candidate.prior for r in tied]
    assert priors == sorted(priors, reverse=True)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    return save_all(folder)["safetensors"]


def test_torchvision_style_model_without_rules(model: Path) -> None:
    out = CliRunner().invoke(cli, ["identify", str(model), "-f", "json"]).stdout
    doc = json.loads(out)
    by = {t["name"]: t for t in doc["tensors"]}
    fan_out_relu = "kaiming_normal_(mode='fan_out', nonlinearity='relu')"
    convs = [t for n, t in by.items() if n.endswith("weight") and len(t["shape"]) == 4]
    assert len(convs) == 10
    for t in convs:
        assert t["verdict"] == fan_out_relu or fan_out_relu in t["indistinguishable"], t["name"]
    assert by["fc.weight"]["verdict"].startswith("kaiming_uniform_(a=sqrt(5))")
    assert by["fc.bias"]["verdict"].endswith("[PyTorch bias default]")
    assert by["bn1.weight"]["verdict"] == "ones_" and by["bn1.bias"]["verdict"] == "zeros_"
    assert f"10 conv weights: {fan_out_relu}" in doc["summary"]
    cand = by["conv1.weight"]["candidates"][0]
    assert {"label", "family", "distribution", "mode", "gain", "std", "loglik", "pvalue"} <= set(cand)


def test_identify_table_and_markdown(model: Path) -> None:
    result = CliRunner().invoke(cli, ["identify", str(model), "--tensor", "conv1.weight"])
    assert result.exit_code == 0 and "1 conv weight: kaiming_normal_(mode='fan_out'" in result.stdout
    md = CliRunner().invoke(cli, ["identify", str(model), "-f", "markdown"]).stdout
    assert md.startswith("### kaiming identify") and "| tensor | shape | verdict |" in md


def test_keras_layout_candidates() -> None:
    shape = (3, 3, 64, 128)
    sp = math.sqrt(2 / 576) / 0.87962566103423978
    x = torch.empty(shape)
    init.trunc_normal_(x, std=sp, a=-2 * sp, b=2 * sp, generator=torch.Generator().manual_seed(0))
    r = identify_source(array_source(x.numpy(), "kernel"), layout="keras")
    assert r.verdict == "he_normal (Keras/JAX, truncated)"


def test_identify_read_hands_back_the_data_its_verdict_was_computed_from() -> None:
    """audit tests its expected laws on identify's own summary and subsample (runners/identified.py) instead of a
    second read: they are what a fresh read with the same seed and subsample size gives."""
    from kaiming_cli.engine.sources import scan_source
    from kaiming_cli.runners.identify import identify_read

    x = np.random.default_rng(4).standard_normal((300, 200)).astype(np.float32) * 0.1
    source = array_source(x, "w")
    result, data = identify_read(source, seed=7, max_ks=5000)
    assert data is not None and result == identify_source(source, seed=7, max_ks=5000)
    summary, sample = scan_source(source, seed=7, jobs=1, max_ks=5000)
    assert data[0] == summary
    np.testing.assert_array_equal(data[1], sample)
    assert identify_read(array_source(np.zeros((0, 3), np.float32), "empty"))[1] is None
