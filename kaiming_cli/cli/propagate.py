"""``kaiming propagate``: push a signal through a deep stack with several inits, to show why the gain matters.
It does not call ``warmup.one_blas_thread``: its large products gain from BLAS threads."""

from __future__ import annotations

import click

from ..render import formatter
from .output import distinct_outputs, emit, say
from .params import (
    SEED,
    NonlinearityType,
    SlopeType,
    check_propagate_size,
    output_options,
    path_given,
)


@click.command()
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
