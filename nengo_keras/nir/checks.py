"""What NIR cannot express, found before anything is exported."""

from __future__ import annotations

import nengo
from nengo.dists import Distribution

from ..errors import ConversionError

#: extra advice for layers that commonly stop an export
_HINTS = {
    "Softmax": "convert the model without its softmax (e.g. `classifier_activation=None` "
    "for keras.applications): the argmax, and so the accuracy, is unchanged",
    "MaxPooling1D": "convert with `max_to_avg_pool=True`",
    "MaxPooling2D": "convert with `max_to_avg_pool=True`",
    "GlobalMaxPooling2D": "convert with `max_to_avg_pool=True`",
}

_SPIKING = (nengo.SpikingRectifiedLinear, nengo.LIF)


class NIRExportError(ConversionError):
    """A converted network holds something NIR cannot express.

    Lists every such layer or connection at once, each with how to fix it.
    ``problems`` is a list of ``(where, what, fix)`` strings.

    Examples
    --------
    >>> try:
    ...     nengo_keras.nir.to_nir(result)
    ... except nengo_keras.nir.NIRExportError as e:
    ...     print(len(e.problems), "things to fix")
    """

    def __init__(self, problems):
        self.problems = list(problems)
        lines = [f"Cannot export the network to NIR ({len(self.problems)} problems):"]
        for where, what, fix in self.problems:
            lines.append(f"  - {where}: {what}." if where else f"  - {what}.")
            if fix:
                lines.append(f"    Fix: {fix}.")
        Exception.__init__(self, "\n".join(lines))


def check_network(result):
    """``[(where, what, fix)]`` for everything NIR cannot express."""
    problems = []
    names = {}
    for r in result.report:
        name = f"{r.path}/{r.name}" if r.path else r.name
        for ens in r.ensembles:
            names[ens] = f"layer {name!r} ({r.type})"
        if r.tier != "neural":
            fix = _HINTS.get(
                r.type,
                "replace the layer with neural-tier layers (convert with "
                "`tiers=('neural',)` to list every such layer at conversion time)",
            )
            problems.append(
                (f"layer {name!r} ({r.type})",
                 f"is {r.tier}-tier: a Node computing it in Python, which NIR cannot hold",
                 fix)
            )
    for ens in result.net.all_ensembles:
        problem = _neuron_problem(ens.neuron_type)
        if problem:
            problems.append((names.get(ens, f"ensemble {ens.label!r}"), *problem))
    feeds = set(result.inputs.values())
    for node in result.net.all_nodes:
        if node not in feeds and callable(node.output) and node.size_in > 0:
            problems.append(
                (f"node {node.label!r}", "runs a Python function each step",
                 "make the layer that produced it neural-tier")
            )
    problems += _connection_problems(result.net, names)
    for probe in result.outputs.values():
        if probe.synapse is not None and type(probe.synapse) is not nengo.Lowpass:
            problems.append(_synapse_problem(f"output probe {probe.label!r}", probe.synapse))
    return _unique(problems)


def _neuron_problem(ntype):
    if type(ntype) not in _SPIKING:
        spiking = "spiking" if ntype.spiking else "rate"
        return (
            f"has {spiking} neurons {type(ntype).__name__}; NIR maps only "
            f"SpikingRectifiedLinear (IF) and LIF",
            "swap the activations for spiking neurons, e.g. "
            "`swap_activations={'relu': nengo.SpikingRectifiedLinear()}`",
        )
    if isinstance(ntype, nengo.LIF) and (ntype.tau_ref != 0 or ntype.min_voltage != 0):
        return (
            f"has LIF neurons with tau_ref={ntype.tau_ref}; NIR's LIF has no "
            f"refractory period",
            "use `nengo.LIF(tau_ref=0)` or `nengo.SpikingRectifiedLinear()`",
        )
    return None


def _connection_problems(net, names):
    problems, synapses = [], {}
    for conn in net.all_connections:
        where = _where(conn, names)
        if isinstance(conn.pre_obj, nengo.Ensemble) or isinstance(conn.post_obj, nengo.Ensemble):
            problems.append(
                (where, "uses decoders or encoders; NIR holds weights between neurons",
                 "connect to and from `ensemble.neurons`")
            )
        if conn.function is not None:
            problems.append((where, "computes a function", "use a linear transform"))
        if conn.synapse is not None and type(conn.synapse) is not nengo.Lowpass:
            problems.append(_synapse_problem(where, conn.synapse))
        t = conn.transform
        if isinstance(t, nengo.transforms.ConvolutionTranspose):
            problems.append(
                (where, "is a transposed convolution, which NIR has no node for",
                 "use Conv2D with UpSampling2D, or a Dense layer")
            )
        if isinstance(getattr(t, "init", None), Distribution):
            problems.append(
                (where, "has weights drawn at build time", "give fixed weights")
            )
        post = conn.post_obj
        if isinstance(post, nengo.ensemble.Neurons) and not (
            isinstance(conn.pre_obj, nengo.Node) and conn.pre_obj.size_in == 0
            and not callable(conn.pre_obj.output)
        ):
            tau = None if conn.synapse is None else getattr(conn.synapse, "tau", -1)
            synapses.setdefault(post.ensemble, set()).add(tau)
    for ens, taus in synapses.items():
        if len(taus) > 1:
            shown = ", ".join("none" if t is None else f"{t:g} s" for t in sorted(
                taus, key=lambda t: -1 if t is None else t))
            problems.append(
                (names.get(ens, f"ensemble {ens.label!r}"),
                 f"receives inputs through different synapses ({shown}); a NIR "
                 f"neuron has one input synapse",
                 "convert with one `synapse=` for every layer")
            )
    return problems


def _synapse_problem(where, synapse):
    return (
        where,
        f"has synapse {synapse}; NIR's LI and CubaLIF hold first-order lowpass synapses",
        "convert with `synapse=<time constant in seconds>` (a nengo.Lowpass)",
    )


def _where(conn, names):
    def name(obj):
        obj = obj.ensemble if isinstance(obj, nengo.ensemble.Neurons) else obj
        return names.get(obj, repr(getattr(obj, "label", None) or obj))

    return f"connection {name(conn.pre_obj)} -> {name(conn.post_obj)}"


def _unique(problems):
    return list(dict.fromkeys(problems))
