"""`EvaluationResult.summary` labels rate activities as activations and
names neuron types without their parameters."""

import keras
import nengo
import numpy as np

import nengo_keras


def test_summary_labels_rates_and_activations(rng):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dense(2)])
    x = rng.uniform(size=(3, 4))
    rate = nengo_keras.evaluate(nengo_keras.to_nengo(model), x, n_steps=2,
                                executor="serial", progress_bar=False)
    text = rate.summary()
    assert "(activation)" in text and " Hz" not in text
    spiking = nengo_keras.to_nengo(
        model, swap_activations={"relu": nengo.SpikingRectifiedLinear()}, scale_firing_rates=50
    )
    res = nengo_keras.evaluate(spiking, x, n_steps=20, executor="serial", progress_bar=False)
    text = res.summary()
    assert f"{res.layers['dense'].mean_rate:.4g} Hz" in text
    assert "SpikingRectifiedLinear" in text and "amplitude=" not in text
    assert np.isfinite(res.total_synops)
