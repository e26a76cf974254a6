"""SimpleRNN, GRU and LSTM: NumPy Nodes that run the whole recurrence.

In a model that is not temporal, a recurrent layer maps one input sequence
``(time, features)`` to one output (the last step or the whole sequence), so
it is a function of the sample like any other layer. Its gates multiply
signals, which no linear connection can do, so it is a NumPy Node ("node"
tier) that unrolls Keras' equations over the sequence: the network holds the
weights as arrays and needs no Keras at run time. Masks (from ``Masking`` or
``Embedding(mask_zero=True)``), ``go_backwards``, ``return_sequences``,
``return_state`` and initial states given as inputs follow Keras; stateful
layers (whose state carries over between batches) are reported.
"""

from __future__ import annotations

import keras
import numpy as np
import scipy.special

from ..conversion.activation_map import canonical_name
from ..conversion.registry import register
from ._lib import numpy_ref

_FUNCTIONS = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": scipy.special.expit,
    "relu": lambda x: np.maximum(x, 0.0),
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "hard_tanh": lambda x: np.clip(x, -1.0, 1.0),
}


class Recurrence:
    """``f(sequence, [mask], [initial states...])`` for one recurrent layer.

    ``step(x_t, states) -> (output, states)`` is the cell; everything else
    (direction, masks, which outputs) is shared by the three layer types.
    """

    def __init__(self, layer, cell, has_mask, n_initial):
        self.cell = cell
        self.units = layer.cell.units
        self.go_backwards = bool(layer.go_backwards)
        self.return_sequences = bool(layer.return_sequences)
        self.return_state = bool(layer.return_state)
        self.zero_output_for_mask = bool(layer.zero_output_for_mask)
        self.has_mask = has_mask
        self.n_initial = n_initial

    def __call__(self, x, *rest):
        rest = list(rest)
        keep = np.asarray(rest.pop(0)) > 0.5 if self.has_mask else None
        states = [np.array(s, dtype=np.float64) for s in rest[: self.n_initial]]
        if not states:
            states = [np.zeros(size) for size in self.cell.state_sizes]
        steps = range(x.shape[0] - 1, -1, -1) if self.go_backwards else range(x.shape[0])
        outputs = []
        for t in steps:
            out, new = self.cell.step(x[t], states)
            if keep is not None and not keep[t]:
                out = np.zeros_like(out) if self.zero_output_for_mask else states[0]
                new = states
            outputs.append(out)
            states = new
        seq = np.stack(outputs) if outputs else np.zeros((0, self.units))
        first = seq.ravel() if self.return_sequences else seq[-1]
        if not self.return_state:
            return first
        return np.concatenate([first] + [s.ravel() for s in states])


class SimpleCell:
    def __init__(self, kernel, recurrent, bias, activation):
        self.kernel, self.recurrent, self.bias = kernel, recurrent, bias
        self.activation = activation
        self.state_sizes = [kernel.shape[1]]

    def step(self, x, states):
        h = _FUNCTIONS[self.activation](x @ self.kernel + states[0] @ self.recurrent + self.bias)
        return h, [h]


class LSTMCell:
    def __init__(self, kernel, recurrent, bias, activation, recurrent_activation):
        self.kernel, self.recurrent, self.bias = kernel, recurrent, bias
        self.activation, self.recurrent_activation = activation, recurrent_activation
        units = kernel.shape[1] // 4
        self.state_sizes = [units, units]

    def step(self, x, states):
        h, c = states
        act, gate = _FUNCTIONS[self.activation], _FUNCTIONS[self.recurrent_activation]
        z = x @ self.kernel + h @ self.recurrent + self.bias
        i, f, g, o = np.split(z, 4)
        c = gate(f) * c + gate(i) * act(g)
        h = gate(o) * act(c)
        return h, [h, c]


class GRUCell:
    def __init__(self, kernel, recurrent, bias, activation, recurrent_activation, reset_after):
        self.kernel, self.recurrent = kernel, recurrent
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.reset_after = reset_after
        units = kernel.shape[1] // 3
        bias = np.zeros((2, 3 * units)) if bias is None else np.asarray(bias)
        if bias.ndim == 1:  # reset_after=False: one bias for the inputs only
            bias = np.stack([bias, np.zeros_like(bias)])
        self.input_bias, self.recurrent_bias = bias
        self.state_sizes = [units]

    def step(self, x, states):
        (h,) = states
        act, gate = _FUNCTIONS[self.activation], _FUNCTIONS[self.recurrent_activation]
        u = h.size
        x_z, x_r, x_h = np.split(x @ self.kernel + self.input_bias, 3)
        if self.reset_after:
            r_z, r_r, r_h = np.split(h @ self.recurrent + self.recurrent_bias, 3)
            z, r = gate(x_z + r_z), gate(x_r + r_r)
            candidate = act(x_h + r * r_h)
        else:
            z = gate(x_z + h @ self.recurrent[:, :u])
            r = gate(x_r + h @ self.recurrent[:, u : 2 * u])
            candidate = act(x_h + (r * h) @ self.recurrent[:, 2 * u :])
        h = z * h + (1.0 - z) * candidate
        return h, [h]


def _activation(ctx, layer, name):
    fn = getattr(layer.cell, name)
    canonical = canonical_name(fn)
    if canonical not in _FUNCTIONS:
        ctx.unsupported(
            f"{name}={getattr(fn, '__name__', fn)!r}; the recurrent converter knows "
            f"{', '.join(sorted(_FUNCTIONS))}",
            "use one of those, or allow the fallback",
        )
    return canonical


def _cell(ctx, layer):
    cell = layer.cell
    kernel = ctx.weight(cell, "kernel")
    recurrent = ctx.weight(cell, "recurrent_kernel")
    bias = ctx.weight(cell, "bias") if cell.use_bias else None
    act = _activation(ctx, layer, "activation")
    if isinstance(layer, keras.layers.SimpleRNN):
        return SimpleCell(kernel, recurrent, 0.0 if bias is None else bias, act)
    gate = _activation(ctx, layer, "recurrent_activation")
    if isinstance(layer, keras.layers.LSTM):
        return LSTMCell(kernel, recurrent, 0.0 if bias is None else bias, act, gate)
    return GRUCell(kernel, recurrent, bias, act, gate, bool(cell.reset_after))


def convert_recurrent(layer, ctx, x, *rest, **_):
    """A NumPy Node running the layer over each sample's sequence."""
    if layer.stateful:
        ctx.unsupported(
            "stateful=True (its state carries over from one batch to the next)",
            "convert a copy built with stateful=False and the same weights",
        )
    if ctx.timed:
        ctx.unsupported(
            "a recurrent layer inside a temporal model (its time axis would be "
            "Nengo's)",
            "build the recurrence from nengo_keras.layers, or allow the fallback",
        )
    if getattr(layer.cell, "quantization_mode", None):
        ctx.unsupported("quantized weights", "convert the model before quantizing it")
    values = [x, *rest]
    args, kwargs = ctx.call_arguments([numpy_ref.Slot(i) for i in range(len(values))])
    args = list(args) + [None] * 3
    sequence = kwargs.get("sequences", args[0])
    initial = kwargs.get("initial_state", args[1])
    mask = kwargs.get("mask", args[2])
    slots = [sequence] + ([] if mask is None else [mask])
    slots += [a for a in keras.tree.flatten(initial)] if initial is not None else []
    if not all(isinstance(a, numpy_ref.Slot) for a in slots):
        ctx.unsupported("constant initial states or masks", "allow the fallback")
    inputs = [values[a.index] for a in slots]
    n_initial = len(slots) - 1 - (mask is not None)
    has_mask = mask is not None
    fn = Recurrence(layer, _cell(ctx, layer), has_mask, n_initial)
    return ctx.outputs_node(fn, inputs)


class BidirectionalRecurrence:
    """A forward and a backward `Recurrence` over one sequence, merged as
    `keras.layers.Bidirectional` merges them (the backward outputs put back
    in time order)."""

    def __init__(self, forward, backward, merge_mode, sequences):
        self.forward, self.backward = forward, backward
        self.merge_mode = merge_mode
        self.sequences = sequences

    def __call__(self, x, *mask):
        y, y_rev = self.forward(x, *mask), self.backward(x, *mask)
        if self.sequences:
            y = y.reshape(x.shape[0], -1)
            y_rev = y_rev.reshape(x.shape[0], -1)[::-1]
        if self.merge_mode == "concat":
            out = np.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            out = y + y_rev
        elif self.merge_mode == "ave":
            out = (y + y_rev) / 2.0
        elif self.merge_mode == "mul":
            out = y * y_rev
        else:  # None: two outputs
            return np.concatenate([y.ravel(), y_rev.ravel()])
        return out.ravel()


@register(keras.layers.Bidirectional)
def convert_bidirectional(layer, ctx, x, *rest, **_):
    """One NumPy Node for both directions (recurrent layers only)."""
    forward, backward = layer.forward_layer, layer.backward_layer
    rnn = (keras.layers.SimpleRNN, keras.layers.GRU, keras.layers.LSTM)
    if not (isinstance(forward, rnn) and isinstance(backward, rnn)):
        ctx.unsupported(
            f"a wrapped {type(forward).__name__}; nengo_keras converts wrapped "
            f"SimpleRNN, GRU and LSTM layers",
            "allow the fallback",
        )
    if layer.return_state or len(rest) > 1 or forward.stateful or ctx.timed:
        ctx.unsupported(
            "return_state, initial states, stateful layers or a temporal model",
            "allow the fallback",
        )
    parts = [
        Recurrence(sub, _cell(ctx, sub), bool(rest), 0) for sub in (forward, backward)
    ]
    fn = BidirectionalRecurrence(*parts, layer.merge_mode, layer.return_sequences)
    return ctx.outputs_node(fn, [x, *rest])


for _cls in (keras.layers.SimpleRNN, keras.layers.GRU, keras.layers.LSTM):
    register(_cls, convert_recurrent)
