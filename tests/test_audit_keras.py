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
    # conv2 kept GlorotUniform: the framework default, at sqrt((2/(fan_in+fan_out)) / (2/fan_in)) of He's std
    conv2 = by["conv2/kernel"]
    fan_in, fan_out = keras_fans(conv2.shape)
    assert conv2.verdict == "framework default"
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
