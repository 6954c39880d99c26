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
