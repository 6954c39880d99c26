"""``kaiming verify``: test the tensors of weight files against rules or spec options, on one process or on every
rank of a ``torchrun`` job (the ranks agree on the inputs first, and rank 0 writes the report)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import click

from ..errors import ExitCode
from ..escape import message as shown
from ..io.limits import Limits
from ..render import formatter
from ..theory.spec import SPEC_KEYS, SpecOverrides
from .output import distinct_outputs, emit, progress_bar, say
from .params import (
    ALPHA,
    DEFAULT_TESTS_TEXT,
    JOBS,
    SEED,
    distinct_paths,
    gate_options,
    given_on_command_line,
    max_tensors_option,
    output_options,
    parse_tests,
    path_given,
    spec_options,
    spec_options_of,
)
from .warmup import preload

if TYPE_CHECKING:
    from ..engine.distributed import World
    from ..io.config import Config
    from ..io.inputs import FileError
    from ..io.sources import TensorSource
    from ..runners.verify import VerifyResult


#: verify with neither rules nor spec options used to assume kaiming_normal_'s defaults silently and fail a
#: correct model as "TRAINED": it says what it needs instead (exit 2), once the files are known to be readable.
NOTHING_TO_VERIFY_AGAINST = (
    "no rules and no spec options: kaiming cannot know what these tensors should be. Say it with spec options "
    "(e.g. --mode fan_out --nonlinearity relu, applied to every float tensor of 2+ dimensions) or with a rules "
    "file (--rules init.toml, or [tool.kaiming] in pyproject.toml); to see what a known-good checkpoint holds, "
    "run kaiming identify FILE.")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@spec_options(with_shape=False)
@click.option("--rules", type=click.Path(), default=None,
              help="TOML rules file ([[rule]] tables); overrides pyproject.toml.")
@click.option("--config", "config_path", type=click.Path(), default=None,
              help="Read [tool.kaiming] from this pyproject.toml instead of searching upwards.")
@click.option("--no-config", is_flag=True, help="Ignore pyproject.toml.")
@click.option("--tensor", "tensor_globs", multiple=True, metavar="GLOB",
              help="Only tensors whose name matches (repeatable).")
@click.option("--alpha", type=ALPHA, default=1e-3, show_default=True, envvar="KAIMING_ALPHA", show_envvar=True,
              help="False-alarm rate of the whole run.")
@click.option("--correction", type=click.Choice(["holm", "bonferroni", "bh", "none"]), default="holm",
              show_default=True, envvar="KAIMING_CORRECTION", show_envvar=True,
              help="Multiple-testing correction across tensors (bh: false discovery rate).")
@click.option("-s", "--seed", type=SEED, default=0, show_default=True, envvar="KAIMING_SEED",
              help="Seed of the EDF subsample and of bf16/fp16 dequantization.")
@click.option("--tests", "tests_text", default=DEFAULT_TESTS_TEXT, show_default=True,
              help="Tests to run per tensor (also: ad).")
@click.option("-j", "--jobs", type=JOBS, default=None, help="Worker processes (threads where forking is not safe).")
@click.option("--detail", is_flag=True, help="Every tensor (passing and skipped too) with its histogram against the "
              "theory; by default the report lists the failing tensors and one line per group of the others.")
@click.option("-q", "--quiet", is_flag=True,
              help="Only the failing tensors' names (stdout) and the summary line (stderr); table format only.")
@click.option("--plot", "plot_path", type=click.Path(), default=None, callback=path_given,
              help="Histogram + Q-Q plot of the failing tensors (the first 6) to this PNG.")
@click.option("--unlisted", type=click.Choice(["skip", "fail"]), default=None,
              help="What a tensor no rule names does: skip (the default) or fail (overrides the rules' `unlisted`).")
@click.option("--allow-empty", is_flag=True,
              help="Pass a run that tested no tensor (by default it fails: a gate must not pass on nothing).")
@max_tensors_option
@gate_options
@output_options(("table", "json", "markdown", "junit", "github"))
@click.pass_context
def verify(ctx: click.Context, paths: tuple[str, ...], layout: str, mode: str, nonlinearity: str,
           negative_slope: float, distribution: str, init: str | None, fan_in: int | None, fan_out: int | None,
           rules: str | None, config_path: str | None, no_config: bool,
           tensor_globs: tuple[str, ...], alpha: float, correction: str, seed: int, tests_text: str,
           jobs: int | None, detail: bool, quiet: bool, plot_path: str | None, unlisted: str | None,
           allow_empty: bool, max_tensors: int, max_detectable: float, strict: bool, fmt: str,
           output: str | None) -> None:
    """Verify the tensors of weight files against rules or spec options (exit 1 on FAIL).

    \b
    kaiming verify model.safetensors --rules init.toml
    kaiming verify ckpt.pt --tensor '*conv*.weight' \\
        --mode fan_out --nonlinearity relu
    kaiming verify shards/ -f github
    """
    from pathlib import Path

    preload(ctx, "numpy", "scipy.special", *(["rich.table"] if fmt == "table" else []))
    from ..engine.launch import launched
    from ..io.config import resolve_config
    from ..io.inputs import input_files, read_paths, select_tensors
    from ..runners.verify import fallback_rule, run_verify

    tests = parse_tests(tests_text)
    paths = distinct_paths(paths)
    options = spec_options_of(ctx, layout, mode, nonlinearity, negative_slope, distribution, init, fan_in, fan_out)
    explicit = cast(SpecOverrides, {k: getattr(options, k) for k in SPEC_KEYS if given_on_command_line(ctx, k)})

    def prepare() -> tuple[Config, float, str, list[TensorSource], list[FileError]]:
        """The rules, the run's alpha and correction, and the files' tensors (headers only)."""
        config = resolve_config(rules, config_path, no_config, Path.cwd())
        run_alpha = config.alpha if not given_on_command_line(ctx, "alpha") and config.alpha is not None else alpha
        run_correction = config.correction \
            if not given_on_command_line(ctx, "correction") and config.correction is not None else correction
        distinct_outputs({"-o": output or "-", "--plot": plot_path}, [*paths, *config.files])
        found, errors = read_paths(paths, Limits(max_tensors=max_tensors))
        distinct_outputs({"-o": output or "-", "--plot": plot_path}, input_files(found))
        return config, run_alpha, run_correction, found, errors

    def run(world: World | None) -> int:
        """One run; in a torchrun job every rank runs it, each verifying its share, and rank 0 reports."""
        if world is None:
            config, run_alpha, run_correction, found, errors = prepare()
        else:
            config, run_alpha, run_correction, found, errors = prepared_on_every_rank(world, prepare)
        sources, globs = select_tensors(found, tensor_globs)
        stated = any(s.rule is not None for s in sources)  # a .keras file says which initializer each kernel got
        if not config.rules and not explicit and not stated and sources and not errors:
            raise click.UsageError(NOTHING_TO_VERIFY_AGAINST, ctx)  # unreadable files are reported first (exit 3)
        with progress_bar(sum(s.nbytes for s in sources) if world is None else 0) as advance:
            result = run_verify(sources, config, fallback_rule(config, explicit), options, alpha=run_alpha,
                                correction=run_correction, seed=seed, jobs=jobs, tests=tests, progress=advance,
                                errors=errors, globs=globs, found=len(found) if tensor_globs else None,
                                allow_empty=allow_empty, layout_given="layout" in explicit, world=world,
                                max_detectable=max_detectable, strict=strict,
                                histograms=detail and fmt == "table")  # only the table's --detail draws them
        from ..runners.unlisted import apply_unlisted

        result = apply_unlisted(result, unlisted or config.unlisted or "skip")
        if world is None or world.rank == 0:
            from ..runners.looks_like import looks_like

            result = looks_like(result, sources, seed=seed, alpha=run_alpha)
        if world is None:
            report_verify(ctx, result, config, sources, output, fmt, (detail, quiet), plot_path, seed)
        else:  # rank 0 writes; if it cannot (-o unwritable), every rank exits with its code
            from ..engine.distributed import agree

            agree(world, "writing the report", lambda: report_verify(ctx, result, config, sources, output, fmt,
                                                                     (detail, quiet), plot_path, seed)
                  if world.rank == 0 else None)
        return ExitCode.INPUT if result.has_errors else (ExitCode.OK if result.passed else ExitCode.FAILED)

    if launched(os.environ):
        from ..engine.distributed import joined

        with joined(os.environ) as world:
            code = run(world)
    else:
        code = run(None)
    ctx.exit(code)


def prepared_on_every_rank(world: World, prepare: Callable[[], tuple[Config, float, str, list[TensorSource],
                                                                     list[FileError]]]
                           ) -> tuple[Config, float, str, list[TensorSource], list[FileError]]:
    """``prepare()`` on every rank, which must all see the same rules and files; otherwise every rank exits 3
    naming the first rank that differs (a file missing on one node, a rules file that only one node has)."""
    from ..engine.distributed import agree_on_inputs

    local: list[tuple[Config, float, str, list[TensorSource], list[FileError]]] = []

    def describe() -> tuple[Any, ...]:
        local.append(prepare())
        config, run_alpha, run_correction, found, errors = local[0]
        return (config.rules, run_alpha, run_correction,
                [(s.file, s.name, s.shape, s.dtype, s.error) for s in found], errors)

    def name(description: tuple[Any, ...]) -> str:
        errors: list[FileError] = description[4]
        if errors:
            return f"unreadable: {errors[0].reason}"
        return f"{len(description[3])} tensors, {len(description[0])} rules"

    agree_on_inputs(world, describe, name)
    return local[0]


def report_verify(ctx: click.Context, result: VerifyResult, config: Config, sources: list[TensorSource],
                  output: str | None, fmt: str, how: tuple[bool, bool], plot_path: str | None, seed: int) -> None:
    """The report (stdout or ``-o``), the plot, and the lines on stderr: once per run (rank 0 in a job).
    ``how`` is (--detail, -q)."""
    detail, quiet = how
    if not result.tensors and result.errors and fmt == "table":  # nothing read: one line, not the error twice
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        say(shown(f"error: {result.errors[0].reason.rstrip('.')}{more}; nothing was verified"))
        return
    if quiet and fmt == "table":
        from ..render.table import verify_quiet

        emit(ctx, output, verify_quiet(result))
    else:
        emit(ctx, output, formatter(fmt).verify(result, detail))
    if plot_path:
        plot_failures(result, sources, plot_path, seed)
    if quiet and fmt == "table":
        say(shown(result.summary()))
        return
    unmatched = unmatched_note(result)
    if config.path:
        say(shown(f"rules: {config.path}" + (f" ({unmatched})" if unmatched else "")))
    elif unmatched:
        say(shown(f"note: {unmatched}"))
    say(shown(result.summary()))


def unmatched_note(result: VerifyResult) -> str:
    """The rules and ``--tensor`` globs that matched no tensor, in a short line: none when no tensor was read, and
    no rule when ``--tensor`` chose the tensors (the other rules are for the tensors it left out); at most 3 named."""
    if not result.tensors:
        return ""
    names = [w for w in result.unmatched() if w.startswith("--tensor") or not result.globs]
    if not names:
        return ""
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(names[:3]) + more + " matched no tensor"


def plot_failures(result: VerifyResult, sources: list[TensorSource], plot_path: str, seed: int) -> None:
    """``--plot``: the failing tensors only (a plot of passing ones reads as a problem), and where it went."""
    from ..render.plots import MAX_PANELS, verify_failures_png
    from ..runners.verify import failure_samples

    failing = [t for t in result.tensors if t.status == "fail"]
    if not failing:
        say(shown(f"--plot: no tensor failed, nothing to plot ({plot_path} not written)"))
        return
    verify_failures_png(failure_samples(result, sources, MAX_PANELS, seed=seed), plot_path)
    shown_n = min(len(failing), MAX_PANELS)
    of = f"the {shown_n} failing tensors" if shown_n == len(failing) else f"{shown_n} of the {len(failing)} failing"
    say(shown(f"wrote {os.path.abspath(plot_path)} ({of})"))
