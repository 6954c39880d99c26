"""Init checks for a test suite (docs/diff.md), and the pytest plugin behind ``pytest --kaiming-update``.

    from kaiming_cli.testing import assert_same_init, assert_init_snapshot

    def test_meta_init_matches_eager():
        assert_same_init(build_eager, build_on_meta_then_init, seeds=(0, 1))

    def test_init_unchanged():
        assert_init_snapshot(build(), "init.toml")     # pytest --kaiming-update writes or refreshes it

``assert_same_init`` runs ``kaiming diff`` on two builds (callables, called under ``torch.manual_seed(seed)``, or
models); ``assert_init_snapshot`` compares a model with the per-tensor summaries and seeded samples a snapshot file
keeps, as ``pytest-regressions`` and ``syrupy`` keep theirs. Both raise ``AssertionError`` with one line per tensor
that differs, as ``kaiming diff`` says it. The plugin is registered under the ``pytest11`` entry point; without an
installed package, ``pytest -p kaiming_cli.testing`` loads it.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["assert_same_init", "assert_init_snapshot", "SNAPSHOT_SAMPLES"]

#: Values of each tensor a snapshot keeps (seeded positions) for the distribution-shape test; the scale and
#: location tests use the full tensor's moments, which the snapshot keeps exactly.
SNAPSHOT_SAMPLES = 512
#: Set by ``pytest --kaiming-update`` (or ``KAIMING_UPDATE=1``): snapshots are written instead of compared.
UPDATE = False


def _model(build: Any, seed: int) -> Any:
    """A model as it is, or what a callable builds under ``torch.manual_seed(seed)``."""
    if hasattr(build, "state_dict") or not callable(build):
        return build
    import torch

    torch.manual_seed(seed)
    return build()


def assert_same_init(build_a: Any, build_b: Any, seeds: Sequence[int] = (0, 1), *, alpha: float = 1e-3,
                     seed: int = 0) -> Any:
    """Fail unless every tensor of ``build_b`` follows the same law as in ``build_a`` (``kaiming diff``).

    ``build_a`` is built under ``seeds[0]`` and ``build_b`` under ``seeds[-1]``: two seeds draw two independent
    builds, so the comparison tests the laws, not the values. Returns the ``DiffResult`` when it passes."""
    from .io.built import state_sources
    from .runners.diff import report_text, run_diff
    from .runners.diff_identified import looks_like_in

    a = state_sources(_model(build_a, seeds[0]), "A")
    b = state_sources(_model(build_b, seeds[-1]), "B")
    result = run_diff(a, b, alpha=alpha, seed=seed, looks_like_a=looks_like_in(a, seed=seed, alpha=alpha),
                      looks_like_b=looks_like_in(b, seed=seed, alpha=alpha))
    if not result.passed:
        raise AssertionError("kaiming diff: the two builds are not initialized alike\n" + report_text(result))
    return result


# --------------------------------------------------------------------------- snapshots

def _caller_dir() -> Path:
    """The directory of the test file that called the helper (snapshot paths are relative to it)."""
    here = os.path.abspath(__file__)
    for frame in inspect.stack()[1:]:
        if os.path.abspath(frame.filename) != here:
            return Path(frame.filename).resolve().parent
    return Path.cwd()


def _number(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x == math.inf else "-inf" if x == -math.inf else repr(float(x)))


def snapshot_text(model: Any, seed: int = 0) -> str:
    """The snapshot of ``model``: per tensor its shape, dtype, exact moments and ``SNAPSHOT_SAMPLES`` seeded
    values (TOML; names as JSON strings, which TOML reads alike)."""
    from .io.built import state_sources
    from .runners.diff import scanned
    from .stats.twosample import judged

    out = ["# kaiming init snapshot (kaiming_cli.testing.assert_init_snapshot): per tensor the exact moments,",
           f"# {SNAPSHOT_SAMPLES} seeded values and the structure tests (name, statistic, p-value, detail) of one",
           "# build. Refresh with: pytest --kaiming-update", ""]
    for source in state_sources(model, "snapshot"):
        side = scanned(source, seed, 1, SNAPSHOT_SAMPLES)
        s = side.summary
        out += ["[[tensor]]", f"name = {json.dumps(source.name)}", f"shape = {list(source.shape)}",
                f"dtype = {json.dumps(source.dtype)}", f"n = {s.n}", f"n_nan = {s.n_nan}", f"n_inf = {s.n_inf}"]
        out += [f"{k} = {_number(getattr(s, k))}" for k in ("mean", "m2", "m3", "m4", "min", "max")]
        out += ["sample = [" + ", ".join(_number(v) for v in side.sample.tolist()) + "]"]
        if side.structure is not None:  # judged now: the snapshot keeps the verdicts, not the data
            rows = judged(side.structure, side.sample)
            out += ["structure = [" + ", ".join(f"[{json.dumps(name)}, {_number(stat)}, {_number(p)}, "
                                               f"{json.dumps(detail)}]" for name, stat, p, detail in rows) + "]"]
        out.append("")
    return "\n".join(out)


def _stored(path: Path) -> tuple[list[Any], dict[str, Any]]:
    """The snapshot's tensors as stub sources and their sides (summary and sample)."""
    import numpy as np

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef,unused-ignore]

    from .io.sources import TensorSource, no_open
    from .runners.diff import Side
    from .stats.summary import Summary

    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    sources, sides = [], {}
    for t in doc.get("tensor", []):
        source = TensorSource(str(path), t["name"], tuple(t["shape"]), t["dtype"], no_open, forkable=False)
        summary = Summary(t["n"], t["mean"], t["m2"], t["m3"], t["m4"], t["min"], t["max"], t["n_nan"], t["n_inf"])
        sources.append(source)
        rows = [(str(name), float(stat), float(p), str(detail)) for name, stat, p, detail in t["structure"]] \
            if "structure" in t else None  # a snapshot written before structure was kept has none
        sides[source.name] = Side(source, summary, np.asarray(t["sample"], dtype=np.float64), rows)
    return sources, sides


def assert_init_snapshot(model: Any, path: str | os.PathLike[str], *, alpha: float = 1e-3, seed: int = 0,
                         update: bool | None = None) -> Any:
    """Fail unless every tensor of ``model`` follows the law the snapshot at ``path`` recorded (relative paths
    are relative to the calling test file). With ``update`` (default: ``pytest --kaiming-update`` or
    ``KAIMING_UPDATE=1``) the snapshot is written or refreshed instead, and the test passes."""
    from .io.built import state_sources
    from .runners.diff import report_text, run_diff, scanned
    from .runners.diff_identified import looks_like_in

    target = Path(path)
    if not target.is_absolute():
        target = _caller_dir() / target
    writing = update if update is not None else (UPDATE or os.environ.get("KAIMING_UPDATE") == "1")
    if writing:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(snapshot_text(model, seed), encoding="utf-8")
        return None
    if not target.is_file():
        raise AssertionError(f"no init snapshot at {target}: run pytest --kaiming-update to write it")
    stubs, sides = _stored(target)
    live = state_sources(model, "model")
    read_live: Callable[[Any], Any] = lambda source: scanned(source, seed, 1, SNAPSHOT_SAMPLES)  # noqa: E731
    result = run_diff(stubs, live, alpha=alpha, seed=seed, scan_a=lambda s: sides[s.name], scan_b=read_live,
                      looks_like_b=looks_like_in(live, seed=seed, alpha=alpha), label_a=str(target), label_b="model")
    if not result.passed:
        raise AssertionError(f"kaiming: the model's init differs from the snapshot {target} (A: snapshot, "
                             "B: model; pytest --kaiming-update refreshes it)\n" + report_text(result))
    return result


# --------------------------------------------------------------------------- the pytest plugin

def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("kaiming")
    group.addoption("--kaiming-update", action="store_true", default=False,
                    help="Write or refresh the init snapshots of kaiming_cli.testing.assert_init_snapshot.")


def pytest_configure(config: Any) -> None:
    global UPDATE
    UPDATE = bool(config.getoption("--kaiming-update", default=False))
