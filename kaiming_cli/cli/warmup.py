"""The start-up of the statistics commands (check, verify, identify, audit): one OpenBLAS thread, and the slow
imports started in the background while the data is read. A module of its own because four commands share it
and the lookups must not pay for it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click


def one_blas_thread() -> None:
    """One OpenBLAS thread for the statistics commands, unless the user chose a number (OPENBLAS_NUM_THREADS):
    their matrix products are small (Gram matrices of the spectrum and orthogonality tests) and kaiming already
    spreads tensors and chunks over the cores; OpenBLAS's own threads then only wait for cores that are busy,
    spinning: a 128 x 2048 spectrum test measured 94 ms with them against 1.3 ms without on a loaded 2-core
    machine, with the same result (a thread count moves no rounding in these products). Only before numpy is
    imported (OpenBLAS reads the variable once, when it loads). MKL's and OpenMP's variables are left alone:
    torch reads them for its own thread pool (check's torch backend, audit). ``propagate``, whose large products
    gain from BLAS threads, does not call it."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def preload(ctx: click.Context, *modules: str) -> None:
    """Import slow modules (scipy.special: ~0.15 s) in the background while the data is being read, with one
    BLAS thread (``one_blas_thread``) and fewer garbage collections until the command ``ctx`` ends
    (``fewer_collections``, closed with the context: after the report is written, also on an error or an exit):
    every caller is a statistics command. Never where user code is imported (``audit``): a thread importing while
    the user's module imports deadlocks with their import hooks (issue 27)."""
    import importlib
    import threading

    one_blas_thread()
    ctx.with_resource(fewer_collections())

    def work() -> None:
        if "scipy.special" in modules:
            defer_unused_numpy_submodules()
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:  # reported where the module is really needed
                pass

    threading.Thread(target=work, name="kaiming-preload", daemon=True).start()


#: Net allocations of container objects between two collections of the youngest generation, for the statistics
#: commands (CPython's default is 700).
GC_YOUNG_THRESHOLD = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage after ``GC_YOUNG_THRESHOLD`` allocations instead of 700 while the block runs, then
    restore the threshold it found (also on an exception or ``SystemExit``). A run over thousands of small tensors
    allocates millions of short-lived containers (header entries, summaries, test results, report dicts) that
    reference counting frees; at the default every 700 of them set off a collection that also walks the survivors,
    the results the report needs: 0.1 s of 0.3 s to list a 9000-tensor header, 0.4-0.5 s of 4.5 s of CPU for
    verify on it (issue 25). The older generations keep their thresholds relative to it, and the cycles that do
    occur wait a little longer: a few MB at most. Statistics commands only (``preload`` holds it for the whole
    command, the report included); scoped, so that a process running the command in-process (click's
    ``CliRunner``, a script calling the command) keeps its own setting afterwards, and the lookups and the Python
    API never see it."""
    import gc

    saved = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


#: numpy submodules that ``from numpy import *`` imports and no statistics command uses. scipy.special's import
#: clones the numpy namespace that way (scipy 1.17's vendored ``array_api_compat.numpy``), which imported
#: numpy.testing (and with it unittest) and numpy.f2py: about 0.1 s of CPU, a third of scipy.special's import
#: (measured with ``-X importtime``, docs/performance.md). Not numpy.ma: ``np.unique`` reads it, and a lazy
#: numpy.ma would then be executed in each forked worker instead of once before the fork.
UNUSED_NUMPY_SUBMODULES = ("numpy.testing", "numpy.f2py", "numpy.polynomial", "numpy.ctypeslib", "numpy.rec",
                           "numpy.char", "numpy.strings")


def defer_unused_numpy_submodules() -> None:
    """Register each of ``UNUSED_NUMPY_SUBMODULES`` not yet imported as a lazy module (the standard library's
    ``importlib.util.LazyLoader``): the module object exists, and it is executed, whole and as numpy wrote it, on
    the first access to one of its attributes. Nothing changes for code that uses them (it pays the import then);
    a command that never touches them never pays it."""
    import importlib.util

    import numpy

    for name in UNUSED_NUMPY_SUBMODULES:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        # the attribute too: numpy's module __getattr__ would otherwise import the name again, and ``import
        # numpy.x as x`` reads the attribute
        setattr(numpy, name.rpartition(".")[2], module)
