"""Verification spread over the ranks of a ``torch.distributed`` job (docs/distributed.md).

Two uses, one rule: no full tensor ever crosses the network, only mergeable summaries and the seeded
subsample. Over files (``torchrun ... -m kaiming_cli verify``) every tensor is read whole by one rank,
chosen by size, and the per-tensor results are gathered, so the report equals a single-process run byte
for byte. Inside a job (``kaiming_cli.distributed.verify_module``) every rank summarizes its local shard
of each DTensor and picks the global subsample positions that fall in it; the parts are gathered and
merged in rank order, so the subsample (and with it the KS test, extremes and histogram) equals the
unsharded tensor's and the moments differ only by float summation order. The structure and shape
collectors are fed each shard's values at their global positions and their states merged the same way.

Every collective here is guarded: a rank that fails sends its one-line error instead of its data, and
every rank raises that error, so no rank waits for a peer that has given up. A peer that dies or hangs
ends in the collective timeout, reported in one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import reduce
from typing import Any, TypeVar

import numpy as np

from ..errors import ExitCode, InputError, KaimingError
from ..io.sources import TORCH_DTYPES, TensorSource
from ..stats.shape import CellCounter
from ..stats.structure import StructureCollector, StructureShare
from ..stats.summary import EMPTY, Summary, merge, summarize
from .launch import LAUNCH_VARIABLES, launched  # noqa: F401  # re-exported: the job's entry points
from .parallel import Progress, default_jobs, map_sources
from .sources import dequantizer, tensor_seed
from .stream import CHUNK, chunk_bounds, subsample_positions

#: Seconds a collective (and the rendezvous) may wait for the other ranks before the run fails in one line.
DEFAULT_TIMEOUT = 600.0

T = TypeVar("T")
R = TypeVar("R")


class RankError(InputError):
    """An error raised on one rank, raised again on every rank with the same exit code."""

    def __init__(self, message: str, exit_code: int = ExitCode.INPUT) -> None:
        super().__init__(message)
        self.exit_code = ExitCode(exit_code)


class CollectiveError(KaimingError):
    """A collective that failed: a peer died, or did not answer within the timeout."""

    exit_code = ExitCode.INPUT


@dataclass(frozen=True)
class World:
    """This process's place in a process group: its rank, the group size, and the group (None: the default)."""

    rank: int
    size: int
    group: Any = None


# --------------------------------------------------------------------------- joining a job

def timeout_seconds(environ: Mapping[str, str]) -> float:
    """``KAIMING_DIST_TIMEOUT`` (seconds), else ``DEFAULT_TIMEOUT``; a bad value is a one-line usage error."""
    text = environ.get("KAIMING_DIST_TIMEOUT")
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e7:
        raise RankError(f"KAIMING_DIST_TIMEOUT={text!r} is not a number of seconds; give e.g. 600.",
                        ExitCode.USAGE)
    return value


@contextmanager
def joined(environ: Mapping[str, str]) -> Iterator[World]:
    """Join the job ``torchrun`` describes (gloo: the work is on the CPU), and leave it on the way out.

    A normal exit (or an error that every rank raised together) waits at a barrier first, so that
    ``torchrun`` does not stop a rank that is still writing; a failed collective skips it (the peers
    are gone or stuck, and waiting again would only double the timeout).
    """
    from datetime import timedelta

    try:
        import torch.distributed as dist
    except ImportError:
        from ..about import install_hint

        raise RankError("running under torchrun (RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT are set) needs "
                        f"PyTorch, which is not installed; {install_hint('torch')}, or set KAIMING_DISTRIBUTED=0."
                        ) from None
    seconds = timeout_seconds(environ)
    size = int(environ["WORLD_SIZE"])
    where = f"{environ['MASTER_ADDR']}:{environ['MASTER_PORT']}"
    try:
        dist.init_process_group("gloo", init_method="env://", timeout=timedelta(seconds=seconds))
    except (RuntimeError, ValueError) as exc:
        raise RankError(f"could not join the torch.distributed job at {where} ({size} ranks) within {seconds:g} s: "
                        f"{first_line(exc)}; check that every rank was started and MASTER_ADDR/MASTER_PORT "
                        "(or raise KAIMING_DIST_TIMEOUT).") from None
    world = World(dist.get_rank(), dist.get_world_size())
    healthy = False
    try:
        yield world
        healthy = True
    except KaimingError as exc:
        healthy = not isinstance(exc, CollectiveError)  # raised together: the peers reach the barrier too
        raise
    finally:
        try:
            if healthy:
                collective(world, "the final barrier", lambda: dist.barrier())
        finally:
            dist.destroy_process_group()


def current_world(group: Any = None) -> World | None:
    """The caller's process group (None: torch.distributed is not initialized, a single process)."""
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        return None
    return World(dist.get_rank(group), dist.get_world_size(group), group)


def local_world_size(environ: Mapping[str, str]) -> int:
    """Ranks on this node (``LOCAL_WORLD_SIZE`` from torchrun): they share its cores."""
    try:
        return max(1, int(environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


# --------------------------------------------------------------------------- guarded collectives

def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's text (gloo's errors span many)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else 'no message'}"


def collective(world: World, what: str, call: Callable[[], T]) -> T:
    """Run one collective; a timeout or a vanished peer becomes a one-line ``RankError``."""
    try:
        return call()
    except RuntimeError as exc:  # DistBackendError and gloo's timeouts are RuntimeErrors
        raise CollectiveError(f"rank {world.rank}: {what} across {world.size} ranks failed ({first_line(exc)}); "
                              "another rank died or is stuck: see its own error, or raise KAIMING_DIST_TIMEOUT "
                              "if the ranks are only slow.") from None


def all_gather(world: World, what: str, obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank (pickled by torch: peers of one job trust each other)."""
    if world.size == 1:  # nothing to exchange (and torch.distributed may not even be initialized)
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * world.size
    collective(world, what, lambda: dist.all_gather_object(out, obj, group=world.group))
    return out


def agree(world: World, what: str, work: Callable[[], T], key: Callable[[T], Any] | None = None) -> list[Any]:
    """Run ``work`` on every rank and gather ``key(result)`` (the result itself by default).

    If any rank raised, every rank raises the first such error (its exit code kept, its rank named):
    a rank never waits in a collective for a peer that has failed.
    """
    try:
        local = work()
        outcome: tuple[str, Any, Any] = ("ok", key(local) if key else local, None)
    except KaimingError as exc:
        outcome = ("error", int(exc.exit_code), str(exc))
    except MemoryError:
        outcome = ("error", int(ExitCode.INPUT), "out of memory")
    except Exception as exc:  # a bug on that rank: exit 4 everywhere, one line
        outcome = ("error", int(ExitCode.INTERNAL), f"internal error (a bug in kaiming): {first_line(exc)}")
    gathered = all_gather(world, what, outcome)
    for rank, (state, value, message) in enumerate(gathered):
        if state != "ok":
            prefix = "" if world.size == 1 or message.startswith("rank ") else f"rank {rank}: "
            raise RankError(prefix + message, value)
    return [value for _state, value, _message in gathered]


# --------------------------------------------------------------------------- over files

def split_by_size(sizes: Sequence[int], ranks: int) -> list[int]:
    """The rank of each item: largest first to the least loaded rank (ties to the lower rank).

    Deterministic from the sizes alone, so every rank computes the same plan without talking.
    """
    loads = [0] * ranks
    owners = [0] * len(sizes)
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        rank = min(range(ranks), key=lambda r: (loads[r], r))
        owners[i] = rank
        loads[rank] += max(1, sizes[i])
    return owners


def share_sources(world: World, fn: Callable[[TensorSource, int, Progress | None], R],
                  sources: Sequence[TensorSource], jobs: int | None = None,
                  progress: Progress | None = None) -> list[R]:
    """``[fn(source, ...) for source in sources]`` with each source done whole by one rank, on every rank.

    The ranks of one node share its cores: each uses its share of them unless ``jobs`` is given.
    """
    owners = split_by_size([s.nbytes for s in sources], world.size)
    mine = [i for i, owner in enumerate(owners) if owner == world.rank]
    jobs = jobs or max(1, default_jobs() // local_world_size(os.environ))

    def work() -> list[tuple[int, R]]:
        return list(zip(mine, map_sources(fn, [sources[i] for i in mine], jobs, progress), strict=True))

    results: list[R | None] = [None] * len(sources)
    for part in agree(world, "gathering the results", work):
        for index, result in part:
            results[index] = result
    assert all(r is not None for r in results), "a tensor was assigned to no rank"
    return results  # type: ignore[return-value]


def agree_on_inputs(world: World, describe: Callable[[], Any], name: Callable[[Any], str]) -> None:
    """Raise on every rank unless all ranks describe the same inputs (a shared file system is required).

    ``name(description)`` says what a rank saw, for the message naming the first rank that differs.
    """
    seen = agree(world, "comparing the inputs", describe)
    for rank, description in enumerate(seen):
        if description != seen[0]:
            raise RankError(f"rank {rank} sees other inputs than rank 0 ({name(description)} against "
                            f"{name(seen[0])}); every rank must see the same files: use a shared file system.")


# --------------------------------------------------------------------------- inside a job: tensor shards

@dataclass(frozen=True)
class Part:
    """One rank's share of a tensor: the summary of its elements and its values at the subsample positions."""

    summary: Summary
    positions: np.ndarray
    """Global flat positions (row-major in the full tensor), sorted."""
    values: np.ndarray
    """float64 values at those positions, before dequantization."""
    structure: StructureShare | None = None
    """What the structure collector saw of this rank's block (row and column sums, submatrix entries)."""
    cells: tuple[int, np.ndarray, np.ndarray] | None = None
    """What the cell counter counted of it (``CellCounter.share``)."""


NO_PART = Part(EMPTY, np.empty(0, np.int64), np.empty(0))


@dataclass(frozen=True)
class Shard:
    """Where this rank's local block sits in the full tensor (None: the rank contributes nothing)."""

    shape: tuple[int, ...]
    dtype: str
    local: Any
    offset: tuple[int, ...]


def dtype_name(tensor: Any, name: str) -> str:
    dtype = TORCH_DTYPES.get(str(tensor.dtype).replace("torch.", ""))
    if dtype is None:
        raise InputError(f"{name}: dtype {tensor.dtype} is not supported: give a real floating-point or integer "
                         "tensor.")
    return dtype


def locate(tensor: Any, name: str, owner: bool) -> Shard:
    """This rank's block of ``tensor``: a DTensor's local shard (one replica only), or the whole of a plain
    tensor on its owner rank (plain tensors are taken as replicated: every rank holds the same values)."""
    from torch.distributed.tensor import DTensor, Partial, Replicate

    shape = tuple(int(d) for d in tensor.shape)
    dtype = dtype_name(tensor, name)
    if not isinstance(tensor, DTensor):
        return Shard(shape, dtype, tensor if owner else None, (0,) * len(shape))
    placements = tuple(tensor.placements)
    if any(isinstance(p, Partial) for p in placements):
        raise InputError(f"{name}: a DTensor with a Partial placement holds partial sums, not weights; "
                         "redistribute it to Shard or Replicate first.")
    coordinate = tensor.device_mesh.get_coordinate()
    if coordinate is None or any(c != 0 for c, p in zip(coordinate, placements, strict=True)
                                 if isinstance(p, Replicate)):
        return Shard(shape, dtype, None, (0,) * len(shape))  # outside the mesh, or a replica of another rank
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    local_shape, offset = compute_local_shape_and_global_offset(shape, tensor.device_mesh, placements)
    local = tensor.to_local()
    if tuple(local.shape) != tuple(local_shape):
        raise InputError(f"{name}: the local shard has shape {tuple(local.shape)} where its placements imply "
                         f"{tuple(local_shape)}; kaiming reads evenly laid out DTensors only.")
    return Shard(shape, dtype, local, tuple(int(o) for o in offset))


def chunk_reader(local: Any) -> Callable[[int, int], np.ndarray]:
    """Elements ``start:stop`` of a torch tensor as numpy, one chunk at a time (a GPU shard is copied to the
    CPU a chunk at a time); bf16/fp16 become float32, as the file readers decode them."""
    import torch

    flat = local.detach().reshape(-1)

    def read(start: int, stop: int) -> np.ndarray:
        chunk = flat[start:stop].to("cpu")
        if chunk.dtype in (torch.bfloat16, torch.float16):
            chunk = chunk.float()
        values: np.ndarray = chunk.numpy()
        return values

    return read


def sample_in_block(positions: np.ndarray | None, shard: Shard, local_shape: tuple[int, ...]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(global positions, local flat positions) of the subsample positions inside this rank's block.

    A block of a row-major tensor, walked row-major, meets its global positions in increasing order, so
    both arrays come out sorted. ``None`` (the whole tensor is the subsample) happens only for tensors of
    at most ``KS_MAX_SAMPLES`` elements, so listing every element stays small.
    """
    n_local = int(np.prod(local_shape, dtype=np.int64))
    if not local_shape:  # a 0-d tensor: one element, at position 0, on its owner
        return np.zeros(1, np.int64), np.zeros(1, np.int64)
    if positions is None:
        local_index = np.arange(n_local, dtype=np.int64)
        coords = np.unravel_index(local_index, local_shape)
        global_pos = np.ravel_multi_index(tuple(c + o for c, o in zip(coords, shard.offset, strict=True)),
                                          shard.shape)
        return np.asarray(global_pos, dtype=np.int64), local_index
    coords, inside = _inside(positions, shard, local_shape)
    local_coords = tuple(c[inside] - o for c, o in zip(coords, shard.offset, strict=True))
    local = np.ravel_multi_index(local_coords, local_shape)
    return positions[inside], np.asarray(local, dtype=np.int64)


def _inside(positions: np.ndarray, shard: Shard, local_shape: tuple[int, ...]
            ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The coordinates of global flat ``positions`` in the full tensor, and which of them lie in the block."""
    coords = np.unravel_index(positions, shard.shape)
    inside = np.ones(positions.size, dtype=bool)
    for c, o, size in zip(coords, shard.offset, local_shape, strict=True):
        inside &= (c >= o) & (c < o + size)
    return coords, inside


@dataclass(frozen=True)
class Runs:
    """The block as contiguous runs of the full tensor's flat order: run i holds local flat elements
    ``i*length ... (i+1)*length - 1``. The dimensions after the last one the block cuts are whole, so each
    run is one range of global positions; a block cut along dim 0 only (FSDP2's ``Shard(0)``) is one run."""

    length: int
    cut: int
    """The last dimension the block does not hold whole (-1: the block is the whole tensor)."""
    shard: Shard
    local_shape: tuple[int, ...]

    def starts(self, first: int, stop: int) -> np.ndarray:
        """Global flat start of runs ``first ... stop - 1``."""
        k, shape = self.cut, self.shard.shape
        if k < 0:
            return np.zeros(stop - first, dtype=np.int64)
        inner = int(np.prod(shape[k:], dtype=np.int64))
        base = self.shard.offset[k] * int(np.prod(shape[k + 1:], dtype=np.int64))
        if k == 0:
            return np.full(stop - first, base, dtype=np.int64)
        return global_index(np.arange(first, stop, dtype=np.int64), self.local_shape[:k], self.shard.offset[:k],
                            shape[:k]) * inner + base

    def pieces(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(global start, length) of the pieces of runs that local flat elements ``start:stop`` hold, in order."""
        if stop <= start:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        first, last = start // self.length, (stop - 1) // self.length + 1
        run_start = np.arange(first, last, dtype=np.int64) * self.length
        lo = np.maximum(run_start, start)
        hi = np.minimum(run_start + self.length, stop)
        return self.starts(first, last) + lo - run_start, hi - lo


def global_index(local: np.ndarray, local_shape: tuple[int, ...], offset: tuple[int, ...],
                 shape: tuple[int, ...]) -> np.ndarray:
    """Flat indices over ``shape`` of flat indices ``local`` over the block ``local_shape`` placed at ``offset``."""
    if not shape:
        return np.zeros(local.size, dtype=np.int64)
    coords = np.unravel_index(local, local_shape)
    return np.asarray(np.ravel_multi_index(tuple(c + o for c, o in zip(coords, offset, strict=True)), shape),
                      dtype=np.int64)


def block_runs(shard: Shard, local_shape: tuple[int, ...]) -> Runs:
    k = len(local_shape) - 1
    while k >= 0 and local_shape[k] == shard.shape[k]:
        k -= 1
    length = int(np.prod(local_shape[max(k, 0):], dtype=np.int64))
    return Runs(max(length, 1), k, shard, local_shape)


class Feeder:
    """Feeds a rank's block, chunk by chunk, to the collectors at the global positions of its values, as the
    single-process scan feeds each chunk at its offset; memory: the chunk and one row of column indices.

    The cell counter takes a chunk at once (with its runs' positions, for the seeded chunks it counts). The
    structure collector sees the outer x inner matrix: the block holds the same inner columns (``cols``) of
    each outer row it touches, so a chunk's whole local rows go in one ``partial_rows`` call, and only the two
    row pieces cut by the chunk's ends go run by run through ``partial``.
    """

    def __init__(self, shard: Shard, local_shape: tuple[int, ...], structure: StructureCollector | None,
                 cells: CellCounter | None) -> None:
        self.runs = block_runs(shard, local_shape)
        self.structure, self.cells = structure, cells
        self.shard, self.local_shape = shard, local_shape
        self.split = 0 if structure is None else 1 if structure.rows_outer else len(local_shape) - 1
        self.row_length = int(np.prod(local_shape[self.split:], dtype=np.int64))
        self.cols = np.empty(0, np.int64) if structure is None else global_index(
            np.arange(self.row_length, dtype=np.int64), local_shape[self.split:], shard.offset[self.split:],
            shard.shape[self.split:])

    def __call__(self, start: int, values: np.ndarray) -> None:
        stop = start + values.size
        if self.cells is not None and values.size:
            self.cells.add(self.cells.partial_runs(*self.runs.pieces(start, stop), values))
        if self.structure is None or values.size == 0:
            return
        length = self.row_length
        first, last = -(-start // length), stop // length  # the whole local rows in the chunk
        if first >= last:
            self._by_runs(start, values)
            return
        self._by_runs(start, values[:first * length - start])
        rows = global_index(np.arange(first, last, dtype=np.int64), self.local_shape[:self.split],
                            self.shard.offset[:self.split], self.shard.shape[:self.split])
        block = values[first * length - start:last * length - start].reshape(last - first, length)
        self.structure.add(self.structure.partial_rows(rows, self.cols, block))
        self._by_runs(last * length, values[last * length - start:])

    def structure_share(self) -> StructureShare:
        """The collector's state after this rank's pass: the submatrix entries inside the block, and the elements
        of each stored row the block holds (``row_length``, the same for every row it touches: the block is a
        product of ranges)."""
        assert self.structure is not None
        positions = self.structure.matrix_positions()
        entries = None if positions is None else np.flatnonzero(_inside(positions, self.shard, self.local_shape)[1])
        return self.structure.share(entries, self.row_length)

    def _by_runs(self, start: int, values: np.ndarray) -> None:
        assert self.structure is not None
        offset = 0
        for global_start, length in zip(*(a.tolist() for a in self.runs.pieces(start, start + values.size)),
                                        strict=True):
            self.structure.add(self.structure.partial(global_start, values[offset:offset + length]))
            offset += length


def summarize_part(shard: Shard, seed: int, name: str, max_ks: int, structure: StructureCollector | None = None,
                   cells: CellCounter | None = None) -> Part:
    """This rank's ``Part`` of one tensor: a chunked pass over its block, memory one chunk plus its share of
    the subsample. The collectors (fresh ones, made alike on every rank) are fed the block's values at their
    global positions; their states travel in the part."""
    if shard.local is None:
        return NO_PART
    local_shape = tuple(int(d) for d in shard.local.shape)
    n_local = int(np.prod(local_shape, dtype=np.int64))
    if n_local == 0:
        return NO_PART
    sub_seed, _jitter = tensor_seed(seed, name).spawn(2)
    n = int(np.prod(shard.shape, dtype=np.int64))
    global_pos, local_pos = sample_in_block(subsample_positions(n, max_ks, sub_seed), shard, local_shape)
    read = chunk_reader(shard.local)
    feed = Feeder(shard, local_shape, structure, cells)
    total, picked = EMPTY, []
    for start, stop in chunk_bounds(n_local, CHUNK):
        values = read(start, stop)
        total = merge(total, summarize(values))
        lo, hi = np.searchsorted(local_pos, (start, stop))
        picked.append(values[local_pos[lo:hi] - start].astype(np.float64))
        feed(start, values)
    return Part(total, global_pos, np.concatenate(picked) if picked else np.empty(0),
                None if structure is None else feed.structure_share(),
                None if cells is None else cells.share())


def combine(parts: Sequence[Part], dtype: str, seed: int, name: str) -> tuple[Summary, np.ndarray]:
    """The summary and subsample of the whole tensor from every rank's part, as ``scan_source`` makes them:
    summaries merged in rank order, values in global position order, then dequantized, non-finite dropped."""
    summary = reduce(merge, (p.summary for p in parts), EMPTY)
    positions = np.concatenate([p.positions for p in parts])
    values = np.concatenate([p.values for p in parts])
    sample = values[np.argsort(positions, kind="stable")]
    _sub, jitter_seed = tensor_seed(seed, name).spawn(2)
    transform = dequantizer(dtype, jitter_seed)
    if transform is not None:
        sample = transform(sample)
    return summary, sample[np.isfinite(sample)]


def gathered_scan(world: World, tensor: Any, name: str, owner: bool, *, seed: int, max_ks: int,
                  structure: StructureCollector | None = None, cells: CellCounter | None = None
                  ) -> tuple[Summary, np.ndarray]:
    """Every rank's part of one tensor, gathered and combined on every rank (a collective: call it on all).

    ``owner``: this rank summarizes the tensor if it is a plain (replicated) one. ``structure`` and ``cells``
    (made alike on every rank) end holding the merge of every rank's share, in rank order: what a single
    process's scan of the whole tensor leaves in them, up to float summation order.
    """
    parts = agree(world, f"gathering {name}",
                  lambda: summarize_part(locate(tensor, name, owner), seed, name, max_ks, structure, cells))
    if structure is not None:
        structure.load([p.structure for p in parts if p.structure is not None])
    if cells is not None:
        cells.load([p.cells for p in parts if p.cells is not None])
    return combine(parts, dtype_name(tensor, name), seed, name)
