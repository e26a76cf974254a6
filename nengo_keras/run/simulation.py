"""Running converted networks on batches of data (see `nengo_keras.run.executors`
for how the samples are spread over workers)."""

from __future__ import annotations

import nengo
import numpy as np

from ..conversion.registry import add_hook, hooks
from .executors import Plan, run_plan, sample_seeds


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
    arrays = [_as_float(keras_to_numpy(a)) for a in arrays]
    batch = {a.shape[0] for a in arrays}
    if len(batch) != 1:
        raise ValueError(f"inputs have different batch sizes {sorted(batch)}")
    return arrays


def _as_float(array):
    """Floating-point data as it is (the engines convert one chunk at a time,
    so a float32 data set is not copied whole); anything else as float64."""
    array = np.asarray(array)
    return array if array.dtype.kind == "f" else array.astype(np.float64)


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


def prepare_inputs(result, x, n_steps):
    """Flat per-sample input arrays and the number of steps to run.

    Time-varying inputs (with a time axis) set ``n_steps`` to their length.
    """
    arrays = format_inputs(result, x)
    data, lengths = [], set()
    for kt, array in zip(result.inputs, arrays):
        flat, steps = _split_time(array, result.shape_of(kt), kt.name)
        data.append(flat)
        if steps is not None:
            lengths.add(steps)
    if len(lengths) > 1:
        raise ValueError(
            f"time-varying inputs have different numbers of steps {sorted(lengths)}"
        )
    return data, (lengths.pop() if lengths else int(n_steps))


def make_plan(result, *, dt, simulator, seed, sim_kwargs, probes=None, ensembles=()):
    """A `Plan` for ``result``; ``ensembles`` get summed probes on their neurons.

    The plan's network is a new network with seed ``seed`` that contains
    ``result.net`` and the extra probes: the converted network is left as it
    is, and every worker that builds the plan gets the same seeds (Nengo
    derives every object's seed from the top-level network's).
    """
    if probes is None:
        probes = list(result.outputs.values())
        shapes = [result.shape_of(kt) for kt in result.outputs]
    else:
        shapes = [(p.size_in,) for p in probes]
    net = nengo.Network(label=result.net.label, seed=seed)
    net.networks.append(result.net)
    with net:
        sums = [nengo.Probe(e.neurons, synapse=None) for e in ensembles]
    feeds = list(result.inputs.values())
    return Plan(net, feeds, probes, shapes, sums, dt, simulator, seed, sim_kwargs)


# --- ConvertedModel.run ------------------------------------------------------


def run_batch(
    result,
    x,
    n_steps=1,
    dt=0.001,
    simulator=None,
    probes=None,
    progress_bar=False,
    seed=None,
    executor=None,
    n_workers=None,
    minibatch_size=None,
    **sim_kwargs,
):
    """Implementation of `ConvertedModel.run`."""
    inputs, n_steps = prepare_inputs(result, x, n_steps)
    single = probes is None or len(probes) == 1
    outputs = run_inputs(
        result,
        inputs,
        n_steps,
        dt=dt,
        simulator=simulator,
        probes=probes,
        progress_bar=progress_bar,
        seed=seed,
        executor=executor,
        n_workers=n_workers,
        minibatch_size=minibatch_size,
        sim_kwargs=sim_kwargs,
    )
    if len(outputs) == 1 and single:
        return outputs[0]
    return outputs


class Engine:
    """A simulator that runs plans its own way (NengoDL runs minibatches).

    Parameters
    ----------
    claims : callable
        ``claims(simulator) -> bool``: the ``simulator`` argument is this engine's.
    run_plan : callable
        ``run_plan(plan, inputs, n_steps, *, minibatch_size, progress_bar,
        executor, on_sums)``, returning what `nengo_keras.run.executors.run_plan` does.

    Examples
    --------
    >>> register_engine(Engine(is_nengo_dl, run_plan))
    """

    def __init__(self, claims, run_plan):
        self.claims = claims
        self.run_plan = run_plan


def register_engine(engine):
    """Let ``engine`` (an `Engine`) run the plans of the simulators it claims."""
    add_hook("engine", engine)


def engine_for(simulator):
    """The registered `Engine` claiming ``simulator``, or None (run it here)."""
    for engine in hooks("engine"):
        if engine.claims(simulator):
            return engine
    return None


def run_inputs(result, inputs, n_steps, *, dt, simulator, probes=None, ensembles=(),
               on_sums=None, progress_bar=False, seed=None, executor=None,
               n_workers=None, chunk_size=None, minibatch_size=None, sim_kwargs=None):
    """Run prepared inputs (see `prepare_inputs`); return the outputs.

    ``ensembles`` get probes on their neurons whose per-sample sums over the
    steps go to ``on_sums`` (see `run_plan`).
    """
    engine = engine_for(simulator)
    sim_kwargs = dict(sim_kwargs or {})
    if simulator is None:
        simulator = nengo.Simulator
        # nengo's operator merging costs far more build time than it saves on
        # converted networks (measured: DenseNet121 10 s vs 0.3 s, same step time)
        sim_kwargs.setdefault("optimize", False)
    build_seed, seeds = sample_seeds(seed, inputs[0].shape[0])
    plan = make_plan(
        result,
        dt=dt,
        simulator=simulator,
        seed=build_seed,
        sim_kwargs=sim_kwargs,
        probes=probes,
        ensembles=ensembles,
    )
    if engine is not None:
        return engine.run_plan(
            plan, inputs, n_steps, minibatch_size=minibatch_size,
            progress_bar=progress_bar, executor=executor, on_sums=on_sums,
        )
    return run_plan(
        plan, inputs, n_steps, seeds, executor=executor, n_workers=n_workers,
        chunk_size=chunk_size, progress_bar=progress_bar, on_sums=on_sums,
    )


def check_verifiable(result):
    """Raise if the network is not expected to equal Keras after one step
    (temporal models: over the sequence)."""
    if result.temporal:
        opts = result.options
        added = [
            name
            for name in ("swap_activations", "synapse", "scale_firing_rates")
            if getattr(opts, name) is not None
        ]
        if added:
            raise ValueError(
                f"verify() compares the network with the Keras model, but the "
                f"{', '.join(added)} option(s) change the network on purpose; "
                f"convert without them to verify"
            )
        return
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
