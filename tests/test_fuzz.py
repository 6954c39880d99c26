"""Fuzzing the readers: mutated and truncated valid files end in a result or one InputError.

Every example goes through the whole path (read the header, stream the data, run the battery),
so a parser bug shows as an exception type other than InputError. Bounded to run in CI in seconds.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaiming_cli.errors import InputError
from kaiming_cli.io.config import Config, Rule
from kaiming_cli.io.readers import read_path
from kaiming_cli.runners.verify import verify_sources
from kaiming_cli.theory.spec import SpecOptions

torch = pytest.importorskip("torch")
FALLBACK = Rule(match="*", options={})


def _valid_files() -> dict[str, bytes]:
    from safetensors.numpy import save

    rng = np.random.default_rng(0)
    w = (rng.standard_normal((32, 16)) * 0.35).astype(np.float32)
    files: dict[str, bytes] = {}
    buf = io.BytesIO()
    np.save(buf, w)
    files[".npy"] = buf.getvalue()
    buf = io.BytesIO()
    np.savez(buf, w=w, b=np.zeros(16, np.float32))
    files[".npz"] = buf.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        member = io.BytesIO()
        np.save(member, w)
        zf.writestr("w.npy", member.getvalue())
    files[".npz-deflated"] = buf.getvalue()
    files[".safetensors"] = save({"w": w, "b": np.zeros(16, np.float32)})
    buf = io.BytesIO()
    torch.save({"w": torch.from_numpy(w), "n": torch.tensor(3)}, buf)
    files[".pt"] = buf.getvalue()
    return files


VALID = _valid_files()


def _run(path: Path) -> None:
    try:
        sources = read_path(str(path))
        verify_sources(sources, Config(), FALLBACK, SpecOptions(), alpha=1e-3, correction="holm", jobs=1)
    except InputError as exc:
        assert "\n" not in str(exc).strip()


mutation = st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
                    min_size=1, max_size=8)


@pytest.mark.parametrize("kind", sorted(VALID))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=mutation, cut=st.one_of(st.none(), st.integers(min_value=0)))
def test_mutated_files_never_crash(tmp_path: Path, kind: str, edits: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(VALID[kind])
    for pos, value in edits:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path / f"fuzz{kind.split('-')[0]}"
    path.write_bytes(bytes(data))
    _run(path)
    os.unlink(path)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_truncation_point_of_the_header(tmp_path: Path, kind: str) -> None:
    data = VALID[kind]
    path = tmp_path / f"cut{kind.split('-')[0]}"
    for cut in range(0, min(len(data), 400), 7):
        path.write_bytes(data[:cut])
        _run(path)


# --------------------------------------------------------------------------- option values

#: Values that have broken number parsers, ranges and paths: NaN, infinities, signed zero, extremes,
#: subnormals, integers past 64 bits and past Python's 4300-digit limit, empty and odd text.
EXTREME = ["nan", "inf", "-inf", "-0", "0", "-1", "1e308", "1e-320", str(2**64), "9" * 4400, "", " ", "é",
           "\x1b[31m", "\udcff", "1e30", "0x10", "1_000", "4,4", str(10**12)]
#: Every option of every command that takes a value, with base arguments that make the command valid.
OPTIONS: dict[str, tuple[list[str], list[str]]] = {
    "std": (["--shape", "4,4"], ["--shape", "--layout", "--mode", "--nonlinearity", "-a", "--distribution", "-f",
                                 "-o"]),
    "fan": (["--shape", "4,4"], ["--shape", "--layout", "-f", "-o"]),
    "gain": (["leaky_relu"], ["-a", "-f", "-o"]),
    "explain": (["--shape", "4,4"], ["--shape", "-a", "-f", "-o"]),
    "check": (["--shape", "64,64"], ["--shape", "-n", "-s", "--alpha", "--backend", "--tests", "-j", "--plot", "-a",
                                     "-o"]),
    "verify": (["w.npy", "--no-config"], ["--tensor", "--alpha", "--correction", "-s", "--tests", "-j", "--rules",
                                          "--config", "-a", "--plot", "-o", "--layout", "--mode"]),
    "identify": (["w.npy"], ["--tensor", "--layout", "--top", "--alpha", "-s", "-j", "-o"]),
    "propagate": (["--depth", "3", "--width", "8"], ["--nonlinearity", "-a", "--mode", "--depth", "--width", "--batch",
                                                     "--conv", "--spatial", "-s", "--plot", "-o"]),
}


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_every_option_with_extreme_values(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 0-3 (2 for a value out of range, stating the range), never 4, never a traceback or a hang."""
    from click.testing import CliRunner

    from kaiming_cli.cli import cli

    monkeypatch.chdir(tmp_path)
    np.save("w.npy", (np.random.default_rng(0).standard_normal((64, 64)) * 0.177).astype(np.float32))
    base, options = OPTIONS[command]
    for option in options:
        for value in EXTREME:
            result = CliRunner().invoke(cli, [command, *base, option, value])
            unexpected = result.exception is not None and not isinstance(result.exception, SystemExit)
            assert result.exit_code in (0, 1, 2, 3) and not unexpected, (option, value[:40], result.stderr[-300:])
            assert "Traceback" not in result.stderr
            if result.exit_code == 2:
                assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
            for leftover in Path(".").iterdir():
                if leftover.name != "w.npy" and leftover.is_file():
                    leftover.unlink()
