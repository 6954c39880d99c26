"""``kaiming diff A B``: were two builds of a model initialized alike? Weight files/folders or ``module:callable``
targets on either side; tensors matched by name, a two-sample test per pair, Holm across pairs (docs/diff.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import ExitCode
from ..escape import message as shown
from ..io.limits import Limits
from ..render import formatter
from .output import distinct_outputs, emit, say
from .params import ALPHA, JOBS, SEED, max_tensors_option, output_options
from .warmup import preload

if TYPE_CHECKING:
    from ..io.inputs import FileError
    from ..io.sources import TensorSource


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--tensor", "tensor_globs", multiple=True, metavar="GLOB",
              help="Only tensors whose name matches (repeatable).")
@click.option("--alpha", type=ALPHA, default=1e-3, show_default=True, envvar="KAIMING_ALPHA", show_envvar=True,
              help="False-alarm rate of the whole run (Holm across tensors).")
@click.option("-s", "--seed", type=SEED, default=0, show_default=True,
              help="Seed of the subsamples, and of A's build when A is a module:callable.")
@click.option("--seed-b", type=SEED, default=None, help="Seed of B's build [default: --seed].")
@click.option("--device", type=click.Choice(["cpu", "meta"]), default="cpu", show_default=True,
              help="Build B on this device; meta: then to_empty() (memory as it was) and --init.")
@click.option("--init", "init", default=None, metavar="NAME",
              help="After building B, call this method of the model (init_weights) or module:function(model).")
@click.option("-j", "--jobs", type=JOBS, default=None, help="Worker threads.")
@max_tensors_option
@output_options(("table", "json", "markdown", "junit", "github"))
@click.pass_context
def diff(ctx: click.Context, a: str, b: str, tensor_globs: tuple[str, ...], alpha: float, seed: int,
         seed_b: int | None, device: str, init: str | None, jobs: int | None, max_tensors: int, fmt: str,
         output: str | None) -> None:
    """Test whether two builds of a model got the same init (exit 1 if any tensor differs).

    A and B are weight files or folders (any format verify reads) or module:callable targets, which are
    imported and RUN to build the model (as audit does).

    \b
    kaiming diff before.safetensors after.safetensors
    kaiming diff mypkg.models:build mypkg.models:build \\
        --device meta --init init_weights
    kaiming diff ref.pt new.pt -f github
    """
    preload(ctx, "numpy", "scipy.special", *(["rich.table"] if fmt == "table" else []))
    from ..io.inputs import input_files, select_tensors
    from ..runners.diff import run_diff
    from ..runners.diff_identified import looks_like_in

    check_seed_b(b, seed_b)
    side_a, errors_a = read_side(a, max_tensors, seed=seed, device="cpu", init=None)
    side_b, errors_b = read_side(b, max_tensors, seed=seed if seed_b is None else seed_b, device=device, init=init)
    distinct_outputs({"-o": output or "-"}, [p for p in (a, b) if ":" not in p] + input_files([*side_a, *side_b]))
    side_a, _ = select_tensors(side_a, tensor_globs)
    side_b, _ = select_tensors(side_b, tensor_globs)
    result = run_diff(side_a, side_b, alpha=alpha, seed=seed, jobs=jobs or 1,
                      looks_like_a=looks_like_in(side_a, seed=seed, alpha=alpha),
                      looks_like_b=looks_like_in(side_b, seed=seed, alpha=alpha),
                      errors=[*errors_a, *errors_b], label_a=a, label_b=b)
    emit(ctx, output, formatter(fmt).diff(result))
    say(shown(result.summary()))
    ctx.exit(ExitCode.INPUT if result.has_errors else (ExitCode.OK if result.passed else ExitCode.FAILED))


def check_seed_b(b: str, seed_b: int | None) -> None:
    """``--seed-b`` seeds B's build: given with weight files it would be silently ignored, so it is an error."""
    from ..io.built import is_target

    if seed_b is not None and not is_target(b):
        raise click.UsageError(f"--seed-b seeds B's build from a module:callable; {b!r} is a path: drop --seed-b.")


def read_side(text: str, max_tensors: int, *, seed: int, device: str, init: str | None
              ) -> tuple[list[TensorSource], list[FileError]]:
    """One side's tensors: a built model's state (``module:callable``) or the files' tensors (headers only)."""
    from ..io.built import is_target, target_sources
    from ..io.inputs import read_paths

    if is_target(text):
        return target_sources(text, seed=seed, device=device, init=init), []
    if device != "cpu" or init is not None:
        raise click.UsageError(f"--device and --init build B from a module:callable; {text!r} is a path.")
    return read_paths((text,), Limits(max_tensors=max_tensors))
