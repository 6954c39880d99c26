"""Runs every case of the hostile-input corpus (tests/hostile/): see harness.py for what each must satisfy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile import harness
from tests.hostile.cases import CASES

pytestmark = pytest.mark.hostile


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_case(case: harness.Case, tmp_path: Path) -> None:
    if case.root_only and os.geteuid() != 0:
        pytest.skip("needs root to make device nodes (CI runs as root)")
    harness.check(case, tmp_path)
