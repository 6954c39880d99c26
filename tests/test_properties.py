"""Property-based tests (hypothesis): parsing, fan rules, formula identities, JSON, rules matching."""

from __future__ import annotations

import fnmatch
import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from kaiming_cli.io.config import Rule, first_match
from kaiming_cli.render.json import clean
from kaiming_cli.render.json import document as to_json
from kaiming_cli.theory.fans import compute_fans, format_shape, parse_shape
from kaiming_cli.theory.gains import NONLINEARITIES, gain
from kaiming_cli.theory.spec import make_spec

dims = st.integers(min_value=1, max_value=4096)
shapes = st.lists(dims, min_size=2, max_size=5).map(tuple)
slopes = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(st.lists(dims, min_size=1, max_size=6).map(tuple), st.sampled_from([",", "x", ", "]))
def test_shape_round_trip(shape: tuple[int, ...], sep: str) -> None:
    assert parse_shape(sep.join(map(str, shape))) == shape
    assert parse_shape(format_shape(shape)) == shape


@given(st.text(max_size=20))
def test_shape_parser_never_crashes(text: str) -> None:
    try:
        shape = parse_shape(text)
    except ValueError:
        return
    assert all(isinstance(d, int) and d > 0 for d in shape)


@given(shapes)
def test_torch_fans_share_the_receptive_field(shape: tuple[int, ...]) -> None:
    f = compute_fans(shape, "torch")
    assert f.fan_in / shape[1] == f.fan_out / shape[0] == f.receptive_field == math.prod(shape[2:])


@given(shapes)
def test_layouts_round_trip(shape: tuple[int, ...]) -> None:
    """(out, in, *k) in torch is (*k, in, out) in keras/jax and (in, out, *k) as a transposed weight."""
    out_, in_, *k = shape
    torch_fans = compute_fans(shape, "torch")
    for layout in ("keras", "jax"):
        f = compute_fans((*k, in_, out_), layout)
        assert (f.fan_in, f.fan_out) == (torch_fans.fan_in, torch_fans.fan_out)
    t = compute_fans((in_, out_, *k), "torch-transpose")
    assert (t.fan_in, t.fan_out) == (torch_fans.fan_in, torch_fans.fan_out)


@given(shapes, st.sampled_from(NONLINEARITIES), slopes, st.sampled_from(["fan_in", "fan_out", "fan_avg"]))
def test_formula_identities(shape: tuple[int, ...], nl: str, a: float, mode: str) -> None:
    normal = make_spec(shape, nonlinearity=nl, negative_slope=a, mode=mode)
    uniform = make_spec(shape, nonlinearity=nl, negative_slope=a, mode=mode, distribution="uniform")
    trunc = make_spec(shape, nonlinearity=nl, negative_slope=a, mode=mode, distribution="truncated_normal")
    assert normal.std == uniform.std == trunc.std
    assert uniform.bound == math.sqrt(3) * uniform.std
    assert trunc.bound == 2 * trunc.std / 0.87962566103423978
    assert math.isclose(normal.std * math.sqrt(normal.fan), normal.gain, rel_tol=1e-12)


@given(slopes)
def test_leaky_relu_identities(a: float) -> None:
    assert gain("leaky_relu", 1.0) == gain("linear")  # a = 1 is the identity
    assert gain("leaky_relu", 0.0) == gain("relu")
    assert gain("leaky_relu", a) <= gain("relu")


@given(shapes, st.sampled_from(NONLINEARITIES), slopes, st.sampled_from(["normal", "uniform", "truncated_normal"]))
@settings(max_examples=50)
def test_spec_json_round_trip(shape: tuple[int, ...], nl: str, a: float, dist: str) -> None:
    spec = make_spec(shape, nonlinearity=nl, negative_slope=a, distribution=dist)
    doc = json.loads(to_json(spec.to_dict()))
    assert doc["shape"] == list(shape) and doc["std"] == spec.std and doc["call"] == spec.call
    assert clean(spec.to_dict()) == {k: v for k, v in doc.items() if k not in ("schema", "kaiming_version")}


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=10))
def test_json_is_always_strict(obj: object) -> None:
    text = to_json({"value": obj})
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(c)))


names = st.text(alphabet="abc.*_0123", min_size=1, max_size=12)


@given(st.lists(names, min_size=1, max_size=5), st.text(alphabet="abc._0123", max_size=12))
def test_first_matching_rule_wins(patterns: list[str], name: str) -> None:
    rules = tuple(Rule(match=p, options={"mode": "fan_out"} if i % 2 else {}) for i, p in enumerate(patterns))
    expected = next((r for r in rules if fnmatch.fnmatchcase(name, r.match)), None)
    assert first_match(rules, name) is expected
