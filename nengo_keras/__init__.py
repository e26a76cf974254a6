"""nengo_keras: convert Keras 3 models into native Nengo networks.

Subpackages, whose imports run one way (``conversion`` <- ``converters`` <-
``spiking``, ``run``, ``nengo_dl``): `conversion` (the engine), `converters`
(the built-in converters), `spiking` (spiking layers, training and
calibration), `run` (simulating, evaluating, plotting) and `nengo_dl`
(NengoDL compatibility). This module imports them all, so every converter,
hook and engine is registered once ``nengo_keras`` is imported.

Examples
--------
>>> import keras, nengo, nengo_keras
>>> result = nengo_keras.to_nengo(model)
>>> with nengo.Simulator(result.net) as sim:
...     sim.step()
"""

from . import conversion, converters, nengo_dl, run, spiking
from . import converter  # noqa: F401  (nengo_keras.converter.LayerConverter, as in NengoDL)
from .conversion import activation_map as activations
from .conversion.context import ConversionContext
from .conversion.pipeline import LayerReport, to_nengo
from .conversion.protocol import NengoConvertible
from .conversion.registry import (
    converter_scope,
    register_converter,
    takes_values,
    unregister_converter,
)
from .conversion.result import ConvertedModel
from .conversion.values import Value
from .converters.mixins import Affine, Elementwise, Rearranging
from .errors import ConversionError, Unsupported
from .models import Model, Sequential
from .nengo_dl.compat import Converter
from .run.evaluation import EvaluationResult, LayerActivity, evaluate
from .spiking import calibration, callbacks, layers
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
