import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.conversion import activation_map as activations
from nengo_keras.converters._lib import numpy_ref as _numpy
from tests.helpers import check_conversion, random_inputs, tiers

L = keras.layers

# piecewise-linear activations are exact rectifier networks
NEURAL = ["relu", "sigmoid", "tanh", "linear", "relu6", "leaky_relu", "hard_sigmoid",
          "hard_tanh", "sparse_sigmoid", "soft_shrink"]
NODE = ["elu", "selu", "celu", "softplus", "softsign", "exponential", "silu", "swish",
        "hard_silu", "hard_swish", "gelu", "mish", "log_sigmoid", "tanh_shrink",
        "squareplus", "sparse_plus", "hard_shrink", "softmax", "log_softmax"]
FUNCTIONS = [keras.activations.gelu, keras.ops.gelu, keras.activations.elu,
             keras.ops.leaky_relu, keras.activations.softmax, keras.ops.log_softmax]


def _name(activation):
    if isinstance(activation, str):
        return activation
    return f"{activation.__module__.rsplit('.', 1)[-1]}.{activation.__name__}"


def _wide_dense(units=6, **kwargs):
    """Outputs spread over about [-8, 8]: every piece of every activation is hit."""
    return L.Dense(
        units,
        kernel_initializer=keras.initializers.RandomNormal(stddev=3.0),
        bias_initializer=keras.initializers.RandomNormal(stddev=1.0),
        **kwargs,
    )


@pytest.mark.parametrize("activation", NEURAL + NODE + FUNCTIONS, ids=_name)
def test_activation(activation):
    """As a Dense activation and as an Activation layer."""
    inp = keras.Input((4, 5))
    a = _wide_dense(activation=activation, name="dense_act")(inp)
    b = L.Activation(activation, name="act")(_wide_dense()(inp))
    result = check_conversion(keras.Model(inp, [a, b]))
    name = activations.canonical_name(activation)
    expected = "neural" if name in NEURAL else "node"
    assert name in NEURAL + NODE
    assert tiers(result)["dense_act"] == tiers(result)["act"] == expected


@pytest.mark.parametrize(
    "activation, approximate",
    [(keras.ops.gelu, True), (keras.activations.gelu, False), ("gelu", False)],
    ids=["ops", "activations", "string"],
)
def test_gelu_variant_follows_the_function(activation, approximate):
    """keras.ops.gelu approximates by default, keras.activations.gelu does not."""
    inp = keras.Input((8,))
    pre = L.Dense(8)(inp)
    model = keras.Model(inp, L.Activation(activation)(pre))
    x = random_inputs(model, low=-3, high=3)
    result = check_conversion(model, x, rtol=1e-5)
    assert result.report[-1].tier == "node"
    # the other variant is far outside that tolerance, so the check can fail
    y = model.predict(x[0], verbose=0)
    other = _numpy.gelu(keras.Model(inp, pre).predict(x[0], verbose=0), not approximate)
    assert np.max(np.abs(other - y)) > 1e-5 * np.max(np.abs(y))


def test_parameters_come_from_the_activation_function():
    jax = pytest.importorskip("jax")
    gelu, leaky = activations.builder("gelu"), activations.builder("leaky_relu")
    assert activations.parameters(jax.nn.gelu, "gelu", gelu) == {"approximate": True}
    assert activations.parameters(keras.activations.gelu, "gelu", gelu) == {
        "approximate": False
    }
    assert activations.parameters(jax.nn.leaky_relu, "leaky_relu", leaky) == {
        "negative_slope": 0.01
    }
    given = {"negative_slope": 0.5, "axis": 2}
    assert activations.parameters("leaky_relu", "leaky_relu", leaky, given) == {
        "negative_slope": 0.5
    }


@pytest.mark.parametrize(
    "layer",
    [
        L.ReLU(),
        L.ReLU(max_value=6.0),
        L.ReLU(negative_slope=0.1),
        L.ReLU(max_value=1.5, negative_slope=0.2),
        L.LeakyReLU(negative_slope=0.3),
        L.LeakyReLU(negative_slope=0.0),
        L.PReLU(alpha_initializer=keras.initializers.RandomUniform(-0.5, 1.5)),
        L.PReLU(alpha_initializer="random_normal", shared_axes=[1]),
        L.PReLU(alpha_initializer="random_normal", shared_axes=[1, 2]),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_piecewise_linear_layers_are_neural_and_exact(layer):
    inp = keras.Input((3, 4))
    out = layer(_wide_dense(4)(inp))
    result = check_conversion(keras.Model(inp, out))
    assert result.report[-1].tier == "neural"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(threshold=0.5),
        dict(threshold=2.5, max_value=2.0),
        dict(threshold=1.0, negative_slope=0.2, max_value=4.0),
    ],
)
def test_relu_with_threshold_is_a_node(kwargs):
    inp = keras.Input((10,))
    out = L.ReLU(name="thr", **kwargs)(_wide_dense(10)(inp))
    result = check_conversion(keras.Model(inp, out))
    assert tiers(result)["thr"] == "node"


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_elu_layer(alpha):
    inp = keras.Input((6,))
    out = L.ELU(alpha=alpha, name="elu")(_wide_dense()(inp))
    result = check_conversion(keras.Model(inp, out))
    assert tiers(result)["elu"] == "node"


@pytest.mark.parametrize("axis", [-1, 1, 2, [1, 2]])
@pytest.mark.backends
def test_softmax_layer(axis):
    inp = keras.Input((3, 4))
    out = L.Softmax(axis=axis)(_wide_dense(4)(inp))
    check_conversion(keras.Model(inp, out))


@pytest.mark.parametrize("mask_shape", [(3, 4), (1, 4), (3, 1)])
def test_softmax_layer_with_mask(mask_shape):
    inp = keras.Input((3, 4))
    mask = keras.Input(mask_shape)
    out = L.Softmax()(_wide_dense(4)(inp), mask=mask)
    model = keras.Model([inp, mask], out)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 3, 4)).astype("float32")
    m = (rng.uniform(size=(2,) + mask_shape) > 0.4).astype("float32")
    check_conversion(model, [x, m])


@pytest.mark.parametrize(
    "layer",
    [
        L.ReLU(max_value=6.0),
        L.LeakyReLU(negative_slope=0.2),
        L.PReLU(alpha_initializer="random_uniform"),
        L.Activation("hard_sigmoid"),
        L.Activation("hard_tanh"),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_piecewise_linear_layers_spike_when_relu_is_swapped(layer):
    inp = keras.Input((4,))
    out = layer(L.Dense(4)(inp))
    model = keras.Model(inp, out)
    result = nengo_keras.to_nengo(
        model, swap_activations={"relu": nengo.SpikingRectifiedLinear()}
    )
    types = {type(e.neuron_type) for e in result.net.all_ensembles}
    assert types == {nengo.SpikingRectifiedLinear}


def test_node_tiers_are_reported_when_only_neural_is_allowed():
    inp = keras.Input((4, 6))
    x = L.Dense(6, activation="gelu", name="gelu_dense")(inp)
    x = L.LayerNormalization(name="norm")(x)
    x = L.ReLU(max_value=6.0, name="relu6")(x)
    y = L.ELU(name="elu")(x)
    out = L.Dot(axes=2, name="dot")([x, y])
    with pytest.raises(nengo_keras.ConversionError) as info:
        nengo_keras.to_nengo(keras.Model(inp, out), tiers=("neural",))
    names = [layer.name for layer, _, _ in info.value.problems]
    assert names == ["gelu_dense", "norm", "elu", "dot"]
    assert all("'node' tier" in what for _, what, _ in info.value.problems)
