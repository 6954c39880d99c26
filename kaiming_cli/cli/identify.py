"""``kaiming identify``: rank the inits that could have produced each tensor of weight files, and say what the
files themselves state where that disagrees."""

from __future__ import annotations

import click

from ..errors import ExitCode
from ..escape import message as shown
from ..io.limits import Limits
from ..render import formatter
from ..theory.fans import LAYOUTS
from .output import distinct_outputs, emit, say
from .params import (
    ALPHA,
    JOBS,
    SEED,
    distinct_paths,
    max_tensors_option,
    output_options,
)
from .warmup import preload


@click.command()
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
@click.option("-j", "--jobs", type=JOBS, default=None, help="Worker processes (threads where forking is not safe).")
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
    preload(ctx, "numpy", "scipy.special", *(["rich.table"] if fmt == "table" else []))
    from ..io.inputs import input_files, read_paths, select_tensors
    from ..runners.identify import IdentifyReport, group_summary, run_identify, stated_disagreements

    paths = distinct_paths(paths)
    found, errors = read_paths(paths, Limits(max_tensors=max_tensors))
    distinct_outputs({"-o": output or "-"}, [*paths, *input_files(found)])
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
