"""Running converted networks on batches of data."""

from __future__ import annotations

import nengo
import numpy as np

from . import _keras_graph as kg


def format_inputs(result, x):
    """Return the input arrays in model input order.

    ``x`` is one array (single-input models), a list/tuple in model input
    order, or a dict keyed by input tensor, input layer or name.
    """
    keys = list(result.inputs)
    if isinstance(x, dict):
        arrays = [None] * len(keys)
        for key, data in x.items():
            kt = result.inputs._resolve(key)
            arrays[keys.index(kt)] = data
        missing = [kt.name for kt, a in zip(keys, arrays) if a is None]
        if missing:
            raise ValueError(f"no data given for model inputs {missing}")
    elif isinstance(x, (list, tuple)):
        arrays = list(x)
    else:
        arrays = [x]
    if len(arrays) != len(keys):
        raise ValueError(
            f"the model has {len(keys)} inputs but {len(arrays)} arrays were given; "
            f"pass a list in model input order or a dict keyed by input"
        )
    arrays = [np.asarray(keras_to_numpy(a), dtype=np.float64) for a in arrays]
    batch = {a.shape[0] for a in arrays}
    if len(batch) != 1:
        raise ValueError(f"inputs have different batch sizes {sorted(batch)}")
    return arrays


def keras_to_numpy(x):
    if isinstance(x, np.ndarray):
        return x
    import keras

    return keras.ops.convert_to_numpy(x)


def _split_time(array, shape, name):
    """Return ``(array (batch, T, size), T or None)``; T None: constant input."""
    if array.shape[1:] == shape:
        return array.reshape(array.shape[0], -1), None
    if array.shape[2:] == shape:
        return array.reshape(array.shape[0], array.shape[1], -1), array.shape[1]
    raise ValueError(
        f"input {name!r} expects data of shape (batch, *{shape}) or "
        f"(batch, n_steps, *{shape}), got {array.shape}"
    )


def run_batch(
    result,
    x,
    n_steps=1,
    dt=0.001,
    simulator=None,
    probes=None,
    progress_bar=False,
    seed=None,
    **sim_kwargs,
):
    """Implementation of `ConvertedModel.run`."""
    arrays = format_inputs(result, x)
    feeds = []
    for (kt, node), array in zip(result.inputs.items(), arrays):
        data, steps = _split_time(array, kg.tensor_shape(kt), kt.name)
        if steps is not None:
            n_steps = steps
        feeds.append((node.output, data))
    if probes is None:
        probes = list(result.outputs.values())
        shapes = [kg.tensor_shape(kt) for kt in result.outputs]
    else:
        shapes = [(p.size_in,) for p in probes]
    single = probes is None or len(probes) == 1
    batch = arrays[0].shape[0]
    outputs = [np.zeros((batch, n_steps) + tuple(s)) for s in shapes]
    if simulator is None:
        simulator = nengo.Simulator
        # nengo's operator merging costs far more build time than it saves on
        # converted networks (measured: DenseNet121 10 s vs 0.3 s, same step time)
        sim_kwargs.setdefault("optimize", False)
    samples = range(batch)
    if progress_bar:
        from tqdm.auto import tqdm

        samples = tqdm(samples, desc="samples", unit="sample")
    try:
        with simulator(result.net, dt=dt, seed=seed, progress_bar=False, **sim_kwargs) as sim:
            for i in samples:
                for feed, data in feeds:
                    feed.set(data[i], dt)
                if i:
                    sim.reset(seed=seed)
                sim.run_steps(n_steps)
                for out, p, shape in zip(outputs, probes, shapes):
                    out[i] = np.asarray(sim.data[p][-n_steps:]).reshape((n_steps,) + tuple(shape))
    finally:
        for feed, _ in feeds:
            feed.set(None, dt)
    if len(outputs) == 1 and single:
        return outputs[0]
    return outputs


def check_verifiable(result):
    """Raise if the network is not expected to equal Keras after one step."""
    spiking = [
        e.label for e in result.net.all_ensembles if e.neuron_type.spiking
    ]
    if spiking:
        raise ValueError(
            f"verify() compares rate outputs after one step, but ensembles "
            f"{spiking[:3]} have spiking neurons; convert without spiking "
            f"swap_activations to verify, and evaluate spiking accuracy over time "
            f"with run() instead"
        )
    filtered = [
        c for c in result.net.all_connections if c.synapse is not None
    ] + [p for p in result.net.all_probes if p.synapse is not None]
    if filtered:
        raise ValueError(
            f"verify() runs one step, but {len(filtered)} connections/probes have "
            f"synapses (e.g. {filtered[0]}); convert with synapse=None to verify"
        )
