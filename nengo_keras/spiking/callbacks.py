"""Keras callbacks: spike-aware training (`SpikingSwap`)."""

from __future__ import annotations

import numbers
import warnings

import keras
import numpy as np

from ..conversion import graph as kg
from ..conversion import activation_map
from . import spike_aware
from .calibration import as_calibration, calibrate
from .spike_aware import retrace
from ..errors import ConversionError


class SpikingSwap(keras.callbacks.Callback):
    """Train a model so that it keeps its accuracy with spiking neurons.

    From epoch ``start_epoch`` on, the ``relu`` activations of the model become
    `nengo_keras.spiking.SpikeAware` activations: in the forward pass each
    activation is replaced by what a spiking neuron of ``neuron_type`` emits
    when its input is presented for ``n_steps`` steps of ``dt`` at firing-rate
    scale ``scale_firing_rates``: a whole number of spikes, i.e. a quantised,
    floored activation, with the neurons starting at ``initial_voltage`` (0.5:
    the zero-mean-error "shift"). Gradients pass straight through as those of
    ``relu``. The network thus learns weights that survive the quantisation
    that short presentations and low firing rates impose (the
    quantisation-clip-floor-shift method of Bu et al., ICLR 2022; see
    `nengo_keras.spiking` for the maths). With ``ramp_epochs`` the activations
    move there gradually: at each epoch of the ramp the output is
    ``relu + mix * (spikes - relu)`` with ``mix`` rising linearly to 1.

    Fine-tuning a trained network for about ten epochs works well (or train
    from scratch with ``start_epoch`` > 0). Choices that worked on the digits
    benchmark (``benchmarks/spiking_digits.py``): a short hidden ``synapse``
    (a sixth to a tenth of the window, e.g. 5 ms for 30 steps and 1 ms for 10
    steps of 1 ms: each synapse delays by a step and lags by its
    time constant, which the static count model does not see), a
    ``readout_synapse`` about half the window (the output is read at the last
    step: a longer synapse averages more spikes there), and a single
    ``scale_firing_rates`` where activations grow with depth (the layers near
    the output, with few neurons, then fire fastest, which is cheap and helps
    the readout). Data-driven scales (`nengo_keras.calibration.RateCalibration`)
    suit networks whose layers' activations differ widely, and nonlinear
    neurons such as `nengo.LIF`.

    The new activations stay after training (``model.predict`` then estimates
    the spiking accuracy) and are saved with the model; `nengo_keras.to_nengo`
    reads them, so the converted network gets these neurons, scales, initial
    voltages and synapses without repeating them (its explicit options win).
    `nengo_keras.spiking.restore_rates` puts ``relu`` back.

    The callback changes Python attributes of the layers, which compiled train
    steps do not see: it rebuilds the model's train, test and predict functions
    (``make_train_function(force=True)`` etc.) after every change, so that
    TensorFlow and JAX (whose trainer compiles the whole step) retrace them.
    Changes happen at most once per epoch.

    Parameters
    ----------
    n_steps : int
        Steps each input will be presented for in the spiking network.
    scale_firing_rates : float or dict or RateCalibration or array
        Firing-rate scale (as in `nengo_keras.to_nengo`): one number, a dict
        ``{layer name: scale}`` covering every swapped layer, or calibration
        data (a `nengo_keras.calibration.RateCalibration` or an array of input
        samples) from which per-layer scales are chosen with the weights at the
        time of the swap.
    neuron_type : nengo.SpikingRectifiedLinear or nengo.LIF, optional
        The spiking neurons (default ``nengo.SpikingRectifiedLinear()``).
    synapse : float, optional
        Lowpass time constant (s) that the converted network puts on
        connections leaving these neurons. Each synapse delays by a step and
        filters: short windows need short synapses (a sixth to a tenth of
        ``n_steps * dt``).
    readout_synapse : float, optional
        Synapse for the layers whose neurons feed a model output directly
        (the output is read at the last step, so a longer synapse averages
        more spikes there). Default: ``synapse``.
    dt : float
        Simulation time step (s).
    start_epoch : int
        First epoch (0-based, as in ``fit``) with spike-aware activations.
    ramp_epochs : int
        Epochs over which they are mixed in (0: all at once).
    initial_voltage : float
        Initial membrane voltage of the neurons, in [0, 1).
    layers : list of str, optional
        Names of the layers to swap (default: every layer with a ``relu``
        activation).

    Examples
    --------
    >>> swap = nengo_keras.callbacks.SpikingSwap(
    ...     n_steps=30, scale_firing_rates=100, synapse=0.005)
    >>> model.fit(x, y, epochs=10, callbacks=[swap])
    >>> result = nengo_keras.to_nengo(model)      # spiking, as trained
    >>> out = result.predict(x_test, n_steps=30)
    """

    def __init__(
        self,
        n_steps,
        scale_firing_rates,
        *,
        neuron_type=None,
        synapse=None,
        readout_synapse=None,
        dt=0.001,
        start_epoch=0,
        ramp_epochs=0,
        initial_voltage=0.5,
        layers=None,
    ):
        super().__init__()
        self.neuron = spike_aware.neuron_spec(
            "SpikingRectifiedLinear" if neuron_type is None else neuron_type
        )
        # validates n_steps, dt, initial_voltage and synapse
        self._prototype = spike_aware.SpikeAware(
            n_steps, 1.0, self.neuron, dt, initial_voltage, synapse
        )
        self.readout_synapse = spike_aware.check_synapse("readout_synapse", readout_synapse)
        for name, value in (("start_epoch", start_epoch), ("ramp_epochs", ramp_epochs)):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        self.start_epoch = int(start_epoch)
        self.ramp_epochs = int(ramp_epochs)
        self.scale_firing_rates = _check_scale_option(scale_firing_rates)
        if layers is not None and (
            isinstance(layers, str) or not all(isinstance(n, str) for n in layers)
        ):
            raise TypeError(f"layers must be a list of layer names, got {layers!r}")
        self.layer_names = None if layers is None else list(layers)
        self._targets = None
        self._mix = None

    def mix_at(self, epoch):
        """How far the activations are from rates (0) to spikes (1) at ``epoch``."""
        if epoch < self.start_epoch:
            return 0.0
        if self.ramp_epochs == 0:
            return 1.0
        return min(1.0, (epoch - self.start_epoch + 1) / self.ramp_epochs)

    # --- Keras hooks -----------------------------------------------------------

    def on_train_begin(self, logs=None):
        # find problems before any training time is spent
        targets = self._find_targets()
        scale = self.scale_firing_rates
        if isinstance(scale, dict):
            missing = [layer.name for layer in targets if layer.name not in scale]
            if missing:
                raise ValueError(
                    f"SpikingSwap: scale_firing_rates has no scale for layers "
                    f"{missing}; give every swapped layer a scale (or pass one "
                    f"number, or calibration data)"
                )

    def on_epoch_begin(self, epoch, logs=None):
        mix = self.mix_at(epoch)
        if mix == self._mix or (self._mix is None and mix == 0):
            return
        if self._targets is None:
            self._targets = self._prepare()
        # assign everything at once, after everything is computed, so that an
        # error never leaves the model half swapped
        for layer, config in self._targets:
            layer.activation = spike_aware.SpikeAware(**dict(config, mix=mix))
        self._mix = mix
        self._retrace()

    # --- internals -------------------------------------------------------------

    def _find_targets(self):
        found, plain_relu = [], []
        for layer in spike_aware.all_layers(self.model):
            act = getattr(layer, "activation", None)
            if self.layer_names is not None and layer.name not in self.layer_names:
                continue
            if spike_aware.is_spike_aware(act) or (
                act is not None and not isinstance(act, str)
                and activation_map.canonical_name(act) == "relu"
            ):
                found.append(layer)
            elif isinstance(layer, keras.layers.ReLU):
                plain_relu.append(layer.name)
        if plain_relu:
            warnings.warn(
                f"SpikingSwap: ReLU layers {plain_relu} are not swapped (they have no "
                f"activation attribute); use keras.layers.Activation('relu') instead",
                UserWarning,
                stacklevel=3,
            )
        if self.layer_names is not None:
            names = {layer.name for layer in found}
            missing = [n for n in self.layer_names if n not in names]
            if missing:
                raise ValueError(
                    f"SpikingSwap: layers {missing} are not layers of the model with a "
                    f"relu activation"
                )
        if not found:
            raise ValueError(
                "SpikingSwap: the model has no layer with a relu activation to make "
                "spike-aware (expected Dense/Conv/Activation layers with "
                "activation='relu')"
            )
        return found

    def _prepare(self):
        """``[(layer, SpikeAware config without mix)]`` for every target layer."""
        targets = self._find_targets()
        scales = self._scales(targets)
        readout = _readout_layers(self.model, targets)
        base = self._prototype.get_config()
        out = []
        for layer in targets:
            config = dict(base, rate_scale=spike_aware.check_scale(
                f"scale_firing_rates for layer {layer.name!r}", scales[id(layer)]
            ))
            if id(layer) in readout and self.readout_synapse is not None:
                config["synapse"] = self.readout_synapse
            config.pop("mix")
            out.append((layer, config))
        return out

    def _scales(self, targets):
        scale = self.scale_firing_rates
        if isinstance(scale, dict):
            return {id(layer): scale[layer.name] for layer in targets}
        calib = as_calibration(scale)
        if calib is None:
            return {id(layer): scale for layer in targets}
        table = calibrate(
            self.model,
            calib,
            swap_activations={"relu": spike_aware.make_neuron_type(self.neuron)},
        )
        rows = {id(row.layer): row.keras_scale for row in table.layers}
        missing = [layer.name for layer in targets if id(layer) not in rows]
        if missing:
            raise ValueError(
                f"SpikingSwap: calibration found no neurons for layers {missing}"
            )
        return {id(layer): rows[id(layer)] for layer in targets}

    def _retrace(self):
        retrace(self.model)


def _check_scale_option(scale):
    if isinstance(scale, dict):
        for key, value in scale.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"SpikingSwap: scale_firing_rates keys must be layer names, got {key!r}"
                )
            spike_aware.check_scale(f"scale_firing_rates[{key!r}]", value)
        return dict(scale)
    if as_calibration(scale) is not None:
        return scale
    if isinstance(scale, numbers.Real) or np.ndim(scale) <= 1:
        spike_aware.check_scale("scale_firing_rates", scale)
        return scale
    raise TypeError(f"SpikingSwap: cannot interpret scale_firing_rates={scale!r}")


def _readout_layers(model, targets):
    """ids of target layers whose output reaches a model output through no other."""
    target_ids = {id(layer) for layer in targets}
    found = set()

    def visit(m):
        try:
            graph = kg.graph_of(m)
        except ConversionError:
            return False
        producers = {id(kt): node for node in graph.nodes for kt in node.output_tensors}
        stack, seen, hit = list(graph.outputs), set(), False
        while stack:
            node = producers.get(id(stack.pop()))
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if id(node.op) in target_ids:
                found.add(id(node.op))
                hit = True
                continue
            if kg.is_graph_model(node.op) and visit(node.op):
                hit = True
                continue
            stack.extend(node.input_tensors)
        return hit

    visit(model)
    return found
