"""``kaiming audit``: build the user's model (running their code: docs/security.md), read the activation after
each layer and judge each weight's init; ``identified`` is handed to the runner here, so runners never import
each other."""

from __future__ import annotations

import click

from ..errors import ExitCode
from ..escape import message as shown
from ..render import formatter
from .output import distinct_outputs, emit, say
from .params import (
    ALPHA,
    SEED,
    SHAPE,
    output_options,
)
from .warmup import one_blas_thread


@click.command()
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
    # No background preload here (unlike check/verify/identify): importing TARGET runs the user's imports, and an
    # import hook of theirs (a sitecustomize meta-path finder importing torch in find_spec) deadlocks on the
    # import locks against a thread importing numpy at the same time (issue 27). Every import runs in this thread.
    one_blas_thread()
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
