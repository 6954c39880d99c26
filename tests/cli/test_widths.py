"""Output at 60, 80 and 120 columns (issue 15): nothing wider than the terminal, no name, word or number split.

Piped output used to cut names into 9-character pieces (``bn1.num_b/atches_tr/acked``), wrap ``<1e-30`` over
``0``, print three identical ``conv_transp...`` rows and list every skipped tensor. Each command runs in a
subprocess with ``COLUMNS`` set, as in a CI log, on a file with long torchvision-style names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.columns import kaiming, tokens

WIDTHS = [60, 80, 120]
LONG = "encoder.layers.11.self_attention.in_projection_with_a_very_long_descriptive_suffix.weight"
NAMES = {
    "conv1.weight": (64, 3, 7, 7),
    "layer4.1.downsample.0.weight": (512, 256, 1, 1),
    "layer3.0.conv2.weight": (256, 256, 3, 3),
    LONG: (128, 96),
    "layer4.1.bn2.num_batches_tracked": (),
    "layer4.1.bn2.running_var": (512,),
    "fc.bias": (10,),
}
RULES = """
[[rule]]
match = "*.weight"
mode = "fan_out"
nonlinearity = "relu"

[[rule]]
match = "*"
skip = true
"""



@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("widths")
    rng = np.random.default_rng(60)
    arrays = {}
    for name, shape in NAMES.items():
        if name.endswith("num_batches_tracked"):
            arrays[name] = np.zeros(shape, np.int64)
        elif len(shape) >= 2:
            fan_out = shape[0] * int(np.prod(shape[2:]))
            arrays[name] = rng.normal(0, np.sqrt(2 / fan_out), shape).astype(np.float32)
        else:
            arrays[name] = np.ones(shape, np.float32)
    np.savez(path / "model.npz", **arrays)
    (path / "init.toml").write_text(RULES)
    return path



def name_shown(name: str, toks: set[str]) -> bool:
    """The name whole, or its head and tail around an ellipsis: never pieces on several lines."""
    for tok in toks:
        if tok == name:
            return True
        if "…" in tok:
            head, _, tail = tok.partition("…")
            if len(head) >= 3 and name.startswith(head) and name.endswith(tail):
                return True
    return False


def fits(text: str, width: int) -> None:
    widest = max((len(line.rstrip()) for line in text.splitlines()), default=0)
    assert widest <= width, f"{widest} > {width}:\n{text}"


@pytest.mark.parametrize("width", WIDTHS)
def test_verify_fits_and_keeps_names_numbers_and_labels_whole(folder: Path, width: int) -> None:
    table = kaiming(["verify", "model.npz", "--rules", "init.toml"], folder, width)
    doc = json.loads(kaiming(["verify", "model.npz", "--rules", "init.toml", "-f", "json"], folder, width).stdout)
    assert table.returncode == 0, table.stderr
    fits(table.stdout, width)
    toks = tokens(table.stdout)
    tested = [t for t in doc["tensors"] if t["status"] != "skip"]
    assert len(tested) == 4 and all(t["status"] == "pass" for t in tested)
    skipped = [t["name"] for t in doc["tensors"] if t["status"] == "skip"]
    # failures first: nothing failed, so no tensor is listed; one line per group stands for them
    assert all(not name_shown(t["name"], toks) for t in tested) and all(not name_shown(n, toks) for n in skipped)
    flat = " ".join(table.stdout.split())
    assert "3 conv weights pass (normal fan_out relu)" in flat and "1 linear weight passes" in flat
    assert "3 tensors skipped (skip rules: 3); --detail lists every tensor" in flat
    detail = kaiming(["verify", "model.npz", "--rules", "init.toml", "--detail"], folder, width)
    fits(detail.stdout, width)
    dtoks = tokens(detail.stdout)
    for t in tested:  # --detail lists every tensor, its name whole, its shape and p-value uncut
        assert t["name"] in dtoks or len(t["name"]) > width, (t["name"], detail.stdout)
        assert "×".join(map(str, t["shape"])) in dtoks
        assert f"{t['pvalue_adjusted']:.3g}" in dtoks
    assert all(n in dtoks for n in skipped)


@pytest.mark.parametrize("width", WIDTHS)
def test_identify_fits_and_keeps_labels_whole(folder: Path, width: int) -> None:
    table = kaiming(["identify", "model.npz"], folder, width)
    doc = json.loads(kaiming(["identify", "model.npz", "-f", "json"], folder, width).stdout)
    fits(table.stdout, width)
    toks = tokens(table.stdout)
    for t in doc["tensors"]:
        assert name_shown(t["name"], toks), t["name"]
    assert "kaiming_n" not in toks and "ormal_" not in toks  # `kaiming_n/ormal_` was a label cut in two


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("args", [
    ["gain"], ["std", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"],
    ["fan", "--shape", "64,3,3,3"], ["explain", "--shape", "16,32,3,3"],
    ["check", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"],
    ["check", "--shape", "2,2"],
    ["propagate", "--depth", "12", "--width", "32", "--nonlinearity", "tanh"],
], ids=lambda a: "-".join(a[:3]) if isinstance(a, list) else str(a))
def test_every_command_fits(folder: Path, args: list[str], width: int) -> None:
    out = kaiming(args, folder, width)
    assert out.returncode in (0, 1), out.stderr
    fits(out.stdout, width)
    toks = tokens(out.stdout)
    if args[0] == "gain":
        for name in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "leaky_relu", "1.414213562"):
            assert name in toks
    if args[0] == "check":
        doc = json.loads(kaiming([*args, "-f", "json"], folder, width).stdout)
        for test in doc["tests"]:
            p = test["pvalue"]
            shown = "<1e-300" if p == 0 else (f"{p:.3g}" if p >= 1e-3 else f"{p:.2e}")
            assert shown in toks
