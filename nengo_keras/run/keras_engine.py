"""``simulator="keras"``: run converted networks as compiled Keras computations.

Nengo's own builder builds the network (the same `nengo.builder.Model` that
`nengo.Simulator` runs, with the same seeds, initial voltages and operators in
the same step order); this engine then executes those operators with
``keras.ops`` on a whole minibatch of samples at once, looping over the steps
inside one compiled function (``jax.jit`` on JAX, ``tf.function`` with XLA on
TensorFlow; other backends run it uncompiled). So it reproduces
`nengo.Simulator` step by step, one-step synaptic delays included, and runs
wherever Keras runs, on a GPU when the backend has one.

Nodes run as follows (see `node_paths`): model inputs are fed from the data;
Nodes calling Keras (fallback layers) are traced into the compiled function
on the whole minibatch; nengo_keras's NumPy Nodes ("node" tier, `Batched`
functions) run once per step on the whole minibatch on the host; any other
Node function runs once per sample and step on the host (exact, but slow).
Host calls go through ``jax.pure_callback`` / ``tf.numpy_function`` (on
TensorFlow they turn XLA off for that network).

Examples
--------
>>> result = nengo_keras.to_nengo(model, swap_activations={"relu": nengo.SpikingRectifiedLinear()})
>>> out = result.run(x_test, n_steps=50, simulator="keras", minibatch_size=64)
"""

from __future__ import annotations

import warnings

import keras
import nengo
import numpy as np
from keras import ops
from nengo.builder.operator import SimPyFunc, TimeUpdate
from nengo.builder.probe import SimProbe
from nengo.builder.signal import SignalDict
from nengo.utils.graphs import toposort
from nengo.utils.simulator import operator_dependency_graph

from . import _keras_nodes
from ._keras_ops import OPERATORS, check_supported, unsupported
from ._keras_signals import State, batched
from .executors import _progress
from .simulation import Engine, register_engine

NAMES = ("keras",)


def is_keras(simulator):
    """Whether ``simulator`` names this engine (``"keras"``).

    Examples
    --------
    >>> is_keras("keras"), is_keras(None)
    (True, False)
    """
    return isinstance(simulator, str) and simulator in NAMES


class Program:
    """A `Plan` built by Nengo's builder, ready to run as a Keras computation.

    Parameters
    ----------
    plan : nengo_keras.run.executors.Plan
        The network, input Nodes and probes.
    dtype : str
        ``"float32"`` (default; fastest) or ``"float64"`` (as `nengo.Simulator`;
        on JAX this needs ``jax.config.update("jax_enable_x64", True)``).
    sparse_convs : bool
        Run convolutions as sparse matrix products instead of ``keras.ops.conv``.
    jit_compile : bool, optional
        TensorFlow only: compile with XLA (default: when a GPU is present;
        on CPUs TensorFlow's own kernels are faster). Networks with host Nodes
        never use XLA on TensorFlow.

    Attributes
    ----------
    node_paths : dict
        ``{node label: "input" | "keras" | "keras-ops" | "numpy-batched" |
        "numpy-per-sample" | "host-time"}``: how each Node with a function
        runs (see `nengo_keras.run._keras_nodes`).
    """

    def __init__(self, plan, dtype="float32", sparse_convs=False, jit_compile=None):
        _check_dtype(dtype)
        self.plan, self.dtype, self.dt = plan, dtype, plan.dt
        self.jit_compile = jit_compile
        self.sparse_convs = sparse_convs
        model = nengo.builder.Model(dt=plan.dt, decoder_cache=nengo.cache.NoDecoderCache())
        model.build(plan.net)
        self.model = model
        graph = operator_dependency_graph(model.operators)
        self.order = [op for op in toposort(graph) if not isinstance(op, SimProbe)]
        signals = SignalDict()
        for op in model.operators:
            op.init_signals(signals)
        self.time_signals = {model.time.base, model.step.base}
        written = {s.base for op in self.order for s in op.sets + op.incs + op.updates}
        self.constants = {
            base: signals[base] for base in signals if base not in written
        }
        self.initial = {base: np.ravel(signals[base]) for base in written - self.time_signals}
        feeds = {id(node.output): i for i, node in enumerate(plan.feeds)}
        self.nodes = _keras_nodes.NodeOps(self, feeds)
        for op in self.order:
            if type(op) not in OPERATORS and not isinstance(op, (SimPyFunc, TimeUpdate)):
                raise unsupported(op, f"a {type(op).__name__} operator")
            check_supported(op)
            if isinstance(op, SimPyFunc):
                self.nodes.check(op)
        self.carried = self._carried()
        self.probe_signals = [self._probe_signal(p) for p in plan.probes]
        self.sum_signals = [self._probe_signal(p) for p in plan.sums]
        self._cache = {}
        self._compiled = {}

    @property
    def node_paths(self):
        return dict(self.nodes.paths)

    def _probe_signal(self, probe):
        if probe.sample_every is not None:
            raise ValueError(
                f"simulator='keras' records every step; {probe} has sample_every="
                f"{probe.sample_every}: remove it (or run the reference simulator)"
            )
        return self.model.sig[probe]["in"]

    def _carried(self):
        """Signals whose value must pass from one step to the next: those read
        (or partly written) in a step before the step sets all of them."""
        defined, carried = set(), set()
        for op in self.order:
            if isinstance(op, TimeUpdate):
                continue
            state = list(getattr(op, "state", {}).values())
            for sig in op.reads + op.incs + state:
                if sig.base not in defined and sig.base in self.initial:
                    carried.add(sig.base)
            for sig in op.sets + op.updates:
                if sig.base not in self.initial:
                    continue
                if op.updates and sig in op.updates:
                    carried.add(sig.base)
                elif sig.size == sig.base.size and sig.base not in defined:
                    defined.add(sig.base)
                elif sig.base not in defined:
                    carried.add(sig.base)
        return sorted(carried, key=lambda s: repr(s))

    # --- the step ------------------------------------------------------------

    def cached(self, op, make):
        """``make()`` once per operator (sparse matrices and the like)."""
        if id(op) not in self._cache:
            self._cache[id(op)] = make()
        return self._cache[id(op)]

    def _step(self, carry, k, data):
        values = dict(zip(self.carried, carry))
        state = State(values, self.constants, self.dtype, self.batch)
        for op in self.order:
            if isinstance(op, TimeUpdate):
                continue
            if isinstance(op, SimPyFunc):
                self.nodes.run(op, state, k, data)
            else:
                OPERATORS[type(op)](op, state, self)
        probes = [self._flat(state, s) for s in self.probe_signals]
        sums = [self._flat(state, s) for s in self.sum_signals]
        return [state.materialized(b) for b in self.carried], probes, sums

    def _flat(self, state, sig):
        value = batched(state.read(sig), self.batch, self.dtype)
        return ops.reshape(ops.cast(value, self.dtype), (self.batch, sig.size))

    def _window(self, carry, sums, data, ks):
        def body(c, k):
            carry, totals = c
            carry, probes, step_sums = self._step(carry, k, data)
            totals = [t + s for t, s in zip(totals, step_sums)]
            return (carry, totals), probes

        shapes = [(self.batch, s.size) for s in self.probe_signals]
        (carry, sums), probes = _scan(body, (carry, sums), ks, shapes, self.dtype)
        return carry, sums, probes

    def _compiled_window(self, batch):
        if batch not in self._compiled:
            self.batch = batch
            self._compiled[batch] = _compile(self._window, self.nodes.host, self.jit_compile)
        self.batch = batch
        return self._compiled[batch]

    def run(self, data, n_steps):
        """Simulate one minibatch from the initial state.

        Parameters
        ----------
        data : list of ndarray
            One ``(batch, T, size)`` array per model input (T=1: constant).
        n_steps : int
            Steps to run.

        Returns
        -------
        probes : list of ndarray
            ``(batch, n_steps, size)`` per probe.
        sums : list of ndarray
            ``(batch, size)`` per summed probe: the sum over the steps.
        """
        batch = data[0].shape[0] if data else 1
        window = self._compiled_window(batch)
        carry = [
            np.broadcast_to(self.initial[b], (batch, b.size)).astype(self.dtype)
            for b in self.carried
        ]
        sums = [np.zeros((batch, s.size), self.dtype) for s in self.sum_signals]
        data = [np.asarray(d, dtype=self.dtype) for d in data]
        ks = np.arange(1, n_steps + 1, dtype="int32")
        _, sums, probes = window(carry, sums, data, ks)
        probes = [np.swapaxes(keras.ops.convert_to_numpy(p), 0, 1) for p in probes]
        return probes, [np.asarray(keras.ops.convert_to_numpy(s), np.float64) for s in sums]


def _check_dtype(dtype):
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype={dtype!r}: expected 'float32' or 'float64'")
    if dtype == "float64" and keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            raise ValueError(
                "dtype='float64' on the JAX backend needs 64-bit JAX: call "
                "jax.config.update('jax_enable_x64', True) first (or use float32)"
            )


def _scan(body, init, ks, out_shapes, dtype):
    """``jax.lax.scan`` semantics (stacked per-step outputs), per backend;
    ``keras.ops.scan`` needs the outputs shaped like the carry."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.lax.scan(body, init, ks)
    if backend == "tensorflow":
        import tensorflow as tf

        n = ks.shape[0]
        arrays = [tf.TensorArray(dtype, size=n, element_shape=shape) for shape in out_shapes]

        def loop(i, carry, arrays):
            carry, ys = body(carry, ks[i])
            return i + 1, carry, [a.write(i, y) for a, y in zip(arrays, ys)]

        _, carry, arrays = tf.while_loop(lambda i, *_: i < n, loop, (0, init, arrays))
        return carry, [a.stack() for a in arrays]
    carry, outs = init, []
    for k in ks:
        carry, ys = body(carry, k)
        outs.append(ys)
    return carry, [ops.stack(y) for y in zip(*outs)] if outs else []


def _compile(fn, host, jit_compile=None):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        if jit_compile is None:
            # measured on 2 CPU cores: TensorFlow's oneDNN graph kernels run the
            # VGG benchmark about 2x faster than XLA's CPU convolutions
            jit_compile = bool(tf.config.list_physical_devices("GPU"))
        # XLA cannot compile host callbacks (tf.numpy_function)
        return tf.function(
            fn, jit_compile=jit_compile and not host, autograph=False,
            reduce_retracing=True,
        )
    return fn


def run_plan(plan, inputs, n_steps, *, minibatch_size=None, progress_bar=False,
             executor=None, on_sums=None):
    """Simulate every sample of ``inputs`` with ``plan``, a minibatch at a time.

    Returns and calls ``on_sums`` like `nengo_keras.run.executors.run_plan`. The
    last minibatch is padded with zeros (padded samples are dropped), so one
    compiled function serves every minibatch. Only one minibatch's state and
    inputs are on the device at a time. ``plan.sim_kwargs`` may hold
    ``dtype`` and ``jit_compile`` (see `Program`).
    """
    options = dict(plan.sim_kwargs)
    dtype = options.pop("dtype", "float32")
    jit_compile = options.pop("jit_compile", None)
    if options:
        raise TypeError(
            f"simulator='keras' got unexpected keyword arguments {sorted(options)}; "
            f"it takes dtype and jit_compile"
        )
    if executor not in (None, "serial"):
        warnings.warn(
            "simulator='keras' runs minibatches itself; executor is ignored",
            UserWarning,
            stacklevel=3,
        )
    program = Program(plan, dtype=dtype, jit_compile=jit_compile)
    batch = inputs[0].shape[0]
    size = int(minibatch_size or min(batch, 32))
    outputs = [np.zeros((batch, n_steps) + s) for s in plan.shapes]
    with _progress(progress_bar, batch, "samples (keras)") as progress:
        for start in range(0, batch, size):
            stop = min(start + size, batch)
            data = [_padded(a[start:stop], size) for a in inputs]
            probes, sums = program.run(data, n_steps)
            n = stop - start
            for out, p, shape in zip(outputs, probes, plan.shapes):
                out[start:stop] = p[:n].reshape((n, n_steps) + shape)
            if on_sums is not None:
                on_sums([s[:n] for s in sums])
            progress(n)
    return outputs


def _padded(data, size):
    """``(size, T, features)``: constant data gets T=1; zero rows pad the batch."""
    if data.ndim == 2:
        data = data[:, None, :]
    if data.shape[0] == size:
        return data
    padded = np.zeros((size,) + data.shape[1:], dtype=data.dtype)
    padded[: data.shape[0]] = data
    return padded


register_engine(Engine(is_keras, run_plan))
