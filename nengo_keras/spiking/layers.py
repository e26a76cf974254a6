"""Keras 3 layers for spiking models: spiking activations and synaptic filters.

These layers act over a time axis: their inputs are shaped
``(batch, time, ...)`` and every time step is one simulator step of length
``dt`` seconds. They use ``keras.ops`` only, so they run (and train) on every
Keras backend, and `nengo_keras.to_nengo` converts them exactly:

- `SpikingActivation` becomes an Ensemble of spiking neurons
  (`nengo.SpikingRectifiedLinear` for ``relu``, `nengo.RegularSpiking` around
  the rate type of other activations);
- `Lowpass` and `Alpha` become `nengo.Lowpass` and `nengo.Alpha` synapses.

A model containing them converts as a *temporal* model: the Keras time axis is
Nengo's time, and ``ConvertedModel.run(x)`` with ``x`` shaped
``(batch, n_steps, ...)`` gives the same output sequence as ``model(x)``.

They replace the layers of the ``keras-spiking`` package (which does not run
on Keras 3); the maths is the same except where noted (initial voltages,
the synapses' one-step delay).
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

_PACKAGE = "nengo_keras"


def _check_dt(dt, layer):
    if not isinstance(dt, numbers.Real) or not dt > 0:
        raise ValueError(f"{layer}: dt must be a positive number of seconds, got {dt!r}")
    return float(dt)


def _check_sequence(input_shape, layer):
    if len(input_shape) < 2:
        raise ValueError(
            f"{layer} expects inputs shaped (batch, time, ...), got shape "
            f"{tuple(input_shape)}; add a time axis (e.g. keras.ops.expand_dims(x, 1) "
            f"or keras.ops.repeat over time steps)"
        )


def _time_major(x):
    return ops.moveaxis(x, 1, 0)


def _batch_major(x):
    return ops.moveaxis(x, 0, 1)


def _last_step(x, return_sequences):
    return x if return_sequences else x[:, -1]


def _sequence_output_shape(input_shape, return_sequences):
    input_shape = tuple(input_shape)
    return input_shape if return_sequences else input_shape[:1] + input_shape[2:]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SpikingActivation(keras.layers.Layer):
    """A spiking version of an activation function, over a time axis.

    Each element of the input is a neuron. Its voltage integrates the rate
    ``activation(x)`` and it emits a spike (of amplitude ``1 / dt``) for every
    unit the voltage crosses::

        v[t] = v[t-1] + dt * activation(x[t])
        spikes[t] = floor(v[t])
        v[t] -= spikes[t]
        output[t] = spikes[t] / dt

    so that over time the output averages to ``activation(x)``. This is what
    `nengo.SpikingRectifiedLinear` (for ``relu``) and `nengo.RegularSpiking`
    (for other rate types) compute, so the layer converts exactly.

    In the backward pass the layer uses the gradient of ``activation``
    (a straight-through estimator): the spikes in the forward pass, the rate
    function's derivative in the backward pass.

    Parameters
    ----------
    activation : str or callable
        The rate activation (any Keras activation: ``"relu"``, ``"tanh"``,
        ``keras.activations.sigmoid``...). Negative rates (``tanh``) give
        negative spikes.
    dt : float
        Length of one time step in seconds. Convert and run the model in Nengo
        with the same ``dt`` (`ConvertedModel.run` does so by default).
    initial_voltage : float or "uniform"
        The voltage of every neuron at the first time step (and after
        `reset_state`). A number in ``[0, 1)`` is used for every neuron; the
        default 0.5 makes each neuron's spike count ``rate * time`` rounded to
        the nearest integer, without any randomness. ``"uniform"`` draws one
        voltage per neuron from U(0, 1) when the layer is built (with
        ``seed``), stored as the non-trainable weight ``initial_voltage`` so
        saving, loading and conversion keep the same values. Unlike
        ``keras-spiking``, whose default was a fresh random draw, the initial
        state is the same on every call, for every sample.
    seed : int, optional
        Seed for ``initial_voltage="uniform"``.
    spiking_aware_training : bool
        If True, the forward pass spikes during training too (the backward pass
        uses the rate gradient). If False, training uses the rate activation
        (``activation(x)``) and only inference spikes.
    return_sequences : bool
        If True, output the whole sequence ``(batch, time, ...)``; if False,
        only the last time step ``(batch, ...)``.
    stateful : bool
        If True, the voltages at the end of one call are the initial voltages
        of the next (needs a fixed batch size: ``keras.Input(batch_size=...)``).
        `reset_state` restores ``initial_voltage``.
    **kwargs
        Passed to `keras.layers.Layer`.

    Examples
    --------
    >>> inp = keras.Input((100, 784))  # 100 time steps of 784 features
    >>> x = keras.layers.Dense(128)(inp)
    >>> x = nengo_keras.layers.SpikingActivation("relu")(x)
    >>> x = nengo_keras.layers.Lowpass(0.01)(x)
    >>> out = keras.layers.Dense(10)(x)
    >>> model = keras.Model(inp, out)
    >>> result = nengo_keras.to_nengo(model)  # spiking neurons, Lowpass synapse
    """

    def __init__(
        self,
        activation,
        dt=0.001,
        initial_voltage=0.5,
        seed=None,
        spiking_aware_training=True,
        return_sequences=True,
        stateful=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.dt = _check_dt(dt, self)
        if isinstance(initial_voltage, str):
            if initial_voltage != "uniform":
                raise ValueError(
                    f"{self}: initial_voltage must be a number in [0, 1) or "
                    f"'uniform', got {initial_voltage!r}"
                )
        elif not 0 <= initial_voltage < 1:
            raise ValueError(
                f"{self}: initial_voltage must be in [0, 1) (a fraction of the "
                f"spiking threshold), got {initial_voltage!r}"
            )
        else:
            initial_voltage = float(initial_voltage)
        self.initial_voltage = initial_voltage
        self.seed = seed
        self.spiking_aware_training = bool(spiking_aware_training)
        self.return_sequences = bool(return_sequences)
        self.stateful = bool(stateful)
        self.voltage = None

    def build(self, input_shape):
        _check_sequence(input_shape, self)
        neuron_shape = tuple(input_shape[2:])
        if self.initial_voltage == "uniform":
            if any(s is None for s in neuron_shape):
                raise ValueError(
                    f"{self}: initial_voltage='uniform' needs a known shape after "
                    f"the time axis, got {tuple(input_shape)}"
                )
            self.initial_voltages = self.add_weight(
                name="initial_voltage",
                shape=neuron_shape,
                initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=self.seed),
                trainable=False,
            )
        if self.stateful:
            if input_shape[0] is None or any(s is None for s in neuron_shape):
                raise ValueError(
                    f"{self}: stateful=True needs a fixed batch size and neuron "
                    f"shape, got input shape {tuple(input_shape)}; use "
                    f"keras.Input(shape, batch_size=...)"
                )
            self.voltage = self.add_weight(
                name="voltage",
                shape=(input_shape[0],) + neuron_shape,
                initializer="zeros",
                trainable=False,
            )
            self.voltage.assign(self._initial_state(input_shape[0], neuron_shape))

    def _initial_state(self, batch, neuron_shape):
        shape = (batch,) + tuple(neuron_shape)
        if self.initial_voltage == "uniform":
            start = ops.cast(self.initial_voltages, self.compute_dtype)
            return ops.broadcast_to(start, shape)
        return ops.full(shape, self.initial_voltage, dtype=self.compute_dtype)

    def reset_state(self):
        """Set the voltages of a stateful layer back to ``initial_voltage``."""
        if self.voltage is not None:
            self.voltage.assign(
                self._initial_state(self.voltage.shape[0], self.voltage.shape[1:])
            )

    def call(self, inputs, training=None):
        rates = self.activation(inputs)
        if training and not self.spiking_aware_training:
            return _last_step(rates, self.return_sequences)
        spikes = self._spikes(ops.stop_gradient(rates))
        # forward: the spikes; backward: the gradient of the rates
        out = rates + ops.stop_gradient(spikes - rates)
        return _last_step(out, self.return_sequences)

    def _spikes(self, rates):
        if self.stateful:
            v0 = ops.cast(self.voltage, self.compute_dtype)
        else:
            v0 = self._initial_state(ops.shape(rates)[0], ops.shape(rates)[2:])
        dt = self.dt
        amplitude = 1.0 / dt  # the same arithmetic as Nengo: (1 / dt) * n

        def step(voltage, rate):
            voltage = voltage + rate * dt
            n_spikes = ops.floor(voltage)
            return voltage - n_spikes, n_spikes * amplitude

        v_end, spikes = ops.scan(step, v0, _time_major(rates))
        if self.stateful:
            self.voltage.assign(ops.cast(v_end, self.voltage.dtype))
        return _batch_major(spikes)

    def compute_output_shape(self, input_shape):
        return _sequence_output_shape(input_shape, self.return_sequences)

    def get_config(self):
        config = super().get_config()
        config.update(
            activation=keras.activations.serialize(self.activation),
            dt=self.dt,
            initial_voltage=self.initial_voltage,
            seed=self.seed,
            spiking_aware_training=self.spiking_aware_training,
            return_sequences=self.return_sequences,
            stateful=self.stateful,
        )
        return config


class _Synapse(keras.layers.Layer):
    """Shared parts of the synapse layers: ``tau``, ``dt``, output shape."""

    def __init__(self, tau, dt=0.001, train_tau=False, return_sequences=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(tau, numbers.Real) or tau < 0:
            raise ValueError(
                f"{self}: tau must be a time constant >= 0 seconds, got {tau!r}"
            )
        self.initial_tau = float(tau)
        self.dt = _check_dt(dt, self)
        self.train_tau = bool(train_tau)
        self.return_sequences = bool(return_sequences)

    def build(self, input_shape):
        _check_sequence(input_shape, self)
        self.tau = self.add_weight(
            name="tau",
            shape=(),
            # not keras.initializers.Constant: it rounds through float32
            initializer=lambda shape, dtype: ops.full(shape, self.initial_tau, dtype),
            trainable=self.train_tau,
            constraint=keras.constraints.NonNeg(),
        )

    def _ratio(self):
        """``dt / tau`` (huge but finite at tau = 0: no 0 * inf in the maths)."""
        tau = ops.maximum(ops.cast(self.tau, self.compute_dtype), 1e-30)
        return self.dt / tau

    def compute_output_shape(self, input_shape):
        return _sequence_output_shape(input_shape, self.return_sequences)

    def get_config(self):
        config = super().get_config()
        config.update(
            tau=self.initial_tau,
            dt=self.dt,
            train_tau=self.train_tau,
            return_sequences=self.return_sequences,
        )
        return config


def _delayed(x):
    """``x`` one step later along axis 1 (zeros at the first step)."""
    return ops.concatenate([ops.zeros_like(x[:, :1]), x[:, :-1]], axis=1)


def _first_order(a, drive):
    """``y[t] = a * y[t-1] + drive[t]`` with ``y[-1] = 0``, along axis 1."""

    def step(y, d):
        y = a * y + d
        return y, y

    _, y = ops.scan(step, ops.zeros_like(drive[:, 0]), _time_major(drive))
    return _batch_major(y)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Lowpass(_Synapse):
    """A first-order lowpass filter over a time axis, as Nengo simulates it.

    The impulse response is ``exp(-t / tau) / tau``. The output is exactly
    what a `nengo.Connection` with ``synapse=nengo.Lowpass(tau)`` delivers in
    a Nengo simulator with time step ``dt`` (zero-order hold discretisation,
    filter state starting at zero)::

        a = exp(-dt / tau)
        y[t] = a * y[t-1] + (1 - a) * x[t-1]      (y[0] = 0)

    Note the one-step delay: like a Nengo synapse, the output at step ``t``
    reflects the input up to step ``t - 1``. (``keras-spiking``'s ``Lowpass``
    had no such delay, so it could not match Nengo step for step.)

    Parameters
    ----------
    tau : float
        Time constant in seconds (``tau=0`` is a pure one-step delay).
    dt : float
        Length of one time step in seconds.
    train_tau : bool
        If True, ``tau`` (the weight ``tau``, kept >= 0) is trained too.
    return_sequences : bool
        If True, output the whole sequence; if False, only the last step.
    **kwargs
        Passed to `keras.layers.Layer`.

    Examples
    --------
    >>> inp = keras.Input((50, 10))
    >>> spikes = nengo_keras.layers.SpikingActivation("relu")(inp)
    >>> smooth = nengo_keras.layers.Lowpass(tau=0.005)(spikes)
    >>> model = keras.Model(inp, smooth)
    """

    def call(self, inputs):
        r = self._ratio()
        a = ops.exp(-r)
        y = _first_order(a, -ops.expm1(-r) * _delayed(inputs))  # expm1: 1 - a, precisely
        return _last_step(y, self.return_sequences)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Alpha(_Synapse):
    """An alpha filter over a time axis, as Nengo simulates it.

    The impulse response is ``t * exp(-t / tau) / tau**2``. The output is
    exactly what a `nengo.Connection` with ``synapse=nengo.Alpha(tau)``
    delivers in a Nengo simulator with time step ``dt`` (zero-order hold
    discretisation, zero initial state, and the same one-step delay as
    `Lowpass`). With ``a = exp(-dt / tau)`` and ``r = dt / tau`` it is two
    first-order stages::

        w[t] = a * w[t-1] + (1 - a - r*a) * x[t] + (a*a - a + r*a) * x[t-1]
        y[t] = a * y[t-1] + w[t-1]

    Parameters
    ----------
    tau : float
        Time constant in seconds (``tau=0`` is a pure one-step delay).
    dt : float
        Length of one time step in seconds.
    train_tau : bool
        If True, ``tau`` (the weight ``tau``, kept >= 0) is trained too.
    return_sequences : bool
        If True, output the whole sequence; if False, only the last step.
    **kwargs
        Passed to `keras.layers.Layer`.

    Examples
    --------
    >>> inp = keras.Input((50, 10))
    >>> spikes = nengo_keras.layers.SpikingActivation("relu")(inp)
    >>> smooth = nengo_keras.layers.Alpha(tau=0.005)(spikes)
    >>> model = keras.Model(inp, smooth)
    """

    def call(self, inputs):
        r = self._ratio()
        a = ops.exp(-r)
        # both coefficients are O(r**2): expm1 avoids cancelling terms of O(1)
        b0 = -ops.expm1(-r) - r * a  # 1 - a - r*a
        b1 = a * (r + ops.expm1(-r))  # a*a - a + r*a
        w = _first_order(a, b0 * inputs + b1 * _delayed(inputs))
        y = _first_order(a, _delayed(w))
        return _last_step(y, self.return_sequences)


__all__ = ["Alpha", "Lowpass", "SpikingActivation"]
