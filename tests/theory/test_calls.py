"""Init calls (theory/calls.py): every torch.nn.init function and torch module default against the real torch, and
the grammar (every form, every error, hostile strings).

Expected values come from torch itself: its fan function, its calculate_gain, and large samples it draws; never from
the code under test. Keras and JAX are checked in tests/test_frameworks.py (``make test-frameworks``).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import init

from kaiming_cli.theory.calls import MAX_CALL_CHARS, parse_init_call
from kaiming_cli.theory.initializers import all_initializers
from kaiming_cli.theory.spec import make_init_spec

N_BIG = 400_000  # elements per sample: the std's relative standard error is about 0.1% (normal) or less


def law(text: str, shape: tuple[int, ...], **kw: float):  # type: ignore[no-untyped-def]
    return parse_init_call(text).resolve(shape, **kw).law  # type: ignore[arg-type]


def sample(fill, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """Repeat torch's own init on a tensor of ``shape`` until N_BIG values are drawn."""
    g = torch.Generator().manual_seed(seed)
    w = torch.empty(shape, dtype=torch.float64)
    parts = []
    while sum(p.numel() for p in parts) < N_BIG:
        fill(w, g)
        parts.append(w.detach().flatten().clone())
    return torch.cat(parts)


def assert_matches_samples(spec_law, x: torch.Tensor) -> None:  # type: ignore[no-untyped-def]
    """The law's mean and std agree with torch's sample (5 standard errors), and its bounds contain it."""
    n = x.numel()
    std = float(x.std())
    assert abs(float(x.mean()) - spec_law.mean) < 5 * std / math.sqrt(n) + 1e-12
    assert spec_law.std == pytest.approx(std, rel=0.01)
    if spec_law.low is not None:
        assert float(x.min()) >= spec_law.low - 1e-12 and float(x.max()) <= spec_law.high + 1e-12
        width = spec_law.high - spec_law.low
        if spec_law.distribution == "uniform":  # the sample reaches within 0.1% of both bounds
            assert float(x.min()) - spec_law.low < 1e-3 * width and spec_law.high - float(x.max()) < 1e-3 * width


def torch_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    return init._calculate_fan_in_and_fan_out(torch.empty(shape))


# --------------------------------------------------------------------------- torch.nn.init, every function

KAIMING = [
    ({}, "kaiming_{}_()"),
    ({"a": 0.2}, "kaiming_{}_(a=0.2)"),
    ({"a": math.sqrt(5)}, "kaiming_{}_(a=math.sqrt(5))"),
    ({"mode": "fan_out", "nonlinearity": "relu"}, "kaiming_{}_(mode='fan_out', nonlinearity='relu')"),
    ({"nonlinearity": "tanh"}, "nn.init.kaiming_{}_(w, nonlinearity='tanh')"),
    ({"nonlinearity": "selu"}, "torch.nn.init.kaiming_{}_(m.weight, nonlinearity='selu')"),
    ({"a": 0.5, "nonlinearity": "relu"}, "init.kaiming_{}_(a=0.5, nonlinearity='relu')"),
    ({"mode": "FAN_OUT", "nonlinearity": "linear"}, "kaiming_{}_(mode='FAN_OUT', nonlinearity='linear')"),
    ({"a": 0.01, "mode": "fan_in", "nonlinearity": "leaky_relu"}, "kaiming_{}(w, 0.01, 'fan_in', 'leaky_relu')"),
]


@pytest.mark.parametrize("shape", [(50, 100), (64, 8, 3, 3), (16, 32, 3, 3), (33, 16, 5)])
@pytest.mark.parametrize("kwargs,text", KAIMING, ids=[t for _k, t in KAIMING])
@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_kaiming_equals_torchs_formula(shape: tuple[int, ...], kwargs: dict, text: str, dist: str) -> None:
    fan_in, fan_out = torch_fans(shape)
    fan = fan_in if kwargs.get("mode", "fan_in").lower() == "fan_in" else fan_out
    gain = init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
    std = gain / math.sqrt(fan)
    got = law(text.format(dist), shape)
    assert got.distribution == dist
    if dist == "normal":
        assert got.std == pytest.approx(std, rel=1e-14) and got.mean == 0
    else:
        assert got.high == pytest.approx(math.sqrt(3.0) * std, rel=1e-14) and got.low == -got.high


@pytest.mark.parametrize("text,fill,shape", [
    ("uniform_()", lambda w, g: init.uniform_(w, generator=g), (200, 100)),
    ("uniform_(-0.3, 0.7)", lambda w, g: init.uniform_(w, -0.3, 0.7, generator=g), (200, 100)),
    ("uniform_(w, a=-1/sqrt(fan_out), b=1/sqrt(fan_out))",
     lambda w, g: init.uniform_(w, -1 / math.sqrt(200 * 9), 1 / math.sqrt(200 * 9), generator=g), (200, 10, 3, 3)),
    ("normal_()", lambda w, g: init.normal_(w, generator=g), (200, 100)),
    ("normal_(w, 0.5, 0.02)", lambda w, g: init.normal_(w, 0.5, 0.02, generator=g), (200, 100)),
    ("normal_(std=0.02/sqrt(2*12))", lambda w, g: init.normal_(w, std=0.02 / math.sqrt(24), generator=g), (768, 768)),
    ("normal_(std=1e-6)", lambda w, g: init.normal_(w, std=1e-6, generator=g), (1000,)),
    ("trunc_normal_()", lambda w, g: init.trunc_normal_(w, generator=g), (400, 500)),
    ("trunc_normal_(std=0.02)", lambda w, g: init.trunc_normal_(w, std=0.02, generator=g), (400, 500)),
    ("trunc_normal_(std=0.02, a=-0.04, b=0.04)",
     lambda w, g: init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04, generator=g), (400, 500)),
    ("trunc_normal_(w, 0.1, 1.0, -1.0, 3.0)", lambda w, g: init.trunc_normal_(w, 0.1, 1.0, -1.0, 3.0, generator=g),
     (400, 500)),
    ("xavier_uniform_(w)", lambda w, g: init.xavier_uniform_(w, generator=g), (50, 100)),
    ("xavier_uniform_(gain=calculate_gain('relu'))",
     lambda w, g: init.xavier_uniform_(w, gain=init.calculate_gain("relu"), generator=g), (64, 32, 3, 3)),
    ("xavier_normal_(w, nn.init.calculate_gain('leaky_relu', 0.2))",
     lambda w, g: init.xavier_normal_(w, init.calculate_gain("leaky_relu", 0.2), generator=g), (50, 100)),
    ("xavier_normal_(gain=calculate_gain('tanh'))",
     lambda w, g: init.xavier_normal_(w, gain=5 / 3, generator=g), (50, 100)),
    ("kaiming_uniform_(a=sqrt(5))", lambda w, g: init.kaiming_uniform_(w, a=math.sqrt(5), generator=g), (128, 64, 3)),
    ("kaiming_normal_(mode='fan_out', nonlinearity='relu')",
     lambda w, g: init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", generator=g), (64, 8, 3, 3)),
    ("orthogonal_()", lambda w, g: init.orthogonal_(w, generator=g), (300, 500)),
    ("orthogonal_(w, gain=2)", lambda w, g: init.orthogonal_(w, gain=2, generator=g), (64, 16, 3, 3)),
    ("sparse_(w, 0.1)", lambda w, g: init.sparse_(w, 0.1, generator=g), (100, 400)),
])
def test_torch_samples_have_the_law(text: str, fill, shape: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    spec_law = law(text, shape, **({"fan_in": 1.0, "fan_out": 1.0} if len(shape) == 1 else {}))
    x = sample(fill, shape)
    if spec_law.distribution == "sparse":
        nonzero = x[x != 0]
        assert spec_law.std == pytest.approx(float(nonzero.std()), rel=0.01)
        draws = x.numel() // math.prod(shape)
        assert (x == 0).sum().item() == math.ceil(spec_law.sparsity * shape[0]) * shape[1] * draws
        return
    assert_matches_samples(spec_law, x)


def test_trunc_normal_bounds_are_absolute() -> None:
    """torch's a, b are absolute: trunc_normal_(std=0.02) is cut at ±2, i.e. ±100 sigma."""
    got = law("trunc_normal_(std=0.02)", (10, 10))
    assert (got.low, got.high, got.scale) == (-2.0, 2.0, 0.02)
    assert got.std == pytest.approx(0.02, rel=1e-12)
    default = law("trunc_normal_()", (10, 10))
    assert default.std == pytest.approx(0.87962566103423978, rel=1e-12)  # N(0,1) cut at ±2: scipy's truncnorm std


@pytest.mark.parametrize("text,fill", [
    ("constant_(w, 0.3)", lambda w: init.constant_(w, 0.3)),
    ("constant_(val=-2)", lambda w: init.constant_(w, -2)),
    ("ones_", init.ones_),
    ("zeros_(w)", init.zeros_),
])
def test_constants(text: str, fill) -> None:  # type: ignore[no-untyped-def]
    w = torch.empty(7, 5, dtype=torch.float64)
    fill(w)
    got = law(text, (7, 5))
    assert got.distribution == "constant" and got.value == float(w[0, 0]) and got.std == 0


@pytest.mark.parametrize("text,shape,fill", [
    ("eye_(w)", (30, 50), init.eye_),
    ("eye_", (50, 30), init.eye_),
    ("dirac_(w)", (16, 8, 3, 3), init.dirac_),
    ("dirac_(w, groups=2)", (16, 8, 3), lambda w: init.dirac_(w, groups=2)),
    ("dirac_(groups=4)", (16, 2, 3, 3, 3), lambda w: init.dirac_(w, 4)),
])
def test_identity_laws_have_the_exact_moments(text: str, shape: tuple[int, ...], fill) -> None:  # type: ignore[no-untyped-def]
    w = torch.empty(shape, dtype=torch.float64)
    with torch.no_grad():
        fill(w)
    got = law(text, shape)
    assert got.distribution == "identity" and got.gain == 1.0
    assert got.mean == pytest.approx(float(w.mean()), rel=1e-12)
    assert got.std == pytest.approx(float(w.std(correction=0)), rel=1e-12)


def test_every_torch_function_is_covered() -> None:
    """Every public initializer of the installed torch.nn.init has a signature here (and nothing invented)."""
    public = {n for n in dir(init) if n.endswith("_") and not n.startswith("_") and callable(getattr(init, n))}
    ours = {name.rsplit(".", 1)[1] for name in all_initializers() if name.startswith("torch.nn.init.")}
    assert ours == public


@pytest.mark.parametrize("name", sorted(n for n in dir(init) if n.endswith("_") and not n.startswith("_")))
def test_torch_argument_order_and_defaults(name: str) -> None:
    """Our parameter names, order and defaults are torch's own (inspect.signature of the installed torch)."""
    import inspect

    from kaiming_cli.theory.initializers import _IGNORED, _REQUIRED, TORCH_SIGNATURES

    params = list(inspect.signature(getattr(init, name)).parameters.values())[1:]  # drop the tensor
    ours = TORCH_SIGNATURES[name].params
    assert [p.name for p in params] == [n for n, _d in ours]
    for p, (_n, default) in zip(params, ours, strict=True):
        if default is _IGNORED:
            continue
        expected = _REQUIRED if p.default is inspect.Parameter.empty else p.default
        assert default == expected or (default is _REQUIRED and expected is _REQUIRED)


# --------------------------------------------------------------------------- torch module defaults

def _bound(lawspec) -> float:  # type: ignore[no-untyped-def]
    assert lawspec.distribution == "uniform" and lawspec.low == -lawspec.high
    return float(lawspec.high)


@pytest.mark.parametrize("module,make", [
    ("Linear", lambda: torch.nn.Linear(300, 700)),
    ("Conv1d", lambda: torch.nn.Conv1d(40, 300, 5)),
    ("Conv2d", lambda: torch.nn.Conv2d(64, 128, 3)),
    ("Conv3d", lambda: torch.nn.Conv3d(8, 64, 3)),
    ("ConvTranspose2d", lambda: torch.nn.ConvTranspose2d(128, 64, 3)),
    ("Bilinear", lambda: torch.nn.Bilinear(20, 30, 400)),
])
def test_linear_like_defaults_match_real_layers(module: str, make) -> None:  # type: ignore[no-untyped-def]
    """The weight's and the bias' bounds equal what the real layer's parameters reach (max |w| of a large layer
    approaches the bound from below), and torch's fans are the ones used."""
    torch.manual_seed(0)
    layer = make()
    weight, bias = layer.weight.detach(), layer.bias.detach()
    text = f"default({module!r})"
    w_bound = _bound(law(text, tuple(weight.shape)))
    assert float(weight.abs().max()) <= w_bound
    assert float(weight.abs().max()) > w_bound * (1 - 20 / weight.numel())
    fan_in = torch_fans(tuple(weight.shape))[0] if module != "Bilinear" else weight.shape[1]
    assert w_bound == pytest.approx(1 / math.sqrt(fan_in), rel=1e-12)
    b_bound = _bound(law(text, tuple(bias.shape), fan_in=float(fan_in)))
    assert b_bound == pytest.approx(1 / math.sqrt(fan_in), rel=1e-15)
    assert float(bias.abs().max()) <= b_bound


def test_linear_default_weight_is_kaiming_uniform_sqrt5_exactly() -> None:
    shape = (70, 90)
    assert law("default('Linear')", shape) == law("kaiming_uniform_(a=math.sqrt(5))", shape)


@pytest.mark.parametrize("module,gates,make", [
    ("LSTM", 4, lambda: torch.nn.LSTM(30, 50)),
    ("GRU", 3, lambda: torch.nn.GRU(30, 50)),
    ("RNN", 1, lambda: torch.nn.RNN(30, 50)),
])
def test_rnn_defaults_match_real_layers(module: str, gates: int, make) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    layer = make()
    expected = 1 / math.sqrt(layer.hidden_size)
    values = torch.cat([p.detach().flatten() for p in layer.parameters()])
    assert float(values.abs().max()) <= expected
    assert float(values.abs().max()) > expected * (1 - 20 / values.numel())
    for name, p in layer.named_parameters():
        got = law(f"default({module!r})", tuple(p.shape))
        assert _bound(got) == pytest.approx(expected, rel=1e-15), name
    assert p.shape[0] == gates * layer.hidden_size


def test_embedding_default_matches_a_real_embedding() -> None:
    torch.manual_seed(0)
    w = torch.nn.Embedding(2000, 200).weight.detach().double().flatten()
    got = law("default('Embedding')", (2000, 200))
    assert (got.distribution, got.mean, got.std) == ("normal", 0.0, 1.0)
    assert_matches_samples(got, w)


def test_lstm_with_a_projection_takes_hidden_size() -> None:
    layer = torch.nn.LSTM(10, 40, proj_size=6)
    shape = tuple(layer.weight_hr_l0.shape)  # (6, 40): dim 0 is not 4 * hidden
    with pytest.raises(ValueError, match="hidden_size"):
        law("default('LSTM')", shape)
    assert _bound(law("default('LSTM', hidden_size=40)", shape)) == pytest.approx(1 / math.sqrt(40))


# --------------------------------------------------------------------------- grammar

@pytest.mark.parametrize("text,canonical", [
    ("trunc_normal_(std=0.02)", "torch.nn.init.trunc_normal_(std=0.02)"),
    ("torch.nn.init.trunc_normal_(m.weight, std=.02)", "torch.nn.init.trunc_normal_(std=0.02)"),
    ("nn.init.normal_(self.fc.weight.data, std=0.01)", "torch.nn.init.normal_(std=0.01)"),
    ("init.normal_(w[0], 0, 0.01)", "torch.nn.init.normal_(mean=0, std=0.01)"),
    ("normal(std=0.01)", "torch.nn.init.normal_(std=0.01)"),
    ("zeros_", "torch.nn.init.zeros_()"),
    ("nn.init.zeros_", "torch.nn.init.zeros_()"),
    ("'he_normal'", "keras.initializers.HeNormal()"),
    ('"glorot_uniform"', "keras.initializers.GlorotUniform()"),
    ("'normal'", "keras.initializers.RandomNormal()"),
    ("HeNormal", "keras.initializers.HeNormal()"),
    ("keras.initializers.RandomUniform(-0.1, 0.1, seed=3)",
     "keras.initializers.RandomUniform(minval=-0.1, maxval=0.1)"),
    ("keras.initializers.random_normal(stddev=0.02)", "keras.initializers.RandomNormal(stddev=0.02)"),
    ("VarianceScaling(2.0, 'fan_out', 'untruncated_normal')",
     "keras.initializers.VarianceScaling(scale=2.0, mode='fan_out', distribution='untruncated_normal')"),
    ("jax.nn.initializers.zeros", "jax.nn.initializers.zeros()"),
    ("nn.initializers.lecun_normal()", "jax.nn.initializers.lecun_normal()"),
    ("jax.nn.initializers.kaiming_normal(in_axis=0, out_axis=(1, 2))",
     "jax.nn.initializers.he_normal(in_axis=0, out_axis=(1, 2))"),
    ("he_uniform()", "jax.nn.initializers.he_uniform()"),
    ("variance_scaling(1.0, 'fan_geo_avg', 'normal')",
     "jax.nn.initializers.variance_scaling(scale=1.0, mode='fan_geo_avg', distribution='normal')"),
    ("uniform(scale=0.1)", "jax.nn.initializers.uniform(scale=0.1)"),
    ("jax.nn.initializers.truncated_normal(0.02, jnp.float32, -3, 3)",
     "jax.nn.initializers.truncated_normal(stddev=0.02, lower=-3, upper=3)"),
    ("default('Linear')", "default('Linear')"),
    ("default(\"LSTM\", hidden_size=64)", "default('LSTM', hidden_size=64)"),
    ("kaiming_uniform_(w, a=math.sqrt(5), generator=g)", "torch.nn.init.kaiming_uniform_(a=math.sqrt(5))"),
])
def test_grammar_forms(text: str, canonical: str) -> None:
    call = parse_init_call(text)
    assert call.text == canonical
    assert parse_init_call(call.text).text == canonical  # the canonical text parses to itself


@pytest.mark.parametrize("text,std", [
    ("normal_(std=0.02 / sqrt(2 * 12))", 0.02 / math.sqrt(24)),
    ("normal_(std=2 ** -0.5 * 0.1)", 0.1 / math.sqrt(2)),
    ("normal_(std=1 / fan_in ** 0.5)", 1 / math.sqrt(128)),
    ("normal_(std=(2 / (fan_in + fan_out)) ** 0.5)", math.sqrt(2 / (128 + 64))),
    ("normal_(std=math.sqrt(2. / fan_out))", math.sqrt(2 / 64)),
    ("normal_(std=+0.5 - -0.25)", 0.75),
    ("normal_(std=calculate_gain('leaky_relu') / sqrt(fan_in))", math.sqrt(2 / (1 + 0.01**2)) / math.sqrt(128)),
    ("normal_(std=nn.init.calculate_gain('leaky_relu', param=0.2) * 0.1)", math.sqrt(2 / 1.04) * 0.1),
])
def test_arithmetic_and_fans(text: str, std: float) -> None:
    assert law(text, (64, 128)).std == pytest.approx(std, rel=1e-14)


def test_fans_override_and_1d_shapes() -> None:
    assert law("kaiming_normal_()", (7,), fan_in=50.0, fan_out=10.0).std == pytest.approx(math.sqrt(2 / 50))
    assert law("normal_(std=0.1)", (7,)).std == 0.1  # no fan needed: 1-D is fine
    with pytest.raises(ValueError, match="--fan-in"):
        law("kaiming_normal_()", (7,))
    with pytest.raises(ValueError, match="--fan-in"):
        law("default('Linear')", (7,))
    assert law("he_normal", (7,), fan_in=2.0, fan_out=2.0).std == pytest.approx(1.0)


@pytest.mark.parametrize("text,token", [
    ("eval('1')", "eval"),
    ("__import__('os').system('x')", "__import__"),
    ("normal_(std=x)", "'x'"),
    ("normal_(std=open('f'))", "open"),
    ("normal_(std=[1][0])", "[1][0]"),
    ("normal_(std=lambda: 1)", "lambda"),
    ("normal_(std=0.1, q=2)", "'q'"),
    ("normal_(1, 2, 3, 4)", "4"),
    ("normal_(std=1, std=2)", "twice"),
    ("normal_(**kw)", "**kwargs"),
    ("normal_(*a)", "*args"),
    ("foo.normal_()", "foo.normal_"),
    ("gelu_()", "gelu_"),
    ("'gelu'", "gelu"),
    ("he_normal()(key, shape)", "drop the (key, shape) call"),
    ("normal_(std=0.1) if x else 0", "if x else"),
    ("normal_(std=2 ** 99999)", "cannot be computed"),
    ("normal_(std=sqrt(-1))", "negative"),
    ("normal_(std=1/0)", "cannot be computed"),
    ("normal_(std=(-8) ** 0.5)", "complex"),
    ("kaiming_normal_(std=1)", "'std'"),
    ("", "empty"),
    ("normal_(", "not a Python expression"),
    ("x" * (MAX_CALL_CHARS + 1), "characters"),
    ("(" * 150 + "1" + ")" * 150, "unsupported initializer '1'"),
    ("(" * 240 + "1" + ")" * 240, "not a Python expression"),
    ("normal_(std=" + "+".join(["1"] * 150) + ")", "syntax nodes"),
    ("normal_(std=1e999)", "not finite"),
    ("keras.initializers.STFT()", "STFT"),
])
def test_errors_are_one_line_and_name_the_token(text: str, token: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_init_call(text)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert token.lower() in message.lower() or token in message


@pytest.mark.parametrize("text,shape,match", [
    ("kaiming_normal_(mode='fan_avg')", (4, 4), "fan_avg"),
    ("kaiming_normal_(nonlinearity='gelu')", (4, 4), "gelu"),
    ("eye_", (4, 4, 3), "2-D"),
    ("sparse_(w, 1.5)", (4, 4), "sparsity"),
    ("trunc_normal_(a=1, b=-1)", (4, 4), "a < b"),
    ("normal_(std=-1)", (4, 4), "positive"),
    ("VarianceScaling(mode='fan_geo_avg')", (4, 4), "fan_geo_avg"),
    ("jax.nn.initializers.delta_orthogonal()", (3, 3, 4, 4), "delta_orthogonal"),
    ("default('Dense')", (4, 4), "Dense"),
    ("orthogonal_", (4,), "2 dimensions"),
    ("jax.nn.initializers.orthogonal(column_axis=4)", (8, 3, 3, 16), "column_axis = 4 is out of range"),
])
def test_law_errors(text: str, shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_init_spec(shape, text)


@pytest.mark.parametrize("text,shape,axis,side,rows_cols", [
    # torch orthogonal_: tensor.view(shape[0], -1); Keras Orthogonal: (prod(shape[:-1]), shape[-1]);
    # JAX orthogonal(column_axis=k): (prod of the other axes, shape[k]), k moved back in place afterwards
    ("orthogonal_(w)", (8, 3, 3, 16), 0, "rows", (8, 144)),
    ("Orthogonal()", (8, 3, 3, 16), 3, "columns", (72, 16)),
    ("jax.nn.initializers.orthogonal()", (8, 3, 3, 16), 3, "columns", (72, 16)),
    ("jax.nn.initializers.orthogonal(column_axis=0)", (8, 3, 3, 16), 0, "columns", (144, 8)),
    ("jax.nn.initializers.orthogonal(column_axis=1)", (16, 3, 40), 1, "columns", (640, 3)),
    ("jax.nn.initializers.orthogonal(column_axis=-2)", (5, 7, 6), 1, "columns", (30, 7)),
])
def test_orthogonal_law_carries_the_library_view(text: str, shape: tuple[int, ...], axis: int, side: str,
                                                 rows_cols: tuple[int, int]) -> None:
    from kaiming_cli.theory.law import matrix_view

    spec = make_init_spec(shape, text)
    assert (spec.exact_law.axis, spec.exact_law.side) == (axis, side)
    assert matrix_view(shape, axis, side) == rows_cols
    gain = spec.exact_law.gain or 1.0
    assert spec.std == pytest.approx(gain / math.sqrt(max(rows_cols)), rel=1e-12)
    assert f"{rows_cols[0]}×{rows_cols[1]}" in " ".join(spec.words)


def test_layout_implied_by_the_library_unless_given() -> None:
    assert make_init_spec((3, 3, 16, 32), "HeNormal").layout == "keras"
    assert make_init_spec((3, 3, 16, 32), "he_normal()").layout == "jax"
    assert make_init_spec((3, 3, 16, 32), "kaiming_normal_()").layout == "torch"
    spec = make_init_spec((32, 16, 3, 3), "HeNormal", layout="torch")  # a keras init on a torch-layout tensor
    assert (spec.fan_in, spec.fan_out) == (16 * 9, 32 * 9)


def test_init_spec_json_keys() -> None:
    d = make_init_spec((768, 768), "trunc_normal_(std=0.02)").to_dict()
    assert d["init"] == "torch.nn.init.trunc_normal_(std=0.02)"
    assert d["law"] == {"distribution": "truncated_normal", "mean": 0.0, "std": pytest.approx(0.02, rel=1e-12),
                        "low": -2.0, "high": 2.0, "value": None, "gain": None, "sparsity": None}
    assert d["mode"] is None and d["gain"] is None and d["nonlinearity"] is None


def test_fan_overrides_for_the_mode_options() -> None:
    """--fan-in/--fan-out work without --init too: the Keras attention query kernel with the He options."""
    from kaiming_cli.theory.spec import make_spec

    spec = make_spec((32, 8, 16), layout="keras", nonlinearity="linear", distribution="truncated_normal", fan_in=32,
                     fan_out=128)
    assert spec.std == pytest.approx(math.sqrt(1 / 32), rel=1e-15) and (spec.fan_in, spec.fan_out) == (32, 128)
    assert make_spec((10,), fan_in=50, fan_out=20).std == pytest.approx(math.sqrt(2 / 50), rel=1e-15)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        make_spec((10,), fan_in=50)  # fan_out would still come from the 1-D shape


def test_fan_names_follow_the_calls_library() -> None:
    """fan_in inside a Keras call on a 1-D shape is Keras's (the length), as keras.initializers.compute_fans says."""
    assert law("RandomNormal(stddev=1 / sqrt(fan_in))", (49,)).std == pytest.approx(1 / 7, rel=1e-15)
    with pytest.raises(ValueError, match="fan_in"):
        law("normal_(std=1 / sqrt(fan_in))", (49,))  # torch has no fans for 1-D tensors


@pytest.mark.parametrize("text,suggestion", [
    ("he_normall", "'he_normal'"), ("torch.nn.init.kaiming_normall_()", "'torch.nn.init.kaiming_normal_'"),
    ("keras.initializers.HeNormall()", "'keras.initializers.HeNormal'"),
    ("jax.nn.initializers.glorot_normall()", "'jax.nn.initializers.glorot_normal'")])
def test_a_misspelt_initializer_gets_a_did_you_mean(text: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match="unknown initializer") as info:
        parse_init_call(text)
    assert f"did you mean {suggestion}?" in str(info.value)
    with pytest.raises(ValueError) as far:
        parse_init_call("xyz()")
    assert "did you mean" not in str(far.value)
