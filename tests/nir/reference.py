"""A small NumPy simulator of NIR graphs exported with ``time_unit="step"``.

It steps the graph the way Nengo steps the network it came from (integrate
the rectified input, emit ``floor(v / threshold)`` spikes, subtract them;
exponential synapse decay, with the synapse's output one step late), so an exported graph must reproduce the Nengo
network's outputs exactly. It is a test oracle for the export's weights,
layouts and units, written from NIR's node definitions, not from the exporter.
"""

import nir
import numpy as np


def simulate(graph, x, n_steps):
    """Outputs of every ``nir.Output`` for one sample (Keras layout, channels
    last) held for ``n_steps``."""
    order = _order(graph)
    inputs = {k: [a for a, b in graph.edges if b == k] for k in graph.nodes}
    state = {}
    outputs = {k: [] for k, n in graph.nodes.items() if isinstance(n, nir.Output)}
    for _ in range(n_steps):
        values = {}
        for key in order:
            node = graph.nodes[key]
            if isinstance(node, nir.Input):
                values[key] = _layout(x, node.output_type["output"])
                continue
            u = sum(values[k] for k in inputs[key])
            values[key] = _step(node, u, state, key)
            if key in outputs:
                outputs[key].append(np.ravel(values[key]))
    return {k: np.array(v) for k, v in outputs.items()}


def _layout(x, shape):
    """A Keras channels-last sample in NIR's layout (flat, or channels first)."""
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(-1) if len(shape) == 1 else np.moveaxis(x, -1, 0)


def _step(node, u, state, key):
    if isinstance(node, nir.Affine):
        return node.weight @ u + node.bias
    if isinstance(node, nir.Linear):
        return node.weight @ u
    if isinstance(node, nir.Scale):
        return u * node.scale
    if isinstance(node, (nir.Flatten, nir.Output)):
        return np.ravel(u) if isinstance(node, nir.Flatten) else u
    if isinstance(node, nir.Conv2d):
        return conv2d(u, node)
    if isinstance(node, nir.LI):
        return _synapse(state, key, node.tau, node.r * u)
    if isinstance(node, nir.IF):
        return _fire(state, key, node.r * u, node.v_threshold)
    if isinstance(node, nir.CubaLIF):
        current = _synapse(state, key + ".i", node.tau_syn, node.w_in * u)
        assert np.all(node.tau_mem >= 1e6), "the oracle has integrating membranes only"
        return _fire(state, key, node.r / node.tau_mem * current, node.v_threshold)
    raise NotImplementedError(type(node).__name__)


def _synapse(state, key, tau, u):
    """Nengo's Lowpass: exact decay, and (an update-phase operator) its output
    reaches the next object one step later."""
    a = np.exp(-1.0 / tau)
    out = state.get(key, np.zeros_like(u))
    state[key] = a * out + (1 - a) * u
    return out


def _fire(state, key, current, threshold):
    v = state.get(key, 0.0) + np.maximum(current, 0)
    spikes = np.floor(v / threshold)
    state[key] = v - spikes * threshold
    return spikes


def conv2d(x, node):
    """NIR Conv2d on a (C, H, W) array (cross-correlation, as NIR defines it)."""
    w = node.weight  # (out, in / groups, kh, kw)
    (ph, pw), (sh, sw), groups = node.padding, node.stride, node.groups
    x = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    c_out, per_group, kh, kw = w.shape
    h_out = (x.shape[1] - kh) // sh + 1
    w_out = (x.shape[2] - kw) // sw + 1
    out = np.zeros((c_out, h_out, w_out))
    per_out = c_out // groups
    for o in range(c_out):
        g = o // per_out
        xs = x[g * per_group : (g + 1) * per_group]
        for i in range(h_out):
            for j in range(w_out):
                patch = xs[:, i * sh : i * sh + kh, j * sw : j * sw + kw]
                out[o, i, j] = np.sum(patch * w[o])
    return out + np.asarray(node.bias).reshape(-1, 1, 1)


def _order(graph):
    done, order, pending = set(), [], list(graph.nodes)
    while pending:
        for key in pending:
            if all(a in done for a, b in graph.edges if b == key):
                done.add(key)
                order.append(key)
        pending = [k for k in pending if k not in done]
    return order
