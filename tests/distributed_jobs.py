"""The bodies of the in-job tests, run in each process of a gloo group on 127.0.0.1 (tests/test_distributed.py).

A module of its own so that ``torch.multiprocessing.spawn`` can import the functions in its children.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

RULES = [{"match": "0.weight", "nonlinearity": "relu"}, {"match": "2.weight", "nonlinearity": "relu"},
         {"match": "4.weight", "nonlinearity": "linear", "distribution": "uniform"},
         {"match": "*.bias", "constant": 0.0}]


def free_port() -> int:
    """A port the kernel says is free on the loopback address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def model() -> torch.nn.Sequential:
    """The same model on every process: three layers with kaiming inits, one of them larger than the 1e5
    subsample (so shards hold only some subsample positions) and one in bf16 (dequantized per position)."""
    torch.manual_seed(1234)
    net = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.ReLU(), torch.nn.Linear(96, 1100),
                              torch.nn.ReLU(), torch.nn.Linear(1100, 40, dtype=torch.bfloat16))
    with torch.no_grad():
        for i in (0, 2):
            torch.nn.init.kaiming_normal_(net[i].weight, nonlinearity="relu")
        torch.nn.init.kaiming_uniform_(net[4].weight, nonlinearity="linear")
        for i in (0, 2, 4):
            net[i].bias.zero_()
    return net


def rules() -> Any:
    from kaiming_cli.io.config import parse_rule

    return [parse_rule(r, f"rule {i + 1}") for i, r in enumerate(RULES)]


def _join(rank: int, size: int, port: int, seconds: float = 120.0) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=size, timeout=timedelta(seconds=seconds))


def sharded(rank: int, size: int, port: int, out: str, wrong: str) -> None:
    """Shard the model (row, column, row; ``2.bias`` stays a plain replicated tensor) and verify it, also with
    ``assert_init``; then spoil the last rank's shard of ``wrong`` (x3) and verify again. Each rank writes what
    it got."""
    from torch.distributed.tensor import Shard, distribute_tensor, init_device_mesh

    from kaiming_cli.distributed import assert_init, verify_module

    _join(rank, size, port)
    try:
        mesh = init_device_mesh("cpu", (size,))
        net = model()
        placements = {"0.weight": Shard(0), "2.weight": Shard(1), "4.weight": Shard(0), "0.bias": Shard(0)}
        for name, param in list(net.named_parameters()):
            if name == "2.bias":
                continue
            module, attr = net[int(name.split(".")[0])], name.split(".")[1]
            dt = distribute_tensor(param.detach(), mesh, [placements.get(name, Shard(0))])
            setattr(module, attr, torch.nn.Parameter(dt, requires_grad=False))
        clean = verify_module(net, rules=rules())
        params = dict(net.named_parameters())
        asserted = assert_init(params[wrong], name=wrong, nonlinearity="relu").status
        if rank == size - 1:
            with torch.no_grad():
                params[wrong].to_local().mul_(3.0)
        spoiled = verify_module(net, rules=rules())
        try:
            assert_init(params[wrong], name=wrong, nonlinearity="relu")
            raised = ""
        except AssertionError as exc:
            raised = str(exc)
        Path(out, f"rank{rank}.json").write_text(json.dumps({"clean": clean.to_dict(), "spoiled": spoiled.to_dict(),
                                                             "asserted": asserted, "raised": raised}))
        dist.barrier()  # every rank has written its file
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    # Tearing down a gloo group with a device mesh sometimes aborts in a destructor ("terminate called without an
    # active exception", about 1 run in 30 here): that is torch's exit, not what the test checks, so leave without
    # running destructors once every rank has written its result.
    os._exit(0)


def stalled_peer(rank: int, size: int, port: int, out: str) -> None:
    """Rank 0 verifies; rank 1 never takes part, until rank 0 has reported its error (a hang guard only)."""
    from kaiming_cli.distributed import verify_module
    from kaiming_cli.errors import KaimingError

    _join(rank, size, port)  # joining has the long default: on a loaded machine it must not race the timeout
    group = dist.new_group(timeout=timedelta(seconds=3.0))  # both ranks make it; then rank 1 stalls
    marker = Path(out, "rank0.txt")
    if rank == 0:
        try:
            verify_module(model(), rules=rules(), group=group)
            marker.write_text("no error")
        except KaimingError as exc:
            marker.write_text(f"{type(exc).__name__}\n{exc}")
    else:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    # the group is broken on rank 0: tearing it down (destroy, or the interpreter's exit) can abort inside gloo,
    # which would fail the spawn for a reason the test is not about; leave without running any destructor
    os._exit(0)


#: The tensors of ``structured``: name -> (maker, shape, dtype, sharded dim or None for a plain replicated tensor).
#: float64 where the row and column sums are compared to 1e-9 (float32 sums are float32 einsums, good to ~1e-6).
STRUCTURED = {"rows.weight": ("kaiming", (192, 160), "float64", 0),
              "cols.weight": ("kaiming", (192, 160), "float64", 1),
              "plain.weight": ("kaiming", (96, 80), "float32", None),
              "sorted.weight": ("rows_sorted", (192, 160), "float32", 1),
              "rank8.weight": ("rank8", (192, 160), "float32", 0),
              "big.weight": ("kaiming", (1100, 2000), "float32", 1),
              "half.weight": ("kaiming", (192, 160), "bfloat16", 1)}


def structured_tensors() -> dict[str, torch.Tensor]:
    """The unsharded tensors of ``structured``, the same on every process: kaiming_normal_(relu) draws, and two
    structured alternatives of the same law (tests/alternatives.py) that only the structure tests can see."""
    import math

    import numpy as np

    from tests import alternatives

    out = {}
    for i, (name, (maker, shape, dtype, _dim)) in enumerate(STRUCTURED.items()):
        if maker == "kaiming":
            t = torch.empty(shape)
            torch.nn.init.kaiming_normal_(t, nonlinearity="relu", generator=torch.Generator().manual_seed(100 + i))
            t = t.to(getattr(torch, dtype))
        else:
            make = getattr(alternatives, maker)
            t = torch.from_numpy(make(np.random.default_rng(100 + i), shape, math.sqrt(2.0 / shape[1])))
        out[name] = t
    return out


def structured(rank: int, size: int, port: int, out: str) -> None:
    """Shard the ``STRUCTURED`` tensors along their dim (plain ones stay replicated) and verify them with
    ``nonlinearity="relu"``; each rank writes what it got."""
    from torch.distributed.tensor import Shard, distribute_tensor, init_device_mesh

    from kaiming_cli.distributed import verify_tensors

    _join(rank, size, port)
    try:
        mesh = init_device_mesh("cpu", (size,))
        pairs = []
        for name, t in structured_tensors().items():
            dim = STRUCTURED[name][3]
            pairs.append((name, t if dim is None else distribute_tensor(t, mesh, [Shard(dim)])))
        result = verify_tensors(pairs, nonlinearity="relu")
        Path(out, f"rank{rank}.json").write_text(json.dumps(result.to_dict()))
        dist.barrier()
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)  # as in ``sharded``: no destructors once every rank has written its result


def diff_shards(rank: int, size: int, port: int, out: str) -> None:
    """``diff_module`` of a row-sharded Linear against an unsharded reference of another seed: shards cut from one
    correct draw (the same law: same), then shards each rank draws under the same seed (every shard the same
    block: differ, although each shard alone follows the law)."""
    from torch.distributed.tensor import DTensor, Shard, distribute_tensor, init_device_mesh

    from kaiming_cli.distributed import diff_module

    _join(rank, size, port)
    try:
        mesh = init_device_mesh("cpu", (size,))

        def build(seed: int) -> torch.nn.Linear:
            torch.manual_seed(seed)
            net = torch.nn.Linear(256, 512, bias=False)
            torch.nn.init.kaiming_normal_(net.weight, nonlinearity="relu")
            return net

        reference = build(1)
        net = build(2)
        net.weight = torch.nn.Parameter(distribute_tensor(net.weight.detach(), mesh, [Shard(0)]), requires_grad=False)
        good = diff_module(net, reference)
        torch.manual_seed(0)  # the mistake: one seed on every rank
        local = torch.empty(512 // size, 256)
        torch.nn.init.kaiming_normal_(local, nonlinearity="relu")  # fan_in 256, as the whole weight's
        net.weight = torch.nn.Parameter(DTensor.from_local(local, mesh, [Shard(0)]), requires_grad=False)
        bad = diff_module(net, reference)
        # the reference built on rank 0 only (None elsewhere): its summaries travel to every rank
        net.weight = torch.nn.Parameter(distribute_tensor(build(2).weight.detach(), mesh, [Shard(0)]),
                                        requires_grad=False)
        one_rank = diff_module(net, build(1) if rank == 0 else None)
        Path(out, f"rank{rank}.json").write_text(json.dumps({"good": good.to_dict(), "bad": bad.to_dict(),
                                                             "one_rank": one_rank.to_dict()}))
        dist.barrier()
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)
