"""identify's ranking, one tensor at a time (``ranking.rank``) against a batch at once (``ranking.rank_rows``), on
the batches identify's group path really ranks (issue 25).

    python bench/rank_rows.py FILE [FILE ...]

runs ``kaiming identify FILE --jobs 1`` in this process, keeps the arguments of each ``rank_rows`` call of the group
path, then ranks them again both ways (best of 7 runs each, alternated) and prints the time per tensor and whether
every ranking is the same, candidate for candidate and bit for bit.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from kaiming_cli.cli.app import cli
from kaiming_cli.runners.identify import grouped, ranking

RUNS = 7


def captured(path: str) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    real = ranking.rank_rows

    def keep(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    setattr(grouped, "rank_rows", keep)  # noqa: B010  # the group path's own name for it
    try:
        cli.main(["identify", path, "-f", "json", "--jobs", "1", "-o", "/dev/null"], prog_name="kaiming",
                 standalone_mode=False)
    finally:
        setattr(grouped, "rank_rows", real)  # noqa: B010
    return calls


def same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(x.candidate is y.candidate and repr(x.loglik) == repr(y.loglik)
                                    for x, y in zip(a, b, strict=True))


def main(paths: list[str]) -> None:
    for path in paths:
        calls = captured(path)
        tensors = sum(len(c[0]) for c in calls)
        one_by_one, batch = [], []
        for _ in range(RUNS):
            start = time.perf_counter()
            alone = [[ranking.rank(c, s, eps, x) for c, s, x in zip(cands, summaries, samples, strict=True)]
                     for cands, summaries, eps, samples in calls]
            one_by_one.append(time.perf_counter() - start)
            start = time.perf_counter()
            together = [ranking.rank_rows(*args) for args in calls]
            batch.append(time.perf_counter() - start)
        equal = all(same(a, b) for x, y in zip(alone, together, strict=True) for a, b in zip(x, y, strict=True))
        print(f"{path}: {tensors} tensors in {len(calls)} batches; rank {min(one_by_one) / tensors * 1e6:.0f} us "
              f"a tensor, rank_rows {min(batch) / tensors * 1e6:.0f} us; the same rankings: {equal}")


if __name__ == "__main__":
    main(sys.argv[1:])
