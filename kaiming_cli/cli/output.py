"""Where output goes: stdout or ``-o`` (atomically for regular files), stderr lines, and what happens when
the reader of a pipe has gone. Rendering itself is ``render/``'s; this only moves text."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, TypeGuard, cast

import click

from ..escape import message as shown

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from ..render.json import Streamed

#: Tables written to ``-o`` files are laid out for this many columns.
FILE_WIDTH = 100


def make_console(ctx: click.Context, file: Any = None) -> Console:
    from rich.console import Console

    color = (ctx.find_root().params.get("color") or "auto") if ctx else "auto"
    if file is not None:
        return Console(file=file, width=FILE_WIDTH, color_system=None, force_terminal=False, soft_wrap=False)
    if color == "never":
        console = Console(color_system=None, no_color=True)
    elif color == "always":
        console = Console(force_terminal=True)
    else:
        console = Console()
    console.on_broken_pipe = _pipe_gone  # type: ignore[method-assign]
    return console


def plain_width(ctx: click.Context | None) -> int | None:
    """The width Rich would draw stdout at when it would use no colour, else None (a terminal with colour).

    Rich's own rules (rich.console.Console.is_terminal and size): TTY_COMPATIBLE and FORCE_COLOR decide before
    isatty; COLUMNS, else the first standard stream that is a terminal, else 80 columns. Anything unusual (a
    dumb terminal, Windows, a non-UTF-8 stdout, a tiny width) is left to Rich.
    """
    color = (ctx.find_root().params.get("color") or "auto") if ctx else "auto"
    env = os.environ
    if color == "always" or sys.platform == "win32" or env.get("TERM") in ("dumb", "unknown"):
        return None
    if color != "never":
        tty = env.get("TTY_COMPATIBLE", "")
        if tty == "1" or (tty != "0" and env.get("FORCE_COLOR") not in (None, "")):
            return None
        try:
            if tty != "0" and env.get("FORCE_COLOR") is None and sys.stdout.isatty():
                return None
        except ValueError:
            pass
    if not (getattr(sys.stdout, "encoding", None) or "utf-8").lower().startswith("utf"):
        return None
    width = 0
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
            break
        except (AttributeError, ValueError, OSError):
            continue
    columns = env.get("COLUMNS")
    if columns is not None and columns.isdigit():
        width = int(columns)
    width = width or 80
    return width if width >= 20 else None


def _pipe_gone() -> None:
    """Rich's default exits with 1 on EPIPE; raise instead, so ``emit`` decides (see there)."""
    raise BrokenPipeError


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def write_text(path: str, text: str) -> None:
    """Write text to ``-o`` (atomically for regular files; see ``files.write_output``)."""
    from ..io.files import write_output

    # backslashreplace: a lone surrogate that reached this far is shown, never a crash
    data = text.encode("utf-8", "backslashreplace")
    write_output(path, lambda fh: fh.write(data), "choose a writable location with -o")


def silence(stream: Any) -> None:
    """After EPIPE: point the stream's descriptor at /dev/null, so nothing more (not even the flush
    at exit) fails. The recipe of https://docs.python.org/3/library/signal.html#note-on-sigpipe."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real descriptor (a test runner's buffer)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def emit(ctx: click.Context, output: str | None, content: RenderableType | str | Streamed) -> None:
    """Send data to stdout or to ``-o``; tables are rendered as plain text into files; a streamed JSON document
    is written piece by piece as it is made.

    A reader that has gone away (``| head``, ``| true``) is not an error: the data stops, the run
    goes on and exits with the code it earned, so a failing gate still fails under ``pipefail``.
    """
    from ..render.plain import plain_text

    if _streamed(content):
        content.jobs = report_jobs(ctx)
        emit_streamed(output, content)
        return
    content = cast("RenderableType | str", content)  # TypeGuard narrows only the branch above
    if output and output != "-":
        plain = None if isinstance(content, str) else plain_text(content, FILE_WIDTH)
        if isinstance(content, str):
            text = content
        elif plain is not None:
            text = unpadded(plain)
        else:
            text = rendered(ctx, content, FILE_WIDTH)
        write_text(output, text)
        return
    width = None if isinstance(content, str) else plain_width(ctx)
    plain = None if width is None else plain_text(content, width)
    try:
        if isinstance(content, str):
            click.echo(content, nl=False)
        elif plain is not None:
            click.echo(unpadded(plain), nl=False)
        elif width is not None:  # a pipe, a file, --color never: no trailing spaces for grep and diff
            click.echo(rendered(ctx, content, width), nl=False)
        else:
            make_console(ctx).print(content)
        sys.stdout.flush()
    except BrokenPipeError:
        silence(sys.stdout)


def report_jobs(ctx: click.Context) -> int:
    """The processes a long JSON report's lines may be made by: the command's ``--jobs``, else the machine's."""
    jobs = ctx.params.get("jobs")
    if isinstance(jobs, int) and jobs > 0:
        return jobs
    from ..engine.parallel import default_jobs

    return default_jobs()


def _streamed(content: object) -> TypeGuard[Streamed]:
    """Whether ``content`` is a streamed JSON document, without importing the JSON renderer for the tables and
    texts of the lookups (4 ms of their start-up): a ``Streamed`` exists only once its module is loaded."""
    module = sys.modules.get(f"{__package__.rpartition('.')[0]}.render.json")
    return module is not None and isinstance(content, module.Streamed)


def emit_streamed(output: str | None, content: Streamed) -> None:
    """``emit`` of a streamed document: each piece encoded and written as it comes (to ``-o`` atomically still:
    the pieces go to the temporary file that replaces the target at the end)."""
    if output and output != "-":
        from ..io.files import write_output

        def pieces(fh: BinaryIO) -> None:
            content.write(lambda text: fh.write(text.encode("utf-8", "backslashreplace")))

        write_output(output, pieces, "choose a writable location with -o")
        return
    try:
        content.write(lambda text: click.echo(text, nl=False))
        sys.stdout.flush()
    except BrokenPipeError:
        silence(sys.stdout)


def rendered(ctx: click.Context, content: RenderableType, width: int) -> str:
    """Rich's plain text of ``content`` at ``width``, each line without the spaces Rich pads it with."""
    buf = io.StringIO()
    console = make_console(ctx, file=buf)
    console.width = width
    console.print(content)
    return unpadded(buf.getvalue())


def unpadded(text: str) -> str:
    """Each line without trailing spaces (Rich pads a table's title and wrapped cells to the full width)."""
    return "".join(line.rstrip(" ") + "\n" for line in text.splitlines())


def say(message: str) -> None:
    """One line on stderr; if stderr is gone (``2>&1 | true``) the message is dropped, the exit code stays."""
    try:
        click.echo(message, err=True)
    except BrokenPipeError:
        silence(sys.stderr)


def notes_to_stderr(notes: tuple[str, ...] | list[str]) -> None:
    for note in notes:
        say(shown(f"note: {note}"))


def distinct_outputs(outputs: dict[str, str | None], inputs: list[str] | None = None) -> None:
    """Exit 2 when an output is an input or both outputs are one file (see ``files.check_distinct``)."""
    from ..io.files import check_distinct

    check_distinct(outputs, inputs or [])


class progress_bar:
    """A Rich progress bar on stderr for large runs in a terminal; a no-op otherwise."""

    THRESHOLD = 256 * 1024 * 1024

    def __init__(self, total_bytes: int) -> None:
        self.total = total_bytes
        self.progress: Any = None

    def __enter__(self) -> Callable[[int], None] | None:
        if self.total < self.THRESHOLD or not sys.stderr.isatty():
            return None
        from rich.progress import Progress

        self.progress = Progress(console=err_console(), transient=True)
        self.progress.start()
        task = self.progress.add_task("verifying", total=self.total // 4)
        return lambda n: self.progress.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
