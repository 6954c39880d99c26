"""Atomic file output: a temporary file in the target's folder, renamed into place.

One mechanism for every file kaiming writes (``-o`` data, ``--plot`` figures), so no reader ever
sees a half-written file, an interrupt leaves nothing behind, and every failure is one InputError.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable

from ..errors import InputError


def file_mode() -> int:
    """The mode a plain open() would give a new file (mkstemp's 0600 is too private)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str, write: Callable[[str], None], hint: str = "choose a writable location") -> None:
    """Call ``write(tmp_path)``, then rename the result to ``path``; clean up on any failure."""
    if os.path.isdir(path):
        raise InputError(f"cannot write {path!r}: it is a directory; give a file path.")
    folder = os.path.dirname(os.path.abspath(path)) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=".kaiming-", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write {path!r}: {exc.strerror}; {hint}.") from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"cannot write {path!r}: {exc.strerror}; {hint}.") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # gone already after a successful rename
