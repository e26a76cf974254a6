"""Train a digits classifier so that it keeps its accuracy with spiking neurons.

The recipe: train the ANN as usual, fine-tune it for a few epochs with
`nengo_keras.callbacks.SpikingSwap` (spike-aware activations for the
presentation time and firing rates the spiking network will have), then
convert with ``to_nengo(model)``: the neurons, firing-rate scales and synapses
come with the model. Run from the repository root::

    python examples/spiking_digits.py
"""

import keras
from sklearn.datasets import load_digits

import nengo_keras

digits = load_digits()
x = (digits.images / 16.0).astype("float32")[..., None]
x_train, y_train, x_test, y_test = x[:1297], digits.target[:1297], x[-500:], digits.target[-500:]

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10),
    ]
)
model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(x_train, y_train, epochs=30, batch_size=32, verbose=0)
print("ANN accuracy:", model.evaluate(x_test, y_test, verbose=0)[1])

# 10 more epochs with spike-aware activations: 30 steps of 1 ms per image,
# SpikingRectifiedLinear neurons firing at 90 Hz per unit of activation
swap = nengo_keras.callbacks.SpikingSwap(
    n_steps=30, scale_firing_rates=90, synapse=0.005, readout_synapse=0.015
)
model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0, callbacks=[swap])
print("spike-count accuracy in Keras:", model.evaluate(x_test, y_test, verbose=0)[1])

converted = nengo_keras.to_nengo(model)  # spiking neurons, scales and synapses as trained
result = nengo_keras.evaluate(
    converted, x_test, y_test, n_steps=30, executor="serial", progress_bar=False
)
print(result.summary())
