from __future__ import annotations

import os

import pytest
from click.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In CI the torch extra is installed by `make test`: its absence is a failure, not a skip."""
    if os.environ.get("CI"):
        try:
            import torch  # noqa: F401
        except ImportError as exc:  # pragma: no cover - CI set-up error
            raise pytest.UsageError("CI must install torch==2.13.0 (make test does)") from exc
