"""`to_nir`: the built Nengo network of a conversion as a NIR graph.

The export reads the network itself (ensembles, connections, transforms,
synapses), not the Keras model: what NIR receives is exactly what was
converted, with linear layers already fused (average pooling, Flatten,
BatchNormalization and the like arrive inside the weights of the connection
that carries them). See ``docs/nir.rst`` for every mapping and for how Nengo's
discrete-time semantics compare with NIR's continuous-time equations.

Units. A spike is a delta of area 1 in NIR; every signal that is not a spike
train (the model's inputs, synapse outputs, the outputs) keeps its Nengo value.
With ``time_unit="s"`` time is in seconds (NIR's convention); with
``time_unit="step"`` one time unit is one step of ``dt``, the way discrete-time
frameworks (Spyx, snnTorch) read a graph: time constants are divided by ``dt``
and the currents that integrate-and-fire neurons integrate are multiplied by
it, so that each step adds exactly what a Nengo step adds.
"""

from __future__ import annotations

import dataclasses
import re

import nengo
import nir
import numpy as np

from ..version import __version__
from . import _linear
from .checks import NIRExportError, check_network

# an integrate-and-fire membrane inside a CubaLIF: tau_mem so long that the leak
# is ~1e-9 per time unit, with r = tau_mem so that dv/dt = I
_NO_LEAK = 1e9


@dataclasses.dataclass
class _Source:
    """A Nengo object as NIR sees it."""

    key: str
    spikes: bool
    shape: tuple  # NIR shape: (n,) or (C, *spatial)
    order: np.ndarray | None = None  # NIR C-order position -> Nengo flat index
    channels_last: bool = True
    amplitude: float = 1.0


def to_nir(result, *, dt=None, time_unit="s", conv_as_affine=False):
    """The converted network as a `nir.NIRGraph` (needs ``pip install nir``).

    Parameters
    ----------
    result : ConvertedModel
        What `nengo_keras.to_nengo` returned; every layer must be neural-tier
        with spiking neurons (`nengo.SpikingRectifiedLinear` or `nengo.LIF`
        with ``tau_ref=0``) and Lowpass synapses.
    dt : float, optional
        The time step the network is meant to run at (default: the model's,
        else 0.001); recorded in ``graph.metadata["dt"]``.
    time_unit : {"s", "step"}
        ``"s"``: time constants in seconds, NIR's continuous-time convention.
        ``"step"``: one time unit is one step of ``dt``, as discrete-time
        readers such as Spyx expect (run them with ``dt=1``).
    conv_as_affine : bool
        Export convolutions as `nir.Affine` matrices on flat vectors instead of
        `nir.Conv1d` / `nir.Conv2d`, for targets without convolutions (or
        readers that mishandle NIR's channels-first layout).

    Returns
    -------
    nir.NIRGraph

    Raises
    ------
    NIRExportError
        Listing every layer or connection NIR cannot express, with the fix.

    Examples
    --------
    >>> spiking = nengo_keras.to_nengo(
    ...     model, swap_activations={"relu": nengo.SpikingRectifiedLinear()},
    ...     scale_firing_rates=100, synapse=0.005)
    >>> graph = nengo_keras.nir.to_nir(spiking)
    >>> sorted(graph.nodes)[:3]
    """
    if time_unit not in ("s", "step"):
        raise ValueError(f"time_unit must be 's' or 'step', got {time_unit!r}")
    dt = (0.001 if result.dt is None else result.dt) if dt is None else float(dt)
    problems = check_network(result)
    if problems:
        raise NIRExportError(problems)
    return _Exporter(result, dt, time_unit, conv_as_affine).build()


class _Exporter:
    def __init__(self, result, dt, time_unit, conv_as_affine):
        self.result, self.net, self.dt = result, result.net, dt
        self.conv_as_affine = conv_as_affine
        self.u = dt if time_unit == "step" else 1.0  # seconds per NIR time unit
        self.time_unit = time_unit
        self.nodes, self.edges, self.sources, self.keys = {}, [], {}, set()
        self.incoming = {}
        for conn in self.net.all_connections:
            self.incoming.setdefault(_target(conn.post_obj), []).append(conn)
        self.outgoing = {}
        for conn in self.net.all_connections:
            self.outgoing.setdefault(_target(conn.pre_obj), []).append(conn)
        self.labels = _layer_labels(result)
        feeds = set(result.inputs.values())
        self.constant = {
            n for n in self.net.all_nodes
            if n.size_in == 0 and n not in feeds and not callable(n.output)
        }

    # --- helpers -------------------------------------------------------------

    def key(self, name):
        base = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(name)) or "node"
        key, i = base, 1
        while key in self.keys:
            key, i = f"{base}_{i}", i + 1
        self.keys.add(key)
        return key

    def add(self, name, node):
        key = self.key(name)
        self.nodes[key] = node
        return key

    def tau(self, seconds):
        return seconds / self.dt if self.time_unit == "step" else seconds

    def factor(self, spikes, integrating):
        """Weight factor for a signal entering an integrating (IF) or a leaky /
        value target, in this time unit (see the module docstring)."""
        if integrating:
            return 1.0 if spikes else self.u
        return 1.0 / self.u if spikes else 1.0

    def flat(self, src):
        """The key of ``src`` as a flat vector: itself, or a Flatten of it."""
        if len(src.shape) == 1:
            return src.key
        flat_key = f"{src.key}.flatten"
        if flat_key not in self.nodes:
            self.keys.add(flat_key)
            self.nodes[flat_key] = nir.Flatten(
                input_type={"input": np.array(src.shape)}, start_dim=0, end_dim=-1
            )
            self.edges.append((src.key, flat_key))
        return flat_key

    # --- the graph -------------------------------------------------------------

    def build(self):
        feeds = list(self.result.inputs.items())
        for kt, node in feeds:
            name = "input" if len(feeds) == 1 else f"input.{node.label}"
            self.add_input(name, node, self.result.shape_of(kt))
        for obj in _topological(self.net, self.incoming, [n for _, n in feeds]):
            if isinstance(obj, nengo.Ensemble):
                self.add_neurons(obj)
            elif obj.output is None and self.outgoing.get(obj):
                self.add_junction(obj)
        outputs = list(self.result.outputs.items())
        for kt, probe in outputs:
            name = "output" if len(outputs) == 1 else f"output.{probe.target.label}"
            self.add_output(name, probe)
        graph = nir.NIRGraph(
            nodes=self.nodes,
            edges=self.edges,
            metadata={
                "dt": self.dt,
                "time_unit": self.time_unit,
                "source": f"nengo_keras {__version__}",
                "model": self.result.model.name,
            },
        )
        return graph

    def add_input(self, name, node, shape):
        convs = [
            c.transform
            for c in self.outgoing.get(node, [])
            if isinstance(c.transform, nengo.Convolution)
        ]
        if len(shape) >= 2 and convs and not self.conv_as_affine:
            channels_last = convs[0].channels_last
            nir_shape = _linear.to_channels_first(shape, channels_last)
            order = _linear.nir_order(shape, channels_last)
        else:
            nir_shape, order, channels_last = (int(np.prod(shape)),), None, True
        key = self.add(name, nir.Input(input_type={"input": np.array(nir_shape)}))
        self.sources[node] = _Source(key, False, nir_shape, order, channels_last)

    def add_junction(self, node):
        """A pass-through Node feeding other objects: a Scale of ones, where
        its inputs sum."""
        key = self.add(node.label or "node", nir.Scale(scale=np.ones(node.size_in)))
        self.sources[node] = _Source(key, False, (node.size_in,))
        self.connect_inputs(node, key, integrating=False, bias=self.constants(node, False))

    def add_neurons(self, ens):
        ntype = ens.neuron_type
        gain, bias = _gain_bias(ens)
        integrating = isinstance(ntype, nengo.SpikingRectifiedLinear)
        synapses = {
            c.synapse for c in self.incoming.get(ens, []) if c.pre_obj not in self.constant
        }
        synapse = next(iter(synapses)) if synapses else None
        bias = bias / gain * self.factor(False, integrating) + self.constants(ens, integrating)
        w_in = self.tau(synapse.tau) if synapse is not None else 1.0
        layout = self.spatial_layout(ens, bias)
        name = self.labels.get(ens, ens.label or "ensemble")
        key = self.key(name)
        if layout is None:
            shape, order, channels_last = (ens.n_neurons,), None, True
        else:
            shape, order, channels_last = layout

        def param(values):
            values = np.broadcast_to(np.asarray(values, dtype=np.float64), (ens.n_neurons,))
            return (values if order is None else values[order]).reshape(shape)

        tau_rc = param(self.tau(ntype.tau_rc)) if not integrating else None
        node = _neuron_node(shape, param(1.0 / gain), tau_rc, w_in if synapse else None)
        self.nodes[key] = node
        amplitude = float(getattr(ntype, "amplitude", 1.0))
        self.sources[ens] = _Source(key, True, shape, order, channels_last, amplitude)
        self.connect_inputs(
            ens, key, integrating, bias / w_in, scale=1.0 / w_in, layout=layout
        )

    def add_output(self, name, probe):
        target = _target(probe.target)
        out_key = self.key(name)
        into = out_key
        if probe.synapse is not None:
            li = _li(self.tau(probe.synapse.tau), self.size_of(target))
            into = self.add(f"{name}.synapse", li)
            self.edges.append((into, out_key))
        if target in self.sources:
            src = self.sources[target]
            shape = src.shape
            if src.spikes or src.amplitude != 1.0:
                scale = src.amplitude * self.factor(src.spikes, False)
                k = self.add(f"{name}.scale", nir.Scale(scale=np.full(src.shape, scale)))
                self.edges += [(src.key, k), (k, into)]
            else:
                self.edges.append((src.key, into))
        else:
            shape = (target.size_in,)
            self.connect_inputs(target, into, False, self.constants(target, False))
        self.nodes[out_key] = nir.Output(output_type={"output": np.array(shape)})

    def size_of(self, obj):
        src = self.sources.get(obj)
        return src.shape if src is not None else (obj.size_in,)

    # --- connections ---------------------------------------------------------

    def constants(self, post, integrating):
        """Constant inputs of ``post`` (Nengo order), in this time unit."""
        total = np.zeros(post.n_neurons if isinstance(post, nengo.Ensemble) else post.size_in)
        for conn in self.incoming.get(post, []):
            if conn.pre_obj in self.constant:
                value = np.ravel(np.asarray(conn.pre_obj.output, dtype=np.float64))
                total += _linear.connection_matrix(conn) @ value
        return total * self.factor(False, integrating)

    def spatial_layout(self, ens, bias):
        """``(shape, order, channels_last)`` if every input of ``ens`` is a
        convolution NIR can hold as Conv1d/Conv2d, else None (flat)."""
        conns = [c for c in self.incoming.get(ens, []) if c.pre_obj not in self.constant]
        if self.conv_as_affine:
            return None
        layouts = set()
        for conn in conns:
            t, src = conn.transform, self.sources[_target(conn.pre_obj)]
            if not isinstance(t, nengo.Convolution) or isinstance(
                t, nengo.transforms.ConvolutionTranspose
            ):
                return None
            full = conn.pre_slice == slice(None) and conn.post_slice == slice(None)
            in_shape = _linear.to_channels_first(t.input_shape.shape, t.channels_last)
            if (
                not full
                or t.dimensions > 2
                or _linear.conv_padding(t) is None
                or tuple(src.shape) != in_shape
                or src.channels_last != t.channels_last
            ):
                return None
            layouts.add((tuple(t.output_shape.shape), t.channels_last))
        if len(layouts) != 1:
            return None
        out_shape, channels_last = layouts.pop()
        shape = _linear.to_channels_first(out_shape, channels_last)
        order = _linear.nir_order(out_shape, channels_last)
        per_channel = bias[order].reshape(shape[0], -1)
        if not np.allclose(per_channel, per_channel[:, :1]):
            return None
        return shape, order, channels_last

    def connect_inputs(self, post, key, integrating, bias, scale=1.0, layout=None):
        """Weight nodes from every input of ``post`` into NIR node ``key``;
        ``bias`` (Nengo order) goes into the first of them."""
        conns = [c for c in self.incoming.get(post, []) if c.pre_obj not in self.constant]
        for i, conn in enumerate(conns):
            src = self.sources[_target(conn.pre_obj)]
            f = self.factor(src.spikes, integrating) * src.amplitude * scale
            b = bias if i == 0 else np.zeros_like(bias)
            name = f"{key}.w" if len(conns) == 1 else f"{key}.w{i}"
            if layout is not None:
                w_key = self.add(name, self.conv(conn.transform, src, f, b, layout))
                self.edges.append((src.key, w_key))
            else:
                matrix = _linear.connection_matrix(conn) * f
                if src.order is not None:
                    matrix = matrix[:, src.order]
                node = (
                    nir.Affine(weight=matrix, bias=b.copy())
                    if np.any(b)
                    else nir.Linear(weight=matrix)
                )
                w_key = self.add(name, node)
                self.edges.append((self.flat(src), w_key))
            into = key
            if conn.synapse is not None and not isinstance(post, nengo.Ensemble):
                li = _li(self.tau(conn.synapse.tau), (post.size_in,))
                into = self.add(f"{name}.synapse", li)
                self.edges.append((into, key))
            self.edges.append((w_key, into))

    def conv(self, t, src, factor, bias, layout):
        shape, order, _ = layout
        channel_bias = bias[order].reshape(shape[0], -1)[:, 0]
        kernel = _linear.conv_kernel(t, expand_groups=True) * factor
        pads = _linear.conv_padding(t)
        spatial = tuple(src.shape[1:])
        if t.dimensions == 1:
            node = nir.Conv1d(
                input_shape=spatial[0], weight=kernel, stride=int(t.strides[0]),
                padding=pads[0], dilation=1, groups=1, bias=channel_bias,
            )
            return node
        node = nir.Conv2d(
            input_shape=spatial, weight=kernel, stride=tuple(int(s) for s in t.strides),
            padding=pads, dilation=(1, 1), groups=1, bias=channel_bias,
        )
        return node


def _neuron_node(shape, threshold, tau_rc, tau_syn):
    """IF (``tau_rc`` None), LIF, or either behind a synapse as a CubaLIF."""
    zeros, ones = np.zeros(shape), np.ones(shape)
    if tau_syn is not None:
        # an IF membrane: no leak to speak of, and r / tau_mem = 1
        tau_mem = np.full(shape, _NO_LEAK) if tau_rc is None else tau_rc
        return nir.CubaLIF(
            tau_syn=np.full(shape, tau_syn), tau_mem=tau_mem,
            r=tau_mem.copy() if tau_rc is None else ones, v_leak=zeros,
            v_threshold=threshold, v_reset=zeros, w_in=np.full(shape, tau_syn),
        )
    if tau_rc is None:
        return nir.IF(r=ones, v_threshold=threshold, v_reset=zeros)
    return nir.LIF(tau=tau_rc, r=ones, v_leak=zeros, v_threshold=threshold, v_reset=zeros)


def _li(tau, shape):
    """A Lowpass synapse: ``tau dv/dt = -v + I``."""
    shape = tuple(int(s) for s in shape)
    return nir.LI(tau=np.full(shape, float(tau)), r=np.ones(shape), v_leak=np.zeros(shape))


def _target(obj):
    return obj.ensemble if isinstance(obj, nengo.ensemble.Neurons) else obj


def _gain_bias(ens):
    n = ens.n_neurons
    gain = np.broadcast_to(np.asarray(ens.gain, dtype=np.float64), (n,))
    bias = np.broadcast_to(np.asarray(ens.bias, dtype=np.float64), (n,))
    return gain, bias


def _layer_labels(result):
    labels = {}
    for r in result.report:
        name = f"{r.path}.{r.name}" if r.path else r.name
        for i, ens in enumerate(r.ensembles):
            labels[ens] = name if len(r.ensembles) == 1 else f"{name}.{i}"
    return labels


def _topological(net, incoming, roots):
    """Ensembles and Nodes in an order where every input comes first."""
    objects = list(net.all_ensembles) + [n for n in net.all_nodes if n not in roots]
    done, order = set(roots) | {n for n in net.all_nodes if n.size_in == 0}, []
    pending = [o for o in objects if o not in done]
    while pending:
        ready = [
            o for o in pending
            if all(_target(c.pre_obj) in done for c in incoming.get(o, []))
        ]
        if not ready:
            raise NIRExportError(
                [(None, f"the network has a cycle through {pending[0]}",
                  "NIR export handles feed-forward networks only")]
            )
        for o in ready:
            done.add(o)
            order.append(o)
        pending = [o for o in pending if o not in done]
    return order
