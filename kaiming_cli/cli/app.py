"""The ``kaiming`` command group: its own options (``--color``, ``--version``), the mapping of every error to its
exit code (``KaimingGroup``), the shell completion, and the console-script entry point. Each command lives in a
module of its own (``lookups``, ``check``, ``verify``, ``identify``, ``propagate``, ``audit``): parse (params),
call one runner, hand the result to its format (render), write it (output). The cli package is the only one that
imports click."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, NoReturn

import click

from ..errors import ExitCode, KaimingError
from ..escape import message as shown
from .output import emit, say, silence

#: --help follows the terminal's width (COLUMNS, or the terminal's own), up to 100 columns.
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --------------------------------------------------------------------------- the group

#: Each command's module in this package, imported only when the command runs or is listed (``--help``,
#: completion): ``kaiming std`` does not pay for the modules of the statistics commands (verify's, audit's and
#: the locale they import: about 8 ms of a lookup's ~115 ms of imports, measured with ``-X importtime``), nor
#: ``kaiming verify`` for audit's and check's. Click's own pattern for lazily loaded subcommands.
COMMANDS = {"std": "lookups", "gain": "lookups", "fan": "lookups", "explain": "lookups", "check": "check",
            "verify": "verify", "identify": "identify", "propagate": "propagate", "audit": "audit", "diff": "diff"}


class KaimingGroup(click.Group):
    """Maps our exceptions to the exit codes of docs/cli.md, and never shows a traceback by default; loads each
    command's module when the command is first asked for (``COMMANDS``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module = importlib.import_module(f"{__package__}.{COMMANDS[cmd_name]}")
            self.add_command(getattr(module, cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                           list[str]]:
        """Click's, with every command among the close matches of a misspelt one (``Did you mean 'verify'?``):
        Click (8.4 and later) draws them from the commands already loaded, which are only the one being run."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            missing = getattr(click.exceptions, "NoSuchCommand", None)  # Click 8.4+; 8.2 and 8.3 suggest nothing
            if missing is None or not isinstance(exc, missing):
                raise
            raise missing(exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KaimingError as exc:
            say(shown(f"Error: {exc}"))  # messages quote names and paths from files
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            say("Interrupted.")
            ctx.exit(ExitCode.INTERRUPTED)
        except click.UsageError as exc:  # a bad option of a command: two lines, not click's usage block
            hint = group_option_hint(exc)  # replaces click's did-you-mean (--color is not --plot misspelt)
            say(f"Error: No such option '{getattr(exc, 'option_name', '')}'{hint}" if hint else
                f"Error: {exc.format_message()}")
            if exc.ctx is not None:
                say(f"Try '{exc.ctx.command_path} --help' for help.")
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # stdout is handled in emit(); this is stderr (or both) gone: nothing can be said any
            # more, so end as a shell reports a process killed by SIGPIPE (128 + 13), never 0
            silence(sys.stdout)
            silence(sys.stderr)
            ctx.exit(ExitCode.PIPE)
        except MemoryError:
            say("Error: out of memory; use --samples to test fewer values.")
            ctx.exit(ExitCode.INPUT)
        except Exception as exc:  # a bug: one line, traceback only on request
            if os.environ.get("KAIMING_DEBUG") == "1":
                raise
            say(shown(f"Internal error (a bug in kaiming): {type(exc).__name__}: {exc}. "
                      "Set KAIMING_DEBUG=1 for the traceback."))
            ctx.exit(ExitCode.INTERNAL)


#: Options of ``kaiming`` itself, which go before the command name.
GROUP_OPTIONS = ("--color", "--version")


def group_option_hint(exc: click.UsageError) -> str:
    """``kaiming verify x --color never`` said "No such option" and nothing more: say where it goes."""
    name = getattr(exc, "option_name", None)
    if isinstance(exc, click.NoSuchOption) and name in GROUP_OPTIONS and exc.ctx is not None:
        example = f"kaiming {name} never {exc.ctx.info_name} ..." if name == "--color" else f"kaiming {name}"
        return f" ({name} is an option of kaiming itself: put it before the command, as in `{example}`)"
    return ""


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``, from the one place the version is looked up (``about.version``)."""
    if value and not ctx.resilient_parsing:
        from ..about import version

        click.echo(f"kaiming, version {version()}")
        ctx.exit()


@click.group(cls=KaimingGroup, context_settings=CONTEXT)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
              help="Colour in tables: auto follows the terminal and NO_COLOR.")
def cli(color: str) -> None:
    """Verify neural-network weight initialization (Kaiming/He and its relatives).

    \b
    kaiming std --shape 64,3,3,3 --mode fan_out \\
        --nonlinearity relu
    kaiming check --shape 64,3,3,3 --mode fan_out \\
        --nonlinearity relu
    kaiming explain --shape 256,128 --nonlinearity tanh
    """


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script.

    \b
    eval "$(kaiming completion bash)"        # in ~/.bashrc
    kaiming completion fish \\
        > ~/.config/fish/completions/kaiming.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # click ships all three
    emit(click.get_current_context(), None, cls(cli, {}, "kaiming", "_KAIMING_COMPLETE").source() + "\n")


def main() -> NoReturn:
    """Console-script entry point."""
    try:
        cli.main(prog_name="kaiming")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(0)
