"""identify's group path (runners/identify/grouped.py, issue 25) gives every tensor the result the one-tensor path
gives it, to the bit: the same summary, fits, ranking, battery, verdict and words.

The file holds the laws of torch's initializers (``torch.nn.init``: normal, uniform, truncated normal, orthogonal,
sparse) and off-zero and wrong laws, in float32, bfloat16, float16 and float64, in several shapes, three tensors
each so that they group; and the tensors the group path hands back (a zero row, subnormal garbage, a NaN, a
constant, sorted values). Each result of ``run_identify`` is compared with ``identify_source`` on the tensor alone
(named in the file's form, as ``run_identify`` names every result).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from kaiming_cli.io.readers import read_path  # noqa: E402
from kaiming_cli.runners.identify import grouped, identify_source, run_identify, sibling_fan_in  # noqa: E402
from kaiming_cli.runners.identify.forms import in_the_files_form  # noqa: E402

INITS: dict[str, Any] = {
    "kaiming_normal": lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "kaiming_uniform": lambda w: torch.nn.init.kaiming_uniform_(w, a=5**0.5),
    "xavier_normal": torch.nn.init.xavier_normal_,
    "xavier_uniform": torch.nn.init.xavier_uniform_,
    "trunc_normal": lambda w: torch.nn.init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04),
    "orthogonal": torch.nn.init.orthogonal_,
    "sparse": lambda w: torch.nn.init.sparse_(w.view(w.shape[0], -1), 0.1),
    "uniform_wide": lambda w: torch.nn.init.uniform_(w, -1.0, 1.0),
    "off_zero": lambda w: w.normal_(0.01, 0.3),
}
SHAPES = [(64, 64), (16, 16), (32, 3, 3, 3), (8, 200)]
DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]


def text(result: Any) -> str:
    """A result as JSON text: every field, and NaN equal to NaN (a fitted verdict's confidence is NaN)."""
    return json.dumps(result.to_dict(10))


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from safetensors.torch import save_file

    torch.manual_seed(25)
    tensors: dict[str, Any] = {}
    for dtype in DTYPES:
        for shape in SHAPES:
            for name, init in INITS.items():
                for k in range(3):
                    w = torch.empty(shape)
                    init(w)
                    tensors[f"{str(dtype)[6:]}.{'x'.join(map(str, shape))}.{name}.{k}.weight"] = w.to(dtype)
    w = torch.nn.init.kaiming_normal_(torch.empty(64, 64))
    w[3] = 0
    tensors["zero_row.weight"] = w
    tensors["subnormal.weight"] = torch.randn(64, 64) * 1e-42
    w = torch.randn(64, 64)
    w[0, 0] = float("nan")
    tensors["nan.weight"] = w
    tensors["const.weight"] = torch.full((64, 64), 0.5)
    tensors["sorted.weight"] = (torch.randn(64 * 64) * 0.05).sort().values.view(64, 64).contiguous()
    tensors["fc.weight"] = torch.nn.init.kaiming_uniform_(torch.empty(64, 64), a=5**0.5)
    tensors["fc.bias"] = torch.empty(64).uniform_(-1 / 8, 1 / 8)
    path = tmp_path_factory.mktemp("grouped") / "varied.safetensors"
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path


def test_the_group_path_equals_each_tensor_alone(varied: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = read_path(str(varied))
    grouped_names: list[str] = []
    batch = grouped.identify_batch

    def counted(chosen: Any, *args: Any, **kwargs: Any) -> Any:
        out = batch(chosen, *args, **kwargs)
        grouped_names.extend(s.name for s, r in zip(chosen, out, strict=True) if r is not None)
        return out

    monkeypatch.setattr(grouped, "identify_batch", counted)
    results, errors = run_identify(sources, jobs=1)
    assert not errors and len(results) == len(sources) == 4 * 4 * 9 * 3 + 7
    # the group path took the regular tensors and handed back the ones another branch must name
    assert len(grouped_names) >= 4 * 4 * 9 * 3 - 3 * 4 * 4  # at most the 48 sparse tensors may be handed back
    assert not {"zero_row.weight", "subnormal.weight", "nan.weight", "const.weight"} & set(grouped_names)
    shapes = {(s.file, s.name): s.shape for s in sources}
    verdicts = {r.name: r.verdict for r in results}
    assert verdicts["nan.weight"] == verdicts["subnormal.weight"] == "uninitialized"  # NaN among varied values too
    # each alone, then named in the file's form (forms.py: among exact aliases, the one its kind got) as run_identify
    alone = in_the_files_form([identify_source(s, bias_fan_in=sibling_fan_in(s, shapes, "torch")) for s in sources])
    for source, result, single in zip(sources, results, alone, strict=True):
        assert text(result) == text(single), source.name


def test_the_group_path_names_the_laws(varied: Path) -> None:
    """Independent of the equality above: the verdicts name the calls that made the float32 tensors."""
    results, _ = run_identify(read_path(str(varied)), jobs=2)
    by_name = {r.name: r for r in results}
    assert "kaiming_normal_" in by_name["float32.64x64.kaiming_normal.0.weight"].verdict
    assert "trunc_normal_" in by_name["float32.64x64.trunc_normal.0.weight"].verdict
    assert "orthogonal_" in by_name["float32.64x64.orthogonal.0.weight"].verdict
    assert by_name["float32.64x64.sparse.0.weight"].verdict.startswith("sparse_(sparsity=0.1")


def test_run_identify_without_the_group_path_is_the_same(varied: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = read_path(str(varied))
    with_groups, _ = run_identify(sources, jobs=2)
    monkeypatch.setattr(grouped, "identify_batches", lambda *a, **k: [])
    alone, _ = run_identify(sources, jobs=2)
    assert [text(r) for r in with_groups] == [text(r) for r in alone]


def test_a_result_pickles_whole(varied: Path) -> None:
    """A forked worker sends its results to the parent pickled, the ranking as two plain tuples
    (``IdentifyResult.__getstate__``): every field comes back, every candidate of the ranking in its place and a
    ``Scored`` again."""
    import pickle

    from kaiming_cli.runners.identify import Scored

    results, _ = run_identify(read_path(str(varied)), jobs=1)
    back = pickle.loads(pickle.dumps(results))
    assert [repr(r) for r in back] == [repr(r) for r in results]  # repr: NaN equal to NaN
    assert all(type(s) is Scored for r in back for s in r.ranked)
    assert sum(len(r.ranked) for r in back) > 10 * len(back)
