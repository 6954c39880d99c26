"""Verify the init of a model inside a ``torch.distributed`` job, before step 0 (docs/distributed.md).

    from kaiming_cli.distributed import verify_module, assert_init
    result = verify_module(model, rules="init.toml")          # on every rank, after init_process_group
    if dist.get_rank() == 0:
        print(result.summary())

The parameters may be DTensors (FSDP2, tensor parallelism: each rank holds a shard) or plain tensors
replicated on every rank. Each rank summarizes its own shard a chunk at a time, keeps the values at
the subsample positions that fall in it and feeds the structure and shape tests' collectors; only those
summaries, values and collector states are gathered, never a tensor.
Every rank gets the same result. The calls are collectives: every rank of the group must make them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .engine.distributed import World, current_world, gathered_scan, split_by_size
from .errors import UsageError
from .io.config import Config, Rule, load_rules_file
from .io.inputs import GlobCount
from .io.sources import TensorSource, no_open
from .runners.verify import TensorResult, VerifyResult, choose, fallback_rule, finalize, verify_source
from .stats.battery import DEFAULT_TESTS, KS_MAX_SAMPLES
from .stats.summary import Summary
from .theory.spec import SPEC_KEYS, SpecOptions, SpecOverrides

__all__ = ["verify_module", "verify_tensors", "assert_init", "diff_module"]


def _world(group: Any) -> World:
    """The group's ranks, or a world of one when torch.distributed is not initialized (plain single process)."""
    world = current_world(group)
    return world if world is not None else World(0, 1, group)


def _config(rules: str | os.PathLike[str] | Config | Iterable[Rule] | None) -> Config:
    if rules is None:
        return Config()
    if isinstance(rules, Config):
        return rules
    if isinstance(rules, (str, os.PathLike)):
        return load_rules_file(str(Path(rules)))
    return Config(rules=tuple(rules))


def _stub(name: str, tensor: Any, file: str) -> TensorSource:
    """A source carrying the tensor's global name, shape and dtype; its data comes from the shards, not open()."""
    from .engine.distributed import dtype_name

    return TensorSource(file, name, tuple(int(d) for d in tensor.shape), dtype_name(tensor, name), no_open,
                        forkable=False)


def verify_tensors(named: Iterable[tuple[str, Any]], *, rules: str | os.PathLike[str] | Config | Iterable[Rule]
                   | None = None, group: Any = None, alpha: float | None = None, correction: str | None = None,
                   seed: int = 0, tests: tuple[str, ...] = DEFAULT_TESTS, max_ks: int = KS_MAX_SAMPLES,
                   file: str = "<module>", **spec: Any) -> VerifyResult:
    """Verify ``(name, tensor)`` pairs (DTensors or replicated plain tensors) across ``group``'s ranks.

    ``rules``: a rules file, a ``Config`` or ``Rule``s, as ``kaiming verify --rules``; spec options given as
    keywords (``mode="fan_out"``, ``nonlinearity="relu"``) cover the tensors no rule matches, as on the
    command line. Every rank must pass the same names in the same order; every rank gets the same result.
    """
    _check_spec_keys(spec)
    world = _world(group)
    config = _config(rules)
    options = replace(SpecOptions(), **spec)
    explicit: SpecOverrides = {k: v for k, v in spec.items()}  # type: ignore[assignment]
    fallback = fallback_rule(config, explicit)
    run_alpha = alpha if alpha is not None else config.alpha if config.alpha is not None else 1e-3
    run_correction = correction or config.correction or "holm"
    pairs = list(named)
    sources = [_stub(name, tensor, file) for name, tensor in pairs]
    plain = [i for i, (_n, t) in enumerate(pairs) if not _is_dtensor(t)]
    owners = dict(zip(plain, split_by_size([sources[i].nbytes for i in plain], world.size), strict=True))
    results: list[TensorResult] = []
    for i, (_name, tensor) in enumerate(pairs):
        scanner = _gathering_scanner(world, tensor, owners.get(i) == world.rank)
        results.append(verify_source(sources[i], choose(sources[i], config, fallback), options, alpha=run_alpha,
                                     seed=seed, max_ks=max_ks, tests=tests, scanner=scanner))
    chosen = [choose(source, config, fallback) for source in sources]
    counts = tuple(GlobCount(rule.match, sum(c is rule for c in chosen), rule.origin) for rule in config.rules)
    return replace(finalize(results, run_alpha, run_correction), rules=counts)


def _check_spec_keys(spec: dict[str, Any]) -> None:
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise UsageError(f"unknown spec option {unknown[0]!r}; give any of {', '.join(SPEC_KEYS)}.")
    if spec.get("init") is not None:
        from .theory.calls import parse_init_call

        parse_init_call(spec["init"])  # a bad init call is the caller's ValueError, on every rank alike


def _is_dtensor(tensor: Any) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(tensor, DTensor)


def _gathering_scanner(world: World, tensor: Any, owner: bool) -> Callable[..., tuple[Summary, np.ndarray]]:
    def scan(source: TensorSource, *, seed: int, jobs: int, max_ks: int, progress: Any = None,
             structure: Any = None, cells: Any = None) -> tuple[Summary, np.ndarray]:
        # each rank feeds the collectors its block at the global positions; their states are merged in rank order
        return gathered_scan(world, tensor, source.name, owner, seed=seed, max_ks=max_ks, structure=structure,
                             cells=cells)

    return scan


def verify_module(model: Any, *, rules: str | os.PathLike[str] | Config | Iterable[Rule] | None = None,
                  group: Any = None, alpha: float | None = None, correction: str | None = None, seed: int = 0,
                  tests: tuple[str, ...] = DEFAULT_TESTS, **spec: Any) -> VerifyResult:
    """Verify every parameter of ``model`` (``named_parameters()``), sharded or not; see ``verify_tensors``."""
    return verify_tensors(model.named_parameters(), rules=rules, group=group, alpha=alpha, correction=correction,
                          seed=seed, tests=tests, file=type(model).__name__, **spec)


def assert_init(tensor: Any, *, name: str = "tensor", group: Any = None, alpha: float = 1e-3, seed: int = 0,
                constant: float | None = None, tests: tuple[str, ...] = DEFAULT_TESTS,
                **spec: Any) -> TensorResult:
    """Like ``kaiming_cli.assert_init`` for a DTensor (or a replicated tensor) in a job: raises
    ``AssertionError`` on every rank unless it passes. A collective: every rank of ``group`` must call it."""
    from .runners.tensor_report import tensor_report

    _check_spec_keys(spec)
    rule = Rule(match="*", constant=None if constant is None else float(constant), options=spec,  # type: ignore[arg-type]
                origin="assert_init")
    result = verify_tensors([(name, tensor)], rules=[rule], group=group, alpha=alpha, correction="none", seed=seed,
                            tests=tests).tensors[0]
    if result.status != "pass":
        raise AssertionError("kaiming: the tensor does not match its init\n" + tensor_report(result))
    return result


def _repeated_shards(parts: list[Any]) -> str | None:
    """Two ranks whose shards of one tensor hold the very same values (equal count, moments and extremes, values
    that vary): one seed on every rank, so every shard repeats the same block."""
    seen: dict[tuple[float, ...], int] = {}
    for rank, part in enumerate(parts):
        s = part.summary
        if s.n < 2 or s.m2 <= 0:
            continue
        key = (float(s.n), s.mean, s.m2, s.m3, s.min, s.max)
        if key in seen:
            return (f"ranks {seen[key]} and {rank} hold identical shards: the same values drawn on every rank "
                    "(one seed for all ranks)")
        seen[key] = rank
    return None


def _reference_sides(world: World, reference: Any, seed: int) -> dict[str, Any]:
    """Each reference tensor's ``Side`` on every rank: the rank that holds the reference (the lowest, if several
    do) summarizes it and the summaries travel (name, shape, dtype, summary, subsample, structure data), never a
    tensor. Every rank raises alike when no rank passed one."""
    from .engine.distributed import agree
    from .io.built import named_sources
    from .runners.diff import Side, scanned

    def summarize() -> list[tuple[Any, ...]] | None:
        if reference is None:
            return None
        sides = [scanned(source, seed, 1) for source in
                 named_sources(((n, t.detach()) for n, t in reference.named_parameters()), "reference")]
        return [(s.source.name, s.source.shape, s.source.dtype, s.summary, s.sample, s.structure) for s in sides]

    held = [table for table in agree(world, "summarizing the reference", summarize) if table is not None]
    if not held:
        raise UsageError("diff_module needs the reference model on at least one rank (pass None on the others).")
    return {name: Side(TensorSource("reference", name, tuple(shape), dtype, no_open, forkable=False), summary,
                       sample, structure) for name, shape, dtype, summary, sample, structure in held[0]}


def diff_module(model: Any, reference: Any, *, group: Any = None, alpha: float = 1e-3, seed: int = 0) -> Any:
    """``kaiming diff`` between ``reference`` (an unsharded build) and ``model`` (whose parameters may be DTensor
    shards): each rank summarizes its shards, only the summaries, subsample values and structure collectors are
    gathered. The reference may be built on one rank only: that rank passes it, the others pass None, and its
    summaries are sent to every rank. A tensor whose shards repeat the same values on two ranks ``differ``s,
    whatever its marginal law. A collective: every rank calls it; every rank gets the same ``DiffResult``."""
    from .engine.distributed import agree, combine, dtype_name, locate, summarize_part
    from .engine.sources import structure_collector
    from .runners.diff import Side, run_diff

    world = _world(group)
    reference_sides = _reference_sides(world, reference, seed)
    pairs = list(model.named_parameters())
    stubs = [_stub(name, tensor, type(model).__name__) for name, tensor in pairs]
    plain = [i for i, (_n, t) in enumerate(pairs) if not _is_dtensor(t)]
    owners = dict(zip(plain, split_by_size([stubs[i].nbytes for i in plain], world.size), strict=True))
    index = {name: i for i, (name, _t) in enumerate(pairs)}
    repeated: dict[str, str] = {}

    def scan_b(source: TensorSource) -> Side:
        i = index[source.name]
        tensor = pairs[i][1]
        collector = structure_collector(source, "torch", seed)  # made alike on every rank, merged in rank order
        parts = agree(world, f"gathering {source.name}", lambda: summarize_part(
            locate(tensor, source.name, owners.get(i) == world.rank), seed, source.name, KS_MAX_SAMPLES, collector))
        why = _repeated_shards(list(parts)) if _is_dtensor(tensor) else None
        if why:
            repeated[source.name] = why
        summary, sample = combine(parts, dtype_name(tensor, source.name), seed, source.name)
        if collector is not None:
            collector.load([p.structure for p in parts if p.structure is not None])
        return Side(source, summary, sample, collector.data() if collector is not None else None)

    ref = [side.source for side in reference_sides.values()]
    result = run_diff(ref, stubs, alpha=alpha, seed=seed, scan_a=lambda source: reference_sides[source.name],
                      scan_b=scan_b, label_a="reference", label_b=type(model).__name__)
    return replace(result, pairs=[replace(p, status="differ", reason=repeated[p.name])
                                  if p.name in repeated and _only_repeats(p) else p for p in result.pairs])


def _only_repeats(pair: Any) -> bool:
    """A pair that passed, or whose only mark of uninitialized memory is its repeated values: identical shards
    name the cause (one seed on every rank) more precisely."""
    from .stats.uninitialized import REPEATED

    # the reasons read "A: ...; B: ...": one starting with B's is B's mark alone (one mark per side)
    return bool(pair.status == "same" or (pair.status == "uninitialized" and pair.reason.startswith("B: ")
                                          and REPEATED in pair.reason))
