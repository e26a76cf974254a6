"""`to_nengo`: a Nengo network from a NIR graph of the primitives `to_nir` writes.

Every tensor is a flat Nengo vector in NIR's C order (channels first), so
``Flatten`` is the identity. NIR's units follow ``graph.metadata`` (as `to_nir`
records them): with ``time_unit="step"`` a spike is worth one per step and a
time constant counts steps of ``dt``.
"""

from __future__ import annotations

import dataclasses

import nengo
import nir
import numpy as np

from ..converters._lib.windows import conv_matrix

_INTEGRATOR = 1e6  # a CubaLIF membrane this slow is read as integrate-and-fire


@dataclasses.dataclass
class _Port:
    """Where a NIR node's inputs go in Nengo, and where its output comes from."""

    entry: object
    exit: object
    transform: object = None
    synapse: object = None


def to_nengo(graph, *, dt=None):
    """Build a `nengo.Network` from a NIR graph.

    Reads ``Input``, ``Output``, ``Affine``, ``Linear``, ``Scale``, ``Flatten``,
    ``Conv1d``/``Conv2d``, ``SumPool2d``/``AvgPool2d``, ``IF``, ``LIF``,
    ``LI`` and ``CubaLIF`` nodes. Neurons start at voltage 0, as NIR's do.

    Parameters
    ----------
    graph : nir.NIRGraph
    dt : float, optional
        Simulator time step (default: ``graph.metadata["dt"]``, else 0.001).
        The network must run with this ``dt``.

    Returns
    -------
    net : nengo.Network
    inputs : dict
        NIR input name -> pass-through `nengo.Node` (connect your stimulus to
        it, flattened in NIR's layout: channels first).
    probes : dict
        NIR output name -> `nengo.Probe`.

    Examples
    --------
    >>> net, inputs, probes = nengo_keras.nir.to_nengo(nengo_keras.nir.read("model.nir"))
    >>> with net:
    ...     x = np.moveaxis(x_test[0], -1, 0).ravel()  # channels first
    ...     nengo.Connection(nengo.Node(x), inputs["input"], synapse=None)
    >>> with nengo.Simulator(net) as sim:
    ...     sim.run_steps(100)
    """
    meta = graph.metadata or {}
    dt = float(meta.get("dt", 0.001)) if dt is None else float(dt)
    step = str(meta.get("time_unit", "s")) == "step"
    builder = _Builder(dt, dt if step else 1.0)
    net = nengo.Network(label=str(meta.get("model", "nir")))
    inputs, probes = {}, {}
    with net:
        for key, node in graph.nodes.items():
            builder.ports[key] = builder.port(key, node)
            if isinstance(node, nir.Input):
                inputs[key] = builder.ports[key].entry
            elif isinstance(node, nir.Output):
                probes[key] = nengo.Probe(builder.ports[key].exit, synapse=None)
        for pre, post in graph.edges:
            out, into = builder.ports[pre], builder.ports[post]
            nengo.Connection(
                out.exit, into.entry, transform=into.transform, synapse=into.synapse
            )
    return net, inputs, probes


class _Builder:
    def __init__(self, dt, unit):
        self.dt, self.unit, self.ports = dt, unit, {}

    def seconds(self, tau):
        return float(np.ravel(tau)[0]) * self.unit

    def port(self, key, node):
        if isinstance(node, (nir.Input, nir.Output, nir.Flatten)):
            types = node.output_type if isinstance(node, nir.Input) else node.input_type
            shape = next(iter(types.values()))
            n = int(np.prod(shape))
            passthrough = nengo.Node(size_in=n, label=key)
            return _Port(passthrough, passthrough)
        if isinstance(node, (nir.Affine, nir.Linear)):
            bias = node.bias if isinstance(node, nir.Affine) else None
            return self.weights(key, np.asarray(node.weight, dtype=np.float64), bias)
        if isinstance(node, nir.Scale):
            return self.weights(key, np.diag(np.ravel(node.scale)), None)
        if isinstance(node, (nir.Conv1d, nir.Conv2d)):
            return self.conv(key, node)
        if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            return self.pool(key, node)
        if isinstance(node, nir.LI):
            if np.any(node.v_leak):
                raise NotImplementedError(f"{key}: LI with v_leak != 0")
            out = nengo.Node(size_in=node.r.size, label=key)
            gain = nengo.transforms.Dense((node.r.size,) * 2, np.diag(np.ravel(node.r)))
            return _Port(out, out, gain, nengo.Lowpass(self.seconds(node.tau)))
        if isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF)):
            return self.neurons(key, node)
        raise NotImplementedError(f"{key}: NIR {type(node).__name__} nodes are not read")

    def weights(self, key, matrix, bias):
        out = nengo.Node(size_in=matrix.shape[0], label=key)
        if bias is not None and np.any(bias):
            nengo.Connection(nengo.Node(np.ravel(bias)), out, synapse=None)
        return _Port(out, out, nengo.transforms.Dense(matrix.shape, matrix))

    def conv(self, key, node):
        rank = node.weight.ndim - 2
        in_shape = tuple(int(s) for s in node.input_type["input"])
        out_shape = tuple(int(s) for s in node.output_type["output"])
        kernel = np.transpose(node.weight, tuple(range(2, 2 + rank)) + (1, 0))
        pads, strides = _pair(node.padding, rank), _pair(node.stride, rank)
        matrix = conv_matrix(in_shape, out_shape, kernel, strides, pads,
                             _pair(node.dilation, rank), int(node.groups), 0)
        bias = np.repeat(np.ravel(node.bias), int(np.prod(out_shape[1:])))
        return self.weights(key, _dense(matrix), bias)

    def pool(self, key, node):
        in_shape = tuple(int(s) for s in node.input_type["input"])
        channels, window = in_shape[0], tuple(int(k) for k in np.ravel(node.kernel_size))
        kernel = np.ones(window + (1, channels))
        if isinstance(node, nir.AvgPool2d):
            kernel /= np.prod(window)
        out_shape = tuple(int(s) for s in node.output_type["output"])
        matrix = conv_matrix(in_shape, out_shape, kernel, _pair(node.stride, 2),
                             _pair(node.padding, 2), (1, 1), channels, 0)
        return self.weights(key, _dense(matrix), None)

    def neurons(self, key, node):
        threshold = np.ravel(node.v_threshold).astype(np.float64)
        n, synapse, transform = threshold.size, None, None
        r = np.ravel(node.r).astype(np.float64)
        if isinstance(node, nir.CubaLIF):
            synapse = nengo.Lowpass(self.seconds(node.tau_syn))
            transform = nengo.transforms.Dense((n, n), np.diag(np.ravel(node.w_in)))
            tau = np.ravel(node.tau_mem)
            integrating = bool(np.all(tau >= _INTEGRATOR))
            r = r / tau if integrating else r
        else:
            tau = np.ravel(getattr(node, "tau", np.inf))
            integrating = isinstance(node, nir.IF)
        if np.any(np.ravel(getattr(node, "v_leak", 0.0))) or np.any(node.v_reset):
            raise NotImplementedError(f"{key}: v_leak and v_reset must be 0")
        start = {"voltage": nengo.dists.Choice([0.0])}
        if integrating:
            ntype = nengo.SpikingRectifiedLinear(amplitude=self.unit, initial_state=start)
            gain = r / threshold / (self.dt if self.unit != 1.0 else 1.0)
        else:
            ntype = nengo.LIF(tau_rc=self.seconds(tau), tau_ref=0, amplitude=self.unit,
                              initial_state=start)
            gain = r / threshold
        ens = nengo.Ensemble(n, 1, neuron_type=ntype, gain=gain, bias=np.zeros(n), label=key)
        return _Port(ens.neurons, ens.neurons, transform, synapse)


def _pair(value, rank):
    values = tuple(int(v) for v in np.ravel(value))
    return values * rank if len(values) == 1 else values


def _dense(matrix):
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
