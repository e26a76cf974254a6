"""`evaluate`: accuracy over time, firing rates and synaptic operations.

Definitions (per sample presented for ``n_steps`` steps of ``dt`` seconds):

- **accuracy per step**: the share of samples whose output's argmax at that
  step equals the label (integer labels, or the argmax of one-hot labels).
- **firing rate** of a neuron: its output divided by its neuron type's
  ``amplitude`` (which ``scale_firing_rates`` sets to ``1 / scale``), averaged
  over the steps and the samples, in Hz. For spiking neurons this is spikes per
  second; for rate neurons it is the rate they compute.
- **synaptic operations** (synops, the usual energy proxy): for spiking
  neurons, the number of spikes times the neuron's fan-out (the number of
  nonzero weights its output is multiplied by, looking through pass-through
  Nodes; see `nengo_keras.run.synops`), summed over the presentation. Rate neurons
  send their value along every outgoing weight at every step, so for them it is
  the multiply-accumulate count of the dense network: ``n_steps`` times their
  total fan-out.
"""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np

from ..conversion.result import ConvertedModel
from .arguments import check_output, check_run_arguments
from .synops import fan_out
from .simulation import engine_for, prepare_inputs, run_inputs


@dataclasses.dataclass
class LayerActivity:
    """Firing rates and synaptic operations of one layer's neurons.

    Attributes
    ----------
    name : str
        Layer name (``path/name`` inside nested models).
    neuron_type : str
        The neuron type (``repr``; several joined by ``", "``).
    spiking : bool
        Whether the neurons spike.
    rates : ndarray
        Mean firing rate of every neuron (Hz), over steps and samples.
    synapses : int
        Nonzero outgoing weights of the layer's neurons (their total fan-out);
        for rate neurons, the multiply-accumulates of one step.
    synops : ndarray
        Synaptic operations of each sample over the whole presentation.

    Examples
    --------
    >>> act = nengo_keras.evaluate(converted, x, n_steps=50).layers["conv2d"]
    >>> act.mean_rate, act.synapses, act.synops.mean()
    """

    name: str
    neuron_type: str
    spiking: bool
    rates: np.ndarray
    synapses: int
    synops: np.ndarray

    @property
    def n_neurons(self):
        return self.rates.size

    @property
    def mean_rate(self):
        """Mean firing rate over neurons, steps and samples (Hz)."""
        return float(np.mean(self.rates)) if self.rates.size else 0.0


@dataclasses.dataclass
class EvaluationResult:
    """What `evaluate` measured.

    Attributes
    ----------
    outputs : ndarray
        The evaluated output at every step, ``(n_samples, n_steps, *shape)``.
    labels : ndarray or None
        Integer class labels, ``(n_samples, *shape[:-1])``.
    accuracy : ndarray or None
        Accuracy at every step, ``(n_steps,)`` (None without labels).
    layers : dict
        ``{layer name: LayerActivity}`` for every layer with neurons.
    dt : float
        Simulator time step (s).
    evaluation_time : float
        Wall-clock seconds the evaluation took.
    label : str
        Name used in plot legends.

    Examples
    --------
    >>> res = nengo_keras.evaluate(converted, x_test, y_test, n_steps=50)
    >>> res.accuracy[-1], res.mean_rates, res.total_synops
    >>> print(res.summary())
    """

    outputs: np.ndarray
    labels: np.ndarray | None
    accuracy: np.ndarray | None
    layers: dict
    dt: float
    evaluation_time: float
    label: str = ""

    @property
    def n_steps(self):
        return self.outputs.shape[1]

    @property
    def final_accuracy(self):
        """Accuracy at the last step (None without labels)."""
        return None if self.accuracy is None else float(self.accuracy[-1])

    @property
    def mean_rates(self):
        """``{layer: mean firing rate in Hz}``."""
        return {name: a.mean_rate for name, a in self.layers.items()}

    @property
    def synops(self):
        """``{layer: mean synaptic operations per sample}``."""
        return {name: float(np.mean(a.synops)) for name, a in self.layers.items()}

    @property
    def total_synops(self):
        """Mean synaptic operations per sample, all layers together."""
        return float(sum(self.synops.values()))

    def summary(self):
        """A table of rates and synaptic operations per layer, as a string."""
        rows = [("layer", "neurons", "type", "mean rate", "synops/sample")]
        for name, a in self.layers.items():
            # rate neurons output an activation, not spikes per second
            rate = f"{a.mean_rate:.4g} Hz" if a.spiking else f"{a.mean_rate:.4g} (activation)"
            kind = re.sub(r"\([^()]*\)", "", a.neuron_type)  # type names, no parameters
            rows.append((name, str(a.n_neurons), kind, rate, f"{np.mean(a.synops):.4g}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        n, steps = self.outputs.shape[:2]
        lines.append("")
        lines.append(
            f"{n} samples x {steps} steps of {self.dt * 1000:g} ms in "
            f"{self.evaluation_time:.3g} s; synops/sample {self.total_synops:.4g}"
        )
        if self.accuracy is not None:
            lines.append(
                f"accuracy: {self.accuracy[-1]:.4f} at the last step, best "
                f"{np.max(self.accuracy):.4f} at step {int(np.argmax(self.accuracy)) + 1}"
            )
        return "\n".join(lines)


def evaluate(
    converted,
    x,
    y=None,
    n_steps=1,
    *,
    dt=None,
    output=None,
    executor=None,
    n_workers=None,
    chunk_size=None,
    simulator=None,
    minibatch_size=None,
    progress_bar=True,
    seed=None,
    label=None,
    **sim_kwargs,
):
    """Run a converted network over a dataset and measure it over time.

    Every sample is presented for ``n_steps`` steps from a reset simulator
    (see the module docstring for the exact definitions of what is measured).

    Parameters
    ----------
    converted : ConvertedModel
        What `nengo_keras.to_nengo` returned.
    x : array or list or dict
        Inputs, ``(n_samples, *input_shape)`` (presented constantly) or
        ``(n_samples, n_steps, *input_shape)`` (one row per step; its length
        sets ``n_steps``); several inputs as in `ConvertedModel.run`.
    y : array, optional
        Labels: integers ``(n_samples,)`` or one-hot ``(n_samples, n_classes)``
        (or shaped like the output without / with its last axis).
    n_steps : int
        Steps per sample.
    dt : float, optional
        Simulator time step in seconds (default: ``converted.dt``, the time
        step of the model's spiking/synapse layers, else 0.001).
    output : optional
        Which model output to score (a key of ``converted.outputs``; default
        the first).
    executor : None, str or concurrent.futures.Executor
        Where the reference simulator's samples run. None (default): ``"auto"``
        (or ``"processes"`` when ``n_workers`` is given). ``"auto"`` runs the
        first samples here, timing them, and hands the rest to a process pool
        only if that is expected to finish sooner (enough samples, enough idle
        CPUs; see `nengo_keras.run.executors.choose_executor`), so it is never
        much slower than ``"serial"``. Also ``"serial"``, ``"threads"``,
        ``"processes"``, or any Executor, e.g. a Dask client's
        ``client.get_executor()``. Each worker builds its simulator once. A
        network that cannot be pickled runs serially (with a warning). Results
        do not depend on the executor or on the chunking. Where processes are
        spawned rather than forked (macOS, Windows), each worker first imports
        TensorFlow, and scripts need an ``if __name__ == "__main__":`` guard.
        Ignored by ``simulator="keras"`` and ``"nengo_dl"``, which run
        minibatches themselves.
    n_workers : int, optional
        Number of workers (default: the number of CPUs; 1 runs serially).
    chunk_size : int, optional
        Samples per task sent to a worker.
    simulator : type or "keras" or "nengo_dl", optional
        Simulator class (default `nengo.Simulator`, the reference); ``"keras"``
        runs the same operators batched and compiled on the active Keras backend
        (see `nengo_keras.run.keras_engine`; fastest, GPU when present);
        ``"nengo_dl"`` runs NengoDL (optional extra, see
        `nengo_keras.nengo_dl.backend`) in minibatches.
    minibatch_size : int, optional
        Minibatch size of ``"keras"`` and ``"nengo_dl"`` (default
        ``min(n_samples, 32)``); memory grows with it, not with the data set.
    progress_bar : bool
        Show a tqdm progress bar over samples.
    seed : int, optional
        Seed of the build; sample ``i`` runs with seed ``seed + 1 + i``.
    label : str, optional
        Name of this run in plots (default: the network's label).
    sim_kwargs
        Passed to the simulator (``simulator="keras"``: ``dtype`` and
        ``jit_compile``, see `nengo_keras.run.keras_engine.Program`).

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> spiking = nengo_keras.to_nengo(
    ...     model, swap_activations={"relu": nengo.SpikingRectifiedLinear()},
    ...     scale_firing_rates=100, synapse=0.005)
    >>> res = nengo_keras.evaluate(spiking, x_test, y_test, n_steps=60)
    >>> res.accuracy[-1], res.mean_rates
    """
    if not isinstance(converted, ConvertedModel):
        hint = " (pass converter.result)" if hasattr(converted, "result") else ""
        raise TypeError(
            f"evaluate expects what nengo_keras.to_nengo returned (a ConvertedModel), "
            f"got {type(converted).__name__}{hint}"
        )
    check_run_arguments(
        converted, "evaluate", x, n_steps, dt, simulator, sim_kwargs, own=(evaluate,),
        seed=seed, counts={"n_workers": n_workers, "chunk_size": chunk_size,
                           "minibatch_size": minibatch_size},
    )
    check_output(converted, "evaluate", output)
    start = time.perf_counter()
    if dt is None:
        dt = 0.001 if converted.dt is None else converted.dt
    if executor is None and engine_for(simulator) is None:
        executor = "auto" if n_workers is None else "processes"
    inputs, n_steps = prepare_inputs(converted, x, n_steps)
    key = list(converted.outputs)[0] if output is None else output
    probe = converted.outputs[key]
    layers = _layers_with_neurons(converted)
    counter = _Counter(converted, layers, n_steps, dt)
    outputs = run_inputs(
        converted,
        inputs,
        n_steps,
        dt=dt,
        simulator=simulator,
        probes=[probe],
        ensembles=[e for _, ensembles in layers for e in ensembles],
        on_sums=counter.add,
        progress_bar=progress_bar,
        seed=seed,
        executor=executor,
        n_workers=n_workers,
        chunk_size=chunk_size,
        minibatch_size=minibatch_size,
        sim_kwargs=sim_kwargs,
    )[0]
    outputs = outputs.reshape(outputs.shape[:2] + converted.shape_of(key))
    labels = None if y is None else class_labels(y, outputs.shape[2:])
    return EvaluationResult(
        outputs=outputs,
        labels=labels,
        accuracy=None if labels is None else accuracy_per_step(outputs, labels),
        layers=counter.result(),
        dt=dt,
        evaluation_time=time.perf_counter() - start,
        label=converted.net.label if label is None else label,
    )


def class_labels(y, out_shape):
    """Integer labels from integer or one-hot ``y`` for outputs of ``out_shape``."""
    y = np.asarray(y)
    n = y.shape[0]
    if y.shape[1:] == tuple(out_shape) and out_shape[-1] > 1:
        return np.argmax(y, axis=-1)
    if y.shape[1:] == tuple(out_shape[:-1]):
        labels = y
    elif y.shape[1:] == tuple(out_shape[:-1]) + (1,):
        labels = y[..., 0]
    else:
        raise ValueError(
            f"labels of shape {y.shape} do not fit outputs of shape (n, n_steps, "
            f"*{tuple(out_shape)}); expected integer labels {(n,) + tuple(out_shape[:-1])} "
            f"or one-hot labels {(n,) + tuple(out_shape)}"
        )
    if not np.all(np.equal(np.mod(labels, 1), 0)):
        raise ValueError("integer labels expected (class indices), got fractions")
    return labels.astype(np.int64)


def accuracy_per_step(outputs, labels):
    """Share of correct argmax predictions at each step, ``(n_steps,)``."""
    predicted = np.argmax(outputs, axis=-1)  # (n, n_steps, ...)
    correct = predicted == labels[:, None]
    return correct.reshape(correct.shape[0], correct.shape[1], -1).mean(axis=(0, 2))


def _layers_with_neurons(converted):
    """``[(name, ensembles)]`` in report order; unattributed ensembles last."""
    layers, seen = [], set()
    for r in converted.report:
        if r.ensembles:
            name = f"{r.path}/{r.name}" if r.path else r.name
            layers.append((name, list(r.ensembles)))
            seen.update(r.ensembles)
    rest = [e for e in converted.net.all_ensembles if e not in seen]
    if rest:
        layers.append(("(other ensembles)", rest))
    return layers


class _Counter:
    """Folds per-sample neuron sums into rates and synops, in sample order."""

    def __init__(self, converted, layers, n_steps, dt):
        self.layers, self.n_steps, self.dt = layers, n_steps, dt
        ensembles = [e for _, ens in layers for e in ens]
        fan = fan_out(converted.net, ensembles)
        self.fan = [fan[e] for e in ensembles]
        self.amplitude = [float(getattr(e.neuron_type, "amplitude", 1.0)) for e in ensembles]
        self.spiking = [bool(e.neuron_type.spiking) for e in ensembles]
        self.totals = [np.zeros(e.n_neurons) for e in ensembles]
        self.synops = [[] for _ in ensembles]
        self.n = 0

    def add(self, sums):
        for k, rows in enumerate(sums):
            for row in rows:
                self.totals[k] += row
            if self.spiking[k]:
                # whole spikes: exact integer arithmetic, whatever the chunking
                spikes = np.rint(rows * self.dt / self.amplitude[k]).astype(np.int64)
                self.synops[k].extend(spikes @ self.fan[k])
            else:
                self.synops[k].extend([self.n_steps * int(self.fan[k].sum())] * len(rows))
        self.n += len(sums[0]) if sums else 0

    def result(self):
        out, k = {}, 0
        for name, ensembles in self.layers:
            ks = range(k, k + len(ensembles))
            k += len(ensembles)
            scale = max(self.n, 1) * self.n_steps
            out[name] = LayerActivity(
                name=name,
                neuron_type=", ".join(sorted({repr(e.neuron_type) for e in ensembles})),
                spiking=any(self.spiking[i] for i in ks),
                rates=np.concatenate([self.totals[i] / scale / self.amplitude[i] for i in ks]),
                synapses=int(sum(self.fan[i].sum() for i in ks)),
                synops=np.sum([np.asarray(self.synops[i], dtype=np.int64) for i in ks], axis=0),
            )
        return out
