"""The optional NengoDL backend (skipped where nengo-dl / tf-keras are absent)."""

import sys

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.nengo_dl import backend as nengo_dl_backend
from tests.helpers import assert_close

needs_nengo_dl = pytest.mark.skipif(
    not nengo_dl_backend.available(), reason="nengo-dl and tf-keras are not installed"
)
pytestmark = pytest.mark.filterwarnings("ignore:No GPU support detected:UserWarning")


def conv_model():
    inp = keras.Input((8, 8, 4))
    h = keras.layers.Conv2D(6, 3, groups=2, activation="relu")(inp)
    h = keras.layers.AveragePooling2D(2)(h)
    h = keras.layers.Conv2D(4, 1, activation="relu")(h)
    out = keras.layers.Dense(3)(keras.layers.Flatten()(h))
    return keras.Model(inp, out)


def test_missing_backend_says_how_to_install(monkeypatch):
    monkeypatch.delitem(sys.modules, "nengo_dl", raising=False)
    monkeypatch.setattr(nengo_dl_backend, "available", lambda: False)
    with pytest.raises(ImportError, match=r"nengo-keras\[nengo-dl\]"):
        nengo_dl_backend.import_nengo_dl()
    with pytest.raises(ValueError, match="simulator='nengo'"):
        nengo_dl_backend.is_nengo_dl("nengo")


@needs_nengo_dl
def test_import_leaves_keras_alone():
    import tensorflow as tf

    nengo_dl = nengo_dl_backend.import_nengo_dl()
    assert keras.__version__.startswith("3.")
    assert sys.modules["tensorflow"] is tf
    assert "keras.engine" not in sys.modules
    assert not hasattr(sys.modules["keras.layers"], "BatchNormalizationV1")
    # NengoDL itself sees Keras 2 (tf_keras)
    assert nengo_dl.compat.Functional.__module__.startswith("tf_keras")
    # Keras 3 still builds, trains and predicts in this process
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0)
    assert model.predict(np.ones((1, 3)), verbose=0).shape == (1, 2)
    assert isinstance(model, keras.Model) and tf.keras.Model is keras.Model


@needs_nengo_dl
def test_run_equals_reference_simulator(rng):
    converted = nengo_keras.to_nengo(conv_model())
    x = rng.uniform(size=(5, 8, 8, 4))
    expected = converted.run(x, n_steps=2)
    # 5 samples in minibatches of 2: the last one is padded
    got = converted.run(x, n_steps=2, simulator="nengo_dl", minibatch_size=2)
    assert got.shape == expected.shape
    assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert_close(got[:, -1], converted.model.predict(x, verbose=0), rtol=1e-4)


@needs_nengo_dl
def test_evaluate_with_nengo_dl(rng):
    converted = nengo_keras.to_nengo(conv_model(), scale_firing_rates=10)
    x = rng.uniform(size=(4, 8, 8, 4))
    y = rng.integers(0, 3, size=4)
    kwargs = dict(n_steps=3, progress_bar=False, seed=0)
    ref = converted.evaluate(x, y, executor="serial", **kwargs)
    dl = converted.evaluate(x, y, simulator="nengo_dl", minibatch_size=3, **kwargs)
    assert_close(dl.outputs, ref.outputs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(dl.accuracy, ref.accuracy)
    for name, act in ref.layers.items():
        assert_close(dl.layers[name].rates, act.rates, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(dl.layers[name].synops, act.synops)


@needs_nengo_dl
def test_spiking_with_nengo_dl(rng):
    converted = nengo_keras.to_nengo(
        conv_model(), swap_activations={"relu": nengo.SpikingRectifiedLinear()},
        scale_firing_rates=100,
    )
    x = rng.uniform(size=(3, 8, 8, 4))
    kwargs = dict(n_steps=20, progress_bar=False, seed=0)
    ref = converted.evaluate(x, executor="serial", **kwargs)
    dl = converted.evaluate(x, simulator="nengo_dl", **kwargs)
    # float32 in NengoDL may move a spike by a step; rates stay within a spike
    for name, act in ref.layers.items():
        assert abs(dl.layers[name].mean_rate - act.mean_rate) <= 1000 / 20 / 10
