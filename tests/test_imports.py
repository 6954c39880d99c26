"""Layering and start-up cost: lookups never import numpy/scipy; the core never imports click/rich."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

LOOKUPS = [
    ["std", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"],
    ["std", "--shape", "64,3,3,3", "-f", "json"],
    ["gain", "relu"],
    ["gain"],
    ["fan", "--shape", "64,3,3,3"],
    ["explain", "--shape", "64,3,3,3"],
    ["explain", "-f", "json"],
]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("args", LOOKUPS, ids=lambda a: " ".join(a[:2]))
def test_lookups_do_not_import_numpy_or_scipy(args: list[str]) -> None:
    code = (
        "import sys\nfrom kaiming_cli.cli import cli\n"
        f"try:\n    cli.main({args!r}, standalone_mode=False)\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert "numpy" not in loaded and "scipy" not in loaded


@pytest.mark.parametrize("module", ["gains", "fans", "spec", "laws", "summary", "engine", "sampling",
                                    "battery", "check", "explain", "errors", "files",
                                    "readers", "limits", "ziparchive", "torchfile", "config", "verify",
                                    "identify", "propagate", "api"])
def test_core_never_imports_click_or_rich(module: str) -> None:
    loaded = _modules_after(f"import kaiming_cli.{module}")
    assert "click" not in loaded and "rich" not in loaded


def test_render_does_not_import_click() -> None:
    assert "click" not in _modules_after("import kaiming_cli.render")


def test_verify_of_small_tensors_does_not_import_scipy_stats(tmp_path: Path) -> None:
    """Small tensors (n < 100) take the exact KS law; it must not cost the ~0.6 s of scipy.stats."""
    import numpy as np

    path = tmp_path / "small.npy"
    np.save(path, np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32) * 0.5)
    code = ("from kaiming_cli.cli import cli\n"
            f"try:\n    cli.main(['verify', {str(path)!r}, '--no-config', '-f', 'json'], standalone_mode=False)\n"
            "except SystemExit:\n    pass")
    loaded = _modules_after(code)
    assert "kaiming_cli.battery" in loaded and "scipy.special" in loaded  # the battery really ran
    assert "scipy.stats" not in loaded


def test_std_answers_fast() -> None:
    """The console script answers `std` in well under 150 ms (median of 7; cold runs excluded)."""
    exe = [sys.executable, "-m", "kaiming_cli", "std", "--shape", "64,3,3,3"]
    times = []
    for _ in range(8):
        t0 = time.perf_counter()
        subprocess.run(exe, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    median = sorted(times[1:])[3]
    assert median < 0.25, f"median {median:.3f}s"  # generous bound for loaded CI; bench/ measures it
