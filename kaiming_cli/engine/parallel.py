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

if TYPE_CHECKING:  # only types here: check and the Python API need not load the file readers
    from multiprocessing.pool import Pool

    from ..io.sources import TensorSource

Progress = Callable[[int], None]


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


T = TypeVar("T")
R = TypeVar("R")
_FORKED_WORK: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


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
        with _forked_pool(fn, items, jobs) as pool:
            results: list[R] = pool.map(_run_forked, range(len(items)),
                                        chunksize=chunksize or chunk_size(len(items), jobs))
            return results
    with ThreadPoolExecutor(max_workers=jobs) as threads:
        return list(threads.map(fn, items))


@contextmanager
def _forked_pool(fn: Callable[[T], R], items: Sequence[T], jobs: int) -> Iterator[Pool]:
    """A pool of forked workers that run ``_run_forked(i)``, that is ``fn(items[i])``, both inherited by the fork;
    closed and joined when the block ends, terminated if it raises (Ctrl-C, a worker's error, a reader gone)."""
    import multiprocessing

    with _forked_work(fn, items):
        pool = multiprocessing.get_context("fork").Pool(min(jobs, len(items)), initializer=_ignore_sigint)
        try:
            yield pool
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()


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
    that dies fails the run (``BrokenProcessPool``) instead of leaving it waiting. In this process with one job
    or one item, or where forking is not safe (``fork_safe``)."""
    if jobs <= 1 or count <= 1 or not fork_safe():
        yield from map(fn, range(count))
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    workers = min(jobs, count)
    pending: deque[Future[R]] = deque()
    # the fork context starts every worker at the first submit, before the executor's own thread
    with _forked_work(fn, range(count)), ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_sigint) as pool:
        try:
            submitted = 0
            while submitted < count or pending:
                while submitted < count and len(pending) < WINDOW_PER_JOB * workers:
                    pending.append(pool.submit(_run_forked, submitted))
                    submitted += 1
                yield pending.popleft().result()
        finally:  # also when the caller stops early (a reader gone) or on Ctrl-C: the queued work is dropped
            pool.shutdown(wait=True, cancel_futures=True)


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
