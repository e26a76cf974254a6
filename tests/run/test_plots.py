"""`nengo_keras.plots`: figures of evaluation results."""

import dataclasses

import keras
import nengo
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import nengo_keras  # noqa: E402
from nengo_keras.run import plots  # noqa: E402


@pytest.fixture(scope="module")
def results():
    keras.utils.set_random_seed(1)
    inp = keras.Input((4,))
    h = keras.layers.Dense(8, activation="relu", name="hidden")(inp)
    h = keras.layers.Dense(6, activation="relu", name="hidden2")(h)
    model = keras.Model(inp, keras.layers.Dense(3, name="out")(h))
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(5, 4))
    y = np.argmax(model.predict(x, verbose=0), axis=-1)
    kwargs = dict(n_steps=15, executor="serial", progress_bar=False, seed=0)
    rate = nengo_keras.evaluate(nengo_keras.to_nengo(model), x, y, label="rate", **kwargs)
    spiking = nengo_keras.to_nengo(
        model, swap_activations={"relu": nengo.SpikingRectifiedLinear()},
        scale_firing_rates=200, synapse=0.005,
    )
    spike = nengo_keras.evaluate(spiking, x, y, label="spiking", **kwargs)
    return rate, spike


def test_plot_accuracy(results):
    rate, spike = results
    fig = plots.plot_accuracy([rate, spike], chance=1 / 3)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 3  # two results and the chance line
    for line, res in zip(lines, results):
        np.testing.assert_array_equal(line.get_ydata(), res.accuracy)
        np.testing.assert_allclose(line.get_xdata(), np.arange(1, 16))  # ms
    assert lines[0].get_linestyle() == "--" and lines[1].get_linestyle() == "-"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0].startswith("rate") and texts[1].startswith("spiking")
    assert ax.get_xlabel() == "simulated time (ms)"


def test_plot_accuracy_dict_labels_and_own_axes(results):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    out = plots.plot_accuracy({"a": results[0], "b": results[1]}, ax=ax)
    assert out is fig and len(ax.get_lines()) == 2
    assert [t.get_text()[0] for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_plot_accuracy_needs_labels(results):
    unlabelled = dataclasses.replace(results[0], accuracy=None, labels=None)
    with pytest.raises(ValueError, match="no accuracy"):
        plots.plot_accuracy(unlabelled)


def test_plot_rates(results):
    spike = results[1]
    fig = plots.plot_rates(spike, ncols=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(spike.layers) == 2
    for ax, (name, act) in zip(visible, spike.layers.items()):
        assert ax.get_title().startswith(name)
        counts = sum(p.get_height() for p in ax.patches)
        assert counts == act.n_neurons
    one = plots.plot_rates(spike, layers=["hidden2"])
    assert len(one.axes) == 1


def test_plot_outputs(results):
    spike = results[1]
    fig = plots.plot_outputs(spike, sample=2, class_names=["a", "b", "c"])
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        np.testing.assert_array_equal(line.get_ydata(), spike.outputs[2, :, i])
    true = int(spike.labels[2])
    assert lines[true].get_linewidth() > lines[(true + 1) % 3].get_linewidth()
    assert f"true {true}" in ax.get_title()
    few = plots.plot_outputs(spike, sample=0, max_traces=1)
    assert len(few.axes[0].get_lines()) == 1
