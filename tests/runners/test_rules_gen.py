"""`kaiming identify -f rules`: the TOML reproduces every verdict, collapses globs safely, survives hostile names."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.runners.identify.rules import collapse, glob_escape
from tests.hostile.cases_text import ALL_NAMES, write_safetensors
from tests.toml_compat import tomllib

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from tests.lookalikes import MODELS, reinit_one  # noqa: E402

RULE_KEYS = {"match", "init", "fan_in", "fan_out", "skip"}


def first_rule(rules: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((r for r in rules if fnmatch.fnmatchcase(name, r["match"])), None)


def rules_of(path: Path, *extra: str) -> tuple[list[dict[str, Any]], str]:
    result = CliRunner().invoke(cli, ["identify", str(path), "-f", "rules", *extra])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.isascii()
    rules: list[dict[str, Any]] = tomllib.loads(text)["rule"]
    assert all(set(r) <= RULE_KEYS for r in rules)
    return rules, text


def verdicts(path: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads(CliRunner().invoke(cli, ["identify", str(path), "-f", "json", "--top", "50"]).stdout)
    return {t["name"]: t for t in doc["tensors"]}


def test_collapse_uses_layer_globs_and_never_matches_another_group() -> None:
    names = [f"layer{i}.attn.qkv.weight" for i in range(4)]
    others = [f"layer{i}.attn.proj.weight" for i in range(4)] + ["head.weight"]
    assert collapse(names, others) == [("layer*.attn.qkv.weight", 4)]
    # '*.weight' would swallow the others; a glob character in a name is matched literally
    assert collapse(["a*", "b?"], ["ab", "bc"]) == [("a[*]", 1), ("b[?]", 1)]
    assert fnmatch.fnmatchcase("x[1]", glob_escape("x[1]")) and not fnmatch.fnmatchcase("x1", glob_escape("x[1]"))


@pytest.mark.parametrize("model", ["gpt2", "resnet", "torch_defaults", "torchvision_vit"])
def test_rules_reproduce_every_verdict(model: str, tmp_path: Path) -> None:
    state, _ = MODELS[model](0)
    path = tmp_path / "m.safetensors"
    safetensors_torch.save_file(state, str(path))
    rules, text = rules_of(path)
    by = verdicts(path)
    for name, t in by.items():
        rule = first_rule(rules, name)
        assert rule is not None, name
        # the verdict's call, or an exact alias of it (the same law for this shape: a square conv's fan_out when
        # the rest of the model is written with fan_out; issue 24)
        aliases = {c["init"]: c for c in t["candidates"] if c["label"] in t["exact_aliases"]}
        assert rule["init"] == t["init"] or rule["init"] in aliases, (name, rule, t["init"])
        chosen = aliases.get(rule["init"]) or next(c for c in t["candidates"] if c["label"] == t["verdict"])
        assert rule.get("fan_in") == chosen["fan_in"] and rule.get("fan_out") == chosen["fan_out"]
    if model == "gpt2":  # four layers share each call: a few globs for all of them (first match wins)
        projections = [n for n in by if n.endswith("c_proj.weight")]
        assert len(projections) >= 4
        assert all((first_rule(rules, n) or {}).get("init") == "normal_(std=0.02/sqrt(2*4))" for n in projections)
        assert len(rules) < len(by)


def test_hostile_names_stay_strings(tmp_path: Path) -> None:
    """Names that try to close the string, start a table, or glob other tensors: parsed back, each name's first
    rule is its own (tensors of two laws, so a glob that leaked would give a wrong call)."""
    hostile = list(ALL_NAMES) + ['q"]\n[[rule]]\nmatch = "*', "back\\slash\\", "*", "[a-z]", "tab\there"]
    header: dict[str, Any] = {}
    data = b""
    rng = np.random.default_rng(0)
    for i, name in enumerate(hostile):
        values = (np.zeros((16, 16)) if i % 2 else rng.standard_normal((16, 16)) * 0.02).astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": [16, 16], "data_offsets": [len(data), len(data) + len(values)]}
        data += values
    raw = json.dumps(header).encode("ascii")
    path = tmp_path / "h.safetensors"
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)
    rules, _text = rules_of(path)
    by = verdicts(path)
    assert set(by) == set(hostile)
    for name, t in by.items():
        rule = first_rule(rules, name)
        assert rule is not None and rule["init"] == t["init"], (name, rule, t["init"])
    assert write_safetensors  # the corpus module's writer is the one tests/hostile uses for these names




@pytest.mark.parametrize("model", ["resnet", "gpt2", "timm_vit", "torch_defaults"])
def test_round_trip_snapshot_then_gate(model: str, tmp_path: Path) -> None:
    """identify -f rules, then verify with them: passes on the same file and on a second seed of the model, fails
    exactly the one tensor re-initialized at 1.5x std."""
    state, _ = MODELS[model](0)
    first = tmp_path / "seed0.safetensors"
    safetensors_torch.save_file(state, str(first))
    rules = tmp_path / "init.toml"
    assert CliRunner().invoke(cli, ["identify", str(first), "-f", "rules", "-o", str(rules)]).exit_code == 0
    same = CliRunner().invoke(cli, ["verify", str(first), "--rules", str(rules), "-f", "json"])
    assert same.exit_code == 0, same.stdout
    second_state, _ = MODELS[model](1)
    second = tmp_path / "seed1.safetensors"
    safetensors_torch.save_file(second_state, str(second))
    other = CliRunner().invoke(cli, ["verify", str(second), "--rules", str(rules), "-f", "json"])
    assert other.exit_code == 0, other.stdout
    target = next(n for n, v in state.items() if v.ndim >= 2 and float(v.std()) > 0)
    broken = tmp_path / "broken.safetensors"
    safetensors_torch.save_file({k: v.contiguous() for k, v in reinit_one(second_state, target).items()}, str(broken))
    bad = CliRunner().invoke(cli, ["verify", str(broken), "--rules", str(rules), "-f", "json"])
    assert bad.exit_code == 1
    failed = [t["name"] for t in json.loads(bad.stdout)["tensors"] if t["status"] == "fail"]
    assert failed == [target]


def test_keras_attention_kernels_get_their_einsum_fans(tmp_path: Path) -> None:
    """keras MultiHeadAttention: EinsumDense kernels (32, 8, 16) and (8, 16, 32) with lecun_normal have std
    sqrt(1/32) and sqrt(1/128) (the fans EinsumDense passes); the query's rule states them."""
    g = torch.Generator().manual_seed(0)

    def lecun(shape: tuple[int, ...], fan_in: int) -> Any:
        sigma = (1 / fan_in) ** 0.5 / 0.87962566103423978
        return torch.nn.init.trunc_normal_(torch.empty(shape), std=sigma, a=-2 * sigma, b=2 * sigma, generator=g)

    state = {"query/kernel": lecun((32, 8, 16), 32), "key/kernel": lecun((32, 8, 16), 32),
             "attention_output/kernel": lecun((8, 16, 32), 128)}
    path = tmp_path / "mha.safetensors"
    safetensors_torch.save_file(state, str(path))
    rules, _ = rules_of(path, "--layout", "keras")
    query = first_rule(rules, "query/kernel")
    out = first_rule(rules, "attention_output/kernel")
    assert query is not None and query["init"] == "keras.initializers.LecunNormal()"
    assert (query["fan_in"], query["fan_out"]) == (32, 128)  # the einsum split, not the layout's 256 / 512
    # (8, 16, 32) under the keras layout already has fan_in = 8 * 16 = 128: no fans to state
    assert out == {"match": "attention_output/kernel", "init": "keras.initializers.LecunNormal()"}


@pytest.mark.parametrize(("sparsity", "rows"), [(0.1, 256), (0.3, 50), (0.25, 7)])
def test_sparse_call_gives_torch_the_same_zero_count(sparsity: float, rows: int) -> None:
    """The generated sparse_ call makes torch zero exactly as many entries per column as the data have."""
    import math

    from kaiming_cli.io.memory import array_source
    from kaiming_cli.runners.identify import identify_source

    w = torch.empty(rows, 120)
    torch.nn.init.sparse_(w, sparsity, std=0.01, generator=torch.Generator().manual_seed(0))
    r = identify_source(array_source(w.numpy(), "w"))
    assert r.verdict.startswith("sparse_(sparsity="), r.verdict
    written = float(r.verdict.split("sparsity=")[1].split(",")[0])
    assert math.ceil(written * rows) == math.ceil(sparsity * rows)


@pytest.mark.parametrize("fmt", ["safetensors", "bf16", "npz", "pt"])
def test_readme_recipe_round_trips_on_the_readme_model(fmt: str, tmp_path: Path) -> None:
    """The README's CI recipe, on the README's model in every format: `identify -f rules` then `verify --rules`
    passes with no error. Its BatchNorms' int64 num_batches_tracked (0-d and counted per layer) get
    init = "zeros_", which verify checks exactly on integer tensors; a trained counter (5) fails that rule."""
    from tests.models import save_all

    path = save_all(tmp_path)[fmt]
    rules_path = tmp_path / "init2.toml"
    rules_path.write_text(rules_of(path)[1])
    result = CliRunner().invoke(cli, ["verify", str(path), "--rules", str(rules_path), "--no-config", "-f", "json"])
    doc = json.loads(result.stdout)
    statuses = {t["name"]: t["status"] for t in doc["tensors"]}
    assert result.exit_code == 0, [t for t in doc["tensors"] if t["status"] == "error"][:2]
    assert "error" not in statuses.values() and "fail" not in statuses.values()
    counters = [n for n in statuses if n.endswith("num_batches_tracked")]
    assert counters and all(statuses[n] == "pass" for n in counters)


def test_a_zeros_rule_on_an_integer_tensor_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    np.savez(path, fresh=np.array(0, dtype=np.int64), trained=np.array(5, dtype=np.int64),
             counts=np.zeros(3, dtype=np.int32), scalar=np.array(0.5, dtype=np.float32))
    rules = tmp_path / "r.toml"
    rules.write_text('[[rule]]\nmatch = "*"\ninit = "zeros_"\n\n[[rule]]\nmatch = "scalar"\ninit = "normal_"\n')
    doc = json.loads(CliRunner().invoke(cli, ["verify", str(path), "--rules", str(rules), "--no-config",
                                              "-f", "json"]).stdout)
    statuses = {t["name"]: t["status"] for t in doc["tensors"]}
    assert statuses == {"fresh": "pass", "trained": "fail", "counts": "pass", "scalar": "fail"}
    rules.write_text('[[rule]]\nmatch = "scalar"\ninit = "normal_"\n\n[[rule]]\nmatch = "*"\ninit = "normal_"\n')
    doc = json.loads(CliRunner().invoke(cli, ["verify", str(path), "--rules", str(rules), "--no-config",
                                              "-f", "json"]).stdout)
    by = {t["name"]: t for t in doc["tensors"]}
    assert by["fresh"]["status"] == "error" and "random-init rule" in by["fresh"]["reason"]
    assert by["scalar"]["status"] == "error" and "at least one dimension" in by["scalar"]["reason"]
