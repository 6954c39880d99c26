"""From the paths a user gives to the tensors a run tests: every readable tensor, one error per path that
cannot be read (the other paths still run), and the ``--tensor`` selection with how much each glob matched."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from .limits import Limits
from .readers import read_path
from .sources import TensorSource


@dataclass(frozen=True)
class FileError:
    """A path that could not be read at all: reported, while the other files are still verified."""

    file: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class GlobCount:
    """How many tensors a rule decided (first match wins) or a ``--tensor`` glob selected."""

    match: str
    matched: int
    origin: str = "--tensor"

    def to_dict(self) -> dict[str, Any]:
        return {"match": self.match, "matched": self.matched, "origin": self.origin}


def read_paths(paths: Iterable[str], limits: Limits | None = None) -> tuple[list[TensorSource], list[FileError]]:
    """Every tensor of every path, and one ``FileError`` per path that cannot be read."""
    found: list[TensorSource] = []
    errors: list[FileError] = []
    for path in paths:
        try:
            found.extend(read_path(path, limits or Limits()))
        except InputError as exc:
            errors.append(FileError(path, str(exc)))
    return found, errors


def input_files(sources: Iterable[TensorSource]) -> list[str]:
    """Every file the sources are read from (a shard, an ONNX model's external data): none may be an output."""
    files = [s.file for s in sources] + [s.data_file for s in sources if s.data_file is not None]
    return list(dict.fromkeys(files))


def select_tensors(sources: Sequence[TensorSource], globs: Sequence[str]
                   ) -> tuple[list[TensorSource], tuple[GlobCount, ...]]:
    """The tensors that ``--tensor`` selects, and how many each glob matched (to report globs matching none)."""
    if not globs:
        return list(sources), ()
    counts = tuple(GlobCount(g, sum(fnmatch.fnmatchcase(s.name, g) for s in sources)) for g in globs)
    return [s for s in sources if any(fnmatch.fnmatchcase(s.name, g) for g in globs)], counts
