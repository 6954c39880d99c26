"""Layering and start-up cost: lookups never import numpy/scipy; the core never imports click/rich."""

from __future__ import annotations

import subprocess
import sys
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
    ["std", "--shape", "768,768", "--init", "nn.init.trunc_normal_(w, std=0.02)"],
    ["std", "--shape", "32,8,16", "--init", "LecunNormal", "--fan-in", "32", "--fan-out", "128", "-f", "json"],
    ["explain", "--shape", "128,64", "--init", "default('Linear')"],
]


def _modules_after(code: str, marker: bool = False) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    if marker:  # only what follows the marker: the command's own output may name modules
        out = out.rsplit("@@MODULES@@", 1)[1]
    return set(out.split())


@pytest.mark.parametrize("args", LOOKUPS, ids=lambda a: " ".join(a[:2]))
def test_lookups_do_not_import_numpy_or_scipy(args: list[str]) -> None:
    code = (
        "import sys\nfrom kaiming_cli.cli import cli\n"
        f"try:\n    cli.main({args!r}, standalone_mode=False)\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert "numpy" not in loaded and "scipy" not in loaded
    frameworks = _modules_after(code + "\nprint('@@MODULES@@')", marker=True)
    assert not {"torch", "keras", "jax"} & frameworks  # the sampling backends are check's only


def test_check_imports_a_framework_only_when_it_samples_with_it() -> None:
    code = ("import sys\nfrom kaiming_cli.cli import cli\n"
            "try:\n    cli.main(['check', '--shape', '64,48', '--backend', 'numpy', '-f', 'json'], "
            "standalone_mode=False)\nexcept SystemExit:\n    pass")
    assert not {"torch", "keras", "jax"} & _modules_after(code + "\nprint('@@MODULES@@')", marker=True)


@pytest.mark.parametrize("module", ["theory.gains", "theory.fans", "theory.spec", "theory.calls", "theory.law",
                                    "theory.explain", "stats.laws",
                                    "stats.summary", "stats.battery", "engine.stream", "engine.sampling",
                                    "runners.check", "errors", "io.files", "io.readers", "io.config", "io.memory",
                                    "io.sources", "io.limits", "io.ziparchive",
                                     "io.torchfile", "io.inputs", "theory.limits",
                                    "stats.empirical", "engine.sources", "engine.parallel", "about",
                                    "runners.verify", "runners.identify", "runners.propagate", "api"])
def test_core_never_imports_click_or_rich(module: str) -> None:
    loaded = _modules_after(f"import kaiming_cli.{module}")
    assert "click" not in loaded and "rich" not in loaded


def test_render_does_not_import_click() -> None:
    formats = ", ".join(f"kaiming_cli.render.{fmt}" for fmt in ("table", "json", "markdown", "junit", "github"))
    assert "click" not in _modules_after(f"import {formats}")


def test_verify_of_small_tensors_does_not_import_scipy_stats(tmp_path: Path) -> None:
    """Small tensors (n < 100) take the exact KS law; it must not cost the ~0.6 s of scipy.stats."""
    import numpy as np

    path = tmp_path / "small.npy"
    np.save(path, np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32) * 0.5)
    code = ("from kaiming_cli.cli import cli\n"
            f"try:\n    cli.main(['verify', {str(path)!r}, '--no-config', '-f', 'json'], standalone_mode=False)\n"
            "except SystemExit:\n    pass")
    loaded = _modules_after(code)
    assert "kaiming_cli.stats.battery" in loaded and "scipy.special" in loaded  # the battery really ran
    assert "scipy.stats" not in loaded


@pytest.mark.parametrize("command", ["verify", "identify"])
def test_verify_and_identify_leave_unused_numpy_submodules_unexecuted(tmp_path: Path, command: str) -> None:
    """scipy.special's import clones the numpy namespace (``from numpy import *``), which executed numpy.testing
    (and unittest) and numpy.f2py: ~0.1 s of a run's start-up that no statistics command uses. They are lazy
    modules now (cli/warmup.py), still importable: the first attribute read executes one whole."""
    import numpy as np

    path = tmp_path / "small.npy"
    np.save(path, np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32) * 0.5)
    args = [command, str(path), "-f", "json"] + (["--no-config"] if command == "verify" else [])
    code = ("import sys\nfrom kaiming_cli.cli import cli\n"
            f"try:\n    cli.main({args!r}, standalone_mode=False)\n"
            "except SystemExit:\n    pass\n"
            "lazy = [n for n in ('numpy.testing', 'numpy.f2py')\n"
            "        if type(sys.modules.get(n)).__name__ == '_LazyModule']\n"
            "print('@@LAZY@@', *lazy, 'scipy.special' in sys.modules, 'unittest' in sys.modules)\n"
            "import numpy.testing\nnumpy.testing.assert_equal(numpy.polynomial.Polynomial([1.0])(2.0), 1.0)\n"
            "print('@@LAZY@@', 'unittest' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    during, after = (part.split("\n", 1)[0].split() for part in out.split("@@LAZY@@")[1:])
    assert during == ["numpy.testing", "numpy.f2py", "True", "False"]  # scipy.special loaded, these two unexecuted
    assert after == ["True"]  # numpy.testing (and unittest) work when used


@pytest.mark.parametrize(("fmt", "allowed"), [("json", {"click", "kaiming_cli"}),
                                              ("table", {"click", "kaiming_cli"})])
def test_lookups_import_nothing_heavy(fmt: str, allowed: set[str]) -> None:
    """What a lookup imports beyond the standard library: its start-up cost, checked without a clock. Not even
    Rich for a table into a pipe (render/plain.py draws it; a terminal with colour still gets Rich).

    Its wall time is measured by `make bench` (docs/performance.md); a timed assertion here would fail on a
    loaded machine.
    """
    code = ("import sys\nbefore = set(sys.modules)\nfrom kaiming_cli.cli import cli\n"
            f"try:\n    cli.main(['std', '--shape', '64,3,3,3', '-f', {fmt!r}], standalone_mode=False)\n"
            "except SystemExit:\n    pass\n"
            "print('PACKAGES', *sorted({m.split('.')[0] for m in set(sys.modules) - before}"
            " - set(sys.stdlib_module_names)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    packages = set(out.rsplit("PACKAGES", 1)[1].split())
    assert packages == allowed


def test_version_constant_matches_the_package_metadata() -> None:
    """``about.version()`` is a constant (no importlib.metadata at start-up): it must equal pyproject's version."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    from kaiming_cli.about import version

    declared = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    assert version() == declared["project"]["version"]


def test_json_lookup_does_not_scan_installed_distributions() -> None:
    code = ("from kaiming_cli.cli import cli\n"
            "try:\n    cli.main(['std', '--shape', '64,3,3,3', '-f', 'json'], standalone_mode=False)\n"
            "except SystemExit:\n    pass")
    assert "importlib.metadata" not in _modules_after(code)


def test_check_does_not_load_the_file_readers() -> None:
    """check samples, it reads no file: the readers (and the config parser they pull in) stay out of its start-up."""
    code = ("from kaiming_cli.cli import cli\n"
            "try:\n    cli.main(['check', '--shape', '100,100', '--backend', 'numpy', '-f', 'json'],"
            " standalone_mode=False)\nexcept SystemExit:\n    pass")
    loaded = _modules_after(code)
    assert "kaiming_cli.runners.check" in loaded
    assert not {"kaiming_cli.io.readers", "kaiming_cli.io.numpyfile", "kaiming_cli.io.safetensorsfile"} & loaded


def _blas_threads_after(args: list[str], env: dict[str, str]) -> str:
    code = ("import os\nfrom kaiming_cli.cli import cli\n"
            f"try:\n    cli.main({args!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print('BLAS', os.environ.get('OPENBLAS_NUM_THREADS'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env).stdout
    return out.rsplit("BLAS", 1)[1].strip()


def test_statistics_commands_use_one_blas_thread_unless_the_user_chose() -> None:
    """OpenBLAS threads only spin against kaiming's own workers (cli/warmup.py one_blas_thread); a user's own
    OPENBLAS_NUM_THREADS is kept, and propagate (large products) keeps BLAS's default."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    check = ["check", "--shape", "100,100", "--backend", "numpy", "-f", "json"]
    assert _blas_threads_after(check, env) == "1"
    assert _blas_threads_after(check, {**env, "OPENBLAS_NUM_THREADS": "2"}) == "2"
    assert _blas_threads_after(["propagate", "--depth", "2", "--width", "8", "-f", "json"], env) == "None"


def test_blas_threads_do_not_change_a_report(tmp_path: Path) -> None:
    """The spectrum test's Gram product on 128 x 2048 rows gives the same report with 1 or 2 BLAS threads."""
    import os

    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "m.safetensors"
    rng = np.random.default_rng(5)
    save_file({"w": (rng.standard_normal((2048, 2048)) * np.sqrt(2 / 2048)).astype(np.float32)}, str(path))
    args = ["-m", "kaiming_cli", "verify", str(path), "--nonlinearity", "relu", "--no-config", "-f", "json"]
    docs = [subprocess.run([sys.executable, *args], capture_output=True, text=True,
                           env={**os.environ, "OPENBLAS_NUM_THREADS": threads}).stdout for threads in ("1", "2")]
    assert '"spectrum"' in docs[0] and docs[0] == docs[1]


def test_a_passing_verify_does_not_import_identify(tmp_path: Path) -> None:
    """identify's ranking (runners/identify, stats/fit, theory/explanations) names what a FAILING tensor looks
    like (runners/looks_like.py); a run where every tensor passes never needs it, so never imports it (start-up,
    issue 25). A failing run still does, and says what the tensor looks like."""
    import json

    import numpy as np

    path = tmp_path / "w.npy"
    marker = "\nprint('@@MODULES@@')"

    def run(mode: str) -> tuple[set[str], dict[str, object]]:
        out = tmp_path / f"{mode}.json"
        code = ("from kaiming_cli.cli import cli\n"
                f"try:\n    cli.main(['verify', {str(path)!r}, '--mode', {mode!r}, '--nonlinearity', 'tanh', "
                f"'--no-config', '-f', 'json', '-o', {str(out)!r}], standalone_mode=False)\n"
                "except SystemExit:\n    pass")
        return _modules_after(code + marker, marker=True), json.loads(out.read_text())["tensors"][0]

    np.save(path, np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32) * (5 / 3) / 8)
    loaded, tensor = run("fan_in")
    assert tensor["status"] == "pass" and "kaiming_cli.runners.identify" not in loaded
    np.save(path, np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32) * np.sqrt(2 / 64))
    loaded, tensor = run("fan_in")
    assert tensor["status"] == "fail" and "kaiming_cli.runners.identify" in loaded
    assert tensor["looks_like"] is not None
