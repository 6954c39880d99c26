"""The start-up of the statistics commands (check, verify, identify, audit): one OpenBLAS thread, and the slow
imports started in the background while the data is read. A module of its own because four commands share it
and the lookups must not pay for it."""

from __future__ import annotations

import os
import sys


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


def preload(*modules: str) -> None:
    """Import slow modules (scipy.special: ~0.15 s) in the background while the data is being read, with one
    BLAS thread (``one_blas_thread``): every caller is a statistics command. Never where user code is imported
    (``audit``): a thread importing while the user's module imports deadlocks with their import hooks (issue 27)."""
    import importlib
    import threading

    one_blas_thread()

    def work() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:  # reported where the module is really needed
                pass

    threading.Thread(target=work, name="kaiming-preload", daemon=True).start()
