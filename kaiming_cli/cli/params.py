"""Click parameters: value types with one-line errors that state the accepted range, and the option groups
that several commands share. Values are checked here (exit 2) before any work starts."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..io.limits import DEFAULT_MAX_TENSORS
from ..theory.fans import LAYOUTS, MODES, format_shape, parse_shape
from ..theory.gains import NONLINEARITIES, canonical_nonlinearity, unknown_nonlinearity_message, validate_slope
from ..theory.limits import DEFAULT_MAX_DETECTABLE, MAX_JOBS, MAX_PROPAGATE_BYTES, MAX_SAMPLES, MAX_SEED, alpha_problem
from ..theory.spec import CALL_REPLACES, DISTRIBUTIONS, InitSpec, SpecOptions

F = TypeVar("F", bound=Callable[..., Any])


EXAMPLE_SHAPE = (64, 3, 3, 3)


class ShapeType(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    name = "SHAPE"

    def __init__(self, allow_zero: bool = False) -> None:
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_shape(str(value), self.allow_zero)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class NonlinearityType(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """A choice with a did-you-mean hint (click.Choice only lists the options)."""

    name = "NONLINEARITY"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "NAME"  # the 12 names are in the help text and in `kaiming gain`; a 130-column metavar is not

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        canonical = canonical_nonlinearity(str(value))
        if canonical is not None:  # LeakyReLU, lrelu, leaky-relu: the registered name
            return canonical
        self.fail(unknown_nonlinearity_message(str(value)), param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(n) for n in NONLINEARITIES if n.startswith(incomplete)]


class SlopeType(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    name = "FLOAT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            a = float(value)
        except ValueError:
            self.fail(f"{value!r} is not a number: give the leaky-ReLU slope, e.g. 0.01.", param, ctx)
        try:
            validate_slope(a)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return a


class AlphaType(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """A significance level in [MIN_ALPHA, 1); FloatRange lets NaN through."""

    name = "FLOAT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            alpha = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number: give alpha in (0, 1), e.g. 0.001.", param, ctx)
        problem = alpha_problem(alpha)
        if problem is not None:
            self.fail(problem, param, ctx)
        return alpha


class InitCallType(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """An init call (theory/calls.py), parsed here so that a bad one is exit 2 naming the token."""

    name = "CALL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from ..theory.calls import parse_init_call

        try:
            return parse_init_call(str(value)).text
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


FAN = click.IntRange(min=1)
SHAPE = ShapeType()
#: ``kaiming fan`` answers zero dimensions as torch's fan function does.
SHAPE_OR_ZERO = ShapeType(allow_zero=True)


class CountType(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """A count in [1, high]; ``1e8`` is accepted when it names an integer (``-n 1e8`` was refused)."""

    name = "INTEGER"

    def __init__(self, high: int) -> None:
        self.high = high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().replace("_", "")
            try:
                number = int(text)
            except ValueError:
                try:
                    as_float = float(text) if len(text) <= 40 else math.nan
                except ValueError:
                    as_float = math.nan
                if not math.isfinite(as_float) or as_float != int(as_float):
                    self.fail(f"{value!r} is not a whole number: give a count such as 100000 or 1e8.", param, ctx)
                number = int(as_float)
        if not 1 <= number <= self.high:
            self.fail(f"{number} is not in the range 1<=x<={self.high}.", param, ctx)
        return number


ALPHA = AlphaType()


class SeedRange(click.IntRange):
    """0 <= seed < 2^64, said in that short form in help and errors (not as 20 digits)."""

    def _describe_range(self) -> str:
        return "0<=x<2^64"


SEED = SeedRange(0, MAX_SEED)


JOBS = click.IntRange(1, MAX_JOBS)


def path_given(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An output path must name something: ``-o ''`` is a usage error, not a write to the cwd."""
    if value is not None and not value.strip():
        raise click.BadParameter("the path is empty: give a file name (or - for stdout).")
    return value


def spec_options(shape_required: bool = True, with_shape: bool = True) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        shape = [click.option("--shape", type=SHAPE, required=shape_required,
                              help="Weight shape, e.g. 64,3,3,3 or 64x3x3x3.")] if with_shape else []
        options = shape + [
            click.option("--layout", type=click.Choice(LAYOUTS), default="torch", show_default=True,
                         help="Axes: torch (out,in,*k), torch-transpose (in,out,*k), keras/jax (*k,in,out)."),
            click.option("--mode", type=click.Choice(MODES, case_sensitive=False), default="fan_in", show_default=True,
                         help="Which fan sets the scale."),
            click.option("--nonlinearity", type=NonlinearityType(), default="leaky_relu", show_default=True,
                         help="The activation AFTER this layer; only selects the gain (the names: "
                              "kaiming gain)."),
            click.option("-a", "--negative-slope", type=SlopeType(), default=0.0, show_default=True,
                         help="Leaky-ReLU slope (0, as in torch's kaiming_*); ignored by other nonlinearities."),
            click.option("--distribution", type=click.Choice(DISTRIBUTIONS), default="normal", show_default=True,
                         help="normal, uniform, or truncated_normal (±2 sigma, Keras/JAX he_normal)."),
            click.option("--init", "init", type=InitCallType(), default=None,
                         help="An init call as written in PyTorch, Keras or JAX, e.g. \"trunc_normal_(std=0.02)\" "
                              "or \"default('Linear')\"; replaces --mode/--nonlinearity/-a/--distribution."),
            click.option("--fan-in", "fan_in", type=FAN, default=None,
                         help="Use this fan_in instead of the shape's (einsum kernels, biases)."),
            click.option("--fan-out", "fan_out", type=FAN, default=None,
                         help="Use this fan_out instead of the shape's."),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def output_options(formats: tuple[str, ...] = ("table", "json", "markdown")) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        f = click.option("-o", "--output", type=click.Path(allow_dash=True), default=None, callback=path_given,
                         help="Write the formatted data to this file (atomically); - is stdout.")(f)
        f = click.option("-f", "--format", "fmt", type=click.Choice(formats), default="table",
                         show_default=True, help="Output format.")(f)
        return f

    return decorate


def gate_options(f: F) -> F:
    """``--max-detectable`` and ``--strict``: when a PASS is too weak to count, and whether that fails the run."""
    f = click.option("--strict", is_flag=True, help="Fail (exit 1) on inconclusive results too.")(f)
    return click.option(
        "--max-detectable", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_MAX_DETECTABLE,
        show_default=True, help="A pass that cannot detect a relative std error this large (90% power) is "
        "inconclusive.")(f)


max_tensors_option = click.option(
    "--max-tensors", type=click.IntRange(min=1), default=DEFAULT_MAX_TENSORS, show_default=True,
    help="Refuse a file with more tensors than this (a guard against crafted files; raise it for huge checkpoints).")


def spec_options_of(ctx: click.Context, layout: str, mode: str, nonlinearity: str, negative_slope: float,
                    distribution: str, init: str | None, fan_in: int | None, fan_out: int | None) -> SpecOptions:
    """The spec options of a command; ``--init`` with an explicit mode/nonlinearity/slope/distribution is exit 2,
    and ``--layout`` counts only when given (an init call implies its library's layout otherwise)."""
    if init is not None:
        clash = [k for k in CALL_REPLACES if given_on_command_line(ctx, k)]
        if clash:
            flag = "--" + clash[0].replace("_", "-")
            raise click.UsageError(f"--init and {flag} conflict: the init call says the mode, gain and distribution "
                                   f"itself; drop {flag} (or --init).", ctx)
    return SpecOptions(layout=layout if given_on_command_line(ctx, "layout") or init is None else None, mode=mode,
                       nonlinearity=nonlinearity, negative_slope=negative_slope, distribution=distribution,
                       init=init, fan_in=fan_in, fan_out=fan_out)


def build_spec(shape: tuple[int, ...] | None, options: SpecOptions) -> InitSpec:
    try:
        return options.spec(shape or EXAMPLE_SHAPE)
    except ValueError as exc:
        hint = "--init" if options.init is not None else "--shape"
        raise click.BadParameter(str(exc), param_hint=hint) from None


def parse_tests(value: str) -> tuple[str, ...]:
    from ..stats.battery import ALL_TESTS

    names = tuple(t.strip() for t in value.split(",") if t.strip())
    bad = [t for t in names if t not in ALL_TESTS]
    if bad or not names:
        raise click.BadParameter(f"unknown test(s) {', '.join(bad) or '(none)'}: choose from {', '.join(ALL_TESTS)}.",
                                 param_hint="--tests")
    return names


def check_sample_size(shape: tuple[int, ...], samples: int | None) -> None:
    """``check`` samples every element by default: a huge shape needs ``--samples`` (exit 2, not hours)."""

    if samples is None and math.prod(shape) > MAX_SAMPLES:
        raise click.BadParameter(
            f"{format_shape(shape)} has {math.prod(shape):.3g} elements and check draws at most {MAX_SAMPLES:.0e} "
            "values: give --samples N (N <= 1e9) to test a sample of that shape.", param_hint="--shape")


def given_on_command_line(ctx: click.Context, name: str) -> bool:
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def check_propagate_size(depth: int, width: int, batch: int, conv: int | None, spatial: int) -> None:
    """Every layer's float32 weights and pre-activations of one init are held at once: bound them (exit 2)."""
    k, s = (conv, spatial) if conv else (1, 1)
    need = 4 * depth * (width * width * k * k + batch * width * s * s)
    if need > MAX_PROPAGATE_BYTES:
        raise click.BadParameter(
            f"--depth {depth} --width {width} --batch {batch} would hold {need / 2**30:.3g} GiB of weights and "
            f"activations, over the {MAX_PROPAGATE_BYTES // 2**30} GiB limit: lower --depth, --width or --batch.",
            param_hint="--depth/--width/--batch")


#: ``stats.battery.DEFAULT_TESTS`` written out: importing the battery (numpy) would slow every command's start.
DEFAULT_TESTS_TEXT = "mean,std,kurtosis,range,ks,shape,rows,cols,spectrum"


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
