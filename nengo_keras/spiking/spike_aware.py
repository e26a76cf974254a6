"""Spike-aware activations: what a spiking neuron outputs over a short window.

A rate network converted to spiking neurons loses accuracy because each neuron
no longer outputs its rate ``a = relu(x)`` but a *spike count* over the
presentation window, and over ``T`` steps of length ``dt`` a regular-spiking
neuron firing at ``scale * a`` Hz emits only a whole number of spikes. The
downstream layers therefore see a quantised copy of the activation

.. math::

    \\hat a = \\frac{\\lfloor v_0 + \\mathrm{scale} \\cdot a \\cdot T\\,dt \\rfloor}
                   {\\mathrm{scale} \\cdot T\\,dt},

where :math:`v_0` is the neurons' initial membrane voltage. Training with this
quantisation in place of ``relu`` (with *straight-through* gradients, i.e. the
gradient of ``relu``) teaches the network weights that still work when the
activations become spike counts. This is the quantisation-clip-floor-shift
approach of Bu et al., "Optimal ANN-SNN conversion for high-accuracy and
ultra-low-latency spiking neural networks" (ICLR 2022): with :math:`v_0 = 0.5`
(the "shift") the expected quantisation error is zero, and the converted
network starts its neurons at that same voltage so that the shift also holds in
the simulation. For `nengo.LIF` neurons the count comes from the LIF spike times
(time to the first spike from :math:`v_0`, then one inter-spike interval
``tau_ref + tau_rc log(1 + 1/(J - 1))`` per spike) and the gradient from a
smoothed LIF rate curve (Hunsberger & Eliasmith's SoftLIF).

The model is static: it ignores the synaptic filtering and the one-step delay
each synapse adds in Nengo. These cost some of the window in deep networks,
which is why short windows need short synapses (see
`nengo_keras.callbacks.SpikingSwap`).

`SpikeAware` is the Keras activation that computes this. It is a registered,
serialisable Keras object (``model.save`` / ``keras.saving.load_model`` keep
it, once ``nengo_keras`` is imported), and it carries its neuron type, firing
rate scale, window and synapse, which `nengo_keras.to_nengo` reads, so the
converted network gets the neurons the model was trained for without repeating
them as options.
"""

from __future__ import annotations

import numbers

import keras
import nengo
import numpy as np

from ..conversion.registry import ACTIVATIONS

# Neuron types a SpikeAware activation can model, and their parameters.
NEURONS = {
    "SpikingRectifiedLinear": ("amplitude",),
    "LIF": ("tau_rc", "tau_ref", "min_voltage", "amplitude"),
}
# Smoothing of the LIF rate curve used for gradients (in units of current).
LIF_SMOOTHING = 0.05


def neuron_spec(neuron_type):
    """A JSON-friendly description of a supported spiking neuron type.

    Parameters
    ----------
    neuron_type : nengo.SpikingRectifiedLinear or nengo.LIF or str or dict
        A neuron type instance, its class name, or a spec returned earlier.

    Returns
    -------
    dict
        ``{"type": class name, **parameters}``.

    Examples
    --------
    >>> neuron_spec(nengo.LIF(tau_rc=0.05))["tau_rc"]
    0.05
    """
    if isinstance(neuron_type, dict):
        name, params = neuron_type.get("type"), dict(neuron_type)
    elif isinstance(neuron_type, str):
        name, params = neuron_type, {"type": neuron_type}
    else:
        name = type(neuron_type).__name__
        if type(neuron_type) not in (nengo.SpikingRectifiedLinear, nengo.LIF):
            name = None
        else:
            params = {p: float(getattr(neuron_type, p)) for p in NEURONS[name]}
            params["type"] = name
    if name not in NEURONS:
        raise ValueError(
            f"spike-aware training supports the neuron types {sorted(NEURONS)}, "
            f"got {neuron_type!r}; pass nengo.SpikingRectifiedLinear() or nengo.LIF()"
        )
    unknown = set(params) - set(NEURONS[name]) - {"type"}
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)} for neuron type {name}")
    return params


def make_neuron_type(spec, initial_voltage=None):
    """The Nengo neuron type described by `neuron_spec` output.

    ``initial_voltage`` (if given) becomes every neuron's initial voltage.
    """
    spec = dict(spec)
    cls = getattr(nengo, spec.pop("type"))
    if initial_voltage is not None:
        spec["initial_state"] = {"voltage": nengo.dists.Choice([initial_voltage])}
    return cls(**spec)


def _positive_number(name, value, allow_zero=False):
    ok = isinstance(value, numbers.Real) and np.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} number, got {value!r}")
    return float(value)


def check_synapse(name, synapse):
    """A synapse option as a Lowpass time constant in seconds (or None)."""
    if isinstance(synapse, nengo.Lowpass):
        return float(synapse.tau)
    if synapse is None:
        return None
    if isinstance(synapse, nengo.synapses.Synapse):
        raise ValueError(
            f"{name}: only nengo.Lowpass synapses (or a time constant in seconds) "
            f"can be stored with a model, got {synapse!r}"
        )
    return _positive_number(name, synapse, allow_zero=True)


def check_scale(name, scale):
    """A firing-rate scale: a positive number or an array of them."""
    arr = np.asarray(scale, dtype=np.float64)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"{name} must be a positive number or an array of positive numbers "
            f"(one per channel), got {scale!r}"
        )
    return float(arr) if arr.ndim == 0 else arr.tolist()


@keras.saving.register_keras_serializable(package="nengo_keras", name="SpikeAware")
class SpikeAware:
    """A ReLU activation that outputs what a spiking neuron emits in ``n_steps``.

    See the module docstring for the maths and the reference. Use it directly
    as a layer activation, or let `nengo_keras.callbacks.SpikingSwap` put it in
    place during ``model.fit``.

    Parameters
    ----------
    n_steps : int
        Simulation steps each input is presented for.
    rate_scale : float or array_like
        Firing rate scale (``scale_firing_rates`` of `nengo_keras.to_nengo`):
        the neuron's input current is ``rate_scale * x``, so a rectified-linear
        neuron fires at ``rate_scale * relu(x)`` Hz. An array gives one scale
        per channel (broadcast against the activation's input without the batch
        axis, e.g. shape ``(channels,)`` for channels-last layers).
    neuron_type : str or dict or nengo.NeuronType
        ``nengo.SpikingRectifiedLinear()`` (default) or ``nengo.LIF(...)``.
    dt : float
        Simulation time step in seconds.
    initial_voltage : float
        Initial membrane voltage of the neurons, in [0, 1). The default 0.5 is
        the zero-expected-error shift; the converted neurons start there too.
    synapse : float, optional
        Lowpass time constant (seconds) on the connections leaving these
        neurons in the converted network. Not part of the Keras computation.
    mix : float
        From 0 (the rate activation, ``relu``) to 1 (the spike count): used to
        move from one to the other gradually during training.

    Examples
    --------
    >>> act = nengo_keras.spiking.SpikeAware(n_steps=30, rate_scale=100)
    >>> layer = keras.layers.Dense(64, activation=act)
    >>> net = nengo_keras.to_nengo(model).net   # SpikingRectifiedLinear neurons
    """

    base = "relu"

    def __init__(
        self,
        n_steps,
        rate_scale=1.0,
        neuron_type="SpikingRectifiedLinear",
        dt=0.001,
        initial_voltage=0.5,
        synapse=None,
        mix=1.0,
    ):
        if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
        self.n_steps = int(n_steps)
        self.rate_scale = check_scale("rate_scale", rate_scale)
        self.neuron = neuron_spec(neuron_type)
        self.dt = _positive_number("dt", dt)
        v0 = initial_voltage
        if not (isinstance(v0, numbers.Real) and 0 <= v0 < 1):
            raise ValueError(f"initial_voltage must be in [0, 1), got {v0!r}")
        self.initial_voltage = float(v0)
        self.synapse = check_synapse("synapse", synapse)
        if not (isinstance(mix, numbers.Real) and 0 <= mix <= 1):
            raise ValueError(f"mix must be between 0 and 1, got {mix!r}")
        self.mix = float(mix)

    @property
    def __name__(self):  # Keras and nengo_keras name activations by __name__
        return "spike_aware_relu"

    def __repr__(self):
        return (
            f"SpikeAware({self.neuron['type']}, n_steps={self.n_steps}, "
            f"rate_scale={self.rate_scale}, mix={self.mix})"
        )

    # --- Keras ---------------------------------------------------------------

    def __call__(self, x):
        ops = keras.ops
        rate = ops.relu(x)
        if self.mix == 0:
            return rate
        scale = ops.cast(np.asarray(self.rate_scale, dtype=np.float32), x.dtype)
        if self.neuron["type"] == "LIF":
            smooth, counted = self._lif(x * scale)
        else:
            smooth = rate * scale
            counted = ops.floor(self.initial_voltage + smooth * (self.n_steps * self.dt))
            counted = counted / (self.n_steps * self.dt)
        amplitude = self.neuron.get("amplitude", 1.0)
        smooth = smooth * (amplitude / scale)
        counted = counted * (amplitude / scale)
        # straight-through: the forward pass is the count, the gradient the rate's
        spiking = smooth + ops.stop_gradient(counted - smooth)
        return spiking if self.mix == 1 else rate + self.mix * (spiking - rate)

    def _lif(self, current):
        """(smoothed LIF rate, spikes per second over the window) for ``current``."""
        ops = keras.ops
        tau_rc, tau_ref = self.neuron["tau_rc"], self.neuron["tau_ref"]
        sigma = LIF_SMOOTHING
        j = sigma * ops.softplus((current - 1) / sigma)
        smooth = 1.0 / (tau_ref + tau_rc * ops.log1p(1.0 / ops.maximum(j, 1e-12)))
        smooth = ops.where(j > 1e-12, smooth, 0.0)
        # exact spike count of a LIF neuron with constant current from v0
        above = current > 1
        safe = ops.where(above, current, 2.0)
        first = tau_rc * ops.log((safe - self.initial_voltage) / (safe - 1))
        isi = tau_ref + tau_rc * ops.log1p(1.0 / (safe - 1))
        window = self.n_steps * self.dt
        # at most one spike per time step, as in nengo.LIF
        n = ops.minimum(1 + ops.floor((window - first) / isi), self.n_steps)
        n = ops.where(above & (first <= window), n, 0.0)
        return smooth, n / window

    def get_config(self):
        return {
            "n_steps": self.n_steps,
            "rate_scale": self.rate_scale,
            "neuron_type": dict(self.neuron),
            "dt": self.dt,
            "initial_voltage": self.initial_voltage,
            "synapse": self.synapse,
            "mix": self.mix,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- Nengo ---------------------------------------------------------------

    def nengo_neuron_type(self):
        """The Nengo neurons that this activation models."""
        return make_neuron_type(self.neuron, self.initial_voltage)

    def nengo_scale(self, shape):
        """The rate scale per element of a tensor of ``shape`` (flat, C order)."""
        scale = np.asarray(self.rate_scale, dtype=np.float64)
        return np.broadcast_to(scale, shape).ravel()


def is_spike_aware(activation):
    return isinstance(activation, SpikeAware)


def build(ctx, value, activation):
    """Convert a `SpikeAware` activation (used by ``ConversionContext.activate``).

    Options given explicitly to the conversion win: a ``swap_activations``
    entry for ``relu`` replaces the whole spiking setup, ``scale_firing_rates``
    replaces the trained scale and ``synapse`` the trained synapse.
    """
    if activation.base in ctx.swaps.by_name:
        return ctx.activate(value, activation.base)
    return ctx.neurons(
        value,
        activation.nengo_neuron_type(),
        scale=ctx.rate_scale(default=activation.nengo_scale(value.shape)),
        synapse=activation.synapse,
    )


def spike_aware_layers(model):
    """``[(layer, SpikeAware)]`` for every layer of ``model`` (nested too)."""
    return [
        (layer, layer.activation)
        for layer in all_layers(model)
        if is_spike_aware(getattr(layer, "activation", None))
    ]


def all_layers(model):
    """Every layer of ``model``, nested models' layers included, once each."""
    seen, out = set(), []
    stack = list(reversed(getattr(model, "layers", [])))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        out.append(layer)
        stack.extend(reversed(getattr(layer, "layers", None) or []))
    return out


def restore_rates(model):
    """Put ``relu`` back in place of every `SpikeAware` activation of ``model``.

    Changes ``model`` in place (as `~nengo_keras.callbacks.SpikingSwap` did),
    rebuilds its compiled functions so ``predict``/``fit`` see the change, and
    returns the number of layers changed.

    Examples
    --------
    >>> nengo_keras.spiking.restore_rates(model)
    3
    """
    layers = spike_aware_layers(model)
    for layer, act in layers:
        layer.activation = keras.activations.get(act.base)
    retrace(model)
    return len(layers)


def retrace(model):
    """Make Keras rebuild ``model``'s compiled train/test/predict functions.

    TensorFlow and JAX compile them once; a changed activation is only seen
    after a rebuild.

    Examples
    --------
    >>> retrace(model)  # after changing a layer's activation in place
    """
    for name in ("make_train_function", "make_test_function", "make_predict_function"):
        make = getattr(model, name, None)
        if make is not None:
            make(force=True)


# a SpikeAware activation converts to the neurons it was trained for
ACTIVATIONS.register(SpikeAware, build)
