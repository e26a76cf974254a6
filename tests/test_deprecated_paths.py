"""The import paths of modules that moved keep working for one release."""

import importlib
import sys
import warnings

import pytest

import nengo_keras

MOVED = {
    "nengo_keras.activations": "nengo_keras.conversion.activation_map",
    "nengo_keras.calibration": "nengo_keras.spiking.calibration",
    "nengo_keras.callbacks": "nengo_keras.spiking.callbacks",
    "nengo_keras.compat": "nengo_keras.nengo_dl.compat",
    "nengo_keras.context": "nengo_keras.conversion.context",
    "nengo_keras.evaluation": "nengo_keras.run.evaluation",
    "nengo_keras.layers": "nengo_keras.spiking.layers",
    "nengo_keras.mixins": "nengo_keras.converters.mixins",
    "nengo_keras.nengo_dl_backend": "nengo_keras.nengo_dl.backend",
    "nengo_keras.options": "nengo_keras.conversion.options",
    "nengo_keras.plots": "nengo_keras.run.plots",
    "nengo_keras.protocol": "nengo_keras.conversion.protocol",
    "nengo_keras.registry": "nengo_keras.conversion.registry",
    "nengo_keras.result": "nengo_keras.conversion.result",
    "nengo_keras.simulation": "nengo_keras.run.simulation",
    "nengo_keras.values": "nengo_keras.conversion.values",
}


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_old_path_is_the_new_module_with_a_warning(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_old_from_import_gives_the_same_objects():
    sys.modules.pop("nengo_keras.layers", None)
    with pytest.warns(DeprecationWarning):
        from nengo_keras.layers import SpikingActivation
    assert SpikingActivation is nengo_keras.spiking.layers.SpikingActivation


def test_top_level_names_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert nengo_keras.layers is nengo_keras.spiking.layers
        assert nengo_keras.calibration.RateCalibration
        assert nengo_keras.callbacks.SpikingSwap
        assert nengo_keras.activations.register_activation
        assert nengo_keras.spiking.SpikeAware and nengo_keras.spiking.unroll
        assert nengo_keras.converter.LayerConverter is nengo_keras.nengo_dl.LayerConverter


def test_old_converter_module_names_warn():
    with pytest.warns(DeprecationWarning, match="nengo_keras.conversion.to_nengo"):
        assert nengo_keras.converter.to_nengo is nengo_keras.to_nengo
    with pytest.warns(DeprecationWarning, match="nengo_dl.compat.configure_trainable"):
        assert callable(nengo_keras.converter.configure_trainable)
