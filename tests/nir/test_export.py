"""NIR export: the graph computes what the Nengo network computes, survives a
file round trip, and anything NIR cannot hold is refused in one error."""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras

nir = pytest.importorskip("nir")
nk_nir = pytest.importorskip("nengo_keras.nir")

from . import reference  # noqa: E402


def spiking_neurons():
    # NIR neurons start at v = 0; Nengo's start at random voltages by default
    return nengo.SpikingRectifiedLinear(initial_state={"voltage": nengo.dists.Choice([0.0])})


def small_cnn():
    return keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(6, 3, strides=2, activation="relu", bias_initializer="ones"),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3),
        ]
    )


def convert(model, **options):
    options.setdefault("scale_firing_rates", 40)
    return nengo_keras.to_nengo(model, swap_activations={"relu": spiking_neurons()}, **options)


@pytest.mark.parametrize("conv_as_affine", [False, True])
def test_graph_reproduces_nengo_outputs(rng, conv_as_affine):
    """Every weight, layout (channels-first), threshold and unit of the export
    is right: a NIR simulator with Nengo's step semantics gives Nengo's outputs."""
    result = convert(small_cnn())
    graph = result.to_nir(time_unit="step", conv_as_affine=conv_as_affine)
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert ("Conv2d" in kinds) != conv_as_affine
    assert {"IF", "Input", "Output"} <= kinds
    x = rng.uniform(size=(2, 6, 6, 2))
    expected = result.run(x, n_steps=30)
    for i in range(len(x)):
        got = reference.simulate(graph, x[i], 30)["output"]
        np.testing.assert_allclose(got, expected[i], atol=1e-6)
    assert expected[:, -10:].std() > 0  # the comparison saw spikes


def test_synapses_become_cubalif_and_li(rng):
    """With synapses the hidden neurons are CubaLIF and the output has an LI."""
    model = small_cnn()
    for layer in model.layers:  # zero biases: a NIR synapse also filters the bias
        if hasattr(layer, "bias"):
            layer.bias.assign(np.zeros(layer.bias.shape))
    result = convert(model, synapse=0.004, scale_firing_rates=300)
    graph = result.to_nir(time_unit="step")
    cuba = [n for n in graph.nodes.values() if isinstance(n, nir.CubaLIF)]
    assert len(cuba) == 2 and np.allclose(cuba[0].tau_syn, 4.0)
    assert any(isinstance(n, nir.LI) for n in graph.nodes.values())
    x = rng.uniform(size=(1, 6, 6, 2))
    expected = result.run(x, n_steps=40)[0]
    got = reference.simulate(graph, x[0], 40)["output"]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert np.abs(expected).max() > 0


def test_units_and_metadata():
    """Seconds vs steps: time constants and integrated currents scale by dt."""
    result = convert(small_cnn(), synapse=0.005)
    seconds = result.to_nir(dt=0.002)
    steps = result.to_nir(dt=0.002, time_unit="step")
    assert seconds.metadata["dt"] == 0.002 and seconds.metadata["time_unit"] == "s"
    assert steps.metadata["time_unit"] == "step"
    cuba_s, cuba_t = seconds.nodes["dense"], steps.nodes["dense"]
    np.testing.assert_allclose(cuba_t.tau_syn, cuba_s.tau_syn / 0.002)
    # the first convolution integrates the (non-spike) input: x dt per step
    np.testing.assert_allclose(
        steps.nodes["conv2d.w"].weight, seconds.nodes["conv2d.w"].weight * 0.002
    )
    # spikes are unit deltas in both units: w_in x weight is the same
    conv_s, conv_t = seconds.nodes["conv2d_1"], steps.nodes["conv2d_1"]
    np.testing.assert_allclose(
        steps.nodes["conv2d_1.w"].weight * conv_t.w_in[0, 0, 0],
        seconds.nodes["conv2d_1.w"].weight * conv_s.w_in[0, 0, 0],
    )
    with pytest.raises(ValueError, match="time_unit"):
        result.to_nir(time_unit="ms")


def test_write_read_round_trip(tmp_path):
    result = convert(small_cnn(), synapse=0.005)
    path = tmp_path / "net.nir"
    graph = nk_nir.write(result, path)
    back = nk_nir.read(path)
    assert set(back.nodes) == set(graph.nodes)
    assert sorted(back.edges) == sorted(graph.edges)
    assert back.metadata["dt"] == pytest.approx(0.001)
    for key, node in graph.nodes.items():
        other = back.nodes[key]
        assert type(other) is type(node), key
        for name, value in vars(node).items():
            if isinstance(value, np.ndarray) and name not in ("input_type", "output_type"):
                np.testing.assert_array_equal(getattr(other, name), value, err_msg=key)


def test_refuses_everything_nir_cannot_hold_in_one_error():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="tanh"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    result = nengo_keras.to_nengo(model)  # rate neurons throughout
    with pytest.raises(nk_nir.NIRExportError) as info:
        result.to_nir()
    message = str(info.value)
    for name in ("conv2d", "dense", "max_pooling2d"):
        assert f"'{name}'" in message
    assert "swap_activations" in message and "Fix:" in message
    assert nk_nir.exportable(result) == info.value.problems
    spiking = convert(small_cnn())
    assert nk_nir.exportable(spiking) is True


def test_lif_tau_ref_refused_and_lif_mapped():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu")])
    lif = nengo_keras.to_nengo(model, swap_activations={"relu": nengo.LIF()})
    with pytest.raises(nk_nir.NIRExportError, match="tau_ref"):
        lif.to_nir()
    lif0 = nengo_keras.to_nengo(model, swap_activations={"relu": nengo.LIF(tau_ref=0)})
    node = lif0.to_nir().nodes["dense"]
    assert isinstance(node, nir.LIF) and np.allclose(node.tau, 0.02)


@pytest.mark.parametrize("time_unit", ["s", "step"])
def test_to_nengo_reads_the_export_back(rng, time_unit):
    """Nengo -> NIR -> Nengo: the network read back gives the same outputs."""
    model = small_cnn()
    for layer in model.layers:  # zero biases: a NIR synapse also filters the bias
        if hasattr(layer, "bias"):
            layer.bias.assign(np.zeros(layer.bias.shape))
    result = convert(model, synapse=0.004, scale_firing_rates=300)
    graph = result.to_nir(time_unit=time_unit)
    net, inputs, probes = nk_nir.to_nengo(graph)
    x = rng.uniform(size=(6, 6, 2))
    with net:
        # NIR's input is channels first
        nengo.Connection(nengo.Node(np.moveaxis(x, -1, 0).ravel()), inputs["input"],
                         synapse=None)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(40)
    expected = result.run(x[None], n_steps=40)[0]
    np.testing.assert_allclose(sim.data[probes["output"]], expected, atol=1e-6)
    assert np.abs(expected).max() > 0


def test_output_read_from_neurons(rng):
    """A model ending in spiking neurons: the spikes reach the Output scaled
    to Nengo's spike size."""
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, activation="relu", bias_initializer="ones")]
    )
    result = convert(model)
    graph = result.to_nir(time_unit="step")
    assert any(isinstance(n, nir.Scale) for n in graph.nodes.values())
    x = rng.uniform(size=(1, 5))
    expected = result.run(x, n_steps=30)[0]
    np.testing.assert_allclose(reference.simulate(graph, x[0], 30)["output"], expected)
    assert expected.max() > 0


def test_grouped_convolution_as_a_full_kernel(rng, tmp_path):
    """nir 1.0 cannot read back a Conv2d with groups > 1: the export writes
    the kernel with zeros off the groups."""
    model = keras.Sequential(
        [
            keras.Input((5, 5, 4)),
            keras.layers.Conv2D(6, 3, padding="same", groups=2, activation="relu"),
            keras.layers.DepthwiseConv2D(3, activation="relu"),  # a sparse matrix
            keras.layers.GlobalAveragePooling2D(),
        ]
    )
    result = convert(model, scale_firing_rates=200)
    graph = result.to_nir(time_unit="step")
    conv = graph.nodes["conv2d.w"]
    assert isinstance(conv, nir.Conv2d) and conv.groups == 1 and conv.weight.shape == (6, 4, 3, 3)
    assert not conv.weight[:3, 2:].any() and not conv.weight[3:, :2].any()
    nk_nir.write(graph, tmp_path / "grouped.nir")
    graph = nk_nir.read(tmp_path / "grouped.nir")
    x = rng.uniform(size=(1, 5, 5, 4))
    expected = result.run(x, n_steps=30)[0]
    np.testing.assert_allclose(reference.simulate(graph, x[0], 30)["output"], expected)
    assert expected.max() > 0


def test_conv1d_round_trip(rng):
    model = keras.Sequential(
        [
            keras.Input((9, 3)),
            keras.layers.Conv1D(4, 3, strides=2, activation="relu", bias_initializer="ones"),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    result = convert(model, scale_firing_rates=200)
    graph = result.to_nir()
    assert isinstance(graph.nodes["conv1d.w"], nir.Conv1d)
    net, inputs, probes = nk_nir.to_nengo(graph)
    x = rng.uniform(size=(9, 3))
    with net:
        nengo.Connection(nengo.Node(x.T.ravel()), inputs["input"], synapse=None)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(30)
    expected = result.run(x[None], n_steps=30)[0]
    np.testing.assert_allclose(sim.data[probes["output"]], expected, atol=1e-6)
    assert np.abs(expected).max() > 0
