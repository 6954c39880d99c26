"""A Keras CNN for ``kaiming audit`` (the `frameworks` tests): the Keras MNIST convnet example's wiring
(keras.io/examples/vision/mnist_convnet: Conv2D(32, 3, activation="relu") -> MaxPooling2D -> Conv2D(64, 3,
activation="relu") -> MaxPooling2D -> Flatten -> Dropout -> Dense(num_classes, activation="softmax")), with one
Conv2D whose ReLU is a separate BatchNormalization + Activation("relu") pair and one LeakyReLU(0.2) layer, so that
the audit must look at the layers after a kernel as well as at its own ``activation``.

Kernels keep Keras' default GlorotUniform unless ``he=True`` (then HeNormal, what ReLU wants).
"""

from __future__ import annotations

from typing import Any


def cnn(he: bool = False) -> Any:
    import keras

    init = "he_normal" if he else "glorot_uniform"
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(32, 3, activation="relu", kernel_initializer=init, name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, kernel_initializer=init, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, kernel_initializer=init, name="conv3")(x)
    x = keras.layers.LeakyReLU(negative_slope=0.2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def relu_mlp(init: str = "glorot_uniform", depth: int = 20, width: int = 256, stddev: float | None = None) -> Any:
    """A deep ReLU stack of ``Dense(width, activation="relu")`` layers and a linear head; ``stddev``: each kernel
    a new ``RandomNormal(stddev)`` (one initializer object shared by every layer would give each the very same
    values: Keras's initializers are stateless, keras/src/layers/attention/multi_head_attention.py says so)."""
    import keras

    def kernel() -> Any:
        return keras.initializers.RandomNormal(stddev=stddev) if stddev is not None else init

    inputs = keras.Input(shape=(width,))
    x = inputs
    for i in range(depth):
        x = keras.layers.Dense(width, activation="relu", kernel_initializer=kernel(), name=f"dense{i}")(x)
    return keras.Model(inputs, keras.layers.Dense(10, kernel_initializer=kernel(), name="head")(x))


def bn_cnn() -> Any:
    """Conv2D -> BatchNormalization -> ReLU blocks (Keras's default GlorotUniform), a residual Add, a head."""
    import keras

    inputs = keras.Input(shape=(16, 16, 3))
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem")(inputs)
    x = keras.layers.BatchNormalization(name="bn0")(x)
    x = keras.layers.ReLU()(x)
    y = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(x)
    y = keras.layers.BatchNormalization(name="bn1")(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv2")(y)
    y = keras.layers.BatchNormalization(name="bn2")(y)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="head")(x))
