"""Nengo's operators on batched Keras tensors, for `nengo_keras.run.keras_engine`.

Each function takes one built operator and a `State` and does what the
operator's ``make_step`` does in `nengo.Simulator`, on every sample of the
minibatch at once, with the same arithmetic in the same order (so that rate
networks agree to rounding and spiking ones spike at the same steps, apart
from ties the floating-point precision decides).
"""

from __future__ import annotations

import nengo
import numpy as np
import scipy.sparse as sp
from keras import ops
from nengo.builder import operator as op_types
from nengo.builder.neurons import SimNeurons
from nengo.builder.processes import SimProcess
from nengo.builder.transforms import ConvInc, ConvTransposeInc

from ..converters._lib.windows import conv_matrix
from ._keras_signals import batched


class UnsupportedOperator(NotImplementedError):
    """An operator (neuron type, process, ...) the Keras engine cannot run."""


def unsupported(op, what):
    return UnsupportedOperator(
        f"simulator='keras' cannot run {what} (in operator {op}); run this network "
        f"with the reference simulator (simulator=None) instead"
    )


# --- linear operators ---------------------------------------------------------


def reset(op, state, ctx):
    if float(op.value) == 0.0:
        state.set_zero(op.dst)
        return
    shape = (ctx.batch, op.dst.size)
    state.write(op.dst, ops.full(shape, float(op.value), dtype=state.dtype))


def copy(op, state, ctx):
    if op.inc and state.is_zero(op.src):
        return
    src = _flat(state.read(op.src), op.src.size, ctx.batch)
    if op.src_slice is not None:
        src = ops.take(src, np.arange(op.src.size)[op.src_slice], axis=1)
    sub = None
    if op.dst_slice is not None:
        sub = np.arange(op.dst.size)[op.dst_slice]
    state.write(op.dst, src, inc=op.inc, sub=sub)


def _flat(x, size, batch):
    x = batched(x, batch, None if not isinstance(x, np.ndarray) else x.dtype)
    return ops.reshape(x, (-1, size))


def elementwise_inc(op, state, ctx):
    if state.is_zero(op.A) or state.is_zero(op.X):
        return
    a, x = state.read(op.A), state.read(op.X)
    if isinstance(a, np.ndarray) and isinstance(x, np.ndarray):
        product = batched(a * x, ctx.batch, state.dtype)
    else:
        rank = max(len(op.A.shape), len(op.X.shape), len(op.Y.shape))
        product = _align(a, op.A.shape, rank) * _align(x, op.X.shape, rank)
        product = ops.broadcast_to(product, (ctx.batch,) + _pad(op.Y.shape, rank))
    state.write(op.Y, ops.reshape(product, (ctx.batch, op.Y.size)), inc=True)


def _pad(shape, rank):
    return (1,) * (rank - len(shape)) + tuple(shape)


def _align(x, shape, rank):
    """``x`` (constant or batched) shaped for numpy-style broadcasting with a
    batch axis in front."""
    if isinstance(x, np.ndarray):
        return x.reshape((1,) + _pad(shape, rank))
    return ops.reshape(x, (-1,) + _pad(shape, rank))


def dot_inc(op, state, ctx):
    if state.is_zero(op.A) or state.is_zero(op.X):
        return
    a, x = state.read(op.A), state.read(op.X)
    if not isinstance(a, np.ndarray):
        raise unsupported(op, "a DotInc with a time-varying matrix")
    if isinstance(x, np.ndarray):
        y = batched(np.asarray(a.dot(x)), ctx.batch, state.dtype)
    elif a.ndim == 2:
        y = ops.matmul(x, a.T)
    elif a.ndim < 2:
        y = x * a if a.ndim == 1 else x * float(a)
        if a.ndim == 1:
            y = ops.sum(y, axis=-1, keepdims=True)
    else:
        raise unsupported(op, f"a DotInc with a {a.ndim}-d matrix")
    state.write(op.Y, ops.reshape(y, (ctx.batch, op.Y.size)), inc=True)


class SparseMatrix:
    """``x @ A.T`` for a constant scipy sparse ``A``: a gather of each row's
    nonzeros (padded to the longest row) where rows have similar lengths,
    else a segment sum."""

    def __init__(self, matrix, dtype):
        m = sp.csr_matrix(matrix)
        m.sum_duplicates()
        self.shape = m.shape
        lengths = np.diff(m.indptr)
        width = int(lengths.max()) if lengths.size else 0
        self.padded = width * m.shape[0] <= 2 * max(m.nnz, 1)
        if self.padded:
            cols = np.zeros((m.shape[0], width), dtype=np.int64)
            vals = np.zeros((m.shape[0], width), dtype=dtype)
            for r in range(m.shape[0]):
                s, e = m.indptr[r], m.indptr[r + 1]
                cols[r, : e - s] = m.indices[s:e]
                vals[r, : e - s] = m.data[s:e]
            self.cols, self.vals = cols, vals
        else:
            coo = m.tocoo()
            self.rows, self.cols, self.vals = coo.row, coo.col, coo.data.astype(dtype)

    def __call__(self, x):
        if self.padded:
            gathered = ops.take(x, self.cols.ravel(), axis=1)
            gathered = ops.reshape(gathered, (-1,) + self.cols.shape)
            return ops.sum(gathered * self.vals, axis=-1)
        terms = ops.take(x, self.cols, axis=1) * self.vals
        summed = ops.segment_sum(
            ops.transpose(terms), self.rows, num_segments=self.shape[0]
        )
        return ops.transpose(summed)


def sparse_dot_inc(op, state, ctx):
    if state.is_zero(op.X):
        return
    x = state.read(op.X)
    if not state.is_constant(op.A):
        raise unsupported(op, "a SparseDotInc with a time-varying matrix")
    matrix = ctx.cached(op, lambda: SparseMatrix(op.A.initial_value, state.dtype))
    x = _flat(x, op.X.size, ctx.batch)
    state.write(op.Y, matrix(ops.cast(x, state.dtype)), inc=True)


def conv_inc(op, state, ctx):
    if state.is_zero(op.X):
        return
    conv = op.conv
    x = _flat(state.read(op.X), op.X.size, ctx.batch)
    if not state.is_constant(op.W):
        raise unsupported(op, "a convolution with time-varying weights")
    if isinstance(op, ConvTransposeInc) or ctx.sparse_convs:
        matrix = ctx.cached(op, lambda: SparseMatrix(
            conv_as_matrix(conv, state.constant(op.W)), state.dtype))
        y = matrix(x)
    else:
        y = _dense_conv(conv, state.constant(op.W).astype(state.dtype), x)
    state.write(op.Y, ops.reshape(y, (ctx.batch, op.Y.size)), inc=True)


def _dense_conv(conv, kernel, x):
    x = ops.reshape(x, (-1,) + tuple(conv.input_shape.shape))
    if not conv.channels_last:
        # TensorFlow's CPU kernels only convolve channels-last data
        x = ops.moveaxis(x, 1, -1)
    y = ops.conv(x, kernel, strides=conv.strides, padding=conv.padding, data_format="channels_last")
    if not conv.channels_last:
        y = ops.moveaxis(y, -1, 1)
    return y


def conv_as_matrix(conv, kernel):
    """The ``(output size, input size)`` sparse matrix of a Nengo (transposed)
    convolution with weights ``kernel``."""
    axis = conv.dimensions if conv.channels_last else 0
    ones = (1,) * conv.dimensions
    if not isinstance(conv, nengo.transforms.ConvolutionTranspose):
        return conv_matrix(
            conv.input_shape.shape, conv.output_shape.shape, kernel, conv.strides,
            conv.padding, ones, conv.groups, axis,
        )
    # a transposed convolution is the transpose of the convolution from its
    # output shape to its input shape, each group's kernel axes swapped
    groups, c_in, c_out = conv.groups, conv.input_shape.n_channels, conv.n_filters
    per_in, per_out = c_in // groups, c_out // groups
    swapped = np.zeros(conv.kernel_size + (per_out, c_in))
    for g in range(groups):
        block = kernel[..., :, g * per_out : (g + 1) * per_out]
        swapped[..., :, g * per_in : (g + 1) * per_in] = np.swapaxes(block, -1, -2)
    forward = conv_matrix(
        conv.output_shape.shape, conv.input_shape.shape, swapped, conv.strides,
        conv.padding, ones, groups, axis,
    )
    return sp.csr_matrix(forward.T)


# --- neurons ------------------------------------------------------------------


def sim_neurons(op, state, ctx):
    neurons = op.neurons
    step = _NEURON_STEPS.get(type(neurons))
    if step is None:
        raise unsupported(op, f"{type(neurons).__name__} neurons")
    j = ops.cast(_flat(state.read(op.J), op.J.size, ctx.batch), state.dtype)
    values = {name: _flat(state.read(sig), sig.size, ctx.batch) for name, sig in op.state.items()}
    out, values = step(neurons, ctx.dt, j, **values)
    state.write(op.output, out)
    for name, sig in op.state.items():
        state.write(sig, values[name])


def _rectified_linear(n, dt, j):
    return n.amplitude * ops.maximum(0.0, j), {}


def _spiking_rectified_linear(n, dt, j, voltage):
    voltage = voltage + ops.maximum(j, 0.0) * dt
    spikes = ops.floor(voltage)
    return (n.amplitude / dt) * spikes, {"voltage": voltage - spikes}


def _regular_spiking(n, dt, j, voltage):
    voltage = voltage + dt * j
    spikes = ops.floor(voltage)
    return (n.amplitude / dt) * spikes, {"voltage": voltage - spikes}


def _sigmoid(n, dt, j):
    return (1.0 / n.tau_ref) / (1 + ops.exp(-j)), {}


def _tanh(n, dt, j):
    return (1.0 / n.tau_ref) * ops.tanh(j), {}


def _lif_rate(n, dt, j):
    j = j - 1
    positive = j > 0
    safe = ops.where(positive, j, ops.ones_like(j))
    rate = n.amplitude / (n.tau_ref + n.tau_rc * ops.log1p(1.0 / safe))
    return ops.where(positive, rate, ops.zeros_like(rate)), {}


def _lif(n, dt, j, voltage, refractory_time):
    refractory_time = refractory_time - dt
    delta_t = ops.clip(dt - refractory_time, 0, dt)
    voltage = voltage - (j - voltage) * ops.expm1(-delta_t / n.tau_rc)
    spiked = voltage > 1
    out = ops.cast(spiked, voltage.dtype) * (n.amplitude / dt)
    # where nothing spiked the log's argument is replaced by a harmless 0
    ratio = ops.where(spiked, -(voltage - 1) / (j - 1), ops.zeros_like(j))
    t_spike = dt + n.tau_rc * ops.log1p(ratio)
    voltage = ops.where(voltage < n.min_voltage, n.min_voltage, voltage)
    voltage = ops.where(spiked, ops.zeros_like(voltage), voltage)
    refractory_time = ops.where(spiked, n.tau_ref + t_spike, refractory_time)
    return out, {"voltage": voltage, "refractory_time": refractory_time}


_NEURON_STEPS = {
    nengo.RectifiedLinear: _rectified_linear,
    nengo.SpikingRectifiedLinear: _spiking_rectified_linear,
    nengo.RegularSpiking: _regular_spiking,
    nengo.Sigmoid: _sigmoid,
    nengo.Tanh: _tanh,
    nengo.LIFRate: _lif_rate,
    nengo.LIF: _lif,
}


# --- processes (synapses) -------------------------------------------------------


def sim_process(op, state, ctx):
    process = op.process
    if op.input is None:
        raise unsupported(op, f"the input-less process {process}")
    u = ops.cast(_flat(state.read(op.input), op.input.size, ctx.batch), state.dtype)
    if isinstance(process, nengo.LinearFilter):
        y, new = _linear_filter(op, state, ctx, u)
    elif type(process).__name__ == "RegularSpikingProcess":
        voltage = _flat(state.read(op.state["voltage"]), u.shape[1], ctx.batch) + u * ctx.dt
        spikes = ops.floor(voltage)
        y, new = (1.0 / ctx.dt) * spikes, {"voltage": voltage - spikes}
    else:
        raise unsupported(op, f"the process {process}")
    if op.mode == "inc":
        state.write(op.output, y, inc=True)
    else:
        state.write(op.output, y)
    for name, value in new.items():
        state.write(op.state[name], value)


def _linear_filter(op, state, ctx, u):
    a, b, c, d = (np.asarray(m, dtype=np.float64) for m in op.process._get_ss(ctx.dt))
    if a.size == 0:  # no state: y = d u
        return float(d.item()) * u, {}
    n_x, size = a.shape[0], op.input.size
    x = ops.reshape(state.read(op.state["X"]), (-1, n_x, size))
    if n_x == 1 and (d == 0).all():
        # as Nengo's OneX step: scale the state, then add the input's share
        x = float(a.item()) * x[:, 0] + float(c.item() * b.item()) * u
        return x, {"X": x}
    ax = ops.einsum("ij,bjn->bin", a.astype(state.dtype), x)
    bu = b.astype(state.dtype).reshape(1, n_x, 1) * u[:, None, :]
    if (d == 0).all():  # Nengo's NoD: the input reaches the output at once
        x = ax + bu
        y = ops.einsum("j,bjn->bn", c[0].astype(state.dtype), x)
    else:
        y = ops.einsum("j,bjn->bn", c[0].astype(state.dtype), x) + float(d.item()) * u
        x = ax + bu
    return y, {"X": ops.reshape(x, (-1, n_x * size))}


def check_supported(op):
    """Raise `UnsupportedOperator` for what `sim_neurons` and `sim_process`
    cannot run, before anything is traced."""
    if isinstance(op, SimNeurons) and type(op.neurons) not in _NEURON_STEPS:
        raise unsupported(op, f"{type(op.neurons).__name__} neurons")
    if isinstance(op, SimProcess):
        process = op.process
        if op.input is None:
            raise unsupported(op, f"the input-less process {process}")
        if not (isinstance(process, nengo.LinearFilter)
                or type(process).__name__ == "RegularSpikingProcess"):
            raise unsupported(op, f"the process {process}")


OPERATORS = {
    op_types.Reset: reset,
    op_types.Copy: copy,
    op_types.ElementwiseInc: elementwise_inc,
    op_types.DotInc: dot_inc,
    op_types.SparseDotInc: sparse_dot_inc,
    ConvInc: conv_inc,
    ConvTransposeInc: conv_inc,
    SimNeurons: sim_neurons,
    SimProcess: sim_process,
}
