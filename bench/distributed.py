"""Time per GB of `kaiming verify` over a sharded safetensors checkpoint: one process, and torchrun with 1 and 2
ranks (gloo on 127.0.0.1), for docs/distributed.md.

The checkpoint (float32, kaiming-normal, in shards of 4 tensors) is written once to bench/out/dist-ckpt and read
from the page cache (the first, cold read is not timed). Each run is a fresh process; the median of --repeats
runs is reported, with the JSON of every distributed run checked byte for byte against the single-process one.

    python bench/distributed.py               # 1 GiB checkpoint, 5 repeats
    python bench/distributed.py --gib 3 --repeats 3   # the figure of docs/distributed.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PY = sys.executable
TENSOR = (4096, 4096)  # 64 MiB of float32


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_checkpoint(folder: Path, gib: float, shape: tuple[int, int] = TENSOR) -> int:
    """Shards of four tensors (kaiming normal, relu, fan_in; 64 MiB each by default) and their index; returns
    the bytes."""
    from safetensors.numpy import save_file

    count = max(1, round(gib * 1024**3 / (4 * shape[0] * shape[1])))
    index = folder / "model.safetensors.index.json"
    if index.exists() and len(json.loads(index.read_text())["weight_map"]) == count:
        return count * shape[0] * shape[1] * 4
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    std = np.float32(np.sqrt(2 / shape[1]))
    weight_map = {}
    shards = [list(range(i, min(count, i + 4))) for i in range(0, count, 4)]
    for s, members in enumerate(shards):
        file = f"model-{s + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({f"layer{i}.weight": rng.standard_normal(shape, dtype=np.float32) * std for i in members},
                  str(folder / file))
        weight_map.update({f"layer{i}.weight": file for i in members})
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return count * shape[0] * shape[1] * 4


def command(kind: str, index: Path, out: Path) -> list[str]:
    verify = ["verify", str(index), "--nonlinearity", "relu", "--no-config", "-f", "json", "-o", str(out)]
    if kind == "1 process, --jobs 1":
        return [PY, "-m", "kaiming_cli", *verify, "--jobs", "1"]
    if kind == "1 process, --jobs 2":
        return [PY, "-m", "kaiming_cli", *verify, "--jobs", "2"]
    ranks = kind.split()[2]
    return [PY, "-m", "torch.distributed.run", "--nproc-per-node", ranks, "--master-addr", "127.0.0.1",
            "--master-port", str(free_port()), "-m", "kaiming_cli", *verify]


KINDS = ["1 process, --jobs 1", "1 process, --jobs 2", "torchrun, nproc 1", "torchrun, nproc 2"]


def median_time(kind: str, index: Path, repeats: int, env: dict[str, str], reference: bytes) -> float:
    """Median wall time of ``repeats`` fresh runs, each report checked against the single-process one."""
    times = []
    for r in range(repeats):
        out = OUT / f"dist-{r}.json"
        start = time.perf_counter()
        subprocess.run(command(kind, index, out), env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        assert out.read_bytes() == reference, f"{kind}: the JSON differs from the single-process run"
    return statistics.median(times)


def reference_json(index: Path, env: dict[str, str]) -> bytes:
    subprocess.run(command(KINDS[0], index, OUT / "warm.json"), env=env, check=True, capture_output=True)
    return (OUT / "warm.json").read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="checkpoint size in GiB")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = OUT / "dist-ckpt"
    nbytes = write_checkpoint(folder, args.gib)
    tiny = OUT / "dist-tiny"
    write_checkpoint(tiny, 64 * 64 * 4 / 1024**3, (64, 64))
    index = folder / "model.safetensors.index.json"
    tiny_index = tiny / "model.safetensors.index.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    reference, tiny_reference = reference_json(index, env), reference_json(tiny_index, env)
    gb = nbytes / 1e9
    rows = []
    for kind in KINDS:
        whole = median_time(kind, index, args.repeats, env, reference)
        fixed = median_time(kind, tiny_index, args.repeats, env, tiny_reference)
        per_gb = (whole - fixed) / gb
        rows.append(f"| {kind} | {whole:.2f} s | {fixed:.2f} s | {per_gb:.2f} s/GB | {1 / per_gb:.2f} GB/s |")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"Measured {time.strftime('%Y-%m-%d')} by `bench/distributed.py`: {gb:.2f} GB of float32 in "
          f"{nbytes // (TENSOR[0] * TENSOR[1] * 4)} tensors of 4096x4096 (4 per shard), page cache warm; "
          f"{platform.machine()}, {cores} cores, Python {platform.python_version()}; medians of {args.repeats} "
          "fresh runs. Start-up: the same run over one 64x64 tensor; per GB: (time - start-up) / GB.")
    print(f"\n| run | time, {gb:.2f} GB | start-up | per GB | throughput |\n|---|---:|---:|---:|---:|")
    print("\n".join(rows))

if __name__ == "__main__":
    main()
