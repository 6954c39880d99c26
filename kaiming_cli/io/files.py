"""Writing ``-o`` and ``--plot`` files: atomically where that is safe, in place where it is not.

One mechanism for every file kaiming writes, decided by what the path names (symlinks followed):

- a new path or a regular file: a temporary file in the target's folder, renamed over the target, so
  no reader ever sees a half-written file and an interrupt leaves nothing behind. An existing file
  keeps its permission bits (and, when we may, its owner); a symlink keeps pointing where it did and
  the file it points to gets the new content, as a shell's ``>`` would do.
- our own stdout or stderr (``/dev/stdout``, ``/proc/self/fd/1``, or any name for the same file):
  written through that descriptor, so an appending redirection is not clobbered.
- a character device (``/dev/null``, a terminal) or a FIFO: written in place. Nothing is ever renamed
  over a file that is not a regular file: as root that would replace ``/dev/null`` with a report.
  A FIFO is opened without blocking, so a FIFO that nobody reads is an error, not a hang.
- a folder, a block device or a socket: refused.

``check_distinct`` refuses an output that is one of the inputs or the other output (exit 2): the
rename would otherwise replace the checkpoint being verified with its own report.
Every failure to write is one ``InputError`` line.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import InputError, UsageError

Writer = Callable[[BinaryIO], object]
"""Writes the whole output to a binary file object."""


def file_mode() -> int:
    """The mode a plain open() would give a new file (mkstemp's 0600 is too private)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@dataclass(frozen=True)
class Target:
    """Where and how an output is written."""

    how: str
    """``replace`` (temporary file renamed over ``path``), ``in_place`` (opened and written), or ``fd``."""
    path: str
    """For ``replace``: the resolved path (symlinks followed); otherwise the path as given."""
    existing: os.stat_result | None = None
    """The regular file being replaced, or None for a new file."""
    fd: int | None = None
    """Our own stdout (1) or stderr (2) when the path names the same file."""


def _cannot(path: str, why: str, hint: str) -> InputError:
    return InputError(f"cannot write {path!r}: {why}; {hint}.")


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _own_stream(st: os.stat_result) -> int | None:
    """1 or 2 when ``st`` is the file our stdout or stderr is connected to."""
    for fd in (1, 2):
        try:
            if _same(st, os.fstat(fd)):
                return fd
        except OSError:  # that descriptor is closed
            continue
    return None


def classify(path: str, hint: str = "choose a writable location") -> Target:
    """Decide how ``path`` is written; refuse folders, block devices and sockets."""
    try:
        st = os.stat(path)  # follows symlinks, /proc/self/fd/N included
    except FileNotFoundError:
        # a new file, or a symlink to a missing one: created where the link points, as `>` does
        return Target("replace", os.path.realpath(path))
    except OSError as exc:
        raise _cannot(path, exc.strerror or "unusable path", hint) from None
    own = _own_stream(st)
    if own is not None:
        return Target("fd", path, fd=own)
    kind = stat.S_IFMT(st.st_mode)
    if kind == stat.S_IFDIR:
        raise InputError(f"cannot write {path!r}: it is a directory; give a file path.")
    if kind == stat.S_IFREG:
        real = os.path.realpath(path)
        try:
            resolved = os.lstat(real)
        except OSError:
            resolved = None
        if resolved is not None and stat.S_ISREG(resolved.st_mode) and _same(resolved, st):
            return Target("replace", real, existing=st)
        return Target("in_place", path)  # a /proc magic link whose target has no usable name
    if kind in (stat.S_IFCHR, stat.S_IFIFO):
        return Target("in_place", path)
    what = "a block device" if kind == stat.S_IFBLK else "a socket" if kind == stat.S_IFSOCK else "a special file"
    raise _cannot(path, f"it is {what}, not a regular file", hint)


def write_output(path: str, write: Writer, hint: str = "choose a writable location") -> None:
    """Write one output file (see the module docstring for how each kind of path is treated)."""
    target = classify(path, hint)
    if target.how == "replace":
        _replace(target, path, write, hint)
    elif target.how == "fd":
        assert target.fd is not None
        _write_fd(target.fd, write, path, hint)
    else:
        _write_in_place(target.path, write, hint)


def _replace(target: Target, shown: str, write: Writer, hint: str) -> None:
    folder = os.path.dirname(target.path) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=".kaiming-", dir=folder)
    except OSError as exc:
        raise _cannot(shown, exc.strerror or "cannot create a file", hint) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        _copy_metadata(tmp, target.existing)
        _still_replaceable(target, shown, hint)
        os.replace(tmp, target.path)
    except OSError as exc:
        raise _cannot(shown, exc.strerror or str(exc), hint) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # gone already after a successful rename


def _copy_metadata(tmp: str, existing: os.stat_result | None) -> None:
    """A new file gets the umask's mode; a replaced one keeps its permission bits and owner."""
    if existing is None:
        os.chmod(tmp, file_mode())
        return
    if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.chown(tmp, existing.st_uid, existing.st_gid)
    os.chmod(tmp, stat.S_IMODE(existing.st_mode) & 0o777)


def _still_replaceable(target: Target, shown: str, hint: str) -> None:
    """Just before the rename: the target is still absent or the same kind of file (no swap to a device)."""
    try:
        now = os.lstat(target.path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(now.st_mode):
        raise _cannot(shown, "it was replaced by something that is not a regular file while kaiming ran", hint)


def _write_fd(fd: int, write: Writer, shown: str, hint: str) -> None:
    """Write through our own stdout or stderr."""
    stream = sys.stdout if fd == 1 else sys.stderr
    with contextlib.suppress(OSError, ValueError):
        stream.flush()
    _write_and_close(os.fdopen(os.dup(fd), "wb"), write, shown, hint)


def _write_in_place(path: str, write: Writer, hint: str) -> None:
    """A device or FIFO: opened without blocking (a FIFO with no reader fails at once), then written."""
    flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        if stat.S_ISREG(os.stat(path).st_mode):
            flags |= os.O_TRUNC
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            why = "it is a FIFO that no process is reading (or a device that is not there)"
            raise _cannot(path, why, "start the reader first, or give a regular file") from None
        raise _cannot(path, exc.strerror or str(exc), hint) from None
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        fh = os.fdopen(fd, "wb")
    except OSError as exc:
        os.close(fd)
        raise _cannot(path, exc.strerror or str(exc), hint) from None
    _write_and_close(fh, write, path, hint)


def _write_and_close(fh: BinaryIO, write: Writer, shown: str, hint: str) -> None:
    """Write and flush; a reader that has gone away (EPIPE) ends the output quietly, like ``| head``."""
    try:
        write(fh)
        fh.flush()
    except BrokenPipeError:
        pass
    except OSError as exc:
        raise _cannot(shown, exc.strerror or str(exc), hint) from None
    finally:
        with contextlib.suppress(OSError):  # data left in the buffer after EPIPE has nowhere to go
            fh.close()


# --------------------------------------------------------------------------- outputs vs inputs

def identity(path: str) -> tuple[int, int] | str:
    """What a path names: (device, inode) when it exists, else its resolved path; '-' is stdout."""
    if path == "-":
        try:
            st = os.fstat(1)
        except OSError:
            return "<stdout>"
        return st.st_dev, st.st_ino
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return st.st_dev, st.st_ino


def _is_char_device(path: str) -> bool:
    try:
        mode = os.fstat(1).st_mode if path == "-" else os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode)


def check_distinct(outputs: dict[str, str | None], inputs: Iterable[str] = ()) -> None:
    """Refuse (exit 2) an output that is one of the inputs, or two outputs that are one file.

    ``outputs`` maps a flag (``-o``, ``--plot``) to its path: ``-`` is stdout, None is not written.
    Two outputs on one character device (``/dev/null``, a terminal) are allowed: nothing is lost there.
    """
    given = {flag: path for flag, path in outputs.items() if path is not None}
    sources = {identity(p): p for p in dict.fromkeys(inputs)}
    for flag, path in given.items():
        hit = sources.get(identity(path)) if path != "-" else None
        if hit is not None:
            raise UsageError(f"{flag} {path!r} is the input file {hit!r}: the report would replace it; "
                             f"write {flag} to another path.")
    flags = list(given)
    for i, a in enumerate(flags):
        for b in flags[i + 1:]:
            pa, pb = given[a], given[b]
            if identity(pa) == identity(pb) and not _is_char_device(pa):
                first = "the report (stdout)" if pa == "-" else a
                shown = pb if pa == "-" else pa
                raise UsageError(f"{first} and {b} both write to {shown!r}: one would overwrite the other; "
                                 "give each its own file.")
