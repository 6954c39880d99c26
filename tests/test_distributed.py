"""Verification across torch.distributed ranks (docs/distributed.md): gloo on the CPU, 127.0.0.1 only.

In a job: a DTensor-sharded model (row and column sharding, uneven shards) on 2 and 3 processes gets the
verdicts of the unsharded model, a spoiled shard fails the right tensor, a stalled peer ends in one line.
Over files: ``torchrun`` with 1, 2 and 3 ranks writes the single-process JSON byte for byte; every rank exits
with the run's code; a rank that cannot read its file makes every rank exit 3. Timeouts are hang guards only.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kaiming_cli.engine.distributed import Shard, launched, sample_in_block, split_by_size
from tests import distributed_jobs as jobs

torch = pytest.importorskip("torch")
mp = pytest.importorskip("torch.multiprocessing")
safetensors_torch = pytest.importorskip("safetensors.torch")

#: Guards against a hang, never a measurement: a healthy run ends in seconds.
HANG_GUARD = 300


# --------------------------------------------------------------------------- pure parts, no processes

def test_split_by_size_balances_largest_first() -> None:
    # worked by hand: 10 -> r0; 7 -> r1; 5 -> r1 (7 < 10); 3 -> r0 (10 < 12); 1 -> r0 (13 > 12? no: 12 < 13) -> r1
    assert split_by_size([3, 10, 1, 7, 5], 2) == [0, 0, 1, 1, 1]
    assert split_by_size([4, 4, 4], 3) == [0, 1, 2]
    assert split_by_size([], 2) == []


@pytest.mark.parametrize("shape,offset,local", [((7, 5), (3, 0), (4, 5)), ((7, 5), (0, 2), (7, 2)),
                                                ((4, 6, 3), (2, 3, 0), (2, 3, 3))])
def test_sample_in_block_picks_exactly_the_positions_inside(shape: tuple[int, ...], offset: tuple[int, ...],
                                                             local: tuple[int, ...]) -> None:
    """Against brute force: number every element by its global flat index and cut the block out."""
    index = np.arange(math.prod(shape)).reshape(shape)
    block = index[tuple(slice(o, o + n) for o, n in zip(offset, local, strict=True))]
    positions = np.arange(0, math.prod(shape), 3, dtype=np.int64)
    shard = Shard(shape, "float32", None, offset)
    global_pos, local_pos = sample_in_block(positions, shard, local)
    expected = np.sort(np.intersect1d(positions, block.reshape(-1)))
    assert global_pos.tolist() == expected.tolist()
    assert block.reshape(-1)[local_pos].tolist() == expected.tolist()
    everything, local_all = sample_in_block(None, shard, local)
    assert everything.tolist() == block.reshape(-1).tolist() and local_all.tolist() == list(range(block.size))


def test_the_timeout_comes_from_the_environment_and_a_bad_one_is_a_usage_error() -> None:
    from kaiming_cli.engine.distributed import DEFAULT_TIMEOUT, RankError, timeout_seconds
    from kaiming_cli.errors import ExitCode

    assert timeout_seconds({}) == DEFAULT_TIMEOUT == 600.0
    assert timeout_seconds({"KAIMING_DIST_TIMEOUT": "2.5"}) == 2.5
    for bad in ("soon", "0", "-3", "nan"):
        with pytest.raises(RankError, match="KAIMING_DIST_TIMEOUT") as info:
            timeout_seconds({"KAIMING_DIST_TIMEOUT": bad})
        assert info.value.exit_code == ExitCode.USAGE


def test_torchrun_environment_is_detected_unless_opted_out() -> None:
    env = {"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert launched(env)
    assert not launched({**env, "KAIMING_DISTRIBUTED": "0"})
    assert not launched({k: v for k, v in env.items() if k != "MASTER_PORT"})


# --------------------------------------------------------------------------- in a job: DTensor shards

def _reference() -> dict[str, Any]:
    from kaiming_cli.distributed import verify_module

    return verify_module(jobs.model(), rules=jobs.rules()).to_dict()


def _spawn(fn: Any, size: int, tmp_path: Path, *args: Any) -> list[dict[str, Any]]:
    mp.start_processes(fn, args=(size, jobs.free_port(), str(tmp_path), *args), nprocs=size, join=True,
                       start_method="spawn")
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(size)]


def _same_verdicts(sharded: dict[str, Any], whole: dict[str, Any]) -> None:
    """Statuses, the subsample's tests (KS), extremes and histograms identical; moments equal to float order."""
    assert sharded["summary"] == whole["summary"]
    for s, w in zip(sharded["tensors"], whole["tensors"], strict=True):
        assert (s["name"], s["status"], s["shape"], s["dtype"]) == (w["name"], w["status"], w["shape"], w["dtype"])
        if w["empirical"] is None:
            assert s["empirical"] is None and s["reason"] == w["reason"]
            continue
        for key in ("n", "min", "max"):
            assert s["empirical"][key] == w["empirical"][key], (s["name"], key)
        # float32 block sums are good to ~1e-6 relative (stats/summary.py); the kurtosis g2 = n*m4/m2^2 - 3
        # near 0 inherits that error from n*m4/m2^2 ~ 3, so it gets an absolute bound
        std = w["empirical"]["std"]
        assert s["empirical"]["std"] == pytest.approx(std, rel=1e-6), s["name"]
        assert s["empirical"]["mean"] == pytest.approx(w["empirical"]["mean"], abs=1e-6 * std), s["name"]
        assert s["empirical"]["excess_kurtosis"] == pytest.approx(w["empirical"]["excess_kurtosis"], abs=1e-5)
        for ts, tw in zip(s["tests"], w["tests"], strict=True):
            assert (ts["name"], ts["passed"]) == (tw["name"], tw["passed"])
            if ts["name"] == "ks":  # the subsample alone: the same values in the same order
                assert ts["pvalue"] == tw["pvalue"] and ts["statistic"] == tw["statistic"]


@pytest.mark.parametrize("size,wrong", [(2, "2.weight"), (3, "0.weight")])
def test_sharded_model_gets_the_unsharded_verdicts(tmp_path: Path, size: int, wrong: str) -> None:
    """Row-sharded 0.weight and 4.weight (bf16), column-sharded 2.weight; 3 ranks shard 40 rows and 64
    columns unevenly. Then the last rank's shard of ``wrong`` is multiplied by 3: that tensor, only, fails."""
    ranks = _spawn(jobs.sharded, size, tmp_path, wrong)
    whole = _reference()
    assert whole["passed"], whole["summary"]  # the model is initialized as its rules say
    assert all(r == ranks[0] for r in ranks), "every rank must get the same result"
    _same_verdicts(ranks[0]["clean"], whole)
    spoiled = {t["name"]: t["status"] for t in ranks[0]["spoiled"]["tensors"]}
    assert spoiled.pop(wrong) == "fail"
    assert set(spoiled.values()) == {"pass"}
    assert ranks[0]["asserted"] == "pass"  # assert_init on the DTensor, before and after the spoiling
    assert f"{wrong} " in ranks[0]["raised"] and "FAIL" in ranks[0]["raised"]


STRUCTURE_AND_SHAPE = ("shape", "rows", "cols", "spectrum")
MARGINAL = ("mean", "std", "kurtosis", "range", "ks")


@pytest.mark.parametrize("size", [2, 3])
def test_structure_and_shape_tests_on_shards_equal_the_unsharded_run(tmp_path: Path, size: int) -> None:
    """Row- and column-sharded tensors (uneven on 3 ranks) and a replicated plain one: the shape, rows, cols and
    spectrum tests give what ``verify_tensor`` gives on the unsharded tensor in one process. The cell counts
    and the spectral submatrix are the same values, so shape and spectrum are identical (big.weight, 2.2e6
    values, counts one seeded chunk of 2^20 cut across ranks and rows); row and column sums differ by summation
    order only: 1e-9 for float64, float32 sums are float32 einsums (~1e-6 relative, measured ~1e-5 on the
    statistic). Sorted rows and a rank-8 part fail their structure tests while every marginal test passes."""
    from kaiming_cli.api import verify_tensor

    ranks = _spawn(jobs.structured, size, tmp_path)
    assert all(r == ranks[0] for r in ranks), "every rank must get the same result"
    got = {t["name"]: t for t in ranks[0]["tensors"]}
    for name, tensor in jobs.structured_tensors().items():
        whole = {t.name: t for t in verify_tensor(tensor, name=name, nonlinearity="relu").tests}
        tests = {t["name"]: t for t in got[name]["tests"]}
        assert set(STRUCTURE_AND_SHAPE) <= set(whole) and list(tests) == list(whole), name
        for test in ("shape", "spectrum", "ks"):
            assert (tests[test]["statistic"], tests[test]["pvalue"]) == (whole[test].statistic, whole[test].pvalue), \
                (name, test)
        wide = jobs.STRUCTURED[name][2] == "float64"
        for test in ("rows", "cols"):  # float32: measured up to 5e-7 relative on the statistic, 1e-5 on p
            assert tests[test]["statistic"] == pytest.approx(whole[test].statistic, rel=1e-9 if wide else 1e-4), \
                (name, test)
            assert tests[test]["pvalue"] == pytest.approx(whole[test].pvalue, rel=1e-9, abs=1e-12 if wide else 1e-4), \
                (name, test)
        assert {t: tests[t]["passed"] for t in tests} == {t: whole[t].passed for t in whole}, name
    assert "chunks chosen by seed" in {t["name"]: t for t in got["big.weight"]["tests"]}["shape"]["detail"]
    for name in ("rows.weight", "cols.weight", "plain.weight", "big.weight", "half.weight"):
        assert got[name]["status"] == "pass", (name, got[name]["reason"])
    for name, failing in (("sorted.weight", {"cols", "spectrum"}), ("rank8.weight", {"spectrum"})):
        tests = {t["name"]: t["passed"] for t in got[name]["tests"]}
        assert got[name]["status"] == "fail" and all(tests[t] for t in (*MARGINAL, "shape")), (name, tests)
        assert {t for t, passed in tests.items() if not passed} == failing, (name, tests)


def _blocks(shape: tuple[int, ...], cuts: dict[int, int]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(offset, local shape) of every block when dim d is cut in cuts[d] near-equal parts (torch's uneven
    chunking: ceil-sized parts, the last ones shorter)."""
    import itertools

    ranges = []
    for d, n in enumerate(shape):
        parts = cuts.get(d, 1)
        step = -(-n // parts)
        ranges.append([(min(i * step, n), min((i + 1) * step, n) - min(i * step, n)) for i in range(parts)])
    return [(tuple(o for o, _ in combo), tuple(m for _, m in combo)) for combo in itertools.product(*ranges)]


@pytest.mark.parametrize("shape,cuts", [((7, 5), {0: 3}), ((7, 5), {1: 2}), ((4, 6, 3), {0: 2, 1: 4}),
                                        ((4, 6, 3), {2: 2}), ((3, 1, 5), {}), ((10,), {0: 3})])
def test_block_runs_are_the_blocks_global_positions(shape: tuple[int, ...], cuts: dict[int, int]) -> None:
    """Against brute force: number every element by its global flat index and cut the block out; the runs'
    pieces of any local range, laid end to end, are those numbers in local order."""
    from kaiming_cli.engine.distributed import block_runs

    index = np.arange(math.prod(shape)).reshape(shape)
    for offset, local in _blocks(shape, cuts):
        expected = index[tuple(slice(o, o + m) for o, m in zip(offset, local, strict=True))].reshape(-1)
        runs = block_runs(Shard(shape, "float32", None, offset), local)
        ranges = [(0, expected.size), (1, expected.size - 1), (2, 3)]
        for start, stop in [(a, b) for a, b in ranges if 0 <= a < b <= expected.size]:  # an empty block is not fed
            starts, lengths = runs.pieces(start, stop)
            got = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)] or [[]])
            assert got.tolist() == expected[start:stop].tolist(), (offset, local, start, stop)


@pytest.mark.parametrize("shape,cuts,layout", [((300, 70), {0: 3}, "torch"), ((300, 70), {1: 2}, "torch"),
                                               ((40, 6, 5, 7), {2: 3}, "torch"), ((40, 6, 5, 7), {0: 2, 3: 3}, "torch"),
                                               ((1100, 2000), {0: 2, 1: 3}, "torch"), ((300, 70), {1: 2}, "keras"),
                                               ((10, 6, 5, 24), {1: 2, 3: 3}, "keras")])
def test_block_collectors_merge_to_the_whole_tensors(shape: tuple[int, ...], cuts: dict[int, int], layout: str
                                                     ) -> None:
    """Without processes: each block of a cut tensor (on one or two dims, uneven, as 2-D meshes cut it) fed to
    fresh collectors by ``summarize_part`` and merged by ``load`` equals one scan of the whole tensor (the
    single-process path): cell counts and submatrix exactly, group sums to float order, a zero stored row
    (row 5 of the torch matrix, the last outer row of the Keras one: outputs on the inner axis) found."""
    import copy

    from kaiming_cli.engine.distributed import summarize_part
    from kaiming_cli.engine.sources import cell_counter, structure_collector
    from kaiming_cli.engine.stream import scan
    from kaiming_cli.io.sources import TensorSource, no_open

    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    zero_row = 5 if layout == "torch" else math.prod(shape[:-1]) - 1
    x.reshape(-1, x.shape[-1] if layout == "keras" else math.prod(shape[1:]))[zero_row] = 0.0
    source = TensorSource("f", "w", shape, "float32", no_open, forkable=False)
    flat = x.reshape(-1)
    whole_s, whole_c = structure_collector(source, layout, 0), cell_counter(source, 0)
    assert whole_s is not None and whole_c is not None
    scan(flat.size, lambda _i, a, b: flat[a:b], positions=None, structure=whole_s, cells=whole_c)
    merged_s, merged_c = structure_collector(source, layout, 0), cell_counter(source, 0)
    assert merged_s is not None and merged_c is not None
    parts = []
    for offset, local in _blocks(shape, cuts):
        block = torch.from_numpy(x[tuple(slice(o, o + m) for o, m in zip(offset, local, strict=True))].copy())
        parts.append(summarize_part(Shard(shape, "float32", block, offset), 0, "w", 1000, copy.deepcopy(merged_s),
                                    copy.deepcopy(merged_c)))
    merged_s.load([p.structure for p in parts if p.structure is not None])
    merged_c.load([p.cells for p in parts if p.cells is not None])
    assert merged_c.fed == whole_c.fed == flat.size and merged_c.subset == (flat.size > 1 << 20)
    assert np.array_equal(merged_c.counts, whole_c.counts)
    expected, got = whole_s.data(), merged_s.data()
    assert expected is not None and got is not None
    assert got.zero_lines == expected.zero_lines == (zero_row,)
    assert expected.matrix is not None and got.matrix is not None and np.array_equal(got.matrix, expected.matrix)
    for a, b in ((got.row_sums, expected.row_sums), (got.col_sums, expected.col_sums)):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    assert (got.row_sizes.tolist(), got.col_sizes.tolist()) == (expected.row_sizes.tolist(),
                                                                 expected.col_sizes.tolist())


def test_a_stalled_peer_is_a_one_line_error(tmp_path: Path) -> None:
    mp.start_processes(jobs.stalled_peer, args=(2, jobs.free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    kind, message = (tmp_path / "rank0.txt").read_text().split("\n", 1)
    assert kind == "CollectiveError"
    assert "\n" not in message and "2 ranks failed" in message and "KAIMING_DIST_TIMEOUT" in message


# --------------------------------------------------------------------------- over files

def _checkpoint(folder: Path, spoil: bool = False) -> Path:
    """A sharded safetensors checkpoint (3 files, an index) with fp32 and bf16 tensors of mixed sizes."""
    g = torch.Generator().manual_seed(7)
    shapes = {"embed.weight": (300, 64), "block.0.weight": (256, 128), "block.1.weight": (128, 256),
              "block.2.weight": (512, 64), "head.weight": (10, 512), "block.0.bias": (256,)}
    tensors = {}
    for name, shape in shapes.items():
        t = torch.empty(shape)
        if name.endswith("bias"):
            t.zero_()
        else:
            torch.nn.init.kaiming_normal_(t, nonlinearity="relu", generator=g)
        tensors[name] = t.to(torch.bfloat16) if name == "block.1.weight" else t
    if spoil:
        tensors["block.2.weight"] = tensors["block.2.weight"] * 2
    folder.mkdir()
    shards = [["embed.weight", "block.0.weight"], ["block.1.weight", "block.0.bias"], ["block.2.weight", "head.weight"]]
    weight_map = {}
    for i, names in enumerate(shards):
        file = f"model-0000{i + 1}-of-00003.safetensors"
        safetensors_torch.save_file({n: tensors[n].contiguous() for n in names}, str(folder / file))
        weight_map.update({n: file for n in names})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (folder / "rules.toml").write_text('[[rule]]\nmatch = "*.bias"\nconstant = 0.0\n\n'
                                       '[[rule]]\nmatch = "*"\nnonlinearity = "relu"\n')
    return folder


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


def _single(folder: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kaiming_cli", "verify", str(folder / "model.safetensors.index.json"),
                           "--rules", str(folder / "rules.toml"), "-f", "json", "-o", str(out)],
                          capture_output=True, text=True, env=_env(), timeout=HANG_GUARD)


@pytest.mark.parametrize("nproc", [1, 2, 3])
def test_torchrun_json_equals_the_single_process_json(tmp_path: Path, nproc: int) -> None:
    folder = _checkpoint(tmp_path / "ckpt")
    single = _single(folder, tmp_path / "single.json")
    assert single.returncode == 0, single.stderr
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
                          "--master-addr", "127.0.0.1", "--master-port", str(jobs.free_port()),
                          "-m", "kaiming_cli", "verify", str(folder / "model.safetensors.index.json"),
                          "--rules", str(folder / "rules.toml"), "-f", "json", "-o", str(tmp_path / "dist.json")],
                         capture_output=True, text=True, env=_env(), timeout=HANG_GUARD)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "dist.json").read_bytes() == (tmp_path / "single.json").read_bytes()
    assert json.loads((tmp_path / "dist.json").read_text())["tested"] == 6


def _ranks(size: int, args: list[str], cwd: list[Path], timeout: str = "120", start: int | None = None
           ) -> list[subprocess.CompletedProcess[str]]:
    """``size`` ranks of ``python -m kaiming_cli`` with the variables torchrun sets (rank r in ``cwd[r]``);
    ``start``: launch only that rank, as if the others never came."""
    port = str(jobs.free_port())
    procs = []
    for rank in range(size) if start is None else [start]:
        env = _env(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(size), LOCAL_WORLD_SIZE=str(size),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=port, KAIMING_DIST_TIMEOUT=timeout)
        procs.append(subprocess.Popen([sys.executable, "-m", "kaiming_cli", *args], cwd=cwd[rank], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    done = []
    for p in procs:
        out, err = p.communicate(timeout=HANG_GUARD)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def test_every_rank_exits_with_the_runs_code_and_rank_0_alone_reports(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "ckpt", spoil=True)
    single = _single(folder, tmp_path / "single.json")
    assert single.returncode == 1
    ranks = _ranks(2, ["verify", "model.safetensors.index.json", "--rules", "rules.toml", "-f", "json"],
                   [folder, folder])
    assert [r.returncode for r in ranks] == [1, 1], [r.stderr for r in ranks]
    assert ranks[0].stdout.encode() == (tmp_path / "single.json").read_bytes().replace(
        str(folder / "model").encode(), b"model").replace(str(folder / "rules").encode(), b"rules")
    assert json.loads(ranks[0].stdout)["tensors"][4]["status"] == "fail"
    assert ranks[1].stdout == "" and ranks[1].stderr == ""


def test_truncated_shard_is_an_error_on_every_rank(tmp_path: Path) -> None:
    """The data of one file ends early (its header is intact): the rank reading it reports the error in the
    results every rank gathers; the report is the single-process one and every rank exits 3."""
    folder = _checkpoint(tmp_path / "ckpt")
    shard = folder / "model-00003-of-00003.safetensors"
    shard.write_bytes(shard.read_bytes()[:-4000])
    single = _single(folder, tmp_path / "single.json")
    assert single.returncode == 3
    ranks = _ranks(3, ["verify", str(folder / "model.safetensors.index.json"), "--rules", str(folder / "rules.toml"),
                       "-f", "json", "-o", str(tmp_path / "dist.json")], [tmp_path] * 3)
    assert [r.returncode for r in ranks] == [3, 3, 3], [r.stderr for r in ranks]
    assert (tmp_path / "dist.json").read_bytes() == (tmp_path / "single.json").read_bytes()


def test_a_rank_that_cannot_read_its_file_stops_every_rank_with_exit_3(tmp_path: Path) -> None:
    """Rank 1 runs where the relative path does not exist (a node without the shared file system)."""
    folder = _checkpoint(tmp_path / "ckpt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ranks = _ranks(2, ["verify", "model.safetensors.index.json", "--nonlinearity", "relu", "-f", "json"],
                   [folder, elsewhere])
    assert [r.returncode for r in ranks] == [3, 3], [r.stderr for r in ranks]
    for r in ranks:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: rank 1 sees other inputs than rank 0"), r.stderr
        assert "model.safetensors.index.json" in lines[0] and r.stdout == ""


def test_a_rank_that_never_comes_is_a_one_line_timeout(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "ckpt")
    [rank0] = _ranks(2, ["verify", "model.safetensors.index.json", "--nonlinearity", "relu"], [folder],
                     timeout="3", start=0)
    assert rank0.returncode == 3
    lines = rank0.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not join the torch.distributed job at 127.0.0.1" in lines[0], rank0.stderr


def test_in_one_process_the_api_needs_no_process_group() -> None:
    """Without init_process_group: the same calls verify locally; names with glob characters are names."""
    from kaiming_cli.distributed import assert_init, verify_module
    from kaiming_cli.errors import UsageError

    net = jobs.model()
    result = verify_module(net, rules=jobs.rules())
    assert result.passed and result.tested == 6
    w = torch.nn.Linear(256, 128).weight
    assert assert_init(w, name="layers[0].weight", distribution="uniform", negative_slope=5 ** 0.5).status == "pass"
    with pytest.raises(AssertionError, match=r"layers\[0\]\.weight"):
        assert_init(w, name="layers[0].weight", nonlinearity="relu")
    with pytest.raises(UsageError, match="unknown spec option 'nonlinerity'"):
        verify_module(net, nonlinerity="relu")
