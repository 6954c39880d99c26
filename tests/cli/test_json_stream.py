"""verify's and identify's JSON reports are streamed tensor by tensor (render/json.py ``Streamed``, cli/output.py
``emit_streamed``; issue 25): what reaches stdout and ``-o`` must be, byte for byte, the same, and parse to the
document made whole from the same result (``document(result.to_dict())``, the path every report took before),
with each tensor on one line as ``json.dumps`` writes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import kaiming_cli.render.json as rj
from kaiming_cli.cli import cli


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Passing and failing tensors, a name that holds '##[' (escaped in the report), a constant and a 1-D one."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    tensors = {f"layer{i}.weight": (rng.standard_normal((32, 16)) * np.sqrt(2 / 16)).astype(np.float32)
               for i in range(40)}
    tensors["wrong ##[error].weight"] = (rng.standard_normal((32, 16)) * 0.5).astype(np.float32)
    tensors["norm.weight"] = np.ones(16, np.float32)
    path = tmp_path_factory.mktemp("stream") / "m.safetensors"
    save_file(tensors, str(path))
    return path


@pytest.mark.parametrize("command", ["verify", "identify"])
def test_the_streamed_report_is_the_whole_document(checkpoint: Path, tmp_path: Path, command: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rj, "FLUSH_CHARS", 2000)  # many pieces, even for 42 tensors
    made: list[Any] = []
    render = getattr(rj, command)

    def keep(result: Any, *args: Any) -> Any:
        made.append(result)
        return render(result, *args)

    monkeypatch.setattr(rj, command, keep)
    args = [command, str(checkpoint), "-f", "json", "--jobs", "1"]
    if command == "verify":
        args += ["--mode", "fan_in", "--nonlinearity", "relu"]
    out = tmp_path / "report.json"
    to_file = CliRunner().invoke(cli, [*args, "-o", str(out)])
    to_stdout = CliRunner().invoke(cli, args)
    assert len(made) == 2 and to_file.exit_code == to_stdout.exit_code
    whole = rj.document(made[0].to_dict())
    assert whole == rj.document(made[1].to_dict())
    text = out.read_bytes().decode("ascii")
    assert to_stdout.stdout == text
    assert json.loads(text) == json.loads(whole)
    assert "#\\u0023[error]" in text and '"layer39.weight"' in text and "##[" not in text
    lines = [json.dumps(rj.clean(t), allow_nan=False).replace("##[", "#\\u0023[")
             for t in made[0].to_dict()["tensors"]]
    listed = text.split('\n  "tensors": [\n    ', 1)[1].rsplit("\n  ]", 1)[0]  # the last key
    assert listed.split(",\n    ") == lines


@pytest.mark.parametrize("command", ["verify", "identify"])
def test_a_report_of_many_tensors_is_made_by_forked_workers_the_same(tmp_path: Path, command: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """``--jobs 2`` gives the report's lines to forked workers once a file holds ``PARALLEL_ITEMS`` tensors or
    more (render/json.py ``Each.lines``, cli/output.py ``report_jobs``): stdout and ``-o`` are byte for byte what
    ``--jobs 1`` writes, and the workers were asked for (with the run's ``--jobs``)."""
    from safetensors.numpy import save_file

    import kaiming_cli.engine.parallel as parallel

    monkeypatch.setattr(parallel, "fork_safe", lambda: True)  # torch, loaded by other tests, is never touched
    asked: list[int] = []
    imap = parallel.imap_forked

    def counted(fn: Any, count: int, jobs: int) -> Any:
        asked.append(jobs)
        return imap(fn, count, jobs)

    monkeypatch.setattr(parallel, "imap_forked", counted)
    rng = np.random.default_rng(11)
    path = tmp_path / "many.safetensors"
    save_file({f"l{i}.weight": (rng.standard_normal((8, 8)) * 0.5).astype(np.float32)
               for i in range(rj.PARALLEL_ITEMS + 5)}, str(path))
    args = [command, str(path), "-f", "json"] + (["--mode", "fan_in", "--no-config"] if command == "verify" else [])
    one = CliRunner().invoke(cli, [*args, "--jobs", "1"])
    assert one.exit_code in (0, 1) and not asked
    two = CliRunner().invoke(cli, [*args, "--jobs", "2"])
    assert two.exit_code == one.exit_code and two.stdout == one.stdout and asked == [2]
    target = tmp_path / "report.json"
    three = CliRunner().invoke(cli, [*args, "--jobs", "2", "-o", str(target)])
    assert three.exit_code == one.exit_code and target.read_text() == one.stdout and asked == [2, 2]
    assert len(json.loads(one.stdout)["tensors"]) == rj.PARALLEL_ITEMS + 5
