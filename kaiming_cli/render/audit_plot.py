"""``kaiming audit --plot FILE.png``: the signal measured at init, forward and backward std by layer (log scale).
A module of its own so that audit's figure and the other commands' (plots.py) change apart."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .plots import _pyplot, _save

if TYPE_CHECKING:
    from ..runners.audit import AuditResult


def audit_png(result: AuditResult, path: str) -> None:
    """Two panels as ``propagate`` draws them: each weighted layer's output std (total, and across the samples
    of a batch, which the verdict reads) and the std of the gradient reaching it, by depth."""
    from ..errors import InputError

    signal = result.signal
    if signal is None:
        raise InputError("--plot: the model was not run, so there is no signal to draw; give --input-shape.")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    depth = range(1, len(signal.forward) + 1)
    axes[0].plot(depth, [max(s, 1e-300) for _m, s in signal.forward], "-", lw=2.2, label="std")
    axes[0].plot(depth, [max(s, 1e-300) for _m, s in signal.across], "--", lw=2.2, label="std across samples")
    axes[1].plot(range(1, len(signal.backward_signal) + 1), [max(s, 1e-300) for _m, s in signal.backward_signal],
                 "-", lw=2.2, label="gradient std")
    for ax, title in zip(axes, ("forward: std of each layer's output", "backward: std of the gradient reaching it"),
                         strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("weighted layer, in the order they ran")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=9)
    axes[0].set_ylabel("std (log scale)")
    turn = f", turns at {signal.turns_at}" if signal.turns_at else ""
    fig.suptitle(f"{result.target}: {signal.verdict}{turn} (input {','.join(map(str, signal.input_shape))})")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
