"""identify's whole views of a tensor: its values as a matrix when the subsample is the whole tensor (small float
tensors: the orthogonal fit needs the structure, not just the values), and the second, whole read of a larger one
where a verdict needs exact counts (a sparse tensor's zeros) or its structure (an orthogonal matrix's lines). Apart
from the verdicts (``__init__.py``), which call them."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...engine.sources import MATRIX_MAX_ELEMENTS, rel_eps_for, scan_source_whole
from ...io.sources import TensorSource
from ...stats.fit import Fit, fit_orthogonal
from ...stats.summary import Summary


def whole_matrix(source: TensorSource, sample: np.ndarray, layout: str) -> np.ndarray | None:
    """The tensor as its (rows, cols) matrix view when the engine's subsample is the whole tensor in order (small
    float32/float64 tensors): the orthogonal hook of stats/fit.py needs the structure, not just the values."""
    if len(source.shape) < 2 or sample.size != source.numel or rel_eps_for(source.dtype) > 1e-6:
        return None
    if layout in ("keras", "jax"):
        return sample.reshape(-1, source.shape[-1])
    return sample.reshape(source.shape[0], -1)


def exact_sparsity(source: TensorSource, fit: Fit, summary: Summary, alpha: float, seed: int, jobs: int) -> Fit:
    """A sparse fit from the subsample, its sparsity replaced by the whole tensor's exact zero fraction and its std
    by the one over the exact count of non-zero values (a second read, up to verify's whole-tensor limit; beyond,
    the subsample's estimates stay)."""
    if source.numel > MATRIX_MAX_ELEMENTS:
        return fit
    _, _, values = scan_source_whole(source, seed=seed, jobs=jobs, max_ks=0)
    if values is None:
        return fit
    nonzero = int(np.count_nonzero(values))
    if nonzero < 2:
        return fit
    from scipy.special import chdtri

    ss = summary.sumsq
    ci = type(fit.ci)(math.sqrt(ss / float(chdtri(nonzero, alpha / 2))),
                      math.sqrt(ss / float(chdtri(nonzero, 1 - alpha / 2))))
    return replace(fit, sparsity=(values.size - nonzero) / values.size, std=math.sqrt(ss / nonzero), ci=ci)


def read_orthogonal(source: TensorSource, layout: str, seed: int, jobs: int) -> Fit | None:
    """A second, whole read for a tensor too big for the subsample to be the matrix, once its rows or columns fail
    the structure tests (an orthogonal matrix's lines all have one norm): its orthogonal fit if it passes. Up to
    ``verify``'s whole-tensor limit (engine/sources.py ``MATRIX_MAX_ELEMENTS``, 256 MiB); beyond, None."""
    if len(source.shape) < 2 or rel_eps_for(source.dtype) > 1e-6 or source.numel > MATRIX_MAX_ELEMENTS:
        return None
    _, _, values = scan_source_whole(source, seed=seed, jobs=jobs, max_ks=0)
    if values is None:
        return None
    matrix = values.reshape(-1, source.shape[-1]) if layout in ("keras", "jax") else values.reshape(source.shape[0], -1)
    fit = fit_orthogonal(matrix, 1e-3, source.dtype)
    return fit if fit is not None and fit.passed else None
