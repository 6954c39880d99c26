"""Does audit's identify miss the law a fresh build drew more often without the full-n shape test? (issue 27 point 7)

Fresh draws of three inits on a (256, 128, 3, 3) conv weight (a ResNet-50 shape), each judged by
``runners.identified`` against the laws audit expects there (kaiming normal/uniform, fan_in/fan_out, relu, and
torch's default), once with identify's battery as it was in audit (``NON_SPECTRAL_TESTS``: the shape test on
every value's rounding cell) and once as audit now runs it (``AUDIT_TESTS``, without it); prints how often the law
that was drawn is not matched (a false alarm of audit's ``as recommended``).

    python bench/audit_shape_test.py [SEEDS]   # default 200 (about 25 s)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import kaiming_cli.runners.identified as identified  # noqa: E402
from kaiming_cli.io.memory import array_source  # noqa: E402
from kaiming_cli.runners.audit import kaiming_laws, torch_default_law  # noqa: E402
from kaiming_cli.stats.battery import NON_SPECTRAL_TESTS  # noqa: E402

SHAPE = (256, 128, 3, 3)
#: init -> the index of its own law among the expected ones (kaiming_laws' order, then the default)
INITS = {"kaiming_normal": 0, "kaiming_uniform": 2, "default": 4}


def draw(init: str, seed: int) -> torch.Tensor:
    torch.manual_seed(1000 + seed)
    w = torch.empty(SHAPE)
    if init == "kaiming_normal":
        torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
    elif init == "kaiming_uniform":
        torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")
    else:
        torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    return w


def misses(init: str, tests: tuple[str, ...], seeds: int) -> int:
    laws = (*kaiming_laws(SHAPE, "relu", 0.0), torch_default_law(SHAPE, "Conv2d"))
    identified.AUDIT_TESTS = tests
    return sum(not identified.identified(array_source(draw(init, s), f"layer{s}.weight"), laws, seed=0)
               .matches[INITS[init]] for s in range(seeds))


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    without = tuple(t for t in NON_SPECTRAL_TESTS if t != "shape")
    for init in INITS:
        print(f"{init} {SHAPE}, {seeds} draws: its law not matched {misses(init, NON_SPECTRAL_TESTS, seeds)} times "
              f"with the shape test, {misses(init, without, seeds)} without")


if __name__ == "__main__":
    main()
