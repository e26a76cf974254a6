"""The NengoDL converter guide's examples, with nengo_dl -> nengo_keras and
tf.keras -> keras (see shared/reference/nengo_dl-converter-guide.txt)."""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.conversion import registry


def guide_model():
    inp = keras.Input(shape=(28, 28, 3))
    conv = keras.layers.Conv2D(filters=32, kernel_size=3, activation=keras.activations.relu)(inp)
    flat = keras.layers.Flatten()(conv)
    dense = keras.layers.Dense(units=10, activation=keras.activations.relu)(flat)
    return keras.Model(inputs=inp, outputs=dense)


@pytest.mark.backends
def test_guide_convert_and_run_in_nengo_simulator():
    model = guide_model()
    converter = nengo_keras.Converter(model)
    with nengo.Simulator(converter.net) as sim:
        sim.run_steps(10)
    out = sim.data[converter.outputs[model.output]]
    # zero input: the guide prints a row of zeros (relu of zero bias)
    np.testing.assert_allclose(out[-1], np.zeros(10))
    assert converter.verify()
    assert converter.model is model
    assert isinstance(converter.inputs[model.input], nengo.Node)
    assert isinstance(converter.layers[model.layers[1]], nengo.ensemble.Neurons)


def test_guide_swap_activations_with_tf_nn_relu():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.nn.relu runs only on the TensorFlow backend")
    inp = keras.Input(shape=(28, 28, 3))
    conv = keras.layers.Conv2D(filters=32, kernel_size=3, activation=tf.nn.relu)(inp)
    flat = keras.layers.Flatten()(conv)
    dense = keras.layers.Dense(units=10, activation=tf.nn.relu)(flat)
    model = keras.Model(inputs=inp, outputs=dense)
    converter = nengo_keras.Converter(
        model, swap_activations={tf.nn.relu: nengo.SpikingRectifiedLinear()}
    )
    types = {type(e.neuron_type) for e in converter.net.all_ensembles}
    assert types == {nengo.SpikingRectifiedLinear}


class AddOne(keras.layers.Layer):
    def call(self, inputs):
        return inputs + 1


@pytest.fixture
def addone_model():
    inp = keras.Input(shape=(1,))
    dense = keras.layers.Dense(units=10)(inp)
    addone = AddOne()(dense)
    yield keras.Model(inputs=inp, outputs=addone)
    registry.unregister_converter(AddOne)
    nengo_keras.Converter.converters.pop(AddOne, None)


@pytest.mark.backends
def test_guide_custom_layer_converter(addone_model):
    model = addone_model
    with pytest.raises(TypeError, match="Unable to convert .*add_one"):
        nengo_keras.Converter(model, allow_fallback=False)

    @nengo_keras.Converter.register(AddOne)
    class ConvertAddOne(nengo_keras.converter.LayerConverter):
        def convert(self, node_id):
            # create a Nengo object representing the output of this layer node
            output = self.add_nengo_obj(node_id)

            # connect up the input of the layer node
            self.add_connection(node_id, output)

            # create a node to output a constant 1 vector
            bias = nengo.Node([1] * output.size_in)

            # connect up the bias node to the output (thereby adding one to the
            # input values)
            conn = nengo.Connection(bias, output, synapse=None)

            # mark the above connection as non-trainable
            self.converter.net.config[conn].trainable = False
            self.set_trainable(conn, False)

            return output

    converter = nengo_keras.Converter(model, allow_fallback=False)
    assert converter.verify()
    report = {r.name: r for r in converter.result.report}
    assert report["add_one"].converter == "test_guide_custom_layer_converter.<locals>.ConvertAddOne"
    assert report["add_one"].tier == "neural"


def test_layer_converter_helpers(addone_model):
    seen = {}

    @nengo_keras.Converter.register(AddOne)
    class Relu1(nengo_keras.converter.LayerConverter):
        def convert(self, node_id):
            seen["in"] = self.input_shape(node_id)
            seen["out"] = self.output_shape(node_id, include_batch=True)
            output = self.add_nengo_obj(node_id, biases=np.ones(10), activation="relu")
            self.add_connection(node_id, output)
            return output

    converter = nengo_keras.Converter(addone_model, scale_firing_rates=4)
    assert seen == {"in": (10,), "out": (None, 10)}
    ens = [e for e in converter.net.all_ensembles]
    assert len(ens) == 1 and np.allclose(ens[0].gain, 4)
    x = np.linspace(-2, 2, 6)[:, None]
    dense = addone_model.layers[1](x)
    expected = np.maximum(keras.ops.convert_to_numpy(dense) + 1, 0)
    np.testing.assert_allclose(converter.result.predict(x), expected, atol=1e-5)


def test_verify_training_is_a_clear_error():
    converter = nengo_keras.Converter(guide_model())
    with pytest.raises(ValueError, match="training=True"):
        converter.verify(training=True)


def test_only_the_nengo_dl_facade_adds_the_trainable_config():
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    plain = nengo_keras.to_nengo(model).net
    assert "trainable" not in plain.config[nengo.Ensemble]._extra_params
    net = nengo_keras.Converter(model).net
    assert net.config[nengo.Ensemble].trainable is None
    assert net.config[nengo.Connection].trainable is None
