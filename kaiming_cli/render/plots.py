"""PNG figures with matplotlib (optional extra ``kaiming[plot]``); pure functions of results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..escape import plot_title

if TYPE_CHECKING:
    import numpy as np

    from ..runners.propagate import PropagateResult
    from ..runners.verify import TensorResult
    from ..stats.laws import Law

#: verify draws at most this many failing tensors.
MAX_PANELS = 6


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        from ..about import install_hint

        raise InputError(f"--plot needs matplotlib, which is not installed; install it with: "
                         f"{install_hint('plot')}.") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str) -> None:
    from ..io.files import write_output

    write_output(path, lambda fh: fig.savefig(fh, dpi=100, format="png"), "choose a writable .png path")


def propagate_png(result: PropagateResult, path: str) -> None:
    """Std per layer on a log axis, forward and backward, one labelled line per init."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    layers = range(1, result.depth + 1)
    styles = ["-", "-", "--", "-."]  # xavier equals gain 1 on square stacks: dashed, so both show
    for i, run in enumerate(result.runs):
        style = styles[i % len(styles)]
        axes[0].plot(layers, [max(v, 1e-300) for v in run.forward_std], style, label=run.init.label, lw=2.2)
        axes[1].plot(layers, [max(v, 1e-300) for v in run.backward_std], style, label=run.init.label, lw=2.2)
    kind = f"conv {result.conv}x{result.conv}" if result.conv else "fully connected"
    for ax, title in zip(axes, ("forward: std of pre-activations", "backward: std of input gradients"),
                         strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("std (log scale)")
    axes[0].legend(fontsize=9)
    fig.suptitle(f"{result.nonlinearity}, depth {result.depth}, width {result.width}, {kind}, batch {result.batch}")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _hist_qq(ax_hist: Any, ax_qq: Any, sample: np.ndarray, law: Law, title: str) -> None:
    import numpy as np
    from scipy.special import ndtri

    from ..stats.empirical import histogram_edges

    lo, hi = histogram_edges(law)
    grid = np.linspace(lo, hi, 400)
    # values beyond the edges are counted in the legend, not piled into the edge bins (they looked like mass);
    # the density is per value of the whole sample, so it stays comparable with the theory's
    inside = sample[(sample >= lo) & (sample <= hi)]
    outside = sample.size - inside.size
    width = (hi - lo) / 60
    ax_hist.hist(inside, bins=60, range=(lo, hi), weights=np.full(inside.size, 1.0 / (max(sample.size, 1) * width)),
                 alpha=0.6, label="sample" + (f" (+{outside} beyond the edges)" if outside else ""))
    # density from the CDF, the same law the tests use
    cdf = law.cdf(grid)
    ax_hist.plot(grid[1:], np.diff(cdf) / np.diff(grid), "r-", lw=2, label="theory")
    ax_hist.set_title(title, fontsize=9, parse_math=False)  # a '$' in a tensor name is not mathtext
    ax_hist.set_xlabel("weight value")
    ax_hist.set_ylabel("density")
    ax_hist.legend(fontsize=8)
    x = np.sort(sample)
    p = (np.arange(1, x.size + 1) - 0.5) / x.size
    theo = _quantiles(law, p, ndtri)
    ax_qq.plot(theo, x, ".", ms=2)
    edge = max(abs(lo), abs(hi))
    ax_qq.plot([-edge, edge], [-edge, edge], "r-", lw=1)
    ax_qq.set_xlabel("theoretical quantile")
    ax_qq.set_ylabel("sample quantile")
    ax_qq.set_title("Q-Q", fontsize=9)


def _quantiles(law: Law, p: np.ndarray, ndtri: Any) -> np.ndarray:
    import numpy as np

    from ..theory.spec import TRUNC_CUT

    if law.distribution == "normal":
        out: np.ndarray = ndtri(p) * law.std
    elif law.distribution == "uniform":
        b = law.bound or 0.0
        out = (2 * p - 1) * b
    else:
        from scipy.special import ndtr

        lo = ndtr(-TRUNC_CUT)
        out = ndtri(lo + p * (1 - 2 * lo)) * law.sigma_pre
    return np.asarray(out)


def distributions_png(panels: Sequence[tuple[str, np.ndarray, Law]], path: str) -> None:
    """One row per tensor: histogram with the theoretical density, and a Q-Q plot.

    Titles hold tensor names (``escape.plot_title``): a glyph the font lacks is drawn as a box,
    without matplotlib's warning (one stderr line per character).
    """
    import warnings

    plt = _pyplot()
    rows = max(1, len(panels))
    fig, axes = plt.subplots(rows, 2, figsize=(11, 3.6 * rows), squeeze=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        for (title, sample, law), (ax_h, ax_q) in zip(panels, axes, strict=False):
            _hist_qq(ax_h, ax_q, sample, law, title)
        fig.tight_layout()
        _save(fig, path)
    plt.close(fig)


def verify_failures_png(samples: Sequence[tuple[TensorResult, np.ndarray, Law]], path: str) -> None:
    """Histogram and Q-Q panels for verify's failing tensors (or the first tested ones)."""
    panels = []
    for t, sample, law in samples:
        assert t.spec is not None
        title = f"{plot_title(t.name)} {t.status.upper()}: expected {t.spec.distribution} std {t.spec.std:.4g}"
        panels.append((title, sample, law))
    distributions_png(panels, path)
