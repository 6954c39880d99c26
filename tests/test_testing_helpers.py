"""``kaiming_cli.testing`` in a sample project's suite (pytester): ``assert_same_init`` and ``assert_init_snapshot``
with ``--kaiming-update``. The models' laws are known from their code (torchvision's ResNet init and the same
model with one conv drawn ``mode="fan_in"``), so which test passes and which fails is known beforehand."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow  # 1-2 minutes of subprocess suites; slow still runs in `make test` (CI)

SAMPLE = '''
import torch
from torch import nn

from kaiming_cli.testing import assert_init_snapshot, assert_same_init


def build(mode="fan_out"):
    m = nn.Sequential(nn.Conv2d(3, 32, 5), nn.ReLU(), nn.Conv2d(32, 64, 3))
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode=mode, nonlinearity="relu")
    return m


def test_two_seeds_same():
    assert_same_init(build, build, seeds=(0, 1))


def test_other_mode_differs():
    assert_same_init(build, lambda: build("fan_in"), seeds=(0, 1))


def test_snapshot():
    torch.manual_seed(int(__import__("os").environ.get("BUILD_SEED", "0")))
    assert_init_snapshot(build(__import__("os").environ.get("BUILD_MODE", "fan_out")), "snapshots/init.toml")
'''


def _plugin_args() -> list[str]:
    """The installed ``pytest11`` entry point loads the plugin, as a user's pytest does; naming it again with -p
    would register it twice. An install made before the entry point existed names it with -p."""
    from importlib.metadata import entry_points

    installed = any(e.value == "kaiming_cli.testing" for e in entry_points(group="pytest11"))
    return ([] if installed else ["-p", "kaiming_cli.testing"]) + ["-p", "no:cacheprovider"]


def test_helpers_in_a_sample_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_model=SAMPLE)
    plugin = _plugin_args()
    # no snapshot yet: the snapshot test fails and says how to write it
    result = pytester.runpytest_subprocess(*plugin, "-q")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*no init snapshot at*--kaiming-update*"])
    # the differing build is named tensor by tensor, each side as identify names it
    result.stdout.fnmatch_lines(["*0.weight 32×3×5×5: differ: scale differs*"
                                 "(A: kaiming_normal_(mode='fan_out', nonlinearity='relu'), "
                                 "B: kaiming_normal_(mode='fan_in', nonlinearity='relu'))*"])
    result = pytester.runpytest_subprocess(*plugin, "-q", "--kaiming-update", "-k", "snapshot")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "snapshots" / "init.toml").is_file()
    # another seed of the same init: the same law; the other mode: the snapshot test fails
    monkeypatch.setenv("BUILD_SEED", "1")
    pytester.runpytest_subprocess(*plugin, "-q", "-k", "snapshot").assert_outcomes(passed=1)
    monkeypatch.setenv("BUILD_MODE", "fan_in")
    result = pytester.runpytest_subprocess(*plugin, "-q", "-k", "snapshot")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*differs from the snapshot*", "*0.weight*differ*"])


def _linear(seed: int, negate_half: bool = False):  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(256, 128, bias=False))
    torch.nn.init.kaiming_normal_(m[0].weight, nonlinearity="relu")
    if negate_half:  # the same bag of |values| and moments; rank 64: only the structure tests see it
        with torch.no_grad():
            m[0].weight[64:] = -m[0].weight[:64]
    return m


def test_snapshot_keeps_the_structure_tests(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The snapshot keeps each tensor's rows/cols/spectrum verdicts, so a live build whose rows repeat (negated: no
    value repeats, the marginal law is unchanged) fails against it, and another seed still passes."""
    tomllib = pytest.importorskip("tomllib" if __import__("sys").version_info >= (3, 11) else "tomli")

    from kaiming_cli.testing import assert_init_snapshot

    path = tmp_path / "init.toml"
    assert_init_snapshot(_linear(0), path, update=True)
    stored = tomllib.loads(path.read_text())["tensor"][0]
    assert {row[0] for row in stored["structure"]} >= {"rows", "cols"}
    assert assert_init_snapshot(_linear(1), path, update=False).passed
    with pytest.raises(AssertionError, match="structure"):
        assert_init_snapshot(_linear(1, negate_half=True), path, update=False)
    # a snapshot written before the structure tests were kept still reads (and has no structure to compare)
    old = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("structure = "))
    path.write_text(old)
    assert assert_init_snapshot(_linear(1), path, update=False).passed
