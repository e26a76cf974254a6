"""The engine: a Keras graph in, a native Nengo network out.

Like ``nengo.builder``, this subpackage knows nothing of what sits above it:
spiking training, calibration, running networks or NengoDL plug in through
`registry.add_hook` and the registry tables instead of being imported here.

What lives here:

- `pipeline`: ``to_nengo()``: options -> hooks -> walk -> result;
- `options`: the validated `Options` of one conversion;
- `graph`: the ONLY module that reads Keras private attributes (graph nodes,
  call arguments, tracing); ``tests/conversion/test_graph.py`` pins them;
- `walk`: converts a graph node by node (report, fallback, error notes);
- `context`: `ConversionContext`, the per-call state and helpers, with
  ``ctx.convert(graph_or_layer, inputs)``, the one way to recurse;
- `registry`: the protocol's lookup order, the one `~registry.Table`
  mechanism (converters, activation builders, time-axis and shape rules,
  hooks), `register_converter`, `converter_scope`;
- `protocol`: `NengoConvertible`; `values`: `Value` (unevaluated linear sums);
  `transforms`: the linear maps in values; `node_functions`: picklable Node
  functions; `activation_map`: activation names and ``swap_activations``;
  `time_axis`: temporal models (Nengo time = Keras axis 1); `result`:
  `ConvertedModel`.

May import: `nengo_keras.errors` and modules of this subpackage only.
"""

from .context import ConversionContext
from .options import Options
from .pipeline import LayerReport, convert, to_nengo
from .protocol import NengoConvertible
from .registry import (
    converter_scope,
    find_converter,
    register,
    register_converter,
    takes_values,
    unregister_converter,
)
from .result import ConvertedModel
from .values import Value

__all__ = [
    "ConversionContext",
    "ConvertedModel",
    "LayerReport",
    "NengoConvertible",
    "Options",
    "Value",
    "convert",
    "converter_scope",
    "find_converter",
    "register",
    "register_converter",
    "takes_values",
    "to_nengo",
    "unregister_converter",
]
