"""Every input's tensors at the reading boundary (io/entries.py): counted, named once, one stored tensor tested once."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from kaiming_cli.errors import InputError
from kaiming_cli.io.entries import check_aliasing, union_length, vet_entries
from kaiming_cli.io.limits import Limits
from kaiming_cli.io.readers import read_path
from kaiming_cli.io.sources import Extent, TensorSource, no_open
from kaiming_cli.runners.identify import run_identify
from kaiming_cli.runners.verify import verify_source
from kaiming_cli.theory.spec import SpecOptions


def _source(name: str, extent: Extent | None, shape: tuple[int, ...] = (4, 4)) -> TensorSource:
    return TensorSource("f", name, shape, "float32", no_open, extent=extent)


class TestUnionLength:
    """The bytes a set of ranges covers, against counting the bytes one by one."""

    @pytest.mark.parametrize("seed", range(20))
    def test_matches_a_brute_force_count(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        spans = [(int(a), int(a + n)) for a, n in zip(rng.integers(0, 200, 12), rng.integers(0, 40, 12),
                                                        strict=True)]
        covered = set()
        for start, stop in spans:
            covered.update(range(start, stop))
        assert union_length(spans) == len(covered)


class TestVetEntries:
    """Counts, names and aliases, whatever the format."""

    def test_a_repeat_of_one_extent_is_marked_and_not_the_first(self) -> None:
        e = Extent((1, 2), 0, 64)
        out = vet_entries([_source("a", e), _source("b", e), _source("c", Extent((1, 2), 64, 128))], "f", Limits())
        assert [s.same_as for s in out] == [None, "a", None]

    def test_the_same_bytes_viewed_otherwise_are_two_tensors(self) -> None:
        e = Extent((1, 2), 0, 64)
        out = vet_entries([_source("a", e), _source("b", e, shape=(16,)),
                           _source("c", Extent((1, 2), 0, 64, ((1, 4), False)))], "f", Limits())
        assert [s.same_as for s in out] == [None, None, None]

    def test_a_name_listed_twice_refuses_the_input(self) -> None:
        with pytest.raises(InputError, match="listed twice"):
            vet_entries([_source("a", None), _source("a", None)], "f", Limits())

    def test_more_than_max_tensors_refuses_the_input(self) -> None:
        with pytest.raises(InputError, match="more than 3 tensors"):
            vet_entries([_source(str(i), None) for i in range(4)], "f", Limits(max_tensors=3))

    def test_overlapping_views_may_read_the_bytes_16_times_over(self) -> None:
        mib = 1 << 20
        fine = [Extent((1, 1), i, i + 4 * mib) for i in range(16)]  # 64 MiB read over 4 MiB + 15 B stored
        check_aliasing(fine, "f")
        with pytest.raises(InputError, match="16 times over"):
            check_aliasing([*fine, Extent((1, 1), 100, 100 + 4 * mib)], "f")


class TestTiedTorchWeights:
    """A real torch.save of a model with tied weights: the tied tensor is tested once."""

    @pytest.fixture()
    def tied(self, tmp_path: Path) -> Path:
        torch = pytest.importorskip("torch")
        torch.manual_seed(0)
        embed = torch.nn.Embedding(256, 64)
        head = torch.nn.Linear(64, 256, bias=False)
        head.weight = embed.weight  # tied, as in GPT-2
        path = tmp_path / "tied.pt"
        torch.save({"embed.weight": embed.weight, "head.weight": head.weight,
                    "other.weight": torch.nn.init.kaiming_normal_(torch.empty(64, 32))}, path)
        return path

    def test_the_tied_tensor_points_at_the_first(self, tied: Path) -> None:
        sources = {s.name: s for s in read_path(str(tied))}
        assert sources["head.weight"].same_as == "embed.weight"
        assert sources["embed.weight"].same_as is None and sources["other.weight"].same_as is None

    def test_verify_and_identify_skip_it_with_the_reason(self, tied: Path) -> None:
        head = next(s for s in read_path(str(tied)) if s.name == "head.weight")
        result = verify_source(head, None, SpecOptions(), alpha=0.01)
        assert result.status == "skip" and "same stored bytes as embed.weight" in result.reason
        identified, _errors = run_identify([head], layout="torch", alpha=0.01, seed=0, jobs=1)
        assert identified[0].verdict == "skipped" and "same stored bytes" in identified[0].reason


def test_a_keras_file_with_hard_links_lists_each_link_once(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    w = (np.random.default_rng(0).standard_normal((64, 32)) * math.sqrt(2 / 64)).astype(np.float32)
    with h5py.File(tmp_path / "m.weights.h5", "w") as h5:
        h5.create_group("layers/a/vars").create_dataset("0", data=w)
        h5["layers/b/vars/0"] = h5["layers/a/vars/0"]
    sources = read_path(str(tmp_path / "m.weights.h5"))
    assert sorted(s.same_as or "" for s in sources) == ["", sources[0].name]
