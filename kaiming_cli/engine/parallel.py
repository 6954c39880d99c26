"""The parallel policy, in one place: how tensors and their chunks are spread over the cores.

Several tensors: one worker per tensor (forked processes when every reader allows it, threads
otherwise), each tensor read sequentially. One tensor: its chunks in parallel threads (stream.scan).
Every result depends only on (seed, tensor), never on the scheduling, so ``--jobs`` changes speed only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ..errors import KaimingError

if TYPE_CHECKING:  # only types here: check and the Python API need not load the file readers
    from concurrent.futures import ProcessPoolExecutor

    from ..io.sources import TensorSource

Progress = Callable[[int], None]


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


T = TypeVar("T")
R = TypeVar("R")
_FORKED_WORK: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


class WorkerDied(KaimingError):
    """A forked worker process died under the run (the out-of-memory killer, a signal): its results are lost."""


def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates the pool


def _run_forked(index: int) -> Any:
    assert _FORKED_WORK is not None
    fn, items = _FORKED_WORK
    return fn(items[index])


def map_parallel(fn: Callable[[T], R], items: Sequence[T], jobs: int, forkable: bool = False,
                 chunksize: int | None = None) -> list[R]:
    """``[fn(x) for x in items]`` on ``jobs`` workers, in order.

    Forked processes when the items allow it (file readers hold no threads or locks): measured
    1.6x on two cores where threads gave 1.2x, because many short numpy calls per chunk contend
    for the GIL. ``fn`` and the items are inherited by fork, never pickled; only results travel.
    Threads otherwise: a source that lives in a torch tensor (the Python API) is not forkable, since forking
    after torch has started its thread pools is unsafe. Files are read without torch and always forkable.
    ``chunksize``: items a forked worker takes at once, when the caller has packed them itself (``map_batched``).
    """
    if jobs <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    if forkable and "fork" in _start_methods():
        with _forked_executor(fn, items, jobs) as pool:
            return list(pool.map(_run_forked, range(len(items)), chunksize=chunksize or chunk_size(len(items), jobs)))
    with ThreadPoolExecutor(max_workers=jobs) as threads:
        return list(threads.map(fn, items))


@contextmanager
def _forked_executor(fn: Callable[[T], R], items: Sequence[T], jobs: int) -> Iterator[ProcessPoolExecutor]:
    """Forked workers that run ``_run_forked(i)``, that is ``fn(items[i])``, both inherited by the fork, for both
    kinds of forked work (``map_parallel``'s files, ``imap_forked``'s report). A worker that dies (killed by the
    out-of-memory killer or a signal) fails the run with ``WorkerDied`` instead of leaving it waiting for the lost
    result, as ``multiprocessing.Pool`` did. The executor breaks too when the parent cannot unpickle what a worker
    sent; then its ``BrokenProcessPool`` carries the cause (CPython sets it only then) and is raised as it is, a
    bug. When the block is left early (Ctrl-C, an error, a reader gone) the workers are terminated, not waited
    for: a worker may be in the middle of a long read."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with _forked_work(fn, items):
        pool = ProcessPoolExecutor(min(jobs, len(items)), mp_context=multiprocessing.get_context("fork"),
                                   initializer=_ignore_sigint)
        try:
            yield pool
        except BrokenProcessPool as exc:
            _terminate(pool)
            if exc.__cause__ is not None:  # the parent could not receive a result (a bug): its cause is kept
                raise
            raise WorkerDied("a worker process died (killed by the system: out of memory?); "
                             "run with --jobs 1 to use less memory.") from None
        except BaseException:
            _terminate(pool)
            raise
        pool.shutdown(wait=True)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """End a process pool's workers now, dropping their work. Python 3.14 has ``terminate_workers``; before it, the
    executor keeps its processes in ``_processes`` (3.8-3.13), which it then finds dead and reaps."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _forked_work(fn: Callable[[T], R], items: Sequence[T]) -> Iterator[None]:
    """``_run_forked``'s work (``fn`` and ``items``) for the workers the block forks, inherited by the fork and
    cleared after it; set once the background imports (``cli/warmup.py``) are done: no import may be half done in
    a forked child."""
    global _FORKED_WORK
    import threading

    for thread in threading.enumerate():
        if thread.name == "kaiming-preload":
            thread.join()
    _FORKED_WORK = (fn, items)
    try:
        yield
    finally:
        _FORKED_WORK = None


def fork_safe() -> bool:
    """Whether work that is not a file's (``imap_forked``) may go to forked workers: fork exists, and torch is not
    loaded (forking after it started its thread pools is unsafe: the Python API, audit, a torchrun job)."""
    return "fork" in _start_methods() and "torch" not in sys.modules


def imap_forked(fn: Callable[[int], R], count: int, jobs: int) -> Iterator[R]:
    """``fn(i)`` for each i in ``range(count)``, in order, each yielded as soon as it and those before it are
    done: on ``jobs`` forked workers (``fn`` inherited, only results travel), at most ``WINDOW_PER_JOB`` items a
    worker ahead of the caller, so that a caller writing each result before it takes the next holds a bounded
    amount (a long report's text, render/json.py ``Each``; a reader that stops reading stops the work). A worker
    that dies fails the run (``WorkerDied``) instead of leaving it waiting. In this process with one job
    or one item, or where forking is not safe (``fork_safe``)."""
    if jobs <= 1 or count <= 1 or not fork_safe():
        yield from map(fn, range(count))
        return
    from collections import deque
    from concurrent.futures import Future

    pending: deque[Future[R]] = deque()
    with _forked_executor(fn, range(count), jobs) as pool:  # the workers start at the first submit
        window, submitted = WINDOW_PER_JOB * min(jobs, count), 0
        while submitted < count or pending:
            while submitted < count and len(pending) < window:
                pending.append(pool.submit(_run_forked, submitted))
                submitted += 1
            yield pending.popleft().result()


#: Items a worker of ``imap_forked`` may have made or queued ahead of its caller.
WINDOW_PER_JOB = 2


def chunk_size(items: int, jobs: int) -> int:
    """Items a forked worker takes at once: one when they are few (a large tensor each, spread evenly), more when
    they are many (a checkpoint of thousands of small tensors), where one round trip through the pool's pipes per
    item cost as much as the item. Eight batches per worker keep the load balanced."""
    return max(1, items // (jobs * 8))


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


class _Policy(NamedTuple):
    """How a run of ``items`` pieces of work over ``sources`` is spread (the policy above)."""

    forkable: bool
    forked: bool
    inner: int
    """Threads one piece of work may give a tensor's chunks."""
    report: Progress | None
    """The progress callback a piece of work may call: none in forked workers (they report once, at the end)."""


def _policy(sources: Sequence[TensorSource], items: int, jobs: int, progress: Progress | None) -> _Policy:
    many = jobs > 1 and items > 1
    forkable = all(s.forkable for s in sources)
    forked = many and forkable
    if forked:
        import scipy.special  # noqa: F401  # loaded once, before the fork, for every worker
    return _Policy(forkable, forked, 1 if many else jobs, None if forked else progress)


def map_sources(fn: Callable[[TensorSource, int, Progress | None], R], sources: Sequence[TensorSource],
                jobs: int | None = None, progress: Progress | None = None) -> list[R]:
    """``[fn(source, inner_jobs, progress) for source in sources]`` under the policy above.

    ``inner_jobs`` is how many threads ``fn`` may give one tensor's chunks; ``progress`` is passed on
    only where it is called in this process (forked workers report once, at the end).
    """
    jobs = jobs or default_jobs()
    policy = _policy(sources, len(sources), jobs, progress)
    results = map_parallel(lambda source: fn(source, policy.inner, policy.report), sources, jobs,
                           forkable=policy.forkable)
    if policy.forked and progress is not None:
        progress(sum(s.numel for s in sources))
    return results


def map_batched(sources: Sequence[TensorSource], batches: list[list[int]],
                batch: Callable[[list[int], Progress | None], Sequence[R | None]],
                one: Callable[[TensorSource, int, Progress | None], R], jobs: int,
                progress: Progress | None = None) -> list[R]:
    """Every source's result, in order: ``batch`` for the batches of a group path (indices into ``sources``; it
    gives None for a tensor it hands back) and ``one`` for the rest, as one list of work under the policy above
    (one pool of forked workers for both, not one each); a tensor a batch hands back is then run alone.

    A worker takes one batch at a time, and the other tensors in packs (``chunk_size`` of them: one round trip
    through the pool's pipes per tensor would cost as much as a small one). Packing the whole list instead would
    hand one worker several batches at once, and a group cut for every worker (``cut_batches``) to one of them."""
    grouped = {i for b in batches for i in b}
    singles = [i for i in range(len(sources)) if i not in grouped]
    policy = _policy(sources, len(batches) + len(singles), jobs, progress)
    pack = chunk_size(len(batches) + len(singles), jobs) if policy.forked else 1
    items = batches + [singles[a:a + pack] for a in range(0, len(singles), pack)]

    def work(k: int) -> Sequence[R | None]:
        if k < len(batches):
            return batch(items[k], policy.report)
        return [one(sources[i], policy.inner, policy.report) for i in items[k]]

    done = map_parallel(work, range(len(items)), jobs, forkable=policy.forkable, chunksize=1)
    out: list[R | None] = [None] * len(sources)
    for item, results in zip(items, done, strict=True):
        for i, result in zip(item, results, strict=True):
            out[i] = result
    if policy.forked and progress is not None:
        progress(sum(s.numel for s, r in zip(sources, out, strict=True) if r is not None))
    return [r if r is not None else one(s, jobs, progress) for s, r in zip(sources, out, strict=True)]


def cut_batches(groups: Iterable[tuple[list[int], int]], jobs: int, per_worker: int = 2) -> list[list[int]]:
    """Each group's members (indices) cut into batches of at most its size; with ``jobs`` > 1 into at least
    ``per_worker`` batches per worker, so that one large group keeps every core busy (verify's and identify's group
    paths). More batches balance the workers better (the last one to finish sets the time) and cost a fixed
    overhead each: identify, whose time per tensor is mostly its own, takes more than verify."""
    batches: list[list[int]] = []
    for members, size in groups:
        if jobs > 1:
            size = max(1, min(size, -(-len(members) // (per_worker * jobs))))
        batches += [members[a:a + size] for a in range(0, len(members), size)]
    return batches
