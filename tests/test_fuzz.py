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
        verify_sources(sources, Config(), FALLBACK, {}, alpha=1e-3, correction="holm", jobs=1)
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
