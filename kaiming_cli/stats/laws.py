"""The null laws of every init family, with the moments, CDFs and extreme-value laws the tests need.

``Law(distribution, std)`` is the zero-mean law of the Kaiming family: normal N(0, s^2); uniform U(-b, b)
with b = sqrt(3) s; truncated normal sigma_pre * TruncN(-2, 2) with sigma_pre = s / 0.8796... (std exactly s).
The optional fields make the general laws an init call gives (``law_from_spec``, from ``theory.law.LawSpec``):

* normal N(mean, std^2), any mean;
* uniform U(low, high), any bounds;
* truncated normal N(loc, scale^2) cut at any absolute (low, high), possibly asymmetric (torch's
  ``trunc_normal_(mean, std, a, b)``); with ``outside`` > 0 (symmetric +-2 scale cuts only), that mass stays in
  the normal's tails beyond the cut: Keras's torch-backend sampler (``theory.law.KERAS_TORCH_OUTSIDE``);
* constant ``value`` (compared after rounding to the tensor's dtype: ``round_to_dtype``);
* orthogonal with ``gain`` on a ``shape``, viewed as the matrix the library made orthonormal (``axis``, ``side``);
* identity (``eye_``, ``dirac_(groups)``, Keras ``Identity``) with ``gain``: exact;
* sparse (``sparse_``): ceil(sparsity * rows) zeros per column, N(0, std^2) elsewhere.

Moments are exact, from closed forms (standard-library math); CDFs use ``scipy.special`` and are imported only
when called.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..theory.law import KERAS_TORCH_OUTSIDE, LawSpec, _mass, matrix_view, mixture_even_moments
from ..theory.spec import SQRT3, TRUNC_CUT, TRUNC_STD_FACTOR

if TYPE_CHECKING:
    import numpy as np

SQRT2 = math.sqrt(2.0)
#: Families whose defining test needs the whole tensor as a matrix (engine/sources.py ``load_matrix``).
MATRIX_FAMILIES: tuple[str, ...] = ("orthogonal", "identity", "sparse")
#: Unit roundoff (half an ulp at 1) of the float dtypes kaiming reads.
UNIT_ROUNDOFF: dict[str, float] = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11,
                                   "bfloat16": 2.0**-8}
#: Named matrix views for a law built by hand (``law_from_spec(..., matrix=)``), as (axis, side) of
#: ``theory.law.matrix_view``: torch (shape[0], prod(shape[1:])) in ``orthogonal_``; Keras ``Orthogonal`` and JAX
#: ``orthogonal(column_axis=-1)``: (prod(shape[:-1]), shape[-1]). An init call's law carries its own view
#: (``theory.law.orthogonal_on``: JAX's column_axis), which wins.
MATRIX_PRESETS: dict[str, tuple[int, str]] = {"torch": (0, "rows"), "keras": (-1, "columns"), "jax": (-1, "columns")}
MATRIX_VIEWS: tuple[str, ...] = tuple(MATRIX_PRESETS)


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) if math.isfinite(z) else 0.0


def _trunc_even_moments(c: float) -> tuple[float, float, float, float]:
    """E[z^2], E[z^4], E[z^6], E[z^8] of N(0,1) truncated to (-c, c).

    Integration by parts gives m_k = (k-1) m_{k-2} - 2 c^(k-1) phi(c) / Z, Z = 2 Phi(c) - 1.
    """
    z = math.erf(c / SQRT2)
    tail = 2 * _phi(c) / z
    m, out = 1.0, []
    for k in (2, 4, 6, 8):
        m = (k - 1) * m - c ** (k - 1) * tail
        out.append(m)
    return out[0], out[1], out[2], out[3]


def _trunc_central_moments(a: float, b: float) -> tuple[float, ...]:
    """Standardized (mu3..mu8) of N(0,1) restricted to (a, b); a, b may be infinite.

    Central moments directly, by parts on Y = Z - m (m the mean, so E[Y] = 0 exactly):
    E[Y^k] = (k-1) E[Y^(k-2)] - m E[Y^(k-1)] + ((a-m)^(k-1) phi(a) - (b-m)^(k-1) phi(b)) / Z.
    Raw moments and the binomial formula would cancel catastrophically for a cut far in one tail
    (a = 6: raw E z^8 ~ 2e6 against a central one ~ 1e-6)."""
    z = _mass(a, b)
    pa, pb = _phi(a), _phi(b)
    m = (pa - pb) / z
    c = [1.0, 0.0]
    for k in range(2, 9):
        ta = (a - m) ** (k - 1) * pa if pa else 0.0
        tb = (b - m) ** (k - 1) * pb if pb else 0.0
        c.append((k - 1) * c[k - 2] - m * c[k - 1] + (ta - tb) / z)
    var = c[2]
    return tuple(c[k] / var ** (k / 2) for k in range(3, 9))


def _sphere_moments(d: int) -> tuple[float, ...]:
    """Standardized (mu3..mu8) of one coordinate of a uniform point on the unit sphere in R^d.

    E[u^2k] = (2k-1)!! / (d (d+2) ... (d+2k-2)), variance 1/d: kurtosis 3d/(d+2), not 3."""
    d = max(d, 1)
    mu4 = 3.0 * d / (d + 2)
    mu6 = 15.0 * d * d / ((d + 2) * (d + 4))
    mu8 = 105.0 * d**3 / ((d + 2) * (d + 4) * (d + 6))
    return 0.0, mu4, 0.0, mu6, 0.0, mu8


_NORMAL_MOMENTS = (0.0, 3.0, 0.0, 15.0, 0.0, 105.0)
_UNIFORM_MOMENTS = (0.0, 9.0 / 5.0, 0.0, 27.0 / 7.0, 0.0, 9.0)  # U(-sqrt3, sqrt3): E x^2k = 3^k / (2k+1)


def kurtosis_avar(mu4: float, mu6: float, mu8: float) -> float:
    """n * Var(sample kurtosis) as n grows, for a symmetric law with unit variance (delta method).

    (mu8 - mu4^2) - 4 mu4 (mu6 - mu4) + 4 mu4^2 (mu4 - 1); 24 for the normal law.
    """
    return (mu8 - mu4**2) - 4 * mu4 * (mu6 - mu4) + 4 * mu4**2 * (mu4 - 1)


def kurtosis_avar_general(moments: tuple[float, ...]) -> float:
    """n * Var(b2) for any law (symmetric or not), standardized moments (mu3..mu8), delta method.

    With y standardized, the influence function of b2 = m4/m2^2 (moments about the sample mean) is
    A(y) = y^4 - 2 mu4 y^2 - 4 mu3 y + mu4, and n Var(b2) -> E[A^2] = sum_ij c_i c_j mu_(i+j). For a symmetric
    law (mu3 = mu5 = 0) this is ``kurtosis_avar``."""
    mu = {0: 1.0, 1: 0.0, 2: 1.0}
    for k, v in zip(range(3, 9), moments, strict=True):
        mu[k] = v
    coef = {4: 1.0, 2: -2.0 * mu[4], 1: -4.0 * mu[3], 0: mu[4]}
    return math.fsum(ci * cj * mu[i + j] for i, ci in coef.items() for j, cj in coef.items())


def round_to_dtype(value: float, dtype: str) -> float:
    """``value`` as the tensor's dtype stores it (round to nearest even); integers and unknown dtypes: as is.

    bfloat16 rounds through float32, as torch's ``fill_``/``constant_`` does (double -> float -> bf16)."""
    import numpy as np

    if dtype == "float32":
        return float(np.float32(value))
    if dtype == "float16":
        return float(np.float16(value))
    if dtype == "bfloat16":
        bits = int(np.array([value], dtype=np.float32).view(np.uint32)[0])
        if (bits >> 23) & 0xFF == 0xFF:
            return float(np.float32(value))
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
        return float(np.array([bits], dtype=np.uint32).view(np.float32)[0])
    return float(value)


def constant_matches(lo: float, hi: float, value: float, dtype: str) -> bool:
    """Every value (min ``lo``, max ``hi``) equals ``value`` as stored in ``dtype``: exact for integers and
    float64, the nearest representable neighbour (either one at a tie) for float32/float16/bfloat16."""
    if lo != hi:
        return False
    if lo == round_to_dtype(value, dtype) or lo == value:
        return True
    u = UNIT_ROUNDOFF.get(dtype)
    return u is not None and dtype != "float64" and abs(lo - value) <= u * abs(value) * (1 + 1e-9)


@dataclass(frozen=True)
class Law:
    """A null law. ``Law(distribution, std)`` is the zero-mean Kaiming-family law; the other fields describe the
    general laws (build those with ``law_from_spec``). ``None`` fields take the Kaiming-family default."""

    distribution: str
    std: float
    mean: float = 0.0
    low: float | None = None
    """Absolute lower edge of the support (uniform, truncated normal)."""
    high: float | None = None
    loc: float | None = None
    """Truncated normal: the mean before truncation (default 0)."""
    scale: float | None = None
    """Truncated normal: the sigma before truncation (default std / 0.8796...)."""
    value: float | None = None
    """Constant: the value."""
    gain: float | None = None
    """Orthogonal, identity: the factor on the orthonormal or identity matrix."""
    sparsity: float | None = None
    shape: tuple[int, ...] | None = None
    """Orthogonal, identity, sparse: the tensor's shape (their tests need it)."""
    axis: int = 0
    """Orthogonal: the axis set apart in the matrix view (``theory.law.matrix_view``), in [0, ndim)."""
    side: str = "rows"
    """Orthogonal: the side of the matrix view ``axis`` makes, "rows" or "columns" (sparse_, eye_: rows)."""
    groups: int = 1
    """Identity on a >2-D tensor (``dirac_``): the groups."""
    outside: float = 0.0
    """Truncated normal cut at +-2 sigma_pre: the mass left in the normal's tails beyond the cut (Keras's torch
    backend, ``KERAS_TORCH_OUTSIDE``); 0 for a full truncation. ``support`` stays the cut."""

    # ----------------------------------------------------------------- parameters

    @property
    def sigma_pre(self) -> float:
        """Truncated normal: sigma before truncation."""
        return self.scale if self.scale is not None else self.std / TRUNC_STD_FACTOR

    @property
    def center(self) -> float:
        """Centre of symmetry (the mean for symmetric laws; the truncation loc for a truncated normal)."""
        if self.distribution == "truncated_normal":
            return self.loc if self.loc is not None else 0.0
        if self.distribution == "uniform":
            lo, hi = self.support
            return (lo + hi) / 2
        return self.mean

    @property
    def support(self) -> tuple[float, float]:
        """(lower, upper) edges of the support; infinite for the normal laws."""
        if self.distribution == "uniform":
            if self.low is not None and self.high is not None:
                return self.low, self.high
            b = SQRT3 * self.std
            return self.mean - b, self.mean + b
        if self.distribution == "truncated_normal":
            if self.low is not None and self.high is not None:
                return self.low, self.high
            b = TRUNC_CUT * self.sigma_pre
            return self.center - b, self.center + b
        if self.distribution == "orthogonal":
            g = abs(self.gain if self.gain is not None else 1.0)
            return -g, g
        if self.distribution in ("constant", "identity"):
            v = self.value if self.value is not None else 0.0
            g = self.gain if self.gain is not None else 1.0
            return (v, v) if self.distribution == "constant" else (min(0.0, g), max(0.0, g))
        return -math.inf, math.inf

    @property
    def bounded(self) -> bool:
        return self.distribution in ("uniform", "truncated_normal")

    @property
    def symmetric(self) -> bool:
        """Symmetric about ``center`` (max|x - center| is then the range statistic)."""
        if self.distribution == "truncated_normal":
            lo, hi = self.support
            c = self.center
            return math.isclose(c - lo, hi - c, rel_tol=1e-12)
        return True

    @property
    def half_width(self) -> float | None:
        """Symmetric bounded laws: max|x - center| on the support."""
        if not self.bounded or not self.symmetric:
            return None
        lo, hi = self.support
        return (hi - lo) / 2

    @property
    def bound(self) -> float | None:
        """Edge of the support as max|x| (the uniform bound or the truncation point); None if unbounded."""
        if not self.bounded:
            return None
        lo, hi = self.support
        return max(abs(lo), abs(hi))

    @property
    def rows_cols(self) -> tuple[int, int]:
        """The matrix view of ``shape`` (sparse_ and eye_ are 2-D; orthogonal sets ``axis`` apart as ``side``)."""
        return matrix_view(self.shape or (1,), self.axis, self.side)

    @property
    def marginal_n_dim(self) -> int:
        """Orthogonal: the dimension of the sphere each orthonormal row or column lies on, max(rows, cols)."""
        r, c = self.rows_cols
        return max(r, c)

    @property
    def zeros_per_column(self) -> int:
        """Sparse: ceil(sparsity * rows), as torch's ``sparse_``."""
        r, _ = self.rows_cols
        return math.ceil((self.sparsity or 0.0) * r)

    # ----------------------------------------------------------------- moments

    def standardized_moments(self) -> tuple[float, ...]:
        """(mu3, mu4, mu5, mu6, mu7, mu8) of the law scaled to unit variance (sparse: of its non-zeros)."""
        if self.distribution in ("normal", "sparse"):
            return _NORMAL_MOMENTS
        if self.distribution == "uniform":
            return _UNIFORM_MOMENTS
        if self.distribution == "truncated_normal":
            if self.outside:
                m2, m4, m6, m8 = mixture_even_moments(self.outside)
                return 0.0, m4 / m2**2, 0.0, m6 / m2**3, 0.0, m8 / m2**4
            if self.low is None and self.loc in (None, 0.0):
                m2, m4, m6, m8 = _trunc_even_moments(TRUNC_CUT)
                return 0.0, m4 / m2**2, 0.0, m6 / m2**3, 0.0, m8 / m2**4
            s, c = self.sigma_pre, self.center
            lo, hi = self.support
            return _trunc_central_moments((lo - c) / s, (hi - c) / s)
        if self.distribution == "orthogonal":
            return _sphere_moments(self.marginal_n_dim)
        raise ValueError(f"the {self.distribution} law has no moments to test")

    @property
    def kurtosis(self) -> float:
        return self.standardized_moments()[1]

    @property
    def excess_kurtosis(self) -> float:
        return self.kurtosis - 3.0

    @property
    def kurtosis_avar(self) -> float:
        return kurtosis_avar_general(self.standardized_moments())

    # ----------------------------------------------------------------- distribution functions

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """CDF evaluated with ``ndtr``: 10-20x cheaper than ``scipy.stats`` distributions.

        Sparse: the law of the non-zero values, N(0, std^2). Orthogonal: one coordinate of a uniform point on the
        sphere of radius gain in R^d, u^2 / gain^2 ~ Beta(1/2, (d-1)/2)."""
        import numpy as np
        from scipy.special import betainc, ndtr

        out: np.ndarray
        if self.distribution in ("normal", "sparse"):
            out = _normal_cdf(x, self.mean, self.std)
        elif self.distribution == "uniform":
            out = _uniform_cdf(x, *self.support)
        elif self.distribution == "truncated_normal":
            lo, hi = self.support
            s, c = self.sigma_pre, self.center
            a, b = (lo - c) / s, (hi - c) / s
            mass = _mass(a, b)
            if self.outside:
                out = _mixture_cdf(x, c, s, a, b, mass, self.outside)
            elif a + b > 0:  # mass in the upper tail: from the survival side, where ndtr keeps its digits
                out = np.clip((ndtr(-a) - ndtr(-(x - c) / s)) / mass, 0.0, 1.0)
            else:
                out = np.clip((ndtr((x - c) / s) - ndtr(a)) / mass, 0.0, 1.0)
        elif self.distribution == "orthogonal":
            d = self.marginal_n_dim
            g = abs(self.gain if self.gain is not None else 1.0)
            t = np.clip((np.asarray(x, dtype=np.float64) / g) ** 2, 0.0, 1.0)
            half = 0.5 * betainc(0.5, (d - 1) / 2.0, t) if d > 1 else 0.5 * (t >= 1.0)
            out = np.where(x >= 0, 0.5 + half, 0.5 - half)
        else:
            v = self.support[0]
            out = np.where(x >= v, 1.0, 0.0)
        return out

    def log_cdf_point(self, x: float) -> float:
        """log P(X <= x), in double precision from either tail (range test of asymmetric laws)."""
        lo, hi = self.support
        if x < lo:
            return -math.inf
        if x >= hi:
            return 0.0
        if self.distribution == "uniform":
            return _log((x - lo) / (hi - lo))
        if self.distribution == "truncated_normal":
            s, c = self.sigma_pre, self.center
            a, b = (lo - c) / s, (hi - c) / s
            return _log(_mass(a, (x - c) / s)) - _log(_mass(a, b))
        z = (x - self.mean) / self.std
        return _log(_mass(-math.inf, z))

    def log_sf_point(self, x: float) -> float:
        """log P(X >= x)."""
        lo, hi = self.support
        if x > hi:
            return -math.inf
        if x <= lo:
            return 0.0
        if self.distribution == "uniform":
            return _log((hi - x) / (hi - lo))
        if self.distribution == "truncated_normal":
            s, c = self.sigma_pre, self.center
            a, b = (lo - c) / s, (hi - c) / s
            return _log(_mass((x - c) / s, b)) - _log(_mass(a, b))
        z = (x - self.mean) / self.std
        return _log(_mass(z, math.inf))

    def log_cdf_max_abs(self, m: float, n: int) -> float:
        """log P(max|x - center| <= m) for n iid draws of a symmetric law."""
        if m <= 0:
            return -math.inf
        if self.distribution in ("normal", "sparse"):
            z = m / (self.std * SQRT2)
            tail = math.erfc(z)  # log1p(-tail) is exact near 1; log(erf) near 0, where erfc rounds to 1
            return n * (math.log1p(-tail) if tail < 0.5 else _log(math.erf(z)))
        half = self.half_width
        if half is None:
            raise ValueError(f"max|x| has no closed law for an asymmetric {self.distribution} law")
        if self.outside:
            return n * self._log_mixture_abs_cdf(m / self.sigma_pre, half / self.sigma_pre)
        if m >= half:
            return 0.0
        if self.distribution == "uniform":
            return n * _log(m / half)
        t = m / self.sigma_pre
        cut = half / self.sigma_pre
        return n * (_log(math.erf(t / SQRT2)) - math.log(math.erf(cut / SQRT2)))


    def _log_mixture_abs_cdf(self, t: float, cut: float) -> float:
        """log P(|z| <= t) for one value of the ``outside`` mixture, t and the cut in units of sigma_pre."""
        inside = math.erf(cut / SQRT2)
        if t < cut:
            return math.log1p(-self.outside) + _log(math.erf(t / SQRT2)) - math.log(inside)
        beyond = math.erfc(t / SQRT2) / (1.0 - inside)  # P(|z| > t | |z| >= cut)
        return math.log1p(-self.outside * beyond)


def _normal_cdf(x: np.ndarray, mean: float | np.ndarray, std: float | np.ndarray) -> np.ndarray:
    """N(mean, std^2)'s CDF; the parameters scalars (``Law.cdf``) or one per row (``cdf_rows``): the same
    operations either way, so a row's values are the one-law call's to the bit."""
    from scipy.special import ndtr

    out: np.ndarray = ndtr((x - mean) / std)
    return out


def _uniform_cdf(x: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray) -> np.ndarray:
    """U(lo, hi)'s CDF (scalars or one per row, as ``_normal_cdf``)."""
    import numpy as np

    out: np.ndarray = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return out


def _mixture_cdf(x: np.ndarray, c: float | np.ndarray, s: float | np.ndarray, a: float | np.ndarray,
                 b: float | np.ndarray, mass: float | np.ndarray, outside: float) -> np.ndarray:
    """The CDF of N(c, s^2) cut to (a, b) in its own sigmas (``mass`` = P(a < Z < b)) with ``outside`` of the mass
    left in the tails (Keras's torch backend); scalars or one per row, as ``_normal_cdf``."""
    import numpy as np
    from scipy.special import ndtr

    z = (np.asarray(x, dtype=np.float64) - c) / s
    tails = 1.0 - mass
    inner = np.clip((ndtr(z) - ndtr(a)) / mass, 0.0, 1.0)
    outer = (np.minimum(ndtr(z), ndtr(a)) + np.maximum(ndtr(z) - ndtr(b), 0.0)) / tails
    out: np.ndarray = (1.0 - outside) * inner + outside * outer
    return out


def cdf_rows(laws: Sequence[Law], x: np.ndarray) -> np.ndarray:
    """Each row of ``x`` (2-D) through its own law's CDF, in one call: ``laws[i].cdf(x[i])`` to the bit, for laws of
    one family among those the fits give (``family_law``: normal, uniform, and the truncated normal with tails);
    identify's group path tests a batch's fitted families at once (stats/fit.py ``fit_families_rows``). ``x`` is
    float64, as every EDF sample is: the columns of parameters are float64, where ``Law.cdf`` of float32 values with
    scalar parameters computes in float32."""
    import numpy as np

    first = laws[0]
    if any(law.distribution != first.distribution or law.outside != first.outside for law in laws):
        raise ValueError("cdf_rows takes laws of one family")

    def column(values: Iterable[float]) -> np.ndarray:
        return np.fromiter(values, dtype=np.float64, count=len(laws))[:, None]

    if first.distribution in ("normal", "sparse"):
        return _normal_cdf(x, column(law.mean for law in laws), column(law.std for law in laws))
    if first.distribution == "uniform":
        return _uniform_cdf(x, column(law.support[0] for law in laws), column(law.support[1] for law in laws))
    if first.distribution == "truncated_normal" and first.outside:
        edges = [law.support for law in laws]
        c, s = column(law.center for law in laws), column(law.sigma_pre for law in laws)
        a = [(lo - law.center) / law.sigma_pre for law, (lo, _) in zip(laws, edges, strict=True)]
        b = [(hi - law.center) / law.sigma_pre for law, (_, hi) in zip(laws, edges, strict=True)]
        mass = column(_mass(ai, bi) for ai, bi in zip(a, b, strict=True))
        return _mixture_cdf(x, c, s, column(a), column(b), mass, first.outside)
    raise ValueError(f"cdf_rows does not cover {first.distribution} laws without tails")


@functools.lru_cache(maxsize=1024)
def family_law(distribution: str, std: float) -> Law:
    """The zero-mean law of a fitted family at ``std`` (the std a full truncation would have, for the truncated
    normal): the truncated normal is the ``outside`` mixture of Keras's torch backend, which a full truncation
    (torch's ``trunc_normal_``, JAX, Keras's other backends) also passes: a file does not say which backend drew
    it (docs/statistics.md "Keras's truncated normal"). Cached (a frozen ``Law``): identify scores ~40 candidates
    of the same few laws on every tensor of a checkpoint."""
    if distribution != "truncated_normal":
        return Law(distribution, std)
    sigma = std / TRUNC_STD_FACTOR
    m2 = mixture_even_moments(KERAS_TORCH_OUTSIDE)[0]
    return Law("truncated_normal", sigma * math.sqrt(m2), scale=sigma, outside=KERAS_TORCH_OUTSIDE)


def _log(x: float) -> float:
    """log, with log(0) = -inf: a denormal maximum (a crafted file's) underflows the probability to 0."""
    return math.log(x) if x > 0 else -math.inf


#: A truncation this many sigma out removes less than 1e-15 of the mass: the law is the normal to double precision.
UNTRUNCATED_CUT = 8.0


def law_from_spec(law: LawSpec, shape: tuple[int, ...] | None = None, *, matrix: str = "torch",
                  groups: int = 1) -> Law:
    """The statistics' ``Law`` for an init call's exact ``LawSpec`` on a tensor of ``shape``.

    ``shape`` is needed by orthogonal, identity and sparse (their structure tests). An orthogonal ``law`` from an
    init call carries the library's matrix view (``law.axis``, ``law.side``: the one place it is decided);
    ``matrix`` names a view (``MATRIX_PRESETS``) for a spec built without one (torch: (shape[0], rest);
    keras/jax: (rest, shape[-1])). ``groups`` is ``dirac_``'s. Raises ``ValueError`` for a spec the statistics
    cannot test."""
    d = law.distribution
    shape = tuple(shape) if shape is not None else None
    if matrix not in MATRIX_VIEWS:
        raise ValueError(f"unknown matrix view {matrix!r}: choose from {', '.join(MATRIX_VIEWS)}.")
    if d == "normal":
        return Law("normal", _need(law.std, d, "std"), mean=law.mean or 0.0)
    if d == "uniform":
        lo, hi = _need(law.low, d, "low"), _need(law.high, d, "high")
        if not hi > lo:
            raise ValueError(f"uniform bounds need low < high, not ({lo:g}, {hi:g}).")
        return Law("uniform", (hi - lo) / math.sqrt(12.0), mean=(lo + hi) / 2, low=lo, high=hi)
    if d == "truncated_normal":
        loc, scale = law.loc if law.loc is not None else 0.0, _need(law.scale, d, "scale")
        lo = law.low if law.low is not None else -math.inf
        hi = law.high if law.high is not None else math.inf
        from ..theory.law import truncated_moments

        mean, std = truncated_moments(loc, scale, lo, hi)
        if min(loc - lo, hi - loc) >= UNTRUNCATED_CUT * scale:
            # trunc_normal_(std=0.02) cuts at +-2, i.e. +-100 sigma: the mass cut off is < 1e-15, and the normal's
            # range test still sees a 10-sigma outlier that a support edge at 100 sigma would let through
            return Law("normal", scale, mean=loc)
        if law.outside:  # the mixture's own std (LawSpec keeps the full truncation's, as Keras documents it)
            std = scale * math.sqrt(mixture_even_moments(law.outside)[0])
            return Law("truncated_normal", std, mean=loc, low=lo, high=hi, loc=loc, scale=scale, outside=law.outside)
        return Law("truncated_normal", std, mean=mean, low=lo, high=hi, loc=loc, scale=scale)
    if d == "constant":
        value = _need(law.value, d, "value")
        return Law("constant", 0.0, mean=value, value=value)
    if d in ("orthogonal", "identity", "sparse"):
        if shape is None:
            raise ValueError(f"the {d} law needs the tensor's shape.")
        if d == "orthogonal":
            if len(shape) < 2:
                raise ValueError("orthogonal needs a tensor of 2 or more dimensions.")
            gain = law.gain if law.gain is not None else 1.0
            axis, side = (law.axis, law.side) if law.axis is not None and law.side else MATRIX_PRESETS[matrix]
            r, c = matrix_view(shape, axis, side)
            return Law("orthogonal", abs(gain) / math.sqrt(max(r, c)), gain=gain, shape=shape,
                       axis=axis % len(shape), side=side)
        if d == "identity":
            if len(shape) not in (2, 3, 4, 5):
                raise ValueError("identity (eye_/dirac_) needs a tensor of 2 to 5 dimensions.")
            if len(shape) > 2 and (groups < 1 or shape[0] % groups):
                raise ValueError(f"dirac_ groups={groups} must divide dim 0 ({shape[0]}).")
            gain = law.gain if law.gain is not None else 1.0
            return Law("identity", 0.0, gain=gain, shape=shape, groups=groups)
        if len(shape) != 2:
            raise ValueError("sparse_ needs a 2-D tensor.")
        sparsity = _need(law.sparsity, d, "sparsity")
        if not 0.0 <= sparsity <= 1.0:
            raise ValueError(f"sparsity must be in [0, 1], not {sparsity:g}.")
        return Law("sparse", _need(law.std, d, "std"), sparsity=sparsity, shape=shape)
    raise ValueError(f"unknown law {d!r}")


def _need(value: float | None, family: str, key: str) -> float:
    if value is None:
        raise ValueError(f"the {family} law needs {key}.")
    return float(value)
