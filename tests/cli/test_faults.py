"""Faults: interruption, unwritable outputs, vanishing files; and a matrix of bad inputs."""

from __future__ import annotations

import errno
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli


def _big_npy(path: Path, n: int) -> None:
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n // 1000, 1000))
    rng = np.random.default_rng(0)
    for i in range(0, arr.shape[0], 1000):
        arr[i:i + 1000] = rng.standard_normal((min(1000, arr.shape[0] - i), 1000), dtype=np.float32) * 0.04
    arr.flush()
    del arr


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


# The child reads through a slowed ``os.preadv`` that leaves a marker on its first call and then pauses 30 s per
# read, so the signal lands while a read is certainly in progress and the run cannot finish first, however fast
# the disk or however loaded the machine (0.25 s pauses lost that race on a loaded machine). The signal ends the
# pause at once.
_SLOW_READER = """
import os, sys, time
marker, pause = sys.argv[1], float(sys.argv[2])
real = os.preadv
def slow(fd, buffers, offset):
    if not os.path.exists(marker):
        open(marker, "w").close()
    time.sleep(pause)
    return real(fd, buffers, offset)
os.preadv = slow
sys.argv = ["kaiming", *sys.argv[3:]]
from kaiming_cli.cli import main
main()
"""


def _interrupt_mid_read(tmp_path: Path, args: list[str]) -> tuple[subprocess.Popen[str], str, list[int]]:
    """Start ``kaiming args`` with slowed reads, wait for its first read, then send SIGINT.

    Returns the process, its stderr and the child processes it had when the signal was sent."""
    marker = tmp_path / "first-read"
    cmd = [sys.executable, "-c", _SLOW_READER, str(marker), "30", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    assert marker.exists(), "the child never started reading: " + (proc.stderr.read() if proc.poll() is not None
                                                                   and proc.stderr else "timeout")
    children = _children(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc, err, children


@pytest.mark.slow
def test_ctrl_c_during_verify_exits_130_and_leaves_no_output(tmp_path: Path) -> None:
    data, out = tmp_path / "big.npy", tmp_path / "report.json"
    _big_npy(data, 8_000_000)  # every read pauses 30 s: the interrupt always lands mid-run, whatever the load
    proc, err, _ = _interrupt_mid_read(tmp_path, ["verify", str(data), "--no-config", "-a0", "-j", "1", "-f", "json",
                                               "-o", str(out)])
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Interrupted" in err
    assert not out.exists() and not list(tmp_path.glob(".kaiming-*"))


@pytest.mark.slow
def test_ctrl_c_with_worker_processes(tmp_path: Path) -> None:
    """With --jobs 2 over several files the work runs in forked workers: Ctrl-C still ends in 130."""
    files = [tmp_path / f"part{i}.npy" for i in range(3)]
    for f in files:
        _big_npy(f, 4_000_000)
    out = tmp_path / "report.json"
    proc, err, workers = _interrupt_mid_read(tmp_path, ["verify", *map(str, files), "--no-config", "-a0", "-j", "2",
                                                        "-f", "json", "-o", str(out)])
    assert workers, "no worker process was started"
    assert proc.returncode == 130, err
    assert "Traceback" not in err and not out.exists()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_alive(w) for w in workers), "worker processes outlived the interrupt"


def test_a_worker_that_dies_ends_the_run_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked worker killed under the run (what the out-of-memory killer does): exit 3 and one line saying so,
    not a run waiting forever for the results the worker took with it."""
    parent, real = os.getpid(), os.preadv

    def killed_in_a_worker(fd: int, buffers: Any, offset: int) -> int:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", killed_in_a_worker)  # inherited by the forked workers
    rng = np.random.default_rng(0)
    files = [tmp_path / f"{name}.npy" for name in "abc"]
    for i, f in enumerate(files):
        np.save(f, (rng.standard_normal((64 + i, 32)) * math.sqrt(2 / 32)).astype(np.float32))
    def hung(_signum: int, _frame: Any) -> None:
        raise TimeoutError("still waiting after 120 s for a dead worker's results")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)  # what this guards against is a run waiting forever: fail, do not hang the suite
    try:
        result = CliRunner().invoke(cli, ["verify", *map(str, files), "--no-config", "--mode", "fan_in",
                                          "--nonlinearity", "relu", "-j", "2"])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("Error: a worker process died") and result.stderr.count("\n") == 1
    assert "--samples" not in result.stderr and "--jobs 1" in result.stderr  # an option verify has
    assert "Traceback" not in result.output


def _alive(pid: int) -> bool:
    """A process that still runs (a zombie waiting to be reaped by init does not count)."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


def test_interrupt_in_verify_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kaiming_cli.runners.verify as verify_module

    np.save(tmp_path / "w.npy", np.zeros((4, 4), np.float32))

    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(verify_module, "run_verify", interrupted)
    out = tmp_path / "out.json"
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "w.npy"), "--mode", "fan_in", "-o", str(out)])
    assert result.exit_code == 130 and not out.exists()


def test_output_is_a_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["std", "--shape", "4,4", "-o", str(tmp_path)])
    assert result.exit_code == 3 and "is a directory" in result.stderr


def test_plot_is_a_directory(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    result = CliRunner().invoke(cli, ["propagate", "--depth", "2", "--width", "4", "--plot", str(tmp_path)])
    assert result.exit_code == 3 and "is a directory" in result.stderr


def test_rules_is_a_directory(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", np.zeros((4, 4), np.float32))
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "w.npy"), "--rules", str(tmp_path)])
    assert result.exit_code == 3 and "Traceback" not in result.stderr


def test_read_only_file_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    def erofs(*_a: object, **_k: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", erofs)
    result = CliRunner().invoke(cli, ["std", "--shape", "4,4", "-o", str(tmp_path / "x.txt")])
    assert result.exit_code == 3 and "Read-only file system" in result.stderr


def test_unwritable_folder(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/kaiming-cannot-write-here.json")  # not even root can create files in /proc
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "x.json"
    result = CliRunner().invoke(cli, ["std", "--shape", "4,4", "-f", "json", "-o", str(target)])
    assert result.exit_code == 3 and "cannot write" in result.stderr


def test_file_disappears_mid_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kaiming_cli.io.inputs as inputs
    import kaiming_cli.io.readers as readers
    from kaiming_cli.io.limits import Limits
    from kaiming_cli.io.sources import TensorSource

    for name in ("a", "b"):
        np.save(tmp_path / f"{name}.npy", np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    real = readers.read_path

    def read_then_vanish(path: str, *limits: Limits) -> list[TensorSource]:
        sources = real(path, *limits)
        if path.endswith("b.npy"):
            os.unlink(path)  # listed, then gone before its data is read
        return sources

    monkeypatch.setattr(inputs, "read_path", read_then_vanish)
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--mode", "fan_in"])
    assert result.exit_code == 3 and "b.npy" in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- the matrix

@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad")
    (root / "corrupt.safetensors").write_bytes(b"\xff" * 64)
    (root / "text.npy").write_text("not numpy")
    (root / "empty.npz").write_bytes(b"")
    (root / "dir").mkdir()
    return {"corrupt": str(root / "corrupt.safetensors"), "text": str(root / "text.npy"),
            "empty": str(root / "empty.npz"), "dir": str(root / "dir"), "missing": str(root / "missing.pt")}


BAD_OPTIONS = [["--shape", "64,,3"], ["--shape", "0"], ["--nonlinearity", "gelu"], ["-a", "-1"], ["--alpha", "2"],
               ["--layout", "paddle"], ["--mode", "fan"], ["--distribution", "cauchy"], ["--bogus"], ["-f", "xml"]]
SHAPED = ["std", "check", "explain"]


@pytest.mark.parametrize("command", SHAPED + ["fan"])
@pytest.mark.parametrize("bad", BAD_OPTIONS, ids=lambda b: " ".join(b))
def test_matrix_bad_options(command: str, bad: list[str]) -> None:
    args = [command, *(["--shape", "4,4"] if "--shape" not in bad else []), *bad]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 2), (args, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", ["verify", "identify"])
@pytest.mark.parametrize("kind", ["corrupt", "text", "empty", "dir", "missing"])
def test_matrix_bad_files(command: str, kind: str, bad_files: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, [command, bad_files[kind]])
    assert result.exit_code == 3, (command, kind, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["gain", "rleu"], ["gain", "leaky_relu", "-a", "nan"], ["propagate", "--conv", "4"],
                                  ["propagate", "--depth", "0"], ["verify"], ["identify"], ["completion", "tcsh"],
                                  ["nope"], ["check", "--shape", "4,4", "--samples", "-3"]])
def test_matrix_other_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
