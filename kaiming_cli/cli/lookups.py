"""The lookups: ``kaiming std``, ``gain``, ``fan`` and ``explain``. They answer from ``theory/`` alone (standard
library only, no numpy: docs/performance.md), so they share one module and none of the statistics commands'
start-up (``warmup.py``)."""

from __future__ import annotations

import click

from ..render import formatter
from ..theory.fans import LAYOUTS, format_shape
from .output import emit, notes_to_stderr
from .params import (
    EXAMPLE_SHAPE,
    SHAPE_OR_ZERO,
    NonlinearityType,
    SlopeType,
    build_spec,
    given_on_command_line,
    output_options,
    spec_options,
    spec_options_of,
)


@click.command()
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
        from ..theory.kinds import keras_kernel_hint

        hint = None if given_on_command_line(ctx, "layout") or init else keras_kernel_hint(shape)
        notes_to_stderr([*spec.notes, *([hint] if hint else [])])


@click.command()
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


@click.command()
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


@click.command()
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
