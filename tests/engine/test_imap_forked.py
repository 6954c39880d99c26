"""``engine/parallel.py``'s forked workers (``imap_forked``, and ``map_parallel`` for files): results in order,
never more than a bounded window ahead of the caller (a report's reader that stops reading stops the work), a
worker that dies fails the run instead of leaving it waiting, and nothing is left running when the caller stops
early (issue 25)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import Any

import pytest

import kaiming_cli.engine.parallel as parallel

#: Seconds after which a test here is failed as hung: what these tests guard against is a run waiting forever.
HUNG = 120


@pytest.fixture(autouse=True)
def fails_instead_of_hanging() -> Iterator[None]:
    def hung(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError(f"still waiting after {HUNG} s: the pool hangs")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HUNG)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "fork_safe", lambda: True)  # torch, loaded by other tests, is never touched here


def test_results_come_in_order_from_other_processes() -> None:
    got = list(parallel.imap_forked(lambda i: (i * i, os.getpid()), 50, 2))
    assert [v for v, _ in got] == [i * i for i in range(50)]
    assert os.getpid() not in {pid for _, pid in got}
    assert not multiprocessing.active_children()


def test_the_workers_stay_a_bounded_window_ahead_of_the_caller() -> None:
    """A shared counter of the items made: after the caller took k results, at most k plus the window were made,
    however slowly it reads (no timing: the window is a count)."""
    made: Any = multiprocessing.get_context("fork").Value("i", 0)
    jobs = 2
    window = parallel.WINDOW_PER_JOB * jobs

    def work(i: int) -> int:
        with made.get_lock():
            made.value += 1
        return i

    taken = 0
    for i in parallel.imap_forked(work, 200, jobs):
        assert i == taken
        taken += 1
        assert made.value <= taken + window
    assert made.value == 200


def test_a_caller_that_stops_early_leaves_no_worker_behind() -> None:
    results = parallel.imap_forked(lambda i: i, 1000, 2)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    results.close()  # what a report's writer does when its reader is gone
    assert not multiprocessing.active_children()
    assert parallel._FORKED_WORK is None


def test_a_worker_that_dies_fails_the_run() -> None:
    def work(i: int) -> int:
        if i == 20:
            os._exit(3)  # a worker killed (out of memory, a signal): the run must not wait for it forever
        return i

    with pytest.raises(parallel.WorkerDied, match="--jobs 1"):
        list(parallel.imap_forked(work, 100, 2))
    assert not multiprocessing.active_children()


def test_one_job_or_one_item_stays_in_this_process() -> None:
    assert {pid for pid in parallel.imap_forked(lambda _i: os.getpid(), 5, 1)} == {os.getpid()}
    assert list(parallel.imap_forked(lambda _i: os.getpid(), 1, 2)) == [os.getpid()]


def test_the_file_pool_fails_the_run_when_a_worker_dies() -> None:
    """``map_parallel``'s forked workers (the files' reads) too: ``multiprocessing.Pool`` replaced a dead worker
    and waited forever for the result it took with it."""
    def work(i: int) -> int:
        if i == 7:
            os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer sends
        return i

    with pytest.raises(parallel.WorkerDied):
        parallel.map_parallel(work, list(range(40)), 2, forkable=True)
    assert not multiprocessing.active_children()
    assert parallel._FORKED_WORK is None


def test_the_file_pool_gives_results_in_order_and_raises_a_workers_error() -> None:
    got = parallel.map_parallel(lambda i: (i * i, os.getpid()), list(range(30)), 2, forkable=True)
    assert [v for v, _ in got] == [i * i for i in range(30)]
    assert {pid for _, pid in got}.isdisjoint({os.getpid()})
    packed = parallel.map_parallel(lambda i: i + 1, list(range(5000)), 2, forkable=True)  # chunk_size's packs
    assert packed == list(range(1, 5001))

    def work(i: int) -> int:
        if i == 3:
            raise ValueError("a corrupt tensor")
        return i

    with pytest.raises(ValueError, match="a corrupt tensor"):
        parallel.map_parallel(work, list(range(30)), 2, forkable=True, chunksize=1)
    assert not multiprocessing.active_children()


class Unrebuildable(Exception):
    """An exception a worker can raise but the parent cannot unpickle (its ``__init__`` takes two arguments)."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a} {b}")


def test_a_result_the_parent_cannot_receive_is_not_called_a_dead_worker() -> None:
    """The executor also breaks when the parent cannot unpickle what a worker sent (a bug of kaiming's, exit 4):
    that is not memory running out, and its cause is kept for ``KAIMING_DEBUG=1``."""
    def work(i: int) -> int:
        if i == 3:
            raise Unrebuildable(1, 2)
        return i

    with pytest.raises(BrokenProcessPool) as raised:
        parallel.map_parallel(work, list(range(30)), 2, forkable=True, chunksize=1)
    assert not isinstance(raised.value, parallel.WorkerDied) and raised.value.__cause__ is not None
    assert "Unrebuildable" in str(raised.value.__cause__)
    assert not multiprocessing.active_children()
