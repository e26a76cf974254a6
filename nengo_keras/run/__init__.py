"""Running converted networks on batches of inputs, and measuring them.

- `arguments`: checks of what ``run``/``predict``/``evaluate`` are given,
  before anything is built or simulated;
- `simulation`: inputs in, outputs out (``ConvertedModel.run``/``verify``);
  other engines (NengoDL) plug in with `simulation.register_engine`;
- `keras_engine`: ``simulator="keras"``, the operators Nengo builds run on
  whole minibatches as compiled Keras computations;
- `executors`: one simulator per worker, run serially, in threads or in
  processes;
- `evaluation`: `evaluate`: accuracy over time, firing rates, synaptic
  operations; `synops`: counting synaptic operations (fan-out per spike);
- `plots`: matplotlib figures of the above (matplotlib is imported when a
  plot is made).

These lend `ConvertedModel` its ``run``/``evaluate``/``verify`` through
hooks (`nengo_keras.conversion.registry.add_hook`), as the engine does not
import this subpackage.

May import: `nengo_keras.conversion`, `nengo_keras.converters`,
`nengo_keras.errors` and modules of this subpackage; never `spiking` or
`nengo_dl`.
"""

from ..conversion.registry import add_hook
from . import arguments, evaluation, executors, keras_engine, plots, simulation, synops

add_hook("run_batch", simulation.run_batch)
add_hook("prepare_inputs", simulation.prepare_inputs)
add_hook("format_inputs", simulation.format_inputs)
add_hook("check_verifiable", simulation.check_verifiable)
add_hook("evaluate", evaluation.evaluate)
add_hook("check_run_arguments", arguments.check_run_arguments)
add_hook("check_inputs", arguments.check_inputs)
add_hook("check_dt", arguments.check_dt)
