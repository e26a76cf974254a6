"""The helper every converter test uses: convert, simulate, compare with Keras."""

import os
import subprocess
import sys
import tempfile

import keras
import numpy as np
import pytest

import nengo_keras

# Run in a subprocess on Keras' JAX backend: loads a saved model, predicts the
# saved inputs and saves the outputs (always as a list).
_JAX_PREDICT = """
import sys, numpy as np, keras
model = keras.models.load_model(sys.argv[1], compile=False)
data = np.load(sys.argv[2])
inputs = [data[f"x{i}"] for i in range(len(data.files))]
out = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
out = out if isinstance(out, (list, tuple)) else [out]
np.savez(sys.argv[3], *[np.asarray(o) for o in out])
"""


def keras_reference(model, inputs, backend=None):
    """``model.predict(inputs)`` as a list, on Keras' ``backend`` if given.

    Some layer configurations have no kernel on one backend's CPU (TensorFlow's
    CPU convolutions support neither NCHW transposed convolutions nor unequal
    depthwise strides), though Keras defines their result on every backend.
    For those, tests pass ``backend="jax"``: the model is saved and predicted
    by a JAX-backend Keras in a subprocess (skipped, naming the reason, when
    JAX is not installed).
    """
    if backend is None or keras.backend.backend() == backend:
        out = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
        return keras.tree.flatten(out)
    if backend != "jax":
        raise ValueError(f"keras_reference: backend must be None or 'jax', not {backend!r}")
    pytest.importorskip("jax", reason="the Keras reference for this case needs the JAX backend")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        np.savez(os.path.join(tmp, "x.npz"), **{f"x{i}": x for i, x in enumerate(inputs)})
        env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
        out = os.path.join(tmp, "y.npz")
        subprocess.run(
            [sys.executable, "-c", _JAX_PREDICT, path, os.path.join(tmp, "x.npz"), out],
            check=True, env=env, capture_output=True,
        )
        data = np.load(out)
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def random_inputs(model, batch=2, seed=0, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(low, high, size=(batch,) + tuple(x.shape[1:])).astype(np.float32)
        for x in model.inputs
    ]


def assert_close(got, expected, rtol=1e-4, atol=1e-5, what="output"):
    """``max|got - expected| <= atol + rtol * max|expected|``."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    err = np.max(np.abs(got - expected)) if got.size else 0.0
    scale = np.max(np.abs(expected)) if got.size else 0.0
    assert err <= atol + rtol * scale, f"{what}: max error {err:.3g} (scale {scale:.3g})"


def check_conversion(
    model, inputs=None, *, rtol=1e-4, atol=1e-5, batch=2, reference_backend=None, **options
):
    """Convert ``model``, run it in nengo.Simulator, compare with ``model.predict``.

    ``reference_backend="jax"`` computes Keras' output on the JAX backend (see
    `keras_reference`). Returns the `ConvertedModel`.
    """
    result = nengo_keras.to_nengo(model, **options)
    inputs = random_inputs(model, batch) if inputs is None else inputs
    inputs = inputs if isinstance(inputs, list) else [inputs]
    expected = keras_reference(model, inputs, reference_backend)
    got = keras.tree.flatten(result.predict(inputs))  # Keras' structure, flattened
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, e, rtol=rtol, atol=atol, what=f"output {i}")
    return result


def tiers(result):
    return {r.name: r.tier for r in result.report}


def dense_model(activation="relu"):
    """A small ``Dense -> Dense`` model: 8 inputs, 16 ``hidden`` units, 3 ``out``."""
    inp = keras.Input((8,))
    x = keras.layers.Dense(16, activation=activation, name="hidden")(inp)
    return keras.Model(inp, keras.layers.Dense(3, name="out")(x))
