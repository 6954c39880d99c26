"""``kaiming check``: sample a tensor with the init (numpy or the call's own framework) and run the test battery
on it; the framework is chosen and imported here only when asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import ExitCode
from ..render import formatter
from ..theory.limits import MAX_SAMPLES
from .output import distinct_outputs, emit, say
from .params import (
    ALPHA,
    DEFAULT_TESTS_TEXT,
    JOBS,
    SEED,
    CountType,
    build_spec,
    check_sample_size,
    gate_options,
    output_options,
    parse_tests,
    path_given,
    spec_options,
    spec_options_of,
)
from .warmup import preload

if TYPE_CHECKING:
    from ..theory.spec import InitSpec


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


@click.command()
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
    preload(ctx, "scipy.special", *(["rich.table"] if fmt == "table" else []))
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
