"""``kaiming audit``: build the user's model (running their code: docs/security.md), read the activation after
each layer and judge each weight's init; ``identified`` is handed to the runner here, so runners never import
each other."""

from __future__ import annotations

from dataclasses import replace

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
    path_given,
)
from .warmup import defer_unused_numpy_submodules, one_blas_thread


@click.command()
@click.argument("target")
@click.option("--args", "args_json", default=None, metavar="JSON",
              help="Keyword arguments for the callable, as a JSON object, e.g. '{\"num_classes\": 10}'.")
@click.option("--input-shape", type=SHAPE, default=None,
              help="Shape of the sample input the model is run on (batch first). Default: a Hugging Face "
                   "model's dummy_inputs, else inferred from the first layer (Linear, Conv, Embedding).")
@click.option("--input-dtype", type=click.Choice(["float32", "float64", "bfloat16", "float16", "int64", "int32"]),
              default=None, help="dtype of the sample input: int64 for token ids (drawn below the first "
                                 "embedding's size). Default float32 (int64 for a first Embedding).")
@click.option("--batch", type=click.IntRange(2, 4096), default=4, show_default=True,
              help="Batch of the inferred sample input; memory is one batch's activations and gradients.")
@click.option("--plot", "plot_path", type=click.Path(), default=None, callback=path_given,
              help="Also draw the measured forward and backward std by layer to this PNG (needs kaiming[plot]).")
@click.option("-s", "--seed", type=SEED, default=0, show_default=True,
              help="torch.manual_seed before the model is built; also the seed of identify's subsample.")
@click.option("--alpha", type=ALPHA, default=1e-3, show_default=True,
              help="Level of the goodness-of-fit checks that decide what each weight got.")
@click.option("--exit-zero", is_flag=True,
              help="Exit 0 even when there are findings (report only); by default a finding exits 1, as a linter.")
@click.option("--strict", is_flag=True,
              help="Count as findings also the framework defaults that differ from what the layer needs (a finding "
                   "is otherwise a signal that vanishes or explodes, or a 'different' weight whose scale matters).")
@output_options(("table", "json", "markdown", "rules"))
@click.pass_context
def audit(ctx: click.Context, target: str, args_json: str | None, input_shape: tuple[int, ...] | None,
          input_dtype: str | None, batch: int, plot_path: str | None, seed: int, alpha: float, exit_zero: bool,
          strict: bool, fmt: str, output: str | None) -> None:
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
    distinct_outputs({"-o": output or "-", "--plot": plot_path})
    model = build_model(target, kwargs, seed)
    # the user's imports are done: scipy.special's numpy clone may now skip the numpy submodules nothing here
    # uses (~0.06 s of the ResNet-50 audit), as the other statistics commands' preload does
    defer_unused_numpy_submodules()
    result = run_audit(model, identified, target=target, input_shape=input_shape, seed=seed, alpha=alpha,
                       input_dtype=input_dtype, batch=batch)
    result = replace(result, strict=strict)
    emit(ctx, output, formatter(fmt).audit(result))
    if fmt != "table" or (output and output != "-"):
        say(shown(result.summary()))
    if plot_path:
        from ..render.audit_plot import audit_png

        audit_png(result, plot_path)
        say(f"wrote {plot_path}")
    findings = result.findings(strict=strict)
    say(findings_line([f.kind for f in findings], exit_zero))
    ctx.exit(ExitCode.FAILED if findings and not exit_zero else ExitCode.OK)


def findings_line(kinds: list[str], exit_zero: bool) -> str:
    """The last line, as a linter ends: how many findings of each kind, and what the exit code does with them."""
    if not kinds:
        return "no findings"
    counts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
    noun = "finding" if len(kinds) == 1 else "findings"
    how = "reported only (--exit-zero)" if exit_zero else "exit 1; --exit-zero reports without failing"
    return f"{len(kinds)} {noun} ({counts}): {how}"
