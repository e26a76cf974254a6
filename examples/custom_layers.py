"""Custom Keras layers in a Nengo conversion: declare what they are, or say how.

Run with ``python3 run.py example custom_layers``.

Four custom layers convert with no conversion code, because each declares
what it computes with a nengo_keras mixin:

- ``Ramp`` is elementwise and piecewise linear: exact rectifier neurons;
- ``Softsign`` is elementwise and smooth: a Node running its NumPy version;
- ``Shuffle`` only moves elements: no Nengo objects, just connection indices;
- ``Blend`` is affine in its two inputs: its weights fold into the next layer.

A fifth, ``AddOne``, builds its own Nengo objects in ``to_nengo``.
nengo_keras checks each declaration on random data while converting; the
network then runs in `nengo.Simulator` and matches Keras.
"""

import keras
import nengo
import numpy as np

import nengo_keras

ops = keras.ops


class Ramp(nengo_keras.Elementwise, keras.layers.Layer):
    """0 below 0, x up to 1, then 1: slope changes at 0 and 1."""

    breakpoints = (0.0, 1.0)

    def call(self, x):
        return ops.clip(x, 0.0, 1.0)


class Softsign(nengo_keras.Elementwise, keras.layers.Layer):
    def call(self, x):
        return x / (1 + ops.abs(x))

    def numpy_call(self, x):  # optional: without it, the Node calls Keras
        return x / (1 + np.abs(x))


class Shuffle(nengo_keras.Rearranging, keras.layers.Layer):
    """Interleave the two halves of the last axis."""

    def call(self, x):
        a, b = ops.split(x, 2, axis=-1)
        return ops.reshape(ops.stack([a, b], axis=-1), ops.shape(x))


class Blend(nengo_keras.Affine, keras.layers.Layer):
    def call(self, inputs):
        a, b = inputs
        return 0.25 * a + 0.75 * b - 0.5


class AddOne(nengo_keras.NengoConvertible, keras.layers.Layer):
    """Converts itself: ``to_nengo`` gets and returns Nengo objects."""

    def call(self, x):
        return x + 1

    def to_nengo(self, ctx, x):
        out = nengo.Node(size_in=x.size_out, label=self.name)
        nengo.Connection(x, out, synapse=None)
        nengo.Connection(nengo.Node(np.ones(x.size_out)), out, synapse=None)
        return out


def build_model():
    inp = keras.Input((8,))
    h = keras.layers.Dense(8)(inp)
    ramp = Ramp(name="ramp")(h)
    soft = Softsign(name="softsign")(h)
    mixed = Blend(name="blend")([Shuffle(name="shuffle")(ramp), soft])
    out = keras.layers.Dense(4, activation="relu")(mixed)
    return keras.Model(inp, AddOne(name="add_one")(out))


def main():
    model = build_model()
    result = nengo_keras.to_nengo(model)
    print(result.summary())

    x = np.random.default_rng(0).uniform(-2, 2, size=(5, 8)).astype(np.float32)
    got = result.predict([x])
    expected = model.predict(x, verbose=0)
    error = np.abs(got - expected).max()
    print(f"max |Nengo - Keras| = {error:.2g} (outputs up to {np.abs(expected).max():.2g})")
    assert error <= 1e-4 * max(1.0, np.abs(expected).max())


if __name__ == "__main__":
    main()
