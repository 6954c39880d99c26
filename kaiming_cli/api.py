"""Python API for test suites: verify a tensor in memory against an init spec, or audit a whole model.

    from kaiming_cli import assert_init
    assert_init(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    assert_init(model.pos_embed, init="trunc_normal_(std=0.02)")

    from kaiming_cli.api import assert_audit
    assert_audit(model)                      # fails on any 'different' verdict
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .io.config import Config, Rule
from .io.memory import array_source
from .runners.audit import AuditResult, run_audit
from .runners.identified import identified
from .runners.verify import TensorResult, finalize, verify_source
from .stats.battery import DEFAULT_TESTS
from .theory.spec import SpecOptions


def verify_tensor(tensor: Any, *, name: str = "tensor", layout: str | None = None, mode: str = "fan_in",
                  nonlinearity: str = "leaky_relu", negative_slope: float = 0.0, distribution: str = "normal",
                  init: str | None = None, fan_in: int | None = None, fan_out: int | None = None,
                  constant: float | None = None, alpha: float = 1e-3, seed: int = 0,
                  tests: tuple[str, ...] = DEFAULT_TESTS) -> TensorResult:
    """Test a numpy array or torch tensor against the spec options, an init call (``init="trunc_normal_(std=0.02)"``,
    as in the model code), or an exact constant.

    Options that name no law (an unknown nonlinearity, a bad init call, a 1-D tensor without a constant or fans)
    raise ``ValueError``: they are the caller's mistake, not a verdict on the tensor. ``layout`` None is torch's, or
    the one a Keras/JAX init call implies."""
    source = array_source(tensor, name)
    if init is not None:
        defaults = {"mode": "fan_in", "nonlinearity": "leaky_relu", "negative_slope": 0.0, "distribution": "normal"}
        given = {"mode": mode, "nonlinearity": nonlinearity, "negative_slope": negative_slope,
                 "distribution": distribution}
        clash = [k for k, v in given.items() if v != defaults[k]]
        if clash:
            raise ValueError(f"init and {clash[0]} conflict: the init call says the mode, gain and distribution "
                             f"itself; drop {clash[0]}.")
    options = SpecOptions(layout=layout, mode=mode, nonlinearity=nonlinearity, negative_slope=float(negative_slope),
                          distribution=distribution, init=init, fan_in=fan_in, fan_out=fan_out)
    if constant is None:
        options.spec(source.shape)  # a bad option (nonlinearity='gelu', mode='fan_x') is the caller's ValueError
    rule = Rule(match=name, constant=None if constant is None else float(constant), origin="verify_tensor")
    result = verify_source(source, rule, options, alpha=alpha, seed=seed, tests=tests)
    return finalize([result], alpha, "none").tensors[0]


def assert_init(tensor: Any, **options: Any) -> TensorResult:
    """Like ``verify_tensor``, but raise ``AssertionError`` with the readable report unless it passes."""
    from .runners.tensor_report import tensor_report

    result = verify_tensor(tensor, **options)
    if result.status != "pass":
        raise AssertionError("kaiming: the tensor does not match its init\n" + tensor_report(result))
    return result


def audit(model: Any, *, input_shape: tuple[int, ...] | None = None, seed: int = 0, alpha: float = 1e-3,
          target: str = "<model>", input_dtype: str | None = None, batch: int = 4, measure: bool = True
          ) -> AuditResult:
    """Audit a built ``torch.nn.Module`` or ``keras.Model``: per parameter, the activation its layer's output
    feeds (read by running the model once), the init that implies, what it got, a verdict, and the signal
    measured at init (docs/audit.md). The result is frozen; ``.to_dict()`` is the JSON."""
    return run_audit(model, identified, target=target, input_shape=input_shape, seed=seed, alpha=alpha,
                     input_dtype=input_dtype, batch=batch, measure=measure)


def assert_audit(model: Any, allow: Iterable[str] = ("framework default", "scale-free", "ambiguous"),
                 **options: Any) -> AuditResult:
    """Raise ``AssertionError`` listing every parameter that is not as recommended, unless its verdict or its
    name (a glob such as ``"fc.*"``) is in ``allow``. By default only ``different`` fails (not where the audit
    judged its scale not to matter: an embedding, a normalized residual block with a stable stream);
    ``allow=()`` fails on framework defaults and scale-free weights too."""
    result = audit(model, **options)
    bad = result.failures(allow)
    if bad:
        lines = [f"  {w.name} ({w.layer_type} -> {w.activation}): {w.verdict}; recommended {w.recommended}, "
                 f"has {w.actual_call or w.actual}" + (f"; {w.note}" if w.note else "") for w in bad]
        raise AssertionError(f"kaiming audit: {len(bad)} parameter(s) not as recommended\n" + "\n".join(lines))
    return result


__all__ = ["verify_tensor", "assert_init", "audit", "assert_audit", "Config"]
