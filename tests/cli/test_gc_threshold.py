"""The statistics commands collect cyclic garbage less often while they run (cli/warmup.py ``fewer_collections``,
issue 25), the report's writing included, and leave the threshold they found when they end, however they end; the
lookups keep the interpreter's setting."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.cli.warmup import GC_YOUNG_THRESHOLD, fewer_collections

#: Not CPython's default, so that a restore to the default instead of to what was there would show.
BEFORE = (900, 11, 12)
RAISED = (GC_YOUNG_THRESHOLD, 11, 12)


@pytest.fixture()
def before() -> Iterator[tuple[int, ...]]:
    saved = gc.get_threshold()
    gc.set_threshold(*BEFORE)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


@pytest.fixture()
def weights(tmp_path: Path) -> str:
    from safetensors.numpy import save_file

    path = str(tmp_path / "m.safetensors")
    save_file({"w": (np.random.default_rng(0).standard_normal((16, 16)) * 0.25).astype(np.float32)}, path)
    return path


def record_while_reporting(monkeypatch: pytest.MonkeyPatch, command: str) -> list[tuple[int, ...]]:
    """The thresholds in force when ``command``'s report is written (``emit``, entering and leaving it)."""
    import importlib

    module = importlib.import_module(f"kaiming_cli.cli.{command}")
    real = module.emit
    seen: list[tuple[int, ...]] = []

    def emit(*args: Any) -> None:
        seen.append(gc.get_threshold())
        real(*args)
        seen.append(gc.get_threshold())

    monkeypatch.setattr(module, "emit", emit)
    return seen


@pytest.mark.parametrize(("command", "args"), [
    ("verify", ["verify", "{path}", "--no-config", "--init", "normal_(std=0.25)"]),
    ("verify", ["verify", "{path}", "--no-config", "--init", "normal_(std=0.25)", "-f", "json"]),
    ("identify", ["identify", "{path}", "-f", "json"]),
    ("check", ["check", "--shape", "64,64", "-n", "4096"]),
])
def test_raised_during_the_run_and_restored_after(command: str, args: list[str], weights: str,
                                                  before: tuple[int, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_while_reporting(monkeypatch, command)
    result = CliRunner().invoke(cli, [a.format(path=weights) for a in args])
    assert result.exit_code == 0, result.output
    assert seen == [RAISED, RAISED]
    assert gc.get_threshold() == before


def test_restored_after_a_failing_verdict_and_after_bad_input(weights: str, tmp_path: Path,
                                                               before: tuple[int, ...]) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    for args, code in ((["verify", weights, "--no-config", "--init", "normal_(std=1.0)"], 1),
                       (["verify", weights, "--no-config"], 2),  # a usage error raised after the threshold is set
                       (["verify", str(bad), "--no-config", "--init", "normal_(std=0.25)"], 3)):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == code, result.output
        assert gc.get_threshold() == before, args


def test_restored_after_an_exception_in_the_report(weights: str, before: tuple[int, ...],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        assert gc.get_threshold() == RAISED
        raise RuntimeError("report failed")

    monkeypatch.setattr("kaiming_cli.cli.verify.emit", broken)
    result = CliRunner().invoke(cli, ["verify", weights, "--no-config", "--init", "normal_(std=0.25)"])
    assert result.exit_code == 4 and "report failed" in result.output, result.output  # kaiming's internal error
    assert gc.get_threshold() == before


def test_the_context_manager_restores_on_exit_and_exception(before: tuple[int, ...]) -> None:
    for error in (SystemExit(1), ValueError("x")):
        with pytest.raises(type(error)), fewer_collections():
            assert gc.get_threshold() == RAISED
            raise error
        assert gc.get_threshold() == before


def test_a_lookup_keeps_the_interpreters_setting(before: tuple[int, ...]) -> None:
    assert CliRunner().invoke(cli, ["std", "--shape", "64,64"]).exit_code == 0
    assert gc.get_threshold() == before
