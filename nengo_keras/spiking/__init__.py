"""Spiking on the Keras side, and the features that convert for it.

- `layers`: `SpikingActivation`, `Lowpass`, `Alpha` (Keras layers of
  temporal models) and `converters`: their Nengo converters and time-axis rules;
- `spike_aware`: the `SpikeAware` activation (trained spike counts),
  `restore_rates`;
- `unroll`: time-unrolled spiking copies of rate networks (``unroll``; the
  package attribute ``nengo_keras.spiking.unroll`` is the function, the module
  is reached as ``from nengo_keras.spiking.unroll import ...``);
- `callbacks`: `SpikingSwap`, swapping relu for `SpikeAware` during training;
- `calibration`: `RateCalibration` / `calibrate`, choosing firing-rate scales
  from data. It runs conversions, so it sits above the engine and plugs into
  ``to_nengo`` as a ``"before"`` hook.

May import: `nengo_keras.conversion`, `nengo_keras.converters`,
`nengo_keras.errors` and modules of this subpackage; never `run` or `nengo_dl`.

The names of ``nengo_keras.spiking`` before it became a package
(``SpikeAware``, ``unroll``, ``restore_rates``...) are still here.
"""

from . import calibration, callbacks, converters, layers, spike_aware
from .spike_aware import (
    LIF_SMOOTHING,
    NEURONS,
    SpikeAware,
    all_layers,
    build,
    check_scale,
    check_synapse,
    is_spike_aware,
    make_neuron_type,
    neuron_spec,
    restore_rates,
    retrace,
    spike_aware_layers,
)

# binds the package attribute ``unroll`` to the function, not its module
from .unroll import unroll

__all__ = [
    "SpikeAware",
    "calibration",
    "callbacks",
    "layers",
    "restore_rates",
    "spike_aware_layers",
    "unroll",
]
