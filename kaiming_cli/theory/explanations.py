"""Which named init calls give a law whose std lies inside a fitted confidence interval.

``identify`` fits a family's scale with a CI (stats/fit.py); this module lists every call, written in the
init-call grammar of docs/cli.md ("Init calls"), whose *exact* law for this shape is in that family with a
std inside the interval: kaiming with any slope (named slopes, else the solved one), xavier with any gain
(calculate_gain's, else the solved one), round stds (1, 2, 5 times a power of ten), GPT-2's
``0.02/sqrt(2*L)`` with integer L, the module defaults of PyTorch (Linear/Conv weight and bias, Embedding,
LSTM/GRU/RNN), ``1/sqrt(fan)`` with either fan, the Keras/JAX variance-scaling family (with every split of
the axes into inputs and outputs for kernels of 3 or more dimensions: einsum kernels), Keras' RandomNormal
and RandomUniform defaults. Each comes with a prior plausibility (a module default or a common named init
over an odd fitted constant), which ``identify`` multiplies by the likelihood. Standard library only.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

from .fans import compute_fans
from .spec import SQRT3, TRUNC_STD_FACTOR

SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class Explanation:
    """One call whose exact law (family ``distribution``, std ``std``) lies inside the fitted interval."""

    call: str
    """The call in the grammar of docs/cli.md "Init calls" (what a rule's ``init =`` takes)."""
    distribution: str
    std: float
    prior: float
    """Plausibility before the data: 1 for module defaults and the common named inits, down to 0.01 for a
    constant solved from the data."""
    fan_in: int | None = None
    """Set when the call needs fans other than the shape's own (an einsum split, a bias's sibling weight)."""
    fan_out: int | None = None
    note: str = ""
    fitted: bool = False
    """Its constant (a slope, a gain, a std) was solved from the data rather than named."""


#: Named leaky-ReLU slopes of kaiming_*_ (a = 0 is nonlinearity='relu'), with their prior.
NAMED_SLOPES: tuple[tuple[str, float, float], ...] = (
    ("0.01", 0.01, 0.05), ("0.1", 0.1, 0.01), ("0.2", 0.2, 0.02), ("0.02", 0.02, 0.005), ("0.3", 0.3, 0.005))
#: calculate_gain's named gains: (nonlinearity, gain, prior as a kaiming/xavier gain).
NAMED_GAINS: tuple[tuple[str, float, float], ...] = (
    ("relu", SQRT2, 1.0), ("linear", 1.0, 0.5), ("tanh", 5.0 / 3.0, 0.2), ("selu", 0.75, 0.1))
#: GPT-2 style residual scaling 0.02/sqrt(2*L): at most this many integers L may fit the interval.
MAX_LAYER_COUNTS = 4
#: Std values a user writes by hand, with their prior (others of the 1-2-5 series get ROUND_PRIOR).
COMMON_STDS = {0.02: 0.5, 0.01: 0.3, 0.001: 0.2, 1e-6: 0.2, 0.05: 0.1, 0.1: 0.1, 1.0: 0.2}
ROUND_PRIOR = 0.02
FITTED_PRIOR = 0.01


#: Every 1, 2 or 5 times a power of ten from 1e-9 to 500, rising (the floats their text parses to).
ROUND_VALUES: tuple[float, ...] = tuple(float(f"{mant}e{exp}") for exp in range(-9, 3) for mant in (1, 2, 5))


def round_values(low: float, high: float) -> list[float]:
    """Every 1, 2 or 5 times a power of ten in [low, high] (1e-9 to 500)."""
    return [v for v in ROUND_VALUES if low <= v <= high]


def number(v: float, low: float | None = None, high: float | None = None) -> str:
    """``v`` with the fewest significant digits (3 or more) that stay inside [low, high]."""
    for digits in range(3, 17):
        text = f"{v:.{digits}g}"
        if low is None or high is None or low <= float(text) <= high:
            return text
    return repr(v)


def fan_options(shape: tuple[int, ...], layout: str) -> list[tuple[int, int, bool]]:
    """(fan_in, fan_out, override): the shape's own fans, then for Keras/JAX kernels of 3 or more dimensions
    every split of the axes into inputs and outputs (EinsumDense passes its own; override = the rule must state
    them)."""
    out: list[tuple[int, int, bool]] = []
    try:
        fans = compute_fans(shape, layout)
        out.append((fans.fan_in, fans.fan_out, False))
    except ValueError:
        pass
    if layout in ("keras", "jax") and len(shape) >= 3:
        axes = range(len(shape))
        for k in range(1, len(shape)):
            for inputs in itertools.combinations(axes, k):
                fi = math.prod(shape[i] for i in inputs)
                fo = math.prod(shape) // fi
                if all((fi, fo) != (a, b) for a, b, _ in out):
                    out.append((fi, fo, True))
    return out


class _Collector:
    """Gathers explanations inside [low, high], one per call (the first, most plausible, wins)."""

    def __init__(self, distribution: str, low: float, high: float) -> None:
        self.distribution, self.low, self.high = distribution, low, high
        self.items: dict[str, Explanation] = {}

    def layer_counts(self) -> None:
        """GPT-2's calls with a layer count (``_gpt2``): the only ones whose presence depends on the interval's
        width, not on their std alone."""
        _gpt2(self)

    def inside(self, std: float) -> bool:
        return self.low <= std <= self.high

    def round_values(self, scale: float = 1.0, divide: bool = False) -> Iterator[float]:
        """``round_values`` of the interval scaled by ``scale`` (a uniform's bound is its std times sqrt(3), a
        truncated normal's std its sigma times ``TRUNC_STD_FACTOR``): the values a loop then adds."""
        return iter(round_values(*_scaled(self.low, self.high, scale, divide)))

    def add(self, call: str, std: float, prior: float, fans: tuple[int, int, bool] | None = None, note: str = "",
            fitted: bool = False, fan_in: int | None = None) -> None:
        if not self.inside(std):
            return
        fi, fo = (fans[0], fans[1]) if fans is not None and fans[2] else (fan_in, None)
        key = f"{call}|{fi}|{fo}"
        if key not in self.items:
            self.items[key] = Explanation(call, self.distribution, std, prior, fi, fo, note, fitted)


def _kaiming(c: _Collector, fans: tuple[int, int, bool], dist: str, prior_scale: float) -> None:
    """kaiming_{dist}_ with the named gains and slopes, in both modes."""
    for call, std, prior in _kaiming_entries(dist, fans[0], fans[1], prior_scale):
        if c.low <= std <= c.high:  # most are outside: no call
            c.add(call, std, prior, fans)


#: Entry: (call, std, prior) of a named call, in the order its collector takes it.
Entry = tuple[str, float, float]


@functools.lru_cache(maxsize=1024)
def _kaiming_entries(dist: str, fan_in: int, fan_out: int, prior_scale: float) -> tuple[Entry, ...]:
    """The named kaiming calls for these fans: made once per shape, not once per tensor and fit (their text and
    std do not depend on the data; identify explains three fits of every tensor, issue 25)."""
    out: list[Entry] = []
    for mode, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
        for nl, g, prior in NAMED_GAINS:
            out.append((f"kaiming_{dist}_(mode={mode!r}, nonlinearity={nl!r})", g / math.sqrt(fan),
                        prior * prior_scale))
        for text, a, prior in NAMED_SLOPES:
            std = math.sqrt(2.0 / (1 + a * a)) / math.sqrt(fan)
            out.append((f"kaiming_{dist}_(a={text}, mode={mode!r}, nonlinearity='leaky_relu')", std,
                        prior * prior_scale))
        out.append((f"kaiming_{dist}_(a=sqrt(5), mode={mode!r})", math.sqrt(1.0 / 3.0) / math.sqrt(fan),
                    0.01 * prior_scale))
    return tuple(out)


def _kaiming_fitted(c: _Collector, fans: tuple[int, int, bool], dist: str, std_hat: float) -> None:
    """kaiming with the slope solved from the data (a^2 = 2 / (std^2 fan) - 1), when one exists."""
    for mode, fan in (("fan_in", fans[0]), ("fan_out", fans[1])):
        a2 = 2.0 / (std_hat * std_hat * fan) - 1.0
        if a2 > 0:
            a = math.sqrt(a2)
            std = math.sqrt(2.0 / (1 + a * a)) / math.sqrt(fan)
            c.add(f"kaiming_{dist}_(a={number(a)}, mode={mode!r}, nonlinearity='leaky_relu')", std, FITTED_PRIOR,
                  fans, note="slope solved from the data", fitted=True)


def _xavier(c: _Collector, fans: tuple[int, int, bool], dist: str, std_hat: float) -> None:
    avg = (fans[0] + fans[1]) / 2.0
    named = False
    for call, std, prior in _xavier_entries(dist, fans[0], fans[1]):
        named = named or c.inside(std)
        c.add(call, std, prior, fans)
    if not named:
        g = std_hat * math.sqrt(avg)
        c.add(f"xavier_{dist}_(gain={number(g)})", g / math.sqrt(avg), FITTED_PRIOR, fans,
              note="gain solved from the data", fitted=True)


@functools.lru_cache(maxsize=1024)
def _xavier_entries(dist: str, fan_in: int, fan_out: int) -> tuple[Entry, ...]:
    """The named xavier calls for these fans (once per shape, as ``_kaiming_entries``)."""
    avg = (fan_in + fan_out) / 2.0
    return tuple((f"xavier_{dist}_()" if nl == "linear" else f"xavier_{dist}_(gain=calculate_gain({nl!r}))",
                  g / math.sqrt(avg), (0.5 if nl == "linear" else prior * 0.1)) for nl, g, prior in NAMED_GAINS)


def _keras(c: _Collector, fans: tuple[int, int, bool], dist: str, layout: str) -> None:
    """Keras 3 variance scaling (he/lecun/glorot and VarianceScaling with scale 1 or 2); ``dist`` is the family."""
    native = layout in ("keras", "jax")
    if not native:  # a Keras call on a torch-layout tensor: the rule states the fans computed here
        fans = (fans[0], fans[1], True)
    for call, std, prior in _keras_entries(dist, fans[0], fans[1], native):
        if c.low <= std <= c.high:  # most are outside: no call
            c.add(call, std, prior, fans)


@functools.lru_cache(maxsize=1024)
def _keras_entries(dist: str, fan_in: int, fan_out: int, native: bool) -> tuple[Entry, ...]:
    """The Keras variance-scaling calls for these fans (once per shape, as ``_kaiming_entries``)."""
    prior = 1.0 if native else 0.1
    kind = {"truncated_normal": "Normal", "uniform": "Uniform"}.get(dist)
    out: list[Entry] = []
    for mode, fan in (("fan_in", fan_in), ("fan_out", fan_out), ("fan_avg", (fan_in + fan_out) / 2.0)):
        for scale in (1.0, 2.0):
            std = math.sqrt(scale / fan)
            if kind is not None:
                named = {("fan_in", 2.0): "He", ("fan_in", 1.0): "Lecun", ("fan_avg", 1.0): "Glorot"}.get((mode, scale))
                if named:
                    out.append((f"keras.initializers.{named}{kind}()", std, prior))
            vs_dist = {"truncated_normal": "truncated_normal", "uniform": "uniform",
                       "normal": "untruncated_normal"}[dist]
            out.append((f"keras.initializers.VarianceScaling(scale={scale:g}, mode={mode!r}, "
                        f"distribution={vs_dist!r})", std, prior * 0.5))
    return tuple(out)


def explain(shape: tuple[int, ...], layout: str, distribution: str, low: float, high: float, std_hat: float, *,
            bias_fan_in: int | None = None, name: str = "") -> list[Explanation]:
    """Every call of family ``distribution`` whose exact std for ``shape`` lies in [low, high], most plausible
    first (prior, then closeness to ``std_hat``). Solved constants (an odd slope or gain) only when nothing
    named fits; an empty list means the bare fitted law is the only description.

    The named calls come from the shape's table (``_Table``: every call the collector below would consider, made
    once per shape and looked up by bisection), the very list ``collected`` makes call by call (tests hold the
    two equal); where no named call is inside, ``collected`` itself solves the constants."""
    table = _table((tuple(shape), layout, distribution, bias_fan_in, _hints(distribution, name))) \
        if distribution in FAMILIES and low <= high else None  # (low <= high: not NaN)
    if table is not None:
        items = table.inside(low, high)
        if items:
            items.sort(key=lambda e: (-e.prior, abs(math.log(e.std / std_hat)) if std_hat > 0 else 0.0))
            return items
    return collected(shape, layout, distribution, low, high, std_hat, bias_fan_in=bias_fan_in, name=name)


#: The families ``explain`` names calls of.
FAMILIES = ("normal", "uniform", "truncated_normal")


def collected(shape: tuple[int, ...], layout: str, distribution: str, low: float, high: float, std_hat: float, *,
              bias_fan_in: int | None = None, name: str = "") -> list[Explanation]:
    """``explain`` call by call: the collector over [low, high], the definition ``_Table`` reproduces."""
    c = _Collector(distribution, low, high)
    options = _gather(c, tuple(shape), layout, distribution, std_hat, bias_fan_in, name.lower())
    if distribution in ("normal", "uniform") and not any(not e.fitted for e in c.items.values()):
        for fans in options:
            _kaiming_fitted(c, fans, distribution, std_hat)
    items = list(c.items.values())
    if any(not e.fitted for e in items):
        items = [e for e in items if not e.fitted]
    items.sort(key=lambda e: (-e.prior, abs(math.log(e.std / std_hat)) if std_hat > 0 else 0.0))
    return items


def _gather(c: _Collector, shape: tuple[int, ...], layout: str, distribution: str, std_hat: float,
            bias_fan_in: int | None, lowered: str) -> list[tuple[int, int, bool]]:
    """Every named call of ``distribution`` for ``shape`` into ``c``, in the order that decides which of two
    equal calls is kept (the first); the fan options it used."""
    options = fan_options(shape, layout)
    if distribution in ("normal", "uniform"):
        for fans in options:
            _kaiming(c, fans, distribution, 1.0 if not fans[2] else 0.5)
            _xavier(c, fans, distribution, std_hat)
            _keras(c, fans, distribution, layout)
        if distribution == "normal":
            _normal_named(c, options, layout, shape, lowered)
        else:
            _uniform_named(c, options, layout, shape, lowered, bias_fan_in)
    elif distribution == "truncated_normal":
        for fans in options:
            _keras(c, fans, distribution, layout)
        _truncated_named(c, layout)
    return options


#: PyTorch's recurrent modules and the rows of their stacked weights per hidden unit (gates): (module, per).
RECURRENT = (("LSTM", 4), ("GRU", 3), ("RNN", 1))
#: Module names whose presence in a tensor's name raises the prior of their default (``_uniform_named``).
HINTED_MODULES = tuple(module for module, _ in RECURRENT)


def _hints(distribution: str, name: str) -> str:
    """What of a tensor's name the calls depend on, as a name of its own: the hinted modules' names (uniform
    defaults of recurrent layers), nothing for the other families. Tables are shared across tensor names."""
    if distribution != "uniform":
        return ""
    lowered = name.lower()
    return " ".join(m.lower() for m in HINTED_MODULES if m.lower() in lowered)


@dataclass(frozen=True)
class _Entry:
    """One call a collector would add, at its place in the collector's order."""

    place: float
    key: str
    """What makes two calls the same call (the first of them is kept): the call with its stated fans."""
    explanation: Explanation
    window: tuple[float, float, bool] | None
    """A round value's (value, scale, divide): it is a candidate only when the value is among
    ``_Collector.round_values(scale, divide)`` of the interval, besides its std being inside."""


class _Recorder(_Collector):
    """A collector that keeps every call, inside any interval or not, in its order: a shape's ``_Table``."""

    def __init__(self, distribution: str) -> None:
        super().__init__(distribution, -math.inf, math.inf)
        self.entries: list[_Entry] = []
        self.window: tuple[float, float, bool] | None = None
        self.layers_at: float | None = None

    def round_values(self, scale: float = 1.0, divide: bool = False) -> Iterator[float]:
        for v in ROUND_VALUES:
            self.window = (v, scale, divide)
            yield v
        self.window = None

    def layer_counts(self) -> None:
        self.layers_at = len(self.entries) - 0.5  # between the calls added before and after

    def add(self, call: str, std: float, prior: float, fans: tuple[int, int, bool] | None = None, note: str = "",
            fitted: bool = False, fan_in: int | None = None) -> None:
        fi, fo = (fans[0], fans[1]) if fans is not None and fans[2] else (fan_in, None)
        self.entries.append(_Entry(len(self.entries), f"{call}|{fi}|{fo}",
                                   Explanation(call, self.distribution, std, prior, fi, fo, note, fitted),
                                   self.window))


class _Table:
    """Every named call of a shape's family, sorted by std: the calls inside an interval are a bisection away,
    not a collector's pass over all of them (about 40 per fitted family, for each tensor: issue 25)."""

    def __init__(self, distribution: str, recorder: _Recorder) -> None:
        self.distribution = distribution
        entries = sorted(recorder.entries, key=lambda e: e.explanation.std)
        self.stds = [e.explanation.std for e in entries]
        self.entries = entries
        self.layers_at = recorder.layers_at

    def inside(self, low: float, high: float) -> list[Explanation]:
        """The named calls the collector over [low, high] keeps, in its order (the first of equal calls)."""
        hits = [e for e in self.entries[bisect.bisect_left(self.stds, low):bisect.bisect_right(self.stds, high)]
                if e.window is None or _in_window(e.window, low, high)]
        if self.layers_at is not None:  # GPT-2's layer counts: at most MAX_LAYER_COUNTS of them, or none
            gpt2 = _Collector(self.distribution, low, high)
            _gpt2(gpt2)
            step = 0.5 / (len(gpt2.items) + 1)  # between the calls recorded before and after, in their order
            hits += [_Entry(self.layers_at + (k + 1) * step, key, e, None)
                     for k, (key, e) in enumerate(gpt2.items.items())]
        hits.sort(key=lambda e: e.place)
        seen: set[str] = set()
        out: list[Explanation] = []
        for e in hits:
            if e.key not in seen:
                seen.add(e.key)
                out.append(e.explanation)
        return out


def _in_window(window: tuple[float, float, bool], low: float, high: float) -> bool:
    """``_Collector.round_values``'s test of one value, by the same interval."""
    v, scale, divide = window
    lo, hi = _scaled(low, high, scale, divide)
    return lo <= v <= hi


def _scaled(low: float, high: float, scale: float, divide: bool) -> tuple[float, float]:
    """[low, high] divided or multiplied by ``scale``: where a family's round values are looked for."""
    return (low / scale, high / scale) if divide else (low * scale, high * scale)


#: What a table is made for: (shape, layout, family, a bias's sibling fan_in, ``_hints`` of the name).
TableKey = tuple[tuple[int, ...], str, str, int | None, str]
_TABLES: dict[TableKey, _Table] = {}
_SEEN: set[TableKey] = set()
#: Tables (and keys seen once) kept; both are dropped when full (a checkpoint has a few dozen shapes).
MAX_TABLES = 1024


def _table(key: TableKey) -> _Table | None:
    """The table of ``key`` from its second fit on: a table costs about ten collector passes to make (0.7 ms), so
    a shape fitted once (most of a ResNet's) is explained by the collector alone, and None is returned."""
    table = _TABLES.get(key)
    if table is None:
        if key not in _SEEN:
            if len(_SEEN) >= MAX_TABLES:
                _SEEN.clear()
            _SEEN.add(key)
            return None
        shape, layout, distribution, bias_fan_in, name = key
        recorder = _Recorder(distribution)
        _gather(recorder, shape, layout, distribution, math.nan, bias_fan_in, name)
        if len(_TABLES) >= MAX_TABLES:
            _TABLES.clear()
        table = _TABLES[key] = _Table(distribution, recorder)
    return table


def _normal_named(c: _Collector, options: list[tuple[int, int, bool]], layout: str, shape: tuple[int, ...],
                  name: str) -> None:
    for v in c.round_values():
        prior = COMMON_STDS.get(v, ROUND_PRIOR)
        c.add(f"normal_(std={v:g})", v, prior)
        if 2.0 / v >= 6.0:  # torch's absolute +-2 cut is beyond 6 sigma: the same law in practice
            c.add(f"trunc_normal_(std={v:g})", v, prior * 0.9, note="trunc_normal_ cuts at +-2 (absolute)")
    if c.inside(1.0):
        c.add("default('Embedding')", 1.0, 1.0 if len(shape) == 2 else 0.3)
        c.add("normal_()", 1.0, 0.2)
    if layout in ("keras", "jax"):
        c.add("keras.initializers.RandomNormal()", 0.05, 0.3)
    if layout == "jax":
        c.add("jax.nn.initializers.normal()", 0.01, 0.3)
    c.layer_counts()
    for fans in options:
        for fan_name, fan in (("fan_in", fans[0]), ("fan_out", fans[1])):
            c.add(f"normal_(std=1/sqrt({fan_name}))", 1 / math.sqrt(fan), 0.1, fans)
            c.add(f"trunc_normal_(std=1/sqrt({fan_name}))", 1 / math.sqrt(fan), 0.1, fans,
                  note="torchvision ViT's patch embedding")


def _gpt2(c: _Collector) -> None:
    """GPT-2's residual projections normal_(std=0.02/sqrt(2*n_layer)) (transformers
    GPT2PreTrainedModel._init_weights), for the integers n_layer whose std is inside, when at most
    ``MAX_LAYER_COUNTS`` are."""
    if c.high > 0 and c.low > 0:
        try:
            lo_l = math.ceil((0.02 / c.high) ** 2 / 2)
            hi_l = math.floor((0.02 / c.low) ** 2 / 2)
        except OverflowError:  # a std below ~1e-154: no layer count gives it
            lo_l, hi_l = 1, 0
        if 1 <= hi_l and hi_l - max(lo_l, 1) + 1 <= MAX_LAYER_COUNTS:
            for layers in range(max(lo_l, 1), hi_l + 1):
                c.add(f"normal_(std=0.02/sqrt(2*{layers}))", 0.02 / math.sqrt(2 * layers), 0.2,
                      note=f"GPT-2 residual projection, n_layer = {layers}")


def _module_name(shape: tuple[int, ...]) -> str:
    return {3: "Conv1d", 4: "Conv2d", 5: "Conv3d"}.get(len(shape), "Linear")


def _uniform_named(c: _Collector, options: list[tuple[int, int, bool]], layout: str, shape: tuple[int, ...],
                   name: str, bias_fan_in: int | None) -> None:
    torch_like = layout in ("torch", "torch-transpose")
    if torch_like and len(shape) >= 2 and options and not options[0][2]:
        fan_in = options[0][0]
        c.add(f"default({_module_name(shape)!r})", 1 / math.sqrt(3 * fan_in), 1.0,
              note="PyTorch's nn.Linear/nn.Conv weight default: kaiming_uniform_(a=sqrt(5))")
    if bias_fan_in:
        c.add("default('Linear')", 1 / math.sqrt(3 * bias_fan_in), 1.0, fan_in=bias_fan_in,
              note="PyTorch's bias default U(+-1/sqrt(fan_in)), fan_in of the sibling weight")
    for module, per in RECURRENT:
        if shape and shape[0] % per == 0 and len(shape) <= 2:
            hidden = shape[0] // per
            hinted = module.lower() in name
            c.add(f"default({module!r})", 1 / math.sqrt(3 * hidden), 1.0 if hinted else 0.2,
                  note=f"U(+-1/sqrt(hidden)), hidden = {hidden}")
    for v in c.round_values(SQRT3):
        c.add(f"uniform_(-{v:g}, {v:g})", v / SQRT3, 0.1 if v in (0.05, 0.1, 1.0) else ROUND_PRIOR)
    c.add("keras.initializers.RandomUniform()", 0.05 / SQRT3, 0.5 if layout in ("keras", "jax") else 0.05)
    for fans in options:
        for fan_name, fan in (("fan_in", fans[0]), ("fan_out", fans[1])):
            c.add(f"uniform_(-1/sqrt({fan_name}), 1/sqrt({fan_name}))", 1 / math.sqrt(3 * fan), 0.2, fans)


def _truncated_named(c: _Collector, layout: str) -> None:
    for v in c.round_values(TRUNC_STD_FACTOR, divide=True):
        prior = 0.3 if v == 0.05 else 0.1
        if layout in ("keras", "jax"):
            c.add(f"keras.initializers.TruncatedNormal(stddev={v:g})" if v != 0.05
                  else "keras.initializers.TruncatedNormal()", v * TRUNC_STD_FACTOR, prior)
        else:
            c.add(f"trunc_normal_(std={v:g}, a={-2 * v:g}, b={2 * v:g})", v * TRUNC_STD_FACTOR, prior)


def bare_call(distribution: str, std: float, low: float, high: float, layout: str) -> str:
    """The fitted law itself as a call, with as few digits as keep it inside [low, high]."""
    if distribution == "uniform":
        b = number(std * SQRT3, low * SQRT3, high * SQRT3)
        return f"uniform_(-{b}, {b})"
    if distribution == "truncated_normal":
        sp = number(std / TRUNC_STD_FACTOR, low / TRUNC_STD_FACTOR, high / TRUNC_STD_FACTOR)
        if layout in ("keras", "jax"):
            return f"keras.initializers.TruncatedNormal(stddev={sp})"
        return f"trunc_normal_(std={sp}, a=-2*{sp}, b=2*{sp})"
    return f"normal_(std={number(std, low, high)})"
