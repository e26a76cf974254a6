"""Data-driven firing rates: ``scale_firing_rates`` from activation statistics.

A single ``scale_firing_rates`` for the whole network makes layers with small
activations fire too slowly to carry information and layers with large ones
fire needlessly fast. `RateCalibration` sets one scale per layer (optionally per
channel) instead: it runs the rate version of the converted network on some
samples, takes a high percentile of each layer's positive input currents (the
99.9th, as in the "robust normalisation" of Rueckauer et al., "Conversion of
continuous-valued deep networks to efficient event-driven networks for image
classification", Front. Neurosci. 2017, which ignores the rare outliers that the
maximum would follow) and chooses the scale at which that current makes the
layer's neurons fire at ``max_rate``.

Pass it (or just the sample array) as ``scale_firing_rates``::

    result = nengo_keras.to_nengo(
        model,
        swap_activations={"relu": nengo.SpikingRectifiedLinear()},
        scale_firing_rates=nengo_keras.calibration.RateCalibration(x_train[:200]),
    )
    print(result.firing_rates)   # per-layer scale and expected rates
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings

import keras
import nengo
import numpy as np

from ..conversion.options import Options, check_keywords
from ..conversion.pipeline import convert
from ..conversion.registry import add_hook, hooks


class RateCalibration:
    """Samples and targets for data-driven ``scale_firing_rates``.

    Parameters
    ----------
    x : array or list of arrays
        Calibration inputs shaped ``(batch, *input_shape)`` (a list or dict for
        several model inputs, as in `nengo_keras.ConvertedModel.run`). A few
        hundred samples are plenty.
    percentile : float
        Percentile (0-100] of each layer's positive neuron input currents that
        is mapped to ``max_rate``.
    max_rate : float
        Firing rate (Hz) at that percentile. Higher rates are more accurate over
        short presentations and cost more spikes.
    per_channel : bool
        One scale per channel (last axis, or the axis named by the layer's
        ``data_format``) instead of one per layer, for layers that create a
        single group of neurons shaped like their output.

    Examples
    --------
    >>> calib = nengo_keras.calibration.RateCalibration(x_train[:200], max_rate=200)
    >>> result = nengo_keras.to_nengo(
    ...     model, swap_activations={"relu": nengo.SpikingRectifiedLinear()},
    ...     scale_firing_rates=calib)
    """

    def __init__(self, x, percentile=99.9, max_rate=200.0, per_channel=False):
        if not (isinstance(percentile, numbers.Real) and 0 < percentile <= 100):
            raise ValueError(
                f"RateCalibration: percentile must be in (0, 100], got {percentile!r}"
            )
        if not (isinstance(max_rate, numbers.Real) and np.isfinite(max_rate) and max_rate > 0):
            raise ValueError(
                f"RateCalibration: max_rate must be a positive rate in Hz, got {max_rate!r}"
            )
        if not isinstance(per_channel, (bool, np.bool_)):
            raise TypeError(f"RateCalibration: per_channel must be True or False, got {per_channel!r}")
        self.x = x
        self.percentile = float(percentile)
        self.max_rate = float(max_rate)
        self.per_channel = bool(per_channel)

    def __repr__(self):
        return (
            f"RateCalibration(<data>, percentile={self.percentile}, "
            f"max_rate={self.max_rate}, per_channel={self.per_channel})"
        )


def as_calibration(option):
    """The `RateCalibration` a ``scale_firing_rates`` option asks for, or None.

    A `RateCalibration`, or an array of samples (at least 2-D: batch first),
    meaning ``RateCalibration(array)`` with the default targets.
    """
    if isinstance(option, RateCalibration):
        return option
    if isinstance(option, (np.ndarray, keras.KerasTensor)) or keras.ops.is_tensor(option):
        if len(option.shape) >= 2:
            return RateCalibration(option)
    return None


@dataclasses.dataclass
class LayerRates:
    """The calibrated scale and the expected rates of one layer's neurons.

    Attributes
    ----------
    name : str
        Layer name.
    neuron_type : str
        Neuron type of the layer's spiking neurons.
    n_neurons : int
        Neurons (all calls and groups of the layer).
    scale : float or ndarray
        The ``scale_firing_rates`` used (one per neuron with ``per_channel``).
    current : float
        The percentile of the positive input currents at scale 1.
    max_rate : float
        Firing rate at that percentile (the target, in Hz).
    peak_rate : float
        Largest rate over the calibration samples.
    mean_rate : float
        Mean rate over neurons and calibration samples.
    active : float
        Fraction of (neuron, sample) pairs with a non-zero rate.
    """

    name: str
    neuron_type: str
    n_neurons: int
    scale: object
    current: float
    max_rate: float
    peak_rate: float
    mean_rate: float
    active: float
    layer: object = dataclasses.field(default=None, repr=False)
    keras_scale: object = dataclasses.field(default=None, repr=False)


class RateTable:
    """Per-layer firing rates of a calibrated conversion (``result.firing_rates``).

    Attributes
    ----------
    layers : list of LayerRates
    calibration : RateCalibration

    Examples
    --------
    >>> print(result.firing_rates)          # a table, one row per layer
    >>> result.firing_rates.mean_rate       # expected mean rate of all neurons
    """

    def __init__(self, layers, calibration):
        self.layers = list(layers)
        self.calibration = calibration

    @property
    def scales(self):
        """``{layer: scale}``, usable as ``scale_firing_rates``."""
        return {row.layer: row.scale for row in self.layers}

    @property
    def mean_rate(self):
        """Expected mean rate (Hz) over all calibrated neurons and samples."""
        n = sum(row.n_neurons for row in self.layers)
        total = sum(row.mean_rate * row.n_neurons for row in self.layers)
        return total / n if n else 0.0

    def __getitem__(self, name):
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(f"no calibrated layer named {name!r}")

    def summary(self):
        """The table as a string."""
        head = ("layer", "neurons", "neuron type", "scale", "max Hz", "peak Hz", "mean Hz", "active")
        rows = [head]
        for r in self.layers:
            s = np.asarray(r.scale)
            scale = f"{float(s):.4g}" if s.ndim == 0 else f"{s.min():.3g}-{s.max():.3g}"
            rows.append(
                (r.name, str(r.n_neurons), r.neuron_type, scale, f"{r.max_rate:.4g}",
                 f"{r.peak_rate:.4g}", f"{r.mean_rate:.4g}", f"{r.active:.0%}")
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"expected mean rate: {self.mean_rate:.4g} Hz")
        return "\n".join(lines)

    __str__ = summary


class Recorder:
    """Swaps spiking neurons for their rate versions and remembers them.

    Set as ``ConversionContext.calibrating`` during a calibration pass. With
    ``keep_scales`` the neurons keep the scales of the conversion options
    (needed where the rate curve is not linear, see `run_calibration`);
    otherwise they are built at scale 1.
    """

    def __init__(self, keep_scales=False):
        self.keep_scales = keep_scales
        self.records = []  # (layer, Ensemble, spiking neuron type, shape, scale)
        self._pending = None

    def substitute(self, ctx, neuron_type, value, scale):
        scale = scale if self.keep_scales else np.ones(value.size)
        self._pending = (neuron_type, scale)
        if not neuron_type.spiking:
            return neuron_type, scale
        return rate_counterpart(neuron_type), scale

    def record(self, ctx, ens, shape):
        neuron_type, scale = self._pending
        if neuron_type.spiking:
            self.records.append((ctx.layer, ens, neuron_type, tuple(shape), scale))
        self._pending = None


def rate_counterpart(neuron_type):
    """The rate neuron type whose rates a spiking type approximates."""
    if isinstance(neuron_type, nengo.neurons.RatesToSpikesNeuronType):
        return neuron_type.base_type
    if isinstance(neuron_type, nengo.SpikingRectifiedLinear):
        return nengo.RectifiedLinear(amplitude=neuron_type.amplitude)
    if isinstance(neuron_type, nengo.LIF):
        return nengo.LIFRate(
            tau_rc=neuron_type.tau_rc,
            tau_ref=neuron_type.tau_ref,
            amplitude=neuron_type.amplitude,
        )
    raise ValueError(
        f"cannot calibrate firing rates for {type(neuron_type).__name__} neurons "
        f"(no rate counterpart known); pass scale_firing_rates as numbers instead"
    )


def rates(neuron_type, current):
    """Firing rates (Hz) of ``neuron_type`` for input currents (any shape)."""
    current = np.asarray(current, dtype=np.float64)
    flat = current.ravel()
    out = neuron_type.rates(flat[:, None], np.ones(1), np.zeros(1))
    return np.asarray(out).reshape(current.shape) / neuron_type.amplitude


def current_for_rate(neuron_type, rate, where=""):
    """The input current at which ``neuron_type`` fires at ``rate`` Hz."""
    lo, hi = 0.0, 1.0
    for _ in range(64):
        if rates(neuron_type, hi) >= rate:
            break
        lo, hi = hi, hi * 2
    else:
        raise ValueError(
            f"{where}{type(neuron_type).__name__} neurons cannot fire at "
            f"max_rate={rate} Hz; choose a lower max_rate"
        )
    for _ in range(60):  # bisection on a monotone rate curve
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rates(neuron_type, mid) < rate else (lo, mid)
    return hi


def calibrate(model, calibration, **options):
    """Measure activations and choose per-layer firing-rate scales.

    Parameters
    ----------
    model : keras.Model
    calibration : RateCalibration or array
        Samples and targets (an array means ``RateCalibration(array)``).
    options
        The other `nengo_keras.to_nengo` options (``swap_activations`` decides
        which layers get spiking neurons; ``scale_firing_rates`` and ``synapse``
        are ignored).

    Returns
    -------
    RateTable
        ``.scales`` is a ``scale_firing_rates`` dict; printing it shows the
        expected rates.

    Examples
    --------
    >>> table = nengo_keras.calibration.calibrate(
    ...     model, x_train[:200], swap_activations={"relu": nengo.LIF()})
    >>> result = nengo_keras.to_nengo(model, swap_activations={"relu": nengo.LIF()},
    ...                               scale_firing_rates=table.scales)
    """
    known = [f.name for f in dataclasses.fields(Options)] + ["label"]
    check_keywords("calibrate", options, known, extra=" (the to_nengo options)")
    calib = as_calibration(calibration)
    if calib is None:
        raise TypeError(
            f"calibrate expects a RateCalibration or an array of samples "
            f"(batch first), got {type(calibration).__name__}"
        )
    options = dict(options, scale_firing_rates=None, synapse=None)
    label = options.pop("label", None)
    return run_calibration(model, Options(**options), calib, label)


def run_calibration(model, options, calib, label=None, max_passes=8):
    """`calibrate` with validated `Options` (used by `nengo_keras.to_nengo`).

    A layer's input currents depend on the scales of the layers before it
    unless their neurons' rate curves are linear (rectified-linear neurons):
    then one pass at scale 1 measures every layer. Otherwise each further pass
    uses the scales of the previous one, which fixes one more layer, until the
    scales stop changing (at most ``max_passes`` passes).
    """
    scales, table = None, None
    for _ in range(max_passes):
        groups = _measure(model, options, calib, label, scales)
        if groups is None:
            return RateTable([], calib)
        table = RateTable(
            [_layer_rates(layer, nt, g, calib) for layer, nt, g in groups.values()], calib
        )
        linear = all(
            isinstance(rate_counterpart(nt), nengo.RectifiedLinear) for _, nt, _ in groups.values()
        )
        if linear or (scales is not None and _same_scales(scales, table.scales)):
            return table
        scales = table.scales
    warnings.warn(
        f"scale_firing_rates calibration: scales still changing after {max_passes} "
        f"passes; the expected rates of the deepest layers are approximate",
        UserWarning,
        stacklevel=3,
    )
    return table


def _same_scales(a, b):
    return a.keys() == b.keys() and all(np.allclose(a[k], b[k], rtol=1e-3) for k in a)


def _measure(model, options, calib, label, scales):
    """``{id(layer): (layer, neuron type, [(shape, currents at scale 1)])}``."""
    recorder = Recorder(keep_scales=scales is not None)
    options = dataclasses.replace(options, scale_firing_rates=scales, synapse=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the real conversion warns once
        result = convert(model, options, label=label, calibrating=recorder)
    if not recorder.records:
        warnings.warn(
            "scale_firing_rates calibration: the model has no spiking neurons to "
            "calibrate (map activations to spiking neurons with swap_activations)",
            UserWarning,
            stacklevel=4,
        )
        return None
    check_calibration_data(result, calib.x)
    with result.net:
        probes = [nengo.Probe(rec[1].neurons, "input") for rec in recorder.records]
    with warnings.catch_warnings():
        # nengo derives max rates and intercepts of LIF ensembles with explicit
        # gains and biases, dividing by zero for silent neurons; harmless here
        warnings.simplefilter("ignore", RuntimeWarning)
        currents = result.run(calib.x, n_steps=1, probes=probes)
    currents = currents if isinstance(currents, list) else [currents]
    groups = {}
    for (layer, _, neuron_type, shape, scale), current in zip(recorder.records, currents):
        entry = groups.setdefault(id(layer), (layer, neuron_type, []))
        # every step counts (one per sample, or the time axis of temporal models)
        entry[2].append((shape, current.reshape(-1, current.shape[-1]) / scale))
    return groups


def check_calibration_data(result, x):
    """Raise (naming ``scale_firing_rates``) if the calibration samples do not
    fit the model's inputs or are not finite, before they are simulated."""
    for check in hooks("check_inputs"):  # lent by nengo_keras.run
        check(result, "option scale_firing_rates (calibration samples)", x)


def _layer_rates(layer, neuron_type, groups, calib):
    name = getattr(layer, "name", str(layer))
    where = f"layer {name!r}: "
    target = current_for_rate(neuron_type, calib.max_rate, where)
    flat = np.concatenate([c.ravel() for _, c in groups])
    positive = flat[flat > 0]
    if positive.size == 0:
        warnings.warn(
            f"scale_firing_rates calibration: layer {name!r} never has positive "
            f"input on the calibration data; its scale stays 1",
            UserWarning,
            stacklevel=4,
        )
        level, scale = 0.0, 1.0
    else:
        level = float(np.percentile(positive, calib.percentile))
        scale = target / level
    keras_scale = None
    shapes = {shape for shape, _ in groups}
    if calib.per_channel and positive.size and len(shapes) == 1:
        (shape,) = shapes
        scale, keras_scale = _channel_scales(layer, groups, shape, calib, target, level)
    all_rates = np.concatenate([rates(neuron_type, c * scale).ravel() for _, c in groups])
    return LayerRates(
        name=name,
        neuron_type=type(neuron_type).__name__,
        n_neurons=sum(int(np.prod(shape)) for shape, _ in groups),
        scale=scale,
        current=level,
        max_rate=calib.max_rate,
        peak_rate=float(all_rates.max()) if all_rates.size else 0.0,
        mean_rate=float(all_rates.mean()) if all_rates.size else 0.0,
        active=float(np.mean(all_rates > 0)) if all_rates.size else 0.0,
        layer=layer,
        keras_scale=scale if keras_scale is None else keras_scale,
    )


def _channel_scales(layer, groups, shape, calib, target, level):
    """(flat per-neuron scales, per-channel scales shaped to broadcast in Keras)."""
    axis = 0 if getattr(layer, "data_format", None) == "channels_first" else len(shape) - 1
    data = np.concatenate([c.reshape((-1,) + shape) for _, c in groups])
    data = np.moveaxis(data, axis + 1, -1).reshape(-1, shape[axis])
    levels = np.full(shape[axis], level)
    for ch in range(shape[axis]):
        pos = data[:, ch][data[:, ch] > 0]
        if pos.size:
            levels[ch] = np.percentile(pos, calib.percentile)
    per_channel = target / levels
    view = [1] * len(shape)
    view[axis] = shape[axis]
    per_channel = per_channel.reshape(view)
    return np.broadcast_to(per_channel, shape).ravel().copy(), per_channel


def _is_calibration(scale):
    return as_calibration(scale) is not None


def _calibrate_before_conversion(model, options, label):
    """The ``"before"`` hook: choose the scales, report them on the result.

    Returns the options with the chosen scales in place of the calibration
    settings (a new `Options`: they are frozen) and the finishing step.
    """
    calib = as_calibration(options.scale_firing_rates)
    if calib is None:
        return None
    table = run_calibration(model, options, calib, label)

    def finish(result):
        result.firing_rates = table

    return dataclasses.replace(options, scale_firing_rates=table.scales), finish


# calibration sits above the engine: it plugs into every to_nengo call here
add_hook("scale_option", _is_calibration)
add_hook("before", _calibrate_before_conversion)
