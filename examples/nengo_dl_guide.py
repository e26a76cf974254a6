"""The NengoDL converter guide's examples, run with nengo_keras.

Each example of the NengoDL user guide on ``nengo_dl.Converter`` is repeated
here with ``nengo_dl`` replaced by ``nengo_keras`` and ``tf.keras`` by
``keras``; nothing else changes. Run it with
``python3 run.py example nengo_dl_guide``.

On the TensorFlow backend the activations are ``tf.nn.relu``, as in the guide;
on other Keras backends (``KERAS_BACKEND=jax``) ``keras.activations.relu``
stands in for it.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import nengo  # noqa: E402
import numpy as np  # noqa: E402

import nengo_keras  # noqa: E402

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    relu = tf.nn.relu
else:
    relu = keras.activations.relu


def heading(text):
    print(f"\n{text}\n{'-' * len(text)}")


# --- Converting a model -------------------------------------------------------

heading("Convert a Keras model and run it in nengo.Simulator")

inp = keras.Input(shape=(28, 28, 3))
conv = keras.layers.Conv2D(filters=32, kernel_size=3, activation=relu)(inp)
flat = keras.layers.Flatten()(conv)
dense = keras.layers.Dense(units=10, activation=relu)(flat)

model = keras.Model(inputs=inp, outputs=dense)

converter = nengo_keras.Converter(model)

# The converted network runs in the standard Nengo simulator (no NengoDL).
with nengo.Simulator(converter.net) as sim:
    sim.run_steps(10)

# .inputs and .outputs map the Keras inputs/outputs to Nodes/Probes.
print(sim.data[converter.outputs[dense]][-1:])

# --- Options ------------------------------------------------------------------

heading("swap_activations: relu -> spiking rectified linear neurons")

converter = nengo_keras.Converter(
    model, swap_activations={relu: nengo.SpikingRectifiedLinear()}
)
types = sorted({type(e.neuron_type).__name__ for e in converter.net.all_ensembles})
print("neuron types in the converted network:", types)

# --- Extending the converter ----------------------------------------------------

heading("A custom layer: AddOne")


class AddOne(keras.layers.Layer):
    def call(self, inputs):
        return inputs + 1


inp = keras.Input(shape=(1,))
dense = keras.layers.Dense(units=10)(inp)
addone = AddOne()(dense)

model = keras.Model(inputs=inp, outputs=addone)

try:
    converter = nengo_keras.Converter(model, allow_fallback=False)
except TypeError as e:
    name = type(e).__name__
    print(f"Converter(model, allow_fallback=False) raised {name}, a TypeError:")
    print(e)
else:
    raise AssertionError("AddOne should not be convertible without a converter")


@nengo_keras.Converter.register(AddOne)
class ConvertAddOne(nengo_keras.converter.LayerConverter):
    def convert(self, node_id):
        # the Nengo object that outputs this layer call's result
        output = self.add_nengo_obj(node_id)

        # feed the call's input into it
        self.add_connection(node_id, output)

        # add a constant vector of ones
        bias = nengo.Node([1] * output.size_in)
        conn = nengo.Connection(bias, output, synapse=None)

        # the layer has no weights, so nothing here should be trainable
        self.converter.net.config[conn].trainable = False

        return output


heading("AddOne with a registered LayerConverter")

converter = nengo_keras.Converter(model, allow_fallback=False)
assert converter.verify()
print("converter.verify():", converter.verify())
x = np.array([[0.5]])
print("Nengo:", np.round(converter.result.predict(x)[0], 4))
print("Keras:", np.round(model.predict(x, verbose=0)[0], 4))
