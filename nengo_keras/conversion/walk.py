"""The graph walk: converts the nodes of a Keras graph one by one."""

from __future__ import annotations

import collections
import dataclasses
import warnings

import nengo

from . import graph as kg
from . import time_axis
from ..errors import ConversionError, Unsupported, describe
from .registry import FALLBACK, TRACE, find_converter, special
from .values import Value


@dataclasses.dataclass
class LayerReport:
    """What one call of a Keras layer became.

    Attributes
    ----------
    name : str
        Layer name (with ``[i]`` for the i-th call of a layer called more than
        once in the converted graph).
    type : str
        Layer class name.
    converter : str
        The converter used (``"fallback"`` for Keras-computing Nodes).
    tier : str
        ``"neural"`` (Ensembles and linear connections: runs on neuromorphic
        backends), ``"node"`` (a Node with a NumPy function) or ``"fallback"``
        (a Node calling Keras).
    n_neurons : int
        Neurons created for this layer.
    n_nodes : int
        Nodes created for this layer (pass-through and constant Nodes included).
    output_shape : tuple
        Keras output shape without the batch axis (first output).
    path : str
        Enclosing nested models, ``"outer/inner"`` (empty at the top level).
    ensembles : tuple of nengo.Ensemble
        The Ensembles created for this layer (used to measure firing rates per
        layer, see `nengo_keras.evaluate`).
    """

    name: str
    type: str
    converter: str
    tier: str
    n_neurons: int
    n_nodes: int
    output_shape: tuple
    path: str = ""
    ensembles: tuple = dataclasses.field(default=(), repr=False, compare=False)


class Walker:
    """Converts the nodes of a Keras graph one by one (see `to_nengo`)."""

    def __init__(self, ctx):
        self.ctx = ctx
        ctx.walker = self
        self.problems = []
        self.report = []
        self.tensors = []  # (keras tensor, Value, path), for ConvertedModel.layers
        self.calls = collections.Counter()
        self.path = []

    def walk(self, graph, values):
        """Convert ``graph`` given the values of its inputs; fills ``values``."""
        uses = collections.Counter(id(x) for n in graph.nodes for x in n.input_tensors)
        uses.update(id(x) for x in graph.outputs)
        # a loaded model's layers keep the calls Keras made while loading it
        calls = collections.Counter(id(n.op) for n in graph.nodes)
        for node in graph.nodes:
            node.shared = calls[id(node.op)] > 1
            inputs = []
            for kt in node.input_tensors:
                value = values[id(kt)]
                if uses[id(kt)] > 1 and value.is_expensive and value.obj is None:
                    # several consumers: compute it once, not once per consumer
                    with self.ctx.network:
                        self.ctx.materialize(value)
                inputs.append(value)
            outputs = self.convert_node(node, inputs)
            for kt, value in zip(node.output_tensors, outputs):
                values[id(kt)] = value
                self.tensors.append((kt, value, "/".join(self.path)))

    def convert_graph(self, graph, inputs, label, strict=False, path=None):
        """Convert ``graph`` into a sub-network, given its input values;
        return its output values (see `ConversionContext.convert`)."""
        values = {id(kt): v for kt, v in zip(graph.inputs, inputs)}
        if strict:
            problems = self.walk_strict(graph, values, label)
            if problems:
                raise ConversionError(problems)
            return [values[id(kt)] for kt in graph.outputs]
        if path is not None:
            self.path.append(path)
        try:
            with self.ctx.subnetwork(label):
                self.walk(graph, values)
        finally:
            if path is not None:
                self.path.pop()
        return [values[id(kt)] for kt in graph.outputs]

    def walk_strict(self, graph, values, label):
        """Walk ``graph`` inside a sub-network, without fallback or reports.

        Returns the problems found; on any problem the sub-network is removed
        again, so a failed attempt leaves no trace in the network.
        """
        ctx = self.ctx
        saved = (self.problems, self.report, ctx.strict)
        calls = collections.Counter(self.calls)  # a failed attempt calls nothing
        self.problems, self.report, ctx.strict = [], [], True
        try:
            with ctx.subnetwork(label) as net:
                self.walk(graph, values)
        finally:
            problems = self.problems
            self.problems, self.report, ctx.strict = saved
        if problems:
            ctx.network.networks.remove(net)
            self.calls = calls
        return problems

    def convert_node(self, node, inputs):
        ctx, op = self.ctx, node.op
        entry = find_converter(op, ctx.options.converters)
        if entry is None and ctx.options.trace_layers:
            # layers with no converter are converted through the graph of their call
            entry = special(TRACE)
        timed = self._enter(node, entry)
        if timed is None:
            return self._placeholders([ctx.shape_of(kt) for kt in node.output_tensors])
        out_shapes = [ctx.shape_of(kt) for kt in node.output_tensors]
        in_shapes = [v.shape for v in inputs]
        nested = timed and ctx.axis.walks_inside(node)  # shapes known after its walk
        if not timed and (_unknown(out_shapes) or kg.has_shape_rule(node.op)):
            out_shapes = kg.concrete_output_shapes(node, in_shapes) or out_shapes
        if not nested and _unknown(out_shapes):
            self.problems.append(
                (op, f"output shape {out_shapes} is not fully known", None)
            )
            return self._placeholders(out_shapes)
        if self._empty(node, out_shapes):
            return self._placeholders(out_shapes)
        self._check_shared(op)
        mixing = kg.mixes_samples(node)
        if mixing:
            # no fallback: a Keras Node also sees one sample at a time
            self.problems.append(
                (
                    op,
                    f"{mixing}: the call mixes the samples of a batch, but Nengo "
                    f"runs one sample at a time",
                    "keep the batch axis first and apart (e.g. reshape to "
                    "(-1, *per-sample shape)), or compute this outside the model",
                )
            )
            return self._placeholders(out_shapes)

        net = ctx.network
        counts = (len(net.nodes), len(net.ensembles), len(net.networks))
        converter_name = entry.name if entry is not None else "fallback"
        with ctx.calling(node, in_shapes, out_shapes, timed=timed):
            try:
                if entry is None:
                    raise Unsupported(
                        f"no converter for {type(op).__name__}",
                        "give the layer a to_nengo method (mix in "
                        "nengo_keras.NengoConvertible), register one with "
                        f"@nengo_keras.register_converter({type(op).__name__})",
                    )
                outputs = self._call(entry, op, node, inputs)
            except Unsupported as e:
                if not self._may_fall_back(node, timed, e):
                    return self._placeholders(out_shapes)
                warnings.warn(
                    f"{describe(op)}: {e.what}; it runs as a Node that calls Keras "
                    f"(fallback)",
                    UserWarning,
                    stacklevel=4,
                )
                converter_name = "fallback"
                ctx.flags.add("fallback")
                with net:
                    outputs = special(FALLBACK).call(op, ctx, *inputs)
            except ConversionError as e:
                self.problems.extend(e.problems)
                if timed:
                    ctx.axis.fail(node)
                return self._placeholders(out_shapes)
            except Exception as e:
                e.add_note(
                    f"while converting {describe(op)}, call {node.call_index}, with "
                    f"{converter_name}"
                )
                raise
            flags = set(ctx.flags)
        if nested:
            ctx.axis.leave(node)
            out_shapes = [ctx.shape_of(kt) for kt in node.output_tensors]
        outputs = self._as_values(op, outputs, out_shapes)
        self._record(node, converter_name, flags, net, counts, out_shapes)
        return outputs

    def _enter(self, node, entry):
        """Whether the call converts per time step (``ctx.axis``: the rules of
        temporal models, or none); None if it cannot be converted (a problem
        reported here or upstream)."""
        try:
            return self.ctx.axis.enter(node, entry)
        except time_axis.Broken:
            return None
        except Unsupported as e:
            self.problems.append((node.op, e.what, e.fix))
            return None

    def _may_fall_back(self, node, timed, error):
        """Whether an unconvertible call becomes a fallback Node; if not, it
        is reported (with ``error``)."""
        ctx, op = self.ctx, node.op
        possible = not timed or ctx.axis.steps_alone(op)
        what = error.what
        if not possible:
            what += (
                "; a Keras fallback Node (which sees one time step at a time) cannot "
                "stand in for it, as it is not known to act on each step separately"
            )
        if possible and ctx.fallback_allowed:
            return True
        fix = error.fix
        if possible and "fallback" in ctx.options.tiers:
            # the one fix every unconvertible call has, unless the user ruled
            # fallback Nodes out with ``tiers``
            hint = "or pass allow_fallback=True to compute it with a Keras Node"
            fix = f"{fix}, {hint}" if fix else hint
        self.problems.append((op, what, fix))
        if timed:
            ctx.axis.fail(node)
        return False

    def _call(self, entry, op, node, inputs):
        ctx = self.ctx
        kwargs = {k: v for k, v in node.constant_kwargs().items() if v is not None}
        with ctx.network:
            return entry.call(op, ctx, *inputs, **kwargs)

    def _as_values(self, op, outputs, shapes):
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        if len(outputs) != len(shapes):
            raise ValueError(
                f"the converter of {describe(op)} returned {len(outputs)} outputs, "
                f"expected {len(shapes)}"
            )
        try:
            return [self.ctx.as_value(o, s) for o, s in zip(outputs, shapes)]
        except (TypeError, ValueError) as e:
            e.add_note(f"while converting {describe(op)}")
            raise

    def _placeholders(self, shapes):
        # stand-ins so the walk goes on and reports every problem at once
        return [Value(tuple(1 if d is None else d for d in s)) for s in shapes]

    def _empty(self, node, out_shapes):
        """Whether the call has zero-sized tensors (reported where they first
        appear: the layers after it see the problem upstream)."""
        in_shapes = [self.ctx.shape_of(kt) for kt in node.input_tensors]
        if any(0 in s for s in in_shapes):
            return True
        if any(0 in s for s in out_shapes):
            shape = next(s for s in out_shapes if 0 in s)
            self.problems.append(
                (
                    node.op,
                    f"output shape {tuple(shape)} has a zero-sized dimension: the "
                    f"output holds no data, and Nengo objects need at least one "
                    f"element",
                    "change the layer's configuration (or the model's input shape) "
                    "so every output dimension is >= 1, or remove the layer",
                )
            )
            return True
        return False

    def _tier_problem(self, op, tier, flags):
        allowed = self.ctx.options.tiers
        names = sorted(f.split(":", 1)[1] for f in flags if f.startswith("activation:"))
        if names and tier == "node":
            act = names[0]
            if act in ("softmax", "log_softmax"):
                fix = (
                    f"build the layer with activation=None (for keras.applications "
                    f"models, pass classifier_activation=None) and apply {act} to the "
                    f"network's output yourself (its argmax, and so the accuracy, is "
                    f"the same), or allow the {tier!r} tier"
                )
            else:
                fix = (
                    f"map it to neurons with swap_activations={{{act!r}: "
                    f"nengo.RectifiedLinear()}} (or retrain with activation='relu'), "
                    f"or allow the {tier!r} tier"
                )
            return (
                op,
                f"its activation {act!r} has no neuron equivalent and needs a Node "
                f"(the {tier!r} tier), but tiers={allowed}",
                fix,
            )
        return (
            op,
            f"converts to the {tier!r} tier, but tiers={allowed}",
            "replace the layer with one that has a neural equivalent, or allow that tier",
        )

    def _check_shared(self, op):
        if not getattr(op, "weights", None):
            return
        self.calls[id(op)] += 1
        if self.calls[id(op)] == 2 and not self.ctx.options.split_shared_weights:
            self.problems.append(
                (
                    op,
                    "the layer is called more than once, and Nengo cannot share "
                    "weights between objects",
                    "pass split_shared_weights=True to give each call its own copy "
                    "of the weights",
                )
            )

    def _record(self, node, converter_name, flags, net, counts, out_shapes):
        new_nodes = list(net.nodes[counts[0] :])
        new_ens = list(net.ensembles[counts[1] :])
        for sub in net.networks[counts[2] :]:
            new_nodes += sub.all_nodes
            new_ens += sub.all_ensembles
        if "fallback" in flags:
            tier = "fallback"
        elif "node" in flags or any(_computes(n) for n in new_nodes):
            tier = "node"
        else:
            tier = "neural"
        name = node.call_name
        if tier not in self.ctx.options.tiers:
            self.problems.append(self._tier_problem(node.op, tier, flags))
        if kg.is_graph_model(node.op):
            return  # its layers are reported one by one
        self.report.append(
            LayerReport(
                name=name,
                type=type(node.op).__name__,
                converter=converter_name,
                tier=tier,
                n_neurons=sum(e.n_neurons for e in new_ens),
                n_nodes=len(new_nodes),
                output_shape=out_shapes[0] if out_shapes else (),
                path="/".join(self.path),
                ensembles=tuple(new_ens),
            )
        )


def _computes(node):
    """Whether a Node runs a function (rather than passing or holding values)."""
    return callable(node.output) or isinstance(node.output, nengo.Process)


def _unknown(shapes):
    return any(s is None for shape in shapes for s in shape)
