"""nengo_keras: convert Keras 3 models into native Nengo networks.

Examples
--------
>>> import keras, nengo, nengo_keras
>>> result = nengo_keras.to_nengo(model)
>>> with nengo.Simulator(result.net) as sim:
...     sim.run_steps(10)
"""

from . import activations, calibration, callbacks, layers, spiking
from .compat import Converter
from .context import ConversionContext
from .errors import Unsupported
from .converter import LayerReport, to_nengo
from .errors import ConversionError
from .evaluation import EvaluationResult, LayerActivity, evaluate
from .mixins import Affine, Elementwise, Rearranging
from .models import Model, Sequential
from .protocol import NengoConvertible
from .registry import (
    converter_scope,
    register_converter,
    takes_values,
    unregister_converter,
)
from .result import ConvertedModel
from .values import Value
from .version import __version__

__all__ = [
    "Affine",
    "ConversionContext",
    "ConversionError",
    "ConvertedModel",
    "Converter",
    "Elementwise",
    "EvaluationResult",
    "LayerActivity",
    "LayerReport",
    "Model",
    "NengoConvertible",
    "Rearranging",
    "Sequential",
    "Unsupported",
    "Value",
    "activations",
    "calibration",
    "callbacks",
    "converter_scope",
    "evaluate",
    "layers",
    "register_converter",
    "spiking",
    "takes_values",
    "to_nengo",
    "unregister_converter",
    "__version__",
]


def __getattr__(name):
    # nengo_keras.nir needs the optional `nir` package: import it on first use
    if name == "nir":
        import importlib

        return importlib.import_module(".nir", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
