"""Spiking on the Keras side, and the features that convert for it.

- `layers`: `SpikingActivation`, `Lowpass`, `Alpha` (Keras layers of
  temporal models) and `converters`: their Nengo converters and time-axis rules;
- `spike_aware`: the `SpikeAware` activation (trained spike counts),
  `restore_rates`, `unroll`;
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
    unroll,
)

__all__ = [
    "SpikeAware",
    "calibration",
    "callbacks",
    "layers",
    "restore_rates",
    "spike_aware_layers",
    "unroll",
]
