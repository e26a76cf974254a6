"""Nodes (`SimPyFunc` operators) in `nengo_keras.run.keras_engine`.

Four paths, from fastest to slowest, chosen per Node:

- ``"input"``: a model input fed by `ConvertedModel.run`: the minibatch's data.
- ``"keras"``: a fallback Node calling a Keras layer or function
  (`KerasCall`, `KerasFunction`): called on the whole minibatch inside the
  compiled function.
- ``"keras-ops"``: a node-tier activation that ``keras.ops`` computes with the
  same formula (softmax, log-softmax, elu, selu, gelu, silu, softplus,
  softsign): in the compiled function too.
- ``"numpy-batched"``: a node-tier NumPy function (`Batched`, which follows
  Keras' batched semantics): called once per step on the whole minibatch, on
  the host.
- ``"numpy-per-sample"``: any other function ``f(t, x)``: called once per
  sample and step on the host, exactly as `nengo.Simulator` calls it.

Nodes whose function takes only the time (``f(t)``) run once per step on the
host (``"host-time"``) and give every sample the same value.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ._keras_ops import unsupported
from ._keras_signals import batched
from ..conversion.graph import inference_kwargs, integer_dtype
from ..conversion.node_functions import InputFeed, KerasFunction, NodeFunction
from ..converters._lib.numpy_ref import Batched, Slot
from ..converters.fallback import KerasCall


class NodeOps:
    """Runs the Node operators of a `Program`."""

    def __init__(self, program, feeds):
        self.program = program
        self.feeds = feeds
        self.paths = {}
        self.host = False

    def path(self, op):
        fn = op.fn
        if id(fn) in self.feeds:
            return "input"
        if op.x is None:
            return "host-time"
        inner = fn.fn if isinstance(fn, NodeFunction) else None
        if isinstance(inner, (KerasCall, KerasFunction)):
            return "keras"
        if isinstance(inner, Batched):
            return "keras-ops" if _in_graph(fn) is not None else "numpy-batched"
        return "numpy-per-sample"

    def check(self, op):
        if op.output is None:
            raise unsupported(op, "a Node without output (a function called for its effect)")
        if isinstance(op.fn, InputFeed) and id(op.fn) not in self.feeds:
            raise unsupported(op, "an input Node that is not an input of this run")
        path = self.path(op)
        self.paths[_label(op)] = path
        self.host = self.host or path.startswith(("numpy", "host"))

    def run(self, op, state, k, data):
        path = self.path(op)
        prog = self.program
        if path == "input":
            feed = data[self.feeds[id(op.fn)]]
            row = ops.minimum(k - 1, feed.shape[1] - 1)
            y = ops.take(feed, row, axis=1)
        elif path == "keras":
            x = ops.reshape(batched(state.read(op.x), prog.batch, state.dtype), (prog.batch, -1))
            y = _keras_call(op.fn, x, state.dtype)
        elif path == "keras-ops":
            x = ops.reshape(batched(state.read(op.x), prog.batch, state.dtype),
                            (prog.batch,) + op.fn.in_shapes[0])
            y = _in_graph(op.fn)(x)
        elif path == "host-time":
            call = _TimeCall(op.fn, prog.dt, op.output.size)
            y = _host(call, [k], (op.output.size,), state.dtype)
            y = ops.broadcast_to(y[None], (prog.batch, op.output.size))
        else:
            x = ops.reshape(batched(state.read(op.x), prog.batch, state.dtype), (prog.batch, -1))
            call = _BatchCall(op.fn, prog.dt, op.output.size, path == "numpy-batched")
            y = _host(call, [k, x], (prog.batch, op.output.size), state.dtype)
        state.write(op.output, ops.reshape(y, (prog.batch, op.output.size)))


def _softmax(fn, axis=-1, mask=None):
    if mask is None and isinstance(axis, int):
        return lambda x: fn(x, axis=axis)
    return None


# NumPy activations of the node tier whose keras.ops twin computes the same
# formula, with the parameters they accept (others stay on the host)
_KERAS_TWINS = {
    "softmax": lambda axis=-1, mask=None: _softmax(ops.softmax, axis, mask),
    "log_softmax": lambda axis=-1: _softmax(ops.log_softmax, axis),
    "elu": lambda alpha=1.0: lambda x: ops.elu(x, alpha=alpha),
    "selu": lambda: ops.selu,
    "gelu": lambda approximate=False: lambda x: ops.gelu(x, approximate=approximate),
    "silu": lambda: ops.silu,
    "softplus": lambda: ops.softplus,
    "softsign": lambda: ops.softsign,
}


def _in_graph(fn):
    """The ``keras.ops`` function computing a one-input `Batched` Node
    function, or None."""
    inner = fn.fn
    make = _KERAS_TWINS.get(getattr(inner.fn, "__name__", None))
    if make is None or inner.args is not None or len(fn.in_shapes) != 1:
        return None
    try:
        return make(**inner.kwargs)
    except TypeError:  # parameters the twin does not take
        return None


def _label(op):
    return str(op.output.name).rsplit(".", 1)[0]


def _keras_call(fn, x, dtype):
    """A `NodeFunction` around Keras, called on a batched tensor in the graph."""
    inner = fn.fn
    sizes = [int(np.prod(s)) for s in fn.in_shapes]
    parts, start = [], 0
    for size, shape in zip(sizes, fn.in_shapes):
        parts.append(ops.reshape(x[:, start : start + size], (-1,) + shape))
        start += size
    if isinstance(inner, KerasFunction):
        out = inner.fn(*[ops.cast(p, "float32") for p in parts])
        return ops.reshape(ops.cast(out, dtype), (ops.shape(x)[0], -1))
    lead = 1 if inner.timed else 0
    tensors = {
        id(kt): _graph_tensor(ops.expand_dims(p, 1) if lead else p, kt.dtype)
        for kt, p in zip(inner.graph_node.input_tensors, parts)
    }
    args, kwargs = inner.graph_node.fill_in(tensors)
    kwargs = inference_kwargs(inner.op, kwargs)
    outputs = keras.tree.flatten(inner.op(*args, **kwargs))
    flat = [
        ops.reshape(ops.cast(o[:, 0] if lead else o, dtype), (ops.shape(x)[0], -1))
        for o in outputs
    ]
    return flat[0] if len(flat) == 1 else ops.concatenate(flat, axis=1)


def _graph_tensor(x, dtype):
    int_type = integer_dtype(dtype)
    if int_type:  # indices and flags travel through Nengo as floats
        return ops.cast(ops.round(x), int_type)
    dtype = keras.backend.standardize_dtype(dtype or "float32")
    return ops.cast(x, dtype if "float" in dtype else "float32")


class _TimeCall:
    def __init__(self, fn, dt, size):
        self.fn, self.dt, self.size = fn, dt, size

    def __call__(self, k):
        return np.asarray(self.fn(float(k) * self.dt), dtype=np.float64).reshape(self.size)


class _BatchCall:
    """A Node function on a minibatch: vectorised for `Batched`, else per sample."""

    def __init__(self, fn, dt, size, vectorised):
        self.fn, self.dt, self.size, self.vectorised = fn, dt, size, vectorised

    def __call__(self, k, x):
        t = float(k) * self.dt
        x = np.asarray(x, dtype=np.float64)
        if self.vectorised:
            return _call_batched(self.fn, x).reshape(x.shape[0], self.size)
        out = np.empty((x.shape[0], self.size))
        for i in range(x.shape[0]):
            out[i] = np.asarray(self.fn(t, x[i]), dtype=np.float64).ravel()
        return out


def _call_batched(fn, x):
    """`NodeFunction` around `Batched` on ``(batch, size_in)``: the NumPy
    function sees the real batch axis instead of a batch of one."""
    batched_fn = fn.fn
    arrays = [
        p.reshape((x.shape[0],) + s)
        for p, s in zip(np.split(x, fn.splits, axis=1), fn.in_shapes)
    ]

    def fill(a):
        return arrays[a.index] if isinstance(a, Slot) else a

    args = arrays if batched_fn.args is None else [fill(a) for a in batched_fn.args]
    kwargs = {key: fill(v) for key, v in batched_fn.kwargs.items()}
    return np.asarray(batched_fn.fn(*args, **kwargs), dtype=np.float64)


def _host(fn, args, shape, dtype):
    """``fn(*numpy arrays)`` on the host from inside the compiled step."""
    backend = keras.backend.backend()

    def call(*arrays):
        return np.asarray(fn(*arrays), dtype=dtype).reshape(shape)

    if backend == "jax":
        import jax

        return jax.pure_callback(call, jax.ShapeDtypeStruct(shape, dtype), *args)
    if backend == "tensorflow":
        import tensorflow as tf

        out = tf.numpy_function(call, list(args), Tout=dtype, stateful=False)
        out.set_shape(shape)
        return out
    return ops.convert_to_tensor(call(*[ops.convert_to_numpy(a) for a in args]))
