"""The commands: parse (params), call one runner, hand the result to its format (render), write it (output),
and map every error to its exit code (``KaimingGroup``). The cli package is the only one that imports click."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, cast

import click

from ..errors import ExitCode, KaimingError
from ..escape import message as shown
from ..io.limits import Limits
from ..render import formatter
from ..theory.fans import LAYOUTS, format_shape
from ..theory.limits import MAX_SAMPLES
from ..theory.spec import SPEC_KEYS, SpecOverrides
from .output import distinct_outputs, emit, notes_to_stderr, progress_bar, say, silence
from .params import (
    ALPHA,
    EXAMPLE_SHAPE,
    JOBS,
    SEED,
    SHAPE,
    SHAPE_OR_ZERO,
    CountType,
    NonlinearityType,
    SlopeType,
    build_spec,
    check_propagate_size,
    check_sample_size,
    gate_options,
    given_on_command_line,
    max_tensors_option,
    output_options,
    parse_tests,
    path_given,
    spec_options,
    spec_options_of,
)

#: ``stats.battery.DEFAULT_TESTS`` written out: importing the battery (numpy) would slow every command's start.
DEFAULT_TESTS_TEXT = "mean,std,kurtosis,range,ks,shape,rows,cols,spectrum"

if TYPE_CHECKING:
    from ..engine.distributed import World
    from ..io.config import Config
    from ..io.inputs import FileError
    from ..io.readers import TensorSource
    from ..runners.verify import VerifyResult
    from ..theory.spec import InitSpec

#: --help follows the terminal's width (COLUMNS, or the terminal's own), up to 100 columns.
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --------------------------------------------------------------------------- the group

class KaimingGroup(click.Group):
    """Maps our exceptions to the exit codes of docs/cli.md, and never shows a traceback by default."""

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


# --------------------------------------------------------------------------- lookups

@cli.command()
@spec_options()
@output_options()
@click.pass_context
def std(ctx: click.Context, shape: tuple[int, ...], layout: str, mode: str, nonlinearity: str,
        negative_slope: float, distribution: str, init: str | None, fan_in: int | None, fan_out: int | None,
        fmt: str, output: str | None) -> None:
    """The theoretical std, bound and fans for a shape (no sampling).

    \b
    kaiming std --shape 64,3,3,3 --mode fan_out \\
        --nonlinearity relu
    kaiming std --shape 768,768 \\
        --init "trunc_normal_(std=0.02)"
    """
    spec = build_spec(shape, spec_options_of(ctx, layout, mode, nonlinearity, negative_slope, distribution, init,
                                             fan_in, fan_out))
    emit(ctx, output, formatter(fmt).std(spec))
    if fmt == "table":
        notes_to_stderr(spec.notes)


@cli.command()
@click.argument("nonlinearity", type=NonlinearityType(), required=False)
@click.option("-a", "--negative-slope", type=SlopeType(), default=None,
              help="Leaky-ReLU slope; default 0 as in kaiming_* (calculate_gain's own default is 0.01).")
@output_options()
@click.pass_context
def gain(ctx: click.Context, nonlinearity: str | None, negative_slope: float | None, fmt: str,
         output: str | None) -> None:
    """The gain of a nonlinearity, or the whole table.

    \b
    kaiming gain relu
    kaiming gain leaky_relu -a 0.2
    kaiming gain
    """
    from ..theory.gains import gain_table

    table = gain_table(nonlinearity, negative_slope)
    emit(ctx, output, formatter(fmt).gain(table))
    if fmt != "json":
        notes_to_stderr(table.notes)


@cli.command()
@click.option("--shape", type=SHAPE_OR_ZERO, required=True, help="Weight shape, e.g. 64,3,3,3.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="torch", show_default=True,
              help="Axis convention of the shape.")
@output_options()
@click.pass_context
def fan(ctx: click.Context, shape: tuple[int, ...], layout: str, fmt: str, output: str | None) -> None:
    """fan_in, fan_out and receptive field of a shape.

    \b
    kaiming fan --shape 64,3,3,3
    kaiming fan --shape 3,3,64,128 --layout keras
    """
    from ..theory.fans import fan_facts

    try:
        facts = fan_facts(shape, layout)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shape") from None
    emit(ctx, output, formatter(fmt).fan(facts))


@cli.command()
@spec_options(shape_required=False)
@output_options()
@click.pass_context
def explain(ctx: click.Context, shape: tuple[int, ...] | None, layout: str, mode: str, nonlinearity: str,
            negative_slope: float, distribution: str, init: str | None, fan_in: int | None, fan_out: int | None,
            fmt: str, output: str | None) -> None:
    """The derivation for these options, and the traps people fall into.

    \b
    kaiming explain --shape 64,3,3,3 --mode fan_out \\
        --nonlinearity relu
    """
    from ..theory.explain import explain as explain_sections

    spec = build_spec(shape, spec_options_of(ctx, layout, mode, nonlinearity, negative_slope, distribution, init,
                                             fan_in, fan_out))
    notes = list(spec.notes)
    if shape is None:
        notes.insert(0, f"no --shape given: the numbers below are for {format_shape(EXAMPLE_SHAPE)}.")
    emit(ctx, output, formatter(fmt).explain(spec, explain_sections(spec), notes))
    if fmt == "table":
        notes_to_stderr(notes)


# --------------------------------------------------------------------------- check

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
    BLAS thread (``one_blas_thread``): every caller is a statistics command."""
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


def check_backend(spec: InitSpec, requested: str | None) -> tuple[str, str]:
    """(backend, why) for ``check``: exit 2 when the asked-for framework has no exact call for this spec, exit 3
    when it is not installed; the framework is imported only when it is the one chosen."""
    from ..engine.frameworks import choose_backend

    if requested == "torch" and spec.init is None:
        from ..engine.torch_backend import torch_shape

        try:
            torch_shape(spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--backend") from None
    try:
        return choose_backend(spec, requested)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--backend") from None


@cli.command()
@spec_options()
@click.option("-n", "--samples", type=CountType(MAX_SAMPLES), default=None,
              help="How many values to test [default: every element of the shape; more repeats the init].")
@click.option("-s", "--seed", type=SEED, default=0, show_default=True, help="Seed of the sample.")
@click.option("--alpha", type=ALPHA, default=1e-3, show_default=True,
              help="False-alarm rate of the whole verdict.")
@click.option("--backend", type=click.Choice(["numpy", "torch", "keras", "jax"]), default=None,
              help="Sample with the real initializer of torch, keras or jax, or with numpy (a self-test of the "
                   "formula) [default: the call's own framework when installed, else numpy].")
@click.option("--tests", "tests_text", default=DEFAULT_TESTS_TEXT, show_default=True,
              help="Tests to run (also: ad).")
@click.option("-j", "--jobs", type=JOBS, default=None,
              help="Worker threads [default: the usable cores].")
@click.option("--plot", "plot_path", type=click.Path(), default=None, callback=path_given,
              help="Draw a histogram with the theoretical density and a Q-Q plot to this PNG.")
@gate_options
@output_options()
@click.pass_context
def check(ctx: click.Context, shape: tuple[int, ...], layout: str, mode: str, nonlinearity: str,
          negative_slope: float, distribution: str, init: str | None, fan_in: int | None, fan_out: int | None,
          samples: int | None, seed: int, alpha: float,
          backend: str | None, tests_text: str, jobs: int | None, plot_path: str | None, max_detectable: float,
          strict: bool, fmt: str, output: str | None) -> None:
    """Sample weights with this init and test them against the theory (exit 1 on FAIL).

    \b
    kaiming check --shape 64,3,3,3 --mode fan_out \\
        --nonlinearity relu
    kaiming check --shape 256,128 --distribution uniform \\
        --backend torch -f json
    """
    preload("scipy.special", *(["rich.table"] if fmt == "table" else []))
    from ..runners.check import run_check

    spec = build_spec(shape, spec_options_of(ctx, layout, mode, nonlinearity, negative_slope, distribution, init,
                                             fan_in, fan_out))
    try:
        from ..stats.empirical import law_of

        law_of(spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--init") from None
    tests = parse_tests(tests_text)
    check_sample_size(shape, samples)
    distinct_outputs({"-o": output or "-", "--plot": plot_path})
    backend, reason = check_backend(spec, backend)
    try:
        result = run_check(spec, samples=samples, seed=seed, alpha=alpha, tests=tests, backend=backend, jobs=jobs,
                           max_detectable=max_detectable, strict=strict, backend_reason=reason)
    except ValueError as exc:  # a framework refusing the shape, --samples on a structured law
        raise click.BadParameter(str(exc), param_hint="--backend" if backend != "numpy" else "--samples") from None
    if plot_path:
        from ..render.plots import distributions_png
        from ..stats.empirical import law_of

        verdict = result.status.upper()
        distributions_png([(f"{spec.call}  [{verdict}]", result.sample, law_of(spec))], plot_path)
        say(f"wrote {plot_path}")
    emit(ctx, output, formatter(fmt).check(result))
    if fmt != "table" or (output and output != "-"):
        from ..render.text import verdict_line

        say(verdict_line(result))
    ctx.exit(ExitCode.OK if result.passed else ExitCode.FAILED)


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


# --------------------------------------------------------------------------- verify

def distinct_paths(paths: tuple[str, ...]) -> tuple[str, ...]:
    """Each file once: a file given twice (``a.npz ./a.npz``) was verified and counted twice."""
    seen: set[str] = set()
    out = []
    for path in paths:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return tuple(out)



#: verify with neither rules nor spec options used to assume kaiming_normal_'s defaults silently and fail a
#: correct model as "TRAINED": it says what it needs instead (exit 2), once the files are known to be readable.
NOTHING_TO_VERIFY_AGAINST = (
    "no rules and no spec options: kaiming cannot know what these tensors should be. Say it with spec options "
    "(e.g. --mode fan_out --nonlinearity relu, applied to every float tensor of 2+ dimensions) or with a rules "
    "file (--rules init.toml, or [tool.kaiming] in pyproject.toml); to see what a known-good checkpoint holds, "
    "run kaiming identify FILE.")


@cli.command()
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
@click.option("-j", "--jobs", type=JOBS, default=None, help="Worker threads.")
@click.option("--detail", is_flag=True, help="Every tensor with its histogram against the theory.")
@click.option("--plot", "plot_path", type=click.Path(), default=None, callback=path_given,
              help="Histogram + Q-Q plot of the failing tensors (the first 6) to this PNG.")
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
           jobs: int | None, detail: bool, plot_path: str | None, allow_empty: bool, max_tensors: int,
           max_detectable: float, strict: bool, fmt: str, output: str | None) -> None:
    """Verify the tensors of weight files against rules or spec options (exit 1 on FAIL).

    \b
    kaiming verify model.safetensors --rules init.toml
    kaiming verify ckpt.pt --tensor '*conv*.weight' \\
        --mode fan_out --nonlinearity relu
    kaiming verify shards/ -f github
    """
    from pathlib import Path

    preload("numpy", "scipy.special", *(["rich.table"] if fmt == "table" else []))
    from ..engine.distributed import joined, launched
    from ..io.config import resolve_config
    from ..io.inputs import read_paths, select_tensors
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
        distinct_outputs({"-o": output or "-", "--plot": plot_path}, [s.file for s in found])
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
                                max_detectable=max_detectable, strict=strict)
        if world is None:
            report_verify(ctx, result, config, sources, output, fmt, detail, plot_path, seed)
        else:  # rank 0 writes; if it cannot (-o unwritable), every rank exits with its code
            from ..engine.distributed import agree

            agree(world, "writing the report", lambda: report_verify(ctx, result, config, sources, output, fmt,
                                                                     detail, plot_path, seed)
                  if world.rank == 0 else None)
        return ExitCode.INPUT if result.has_errors else (ExitCode.OK if result.passed else ExitCode.FAILED)

    if launched(os.environ):
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
                  output: str | None, fmt: str, detail: bool, plot_path: str | None, seed: int) -> None:
    """The report (stdout or ``-o``), the plot, and the lines on stderr: once per run (rank 0 in a job)."""
    emit(ctx, output, formatter(fmt).verify(result, detail))
    if plot_path:
        from ..render.plots import MAX_PANELS, verify_failures_png
        from ..runners.verify import failure_samples

        verify_failures_png(failure_samples(result, sources, MAX_PANELS, seed=seed), plot_path)
        say(shown(f"wrote {plot_path}"))
    unmatched = "; ".join(f"{what} matched no tensor" for what in result.unmatched())
    if config.path:
        say(shown(f"rules: {config.path}" + (f" ({unmatched})" if unmatched else "")))
    elif unmatched:
        say(shown(f"note: {unmatched}"))
    say(shown(result.summary()))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--tensor", "tensor_globs", multiple=True, metavar="GLOB",
              help="Only tensors whose name matches (repeatable).")
@click.option("--layout", type=click.Choice(LAYOUTS), default=None,
              help="Axis convention [default: implied by the file: keras for .keras/.h5, jax for Flax .msgpack, "
                   "by op for .onnx, torch otherwise].")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="Candidates listed per tensor.")
@click.option("--alpha", type=ALPHA, default=1e-3, show_default=True,
              help="Level of the goodness-of-fit check of the winner (below it: unknown).")
@click.option("-s", "--seed", type=SEED, default=0, show_default=True, help="Seed of the EDF subsample.")
@click.option("-j", "--jobs", type=JOBS, default=None, help="Worker threads.")
@max_tensors_option
@output_options(("table", "json", "markdown", "rules"))
@click.pass_context
def identify(ctx: click.Context, paths: tuple[str, ...], tensor_globs: tuple[str, ...], layout: str | None,
             top: int, alpha: float, seed: int, jobs: int | None, max_tensors: int, fmt: str,
             output: str | None) -> None:
    """Rank the init schemes that could have produced each tensor.

    Fits each family's scale (with a confidence interval) and names every init call whose exact law lies
    inside it; -f rules writes those calls as a rules file for verify.

    \b
    kaiming identify model.safetensors
    kaiming identify params.npz --layout jax --top 3 -f json
    kaiming identify model.safetensors -f rules -o init.toml
    kaiming verify model.safetensors --rules init.toml
    """
    preload("numpy", "scipy.special", *(["rich.table"] if fmt == "table" else []))
    from ..io.inputs import read_paths, select_tensors
    from ..runners.identify import IdentifyReport, group_summary, run_identify, stated_disagreements

    paths = distinct_paths(paths)
    found, errors = read_paths(paths, Limits(max_tensors=max_tensors))
    distinct_outputs({"-o": output or "-"}, [*paths, *(s.file for s in found)])
    sources, globs = select_tensors(found, tensor_globs)
    results, failed = run_identify(sources, layout=layout, alpha=alpha, seed=seed, jobs=jobs)
    errors += failed
    summary = group_summary(results) + stated_disagreements(results) + [f"unreadable: {e.reason}" for e in errors]
    summary += [f"--tensor {g.match!r} matched no tensor" for g in globs if not g.matched]
    shown_layout = layout or ("auto" if any(s.layout for s in sources) else "torch")
    report = IdentifyReport(results, summary, shown_layout, alpha, errors)
    emit(ctx, output, formatter(fmt).identify(report, top))
    noun = "tensor" if len(results) == 1 else "tensors"
    line = f"{len(results)} {noun} identified: {sum(r.verdict == 'unknown' for r in results)} unknown"
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        line += f"; unreadable: {errors[0].reason}{more}"
    say(shown(line))
    ctx.exit(ExitCode.INPUT if errors else ExitCode.OK)


@cli.command()
@click.option("--nonlinearity", type=NonlinearityType(), default="relu", show_default=True,
              help="Applied after every layer (and it sets the right gain).")
@click.option("-a", "--negative-slope", type=SlopeType(), default=0.0, show_default=True, help="Leaky-ReLU slope.")
@click.option("--mode", type=click.Choice(["fan_in", "fan_out"]), default="fan_in", show_default=True,
              help="Fan of the kaiming and gain-1 inits.")
@click.option("--depth", type=click.IntRange(1, 10_000), default=50, show_default=True, help="Number of layers.")
@click.option("--width", type=click.IntRange(1, 65_536), default=512, show_default=True,
              help="Units per layer (channels with --conv).")
@click.option("--batch", type=click.IntRange(2, 1_000_000), default=256, show_default=True, help="Batch size.")
@click.option("--conv", type=click.IntRange(1, 15), default=None, metavar="K",
              help="2-D convolutions with an odd KxK kernel instead of dense layers (try --width 64).")
@click.option("--spatial", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Height = width of the feature maps with --conv.")
@click.option("-s", "--seed", type=SEED, default=0, show_default=True, help="Seed of data and weights.")
@click.option("--plot", "plot_path", type=click.Path(), default=None, callback=path_given,
              help="Also draw the std per layer to this PNG (needs kaiming[plot]).")
@output_options()
@click.pass_context
def propagate(ctx: click.Context, nonlinearity: str, negative_slope: float, mode: str, depth: int, width: int,
              batch: int, conv: int | None, spatial: int, seed: int, plot_path: str | None, fmt: str,
              output: str | None) -> None:
    """Push a signal through a deep stack to see why the gain matters.

    \b
    kaiming propagate --nonlinearity relu --depth 50
    kaiming propagate --nonlinearity tanh --conv 3 \\
        --width 64 --plot tanh.png
    """
    if conv is not None and conv % 2 == 0:
        raise click.BadParameter(f"{conv} is even: the kernel size must be odd (1, 3, 5, ...).", param_hint="--conv")
    if conv and width * conv * conv * spatial * spatial * batch > 2_000_000_000:
        raise click.BadParameter("that convolution stack would need too much memory: lower --batch, --spatial "
                                 "or --width.", param_hint="--conv")
    check_propagate_size(depth, width, batch, conv, spatial)
    distinct_outputs({"-o": output or "-", "--plot": plot_path})
    from ..runners.propagate import run_propagate

    result = run_propagate(nonlinearity, negative_slope, mode, depth, width, batch, seed, conv, spatial)
    if plot_path:
        from ..render.plots import propagate_png

        propagate_png(result, plot_path)
        say(f"wrote {plot_path}")
    emit(ctx, output, formatter(fmt).propagate(result))


# --------------------------------------------------------------------------- audit

@cli.command()
@click.argument("target")
@click.option("--args", "args_json", default=None, metavar="JSON",
              help="Keyword arguments for the callable, as a JSON object, e.g. '{\"num_classes\": 10}'.")
@click.option("--input-shape", type=SHAPE, default=None,
              help="When torch.fx cannot trace the model: run it once on zeros of this shape to learn the order "
                   "its layers run in (else the order they are defined in).")
@click.option("-s", "--seed", type=SEED, default=0, show_default=True,
              help="torch.manual_seed before the model is built; also the seed of identify's subsample.")
@click.option("--alpha", type=ALPHA, default=1e-3, show_default=True,
              help="Level of the goodness-of-fit checks that decide what each weight got.")
@click.option("--strict", is_flag=True, help="Exit 1 when any parameter's verdict is 'different'.")
@output_options(("table", "json", "markdown", "rules"))
@click.pass_context
def audit(ctx: click.Context, target: str, args_json: str | None, input_shape: tuple[int, ...] | None, seed: int,
          alpha: float, strict: bool, fmt: str, output: str | None) -> None:
    """The init each layer needs (from the activation after it) against what it got.

    TARGET is package.module:callable or path/to/file.py:callable, returning a torch.nn.Module or a keras.Model.
    IMPORTING TARGET RUNS ITS CODE (the module and the callable) with your permissions, as python would:
    audit only code you would run.

    \b
    kaiming audit mymodels:resnet18
    kaiming audit models.py:Net --args '{"depth": 4}' -f json
    kaiming audit mymodels:resnet18 -f rules -o init.toml
    """
    preload("numpy", "scipy.special", *(["rich.table"] if fmt == "table" else []))
    from ..errors import InputError
    from ..io.target import build_model, parse_args_json, parse_target
    from ..runners.audit import run_audit
    from ..runners.identified import identified

    try:
        parse_target(target)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="TARGET") from None
    try:
        kwargs = parse_args_json(args_json)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="--args") from None
    distinct_outputs({"-o": output or "-"})
    model = build_model(target, kwargs, seed)
    result = run_audit(model, identified, target=target, input_shape=input_shape, seed=seed, alpha=alpha)
    emit(ctx, output, formatter(fmt).audit(result))
    if fmt != "table" or (output and output != "-"):
        say(shown(result.summary()))
    ctx.exit(ExitCode.FAILED if strict and result.has_different else ExitCode.OK)


def main() -> NoReturn:
    """Console-script entry point."""
    try:
        cli.main(prog_name="kaiming")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(0)

