"""``kaiming audit`` on a Keras model (`frameworks` marker: `make test-frameworks` installs Keras).

Expected stds are computed by Keras itself (``keras.src.initializers`` ``compute_fans``), never by kaiming.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.frameworks

MODELS = str(Path(__file__).resolve().parent / "audit_keras_models.py")


@pytest.fixture(scope="module")
def keras():  # type: ignore[no-untyped-def]
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras")


def keras_fans(shape: tuple[int, ...]) -> tuple[float, float]:
    from keras.src.initializers.random_initializers import compute_fans

    return compute_fans(shape)


def test_keras_cnn_activations_from_own_and_following_layers(keras) -> None:  # type: ignore[no-untyped-def]
    from kaiming_cli.api import audit
    from tests.audit_keras_models import cnn

    keras.utils.set_random_seed(0)
    model = cnn()
    result = audit(model)
    assert result.framework == "keras"
    by = {w.name: w for w in result.weights}
    assert by["conv1/kernel"].activation == "relu"  # its own activation="relu"
    assert by["conv2/kernel"].activation == "relu"  # BatchNormalization, then Activation("relu")
    assert by["conv3/kernel"].activation == "leaky_relu(0.2)"  # a LeakyReLU layer
    assert by["head/kernel"].activation == "softmax"
    # conv2 kept GlorotUniform, at sqrt((2/(fan_in+fan_out)) / (2/fan_in)) of He's std; BatchNormalization
    # follows it before the ReLU: scale-free (issue 27), where it was a framework default
    conv2 = by["conv2/kernel"]
    fan_in, fan_out = keras_fans(conv2.shape)
    assert conv2.verdict == "scale-free" and conv2.feeds == "norm → relu"
    assert conv2.std_ratio == pytest.approx(math.sqrt((2 / (fan_in + fan_out)) / (2 / fan_in)), rel=0.05)
    assert by["bn2/gamma"].verdict == by["bn2/beta"].verdict == by["conv2/bias"].verdict == "as recommended"


def test_keras_cnn_with_he_normal_is_as_recommended_where_relu_follows(keras) -> None:  # type: ignore[no-untyped-def]
    from kaiming_cli.api import audit
    from tests.audit_keras_models import cnn

    keras.utils.set_random_seed(1)
    by = {w.name: w for w in audit(cnn(he=True)).weights}
    assert by["conv1/kernel"].verdict == by["conv2/kernel"].verdict == "as recommended"
    assert by["conv2/kernel"].recommended == "HeNormal"
    # HeNormal is relu's; leaky_relu(0.2) wants variance 2/(1+0.04)/fan_in: a 2% smaller std, and 36,864 values
    # tell it apart
    conv3 = by["conv3/kernel"]
    assert conv3.verdict == "different"
    assert conv3.std_ratio == pytest.approx(math.sqrt(1.04), rel=0.01)
    assert conv3.recommended.startswith("VarianceScaling(scale=1.923076923, mode='fan_in', "
                                        "distribution='truncated_normal')")


def test_keras_target_on_the_command_line(keras) -> None:  # type: ignore[no-untyped-def]
    from kaiming_cli.cli import cli

    result = CliRunner().invoke(cli, ["audit", f"{MODELS}:cnn", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {w["name"] for w in doc["weights"]} >= {"conv1/kernel", "head/bias"}


# --------------------------------------------------------------------------- the signal, measured (issue 27.5)

def _per_layer_theory(keras, model, depth: int) -> list[float]:  # type: ignore[no-untyped-def]
    """He et al. 2015: a ReLU layer multiplies its output's std by sqrt(fan_in * Var(w) / 2), Var(w) of the
    kernel Keras built (its own values), fan_in from Keras's compute_fans."""
    out = []
    for i in range(1, depth):
        kernel = keras.ops.convert_to_numpy(model.get_layer(f"dense{i}").kernel)
        fan_in, _ = keras_fans(kernel.shape)
        out.append(math.sqrt(fan_in * float(kernel.var()) / 2))
    return out


@pytest.mark.parametrize(("init", "verdict"), [("glorot_uniform", "vanishing"), ("he_normal", "stable"),
                                               ("random_normal_0.15", "exploding")])
def test_keras_relu_stack_signal_follows_the_theory(keras, init: str, verdict: str) -> None:  # type: ignore[no-untyped-def]
    """Keras's default GlorotUniform on a 256-wide ReLU stack halves the variance per layer (fan_in = fan_out:
    Var(w) = 1/fan_in, so sqrt(1/2) per layer, vanishing over 20 layers), HeNormal keeps it, N(0, 0.15) multiplies
    the std by sqrt(256 * 0.0225 / 2) = 1.68 per layer. The measured per-layer factor (geometric mean of the
    ratios of successive layers' output std) is the theory's within 5%."""
    from kaiming_cli.api import audit
    from tests.audit_keras_models import relu_mlp

    depth = 20
    keras.utils.set_random_seed(0)
    model = relu_mlp(depth=depth, stddev=0.15) if init.startswith("random") else relu_mlp(init, depth=depth)
    result = audit(model, batch=64)
    signal = result.signal
    assert signal is not None and signal.verdict == verdict
    stds = dict(signal.forward)
    measured = [stds[f"dense{i}"] / stds[f"dense{i - 1}"] for i in range(1, depth)]
    theory = _per_layer_theory(keras, model, depth)
    geo = math.exp(sum(math.log(m / t) for m, t in zip(measured, theory, strict=True)) / len(theory))
    assert geo == pytest.approx(1.0, abs=0.05), (measured, theory)
    by = {w.name: w for w in result.weights}
    assert by["dense3/kernel"].feeds == "relu (own activation)" and by["head/kernel"].feeds == "output"
    assert by["dense3/kernel"].forward_std == pytest.approx(stds["dense3"])
    if keras.backend.backend() == "torch":  # torch.autograd through the Keras model: every kernel's gradient
        assert {n for n, _s in signal.backward} == {f"dense{i}/kernel" for i in range(depth)} | {"head/kernel"}
        assert by["dense3/kernel"].grad_std is not None and by["dense3/kernel"].grad_std > 0
    else:
        assert signal.backward == () and "forward only" in result.notes[0]
    if verdict != "stable":
        finding = result.findings()[0]
        assert finding.kind == "signal" and finding.name == signal.turns_at


def test_keras_batchnorm_cnn_is_scale_free(keras) -> None:  # type: ignore[no-untyped-def]
    """Every conv is followed by BatchNormalization before its ReLU: scale-free (GlorotUniform, the Keras default,
    is no finding there), the Add noted, the signal stable; BatchNorm's moving statistics are left as they were."""
    from kaiming_cli.api import audit
    from tests.audit_keras_models import bn_cnn

    keras.utils.set_random_seed(0)
    model = bn_cnn()
    before = keras.ops.convert_to_numpy(model.get_layer("bn1").moving_variance).copy()
    result = audit(model, batch=16)
    by = {w.name: w for w in result.weights}
    for name in ("stem/kernel", "conv1/kernel", "conv2/kernel"):
        assert by[name].verdict == "scale-free" and by[name].role == "scale-free", (name, by[name].verdict)
    assert by["conv2/kernel"].feeds == "norm → residual add → relu"
    assert by["head/kernel"].role == "" and not [f for f in result.findings() if f.kind == "signal"]
    assert result.signal is not None and result.signal.verdict == "stable"
    assert (keras.ops.convert_to_numpy(model.get_layer("bn1").moving_variance) == before).all()
    doc = result.to_dict()
    assert {"input_shape", "forward", "backward", "forward_growth", "backward_growth", "verdict"} <= set(doc["signal"])
    assert doc["signal"]["input_shape"] == [16, 16, 16, 3]


def test_keras_einsum_kernel_judged_with_keras_fans(keras) -> None:  # type: ignore[no-untyped-def]
    """A ``(32, 8, 16)`` EinsumDense kernel ``abc,cde->abde`` at HeNormal before a ReLU: Keras gives it fan_in 32
    (its ``_analyze_einsum_string`` axes through ``compute_fans``), not the bare shape's 8 * 32 = 256."""
    from keras.src.initializers.random_initializers import compute_fans
    from keras.src.layers.core.einsum_dense import _analyze_einsum_string

    from kaiming_cli.api import audit

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(10, 32))
    layer = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 8, 16), activation="relu",
                                     kernel_initializer="he_normal", name="proj")
    model = keras.Model(inputs, keras.layers.Flatten()(layer(inputs)))
    _, _, _, ins, outs = _analyze_einsum_string(layer.equation, None, (None, 10, 32), layer.partial_output_shape)
    fan_in, _ = compute_fans(tuple(layer.kernel.shape), ins, outs)
    row = next(w for w in audit(model).weights if w.name == "proj/kernel")
    assert fan_in == 32 and row.verdict == "as recommended" and row.recommended == "HeNormal"


def test_keras_subclassed_model_is_measured_only_with_an_input_shape(keras) -> None:  # type: ignore[no-untyped-def]
    """No keras.Input, no graph to take an input from: the signal is not measured, and a note says so, unless
    ``input_shape`` (``--input-shape``) gives one."""
    import numpy as np

    from kaiming_cli.api import audit

    class Net(keras.Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.a = keras.layers.Dense(32, activation="relu", name="a")
            self.b = keras.layers.Dense(4, name="b")

        def call(self, x):  # type: ignore[no-untyped-def]
            return self.b(self.a(x))

    keras.utils.set_random_seed(0)
    model = Net()
    model(np.zeros((2, 8), "float32"))
    unmeasured = audit(model)
    assert unmeasured.signal is None and "not measured" in unmeasured.notes[0]
    measured = audit(model, input_shape=(16, 8))
    assert measured.signal is not None and measured.signal.input_shape == (16, 8)
    assert [m for m, _s in measured.signal.forward] == ["a", "b"]
