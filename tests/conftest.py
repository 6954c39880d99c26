from __future__ import annotations

import os
import sys
import types

import pytest
from click.testing import CliRunner
from hypothesis import settings

# Property tests are deterministic (fixed example order, no example database carried between runs)
# and never fail on a wall-clock deadline: a loaded CI machine must not turn a pass into a fail.
# `HYPOTHESIS_PROFILE=explore` searches with fresh random examples instead.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

# The index's torchvision (make test-frameworks installs it for timm) is built for CUDA torch: beside the pinned CPU
# torch its fake-kernel registrations raise on import, and transformers imports torchvision when it is installed.
# No test needs those registrations (they serve meta-device tracing of torchvision's own ops).
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# The Keras and JAX cross-checks (marker `frameworks`, `make test-frameworks` installs both) share these.
@pytest.fixture(scope="module")
def keras():  # type: ignore[no-untyped-def]
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def jax():  # type: ignore[no-untyped-def]
    return pytest.importorskip("jax")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In CI the torch extra is installed by `make test`: its absence is a failure, not a skip."""
    if os.environ.get("CI"):
        try:
            import torch  # noqa: F401
        except ImportError as exc:  # pragma: no cover - CI set-up error
            raise pytest.UsageError("CI must install torch==2.13.0 (make test does)") from exc
