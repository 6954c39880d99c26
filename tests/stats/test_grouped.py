"""The group path (stats/grouped.py, runners/verify/grouped.py) gives every tensor the one-tensor path's result, to
the bit (issue 25).

The one-tensor path is ``verify_source`` with a scanner that is not ``scan_source`` itself (a wrapper around it):
that is the path a distributed job takes, and the path every tensor took before the group path existed. The file
holds tensors that pass and tensors that fail each test (a wrong std, a wrong family, sorted rows, a low-rank
matrix, heavy tails that switch the structure tests to the data's own moments), in both layouts, float32 and
float64, sizes on both sides of each test's minimum, and the tensors the group path hands back (non-finite values,
subnormals, a zero row or column, a constant). Every field of every result is compared, and the run is also
checked to have used the group path for the tensors it covers.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kaiming_cli.engine.sources import scan_source
from kaiming_cli.io.config import Config, Rule
from kaiming_cli.io.readers import read_path
from kaiming_cli.runners.verify import choose, finalize, run_verify, verify_source
from kaiming_cli.stats.battery import ALL_TESTS, DEFAULT_TESTS
from kaiming_cli.stats.empirical import law_of
from kaiming_cli.stats.grouped import groupable, grouped_batteries
from kaiming_cli.theory.spec import SpecOptions
from tests.runners.test_many_tensors import with_bf16


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261207)
    out: dict[str, np.ndarray] = {}

    def normal(shape: tuple[int, ...], scale: float = 1.0, dtype: Any = np.float32) -> np.ndarray:
        fan_in = int(np.prod(shape[1:]))
        return (rng.standard_normal(shape) * scale * np.sqrt(2.0 / fan_in)).astype(dtype)

    for i in range(12):
        out[f"sq.{i}"] = normal((32, 32))
    out["sq.wrong_std"] = normal((32, 32), 1.2)
    out["sq.uniform"] = (rng.uniform(-1, 1, (32, 32)) * np.sqrt(3 * 2 / 32)).astype(np.float32)
    sorted_rows = normal((32, 32))
    out["sq.sorted_rows"] = np.sort(sorted_rows, axis=1)
    low = rng.standard_normal((32, 2)) @ rng.standard_normal((2, 32))
    out["sq.low_rank"] = (low / low.std() * np.sqrt(2 / 32)).astype(np.float32)
    heavy = rng.standard_t(5, (32, 32))
    out["sq.heavy_tails"] = (heavy / heavy.std() * np.sqrt(2 / 32)).astype(np.float32)
    for i in range(5):
        out[f"conv.{i}"] = normal((16, 8, 3, 3))
    for i in range(4):
        out[f"thin.{i}"] = normal((8, 40))  # no spectrum test (a side under 16)
    for i in range(3):
        out[f"tiny.{i}"] = normal((4, 5))  # no shape test (n < 250)
    out["big"] = normal((250, 300))  # longer than one block of the moments (n > 2^16): summarized one by one
    for i in range(3):
        out[f"double.{i}"] = normal((24, 24), dtype=np.float64)
    for i in range(4):
        out[f"half.{i}"] = normal((32, 32), dtype=np.float16)
    nan = normal((32, 32))
    nan[3, 4] = np.nan
    out["sq.nan"] = nan
    sub = normal((32, 32))
    sub[0, 0] = 1e-40
    out["sq.subnormal"] = sub
    zero_row = normal((32, 32))
    zero_row[7] = 0.0
    out["sq.zero_row"] = zero_row
    two_zero_rows = normal((32, 32))
    two_zero_rows[[1, 9]] = 0.0
    out["sq.two_zero_rows"] = two_zero_rows
    zero_col = normal((32, 32))
    zero_col[:, 5] = 0.0
    out["sq.zero_col"] = zero_col
    out["sq.constant"] = np.full((32, 32), 0.25, np.float32)
    out["sq.zeros"] = np.zeros((32, 32), np.float32)
    out["sq.huge"] = normal((32, 32)) * np.float32(1e7)
    out["bias"] = normal((32, 1))[:, 0].copy()
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from safetensors.numpy import save_file

    path = tmp_path_factory.mktemp("grouped") / "model.safetensors"
    save_file(_tensors(), str(path))
    rng = np.random.default_rng(7)
    for i in range(4):  # bf16 values (rounded to nearest, ties away): dequantized per tensor, by its own seed
        x = (rng.standard_normal((32, 32)) * np.sqrt(2 / 32)).astype(np.float32)
        with_bf16(path, f"brain.{i}", ((x.view(np.uint32) + 0x8000) >> 16).astype(np.uint16))
    return path


def _one_at_a_time(sources: list[Any], config: Config, fallback: Rule, options: SpecOptions, tests: tuple[str, ...],
                   layout_given: bool, seed: int) -> list[dict[str, Any]]:
    one_tensor = functools.partial(scan_source)  # not scan_source itself: the one-tensor path
    results = [verify_source(s, choose(s, config, fallback), options, alpha=1e-3, tests=tests, scanner=one_tensor,
                             layout_given=layout_given, seed=seed) for s in sources]
    return [t.to_dict() for t in finalize(results, 1e-3, "holm").tensors]


@pytest.mark.parametrize("layout,seed", [("torch", 0), ("keras", 0), ("torch", 7)])
@pytest.mark.parametrize("tests", [DEFAULT_TESTS, ALL_TESTS, ("ks", "shape", "rows"), ("std",)],
                         ids=["default", "all", "some", "std-only"])
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_group_path_equals_the_one_tensor_path(checkpoint: Path, layout: str, seed: int, tests: tuple[str, ...],
                                               distribution: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import kaiming_cli.engine.grouped as engine_grouped

    covered: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        out = grouped_batteries(*args, **kwargs)
        covered.append(sum(o is not None for o in out))
        return out

    monkeypatch.setattr(engine_grouped, "grouped_batteries", counted)
    sources = read_path(str(checkpoint))
    options = SpecOptions(layout=layout)
    fallback = Rule(match="*", options={"mode": "fan_in", "nonlinearity": "relu", "distribution": distribution,
                                        "layout": layout})
    config = Config()
    grouped = run_verify(sources, config, fallback, options, alpha=1e-3, correction="holm", tests=tests, jobs=1,
                         layout_given=True, seed=seed)
    alone = _one_at_a_time(sources, config, fallback, options, tests, True, seed)
    by_name = {t["name"]: t for t in alone}
    assert len(grouped.tensors) == len(alone)
    for t in grouped.tensors:
        assert t.to_dict() == by_name[t.name], t.name
    statuses = {t.name: t.status for t in grouped.tensors}
    assert sum(covered) >= 38  # sq, conv, thin, tiny, big, double, half, brain: the group path tested them
    # the file exercises what it says: failures among passes, and the tensors handed back
    if distribution == "normal" and tests == DEFAULT_TESTS and layout == "torch":
        assert statuses["sq.0"] == statuses["conv.0"] == statuses["half.0"] == statuses["brain.0"] == "pass"
        for name in ("sq.wrong_std", "sq.uniform", "sq.sorted_rows", "sq.low_rank"):
            assert statuses[name] == "fail", name
        for name in ("sq.nan", "sq.subnormal", "sq.zeros", "sq.huge"):
            assert statuses[name] == "uninitialized", name
        assert grouped.tensors[[t.name for t in grouped.tensors].index("sq.zero_row")].zero_rows_excluded == 1


@pytest.mark.parametrize("histograms", [True, False])
def test_histograms_are_numpys_counts_or_left_out(checkpoint: Path, histograms: bool) -> None:
    """``TensorResult.histogram`` (what the table's ``--detail`` draws; no other report has it) is not compared by
    ``to_dict`` above. With ``histograms`` each tested tensor's is the one-tensor path's, ``numpy.histogram`` of its
    sample (``histogram_counts``); without, every one is empty and nothing else changes (issue 25: the counting is
    a seventh of the group battery's time)."""
    sources = read_path(str(checkpoint))
    config, options = Config(), SpecOptions()
    fallback = Rule(match="*", options={"mode": "fan_in", "nonlinearity": "relu"})
    run = functools.partial(run_verify, sources, config, fallback, options, alpha=1e-3, correction="holm", jobs=1)
    result, full = run(histograms=histograms), run()
    one_tensor = functools.partial(scan_source)
    alone = {s.name: verify_source(s, choose(s, config, fallback), options, alpha=1e-3, scanner=one_tensor)
             for s in sources}
    tested = [t for t in result.tensors if t.status in ("pass", "fail")]
    assert len(tested) >= 38 and any(t.status == "fail" for t in tested)
    for t, f in zip(result.tensors, full.tensors, strict=True):
        assert t.histogram == (alone[t.name].histogram if histograms else []), t.name
        assert t.to_dict() == f.to_dict(), t.name
    if histograms:
        assert all(sum(t.histogram) > 0 for t in tested)


def test_the_group_path_covers_the_common_tensors(checkpoint: Path) -> None:
    """What ``groupable`` takes: float32/float64 matrices of a normal or uniform law, up to the EDF budget."""
    sources = {s.name: s for s in read_path(str(checkpoint))}
    options = SpecOptions().overridden({"mode": "fan_in", "nonlinearity": "relu"})

    def covered(name: str, layout: str = "torch") -> bool:
        s = sources[name]
        return groupable(law_of(options.spec(s.shape)), s.shape, s.dtype, layout, DEFAULT_TESTS, 100_000)

    assert covered("sq.0") and covered("conv.0") and covered("double.0") and covered("tiny.0") and covered("big")
    assert covered("sq.0", "keras")
    law = law_of(options.spec((32, 32)))
    assert not groupable(law, (32,), "float32", "torch", DEFAULT_TESTS, 100_000)  # a vector: no rows and columns
    assert groupable(law, (32, 32), "bfloat16", "torch", DEFAULT_TESTS, 100_000)  # with its dequantized sample
    assert not groupable(law, (32, 32), "int8", "torch", DEFAULT_TESTS, 100_000)
    assert not groupable(law, (400, 300), "float32", "torch", DEFAULT_TESTS, 100_000)  # over the EDF budget
    assert not groupable(law, (32, 32), "float32", "torch", ("kstest",), 100_000)  # an unknown test: its error


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_signalling_nans_are_named_without_a_numpy_warning(tmp_path: Path, dtype: str) -> None:
    """torch.empty memory holds any bit pattern, signalling NaNs too: widening one to float64 makes numpy warn
    "invalid value encountered in cast" on the user's terminal. The group path hands the tensor back, and the
    one-tensor path names it uninitialized; nothing warns (warnings are errors here)."""
    import warnings

    from safetensors.numpy import save_file

    rng = np.random.default_rng(3)
    bits = (rng.standard_normal((32, 32)) * 0.25).astype(np.float32).view(np.uint32)
    bits[4, 5] = 0x7F800001  # a signalling NaN (quiet bit clear, payload 1)
    path = tmp_path / "garbage.safetensors"
    clean = {"clean": (rng.standard_normal((32, 32)) * 0.25).astype(np.float32)}
    if dtype == "float32":
        save_file({**clean, "garbage": bits.view(np.float32)}, str(path))
    else:
        save_file(clean, str(path))
        top = (bits >> 16).astype(np.uint16)
        top[4, 5] = 0x7F81  # bf16's signalling NaN: decoded to float32 0x7F810000, still signalling
        with_bf16(path, "garbage", top)
    sources = read_path(str(path))
    fallback = Rule(match="*", options={"mode": "fan_in", "nonlinearity": "relu"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run_verify(sources, Config(), fallback, SpecOptions(), alpha=1e-3, correction="holm", jobs=1)
    statuses = {t.name: t.status for t in result.tensors}
    assert statuses["garbage"] == "uninitialized"
