"""nengo_keras.conversion.options: validating the options of one conversion."""

import pytest

import nengo_keras
from tests.helpers import dense_model


@pytest.mark.parametrize("scale", [0, -1, "x", {"hidden": 0}])
def test_scale_firing_rates_rejects_bad_values(scale):
    with pytest.raises(ValueError, match="scale_firing_rates"):
        nengo_keras.to_nengo(dense_model(), scale_firing_rates=scale)


def test_bad_options_are_clear_errors():
    model = dense_model()
    with pytest.raises(TypeError, match="allow_fallback"):
        nengo_keras.to_nengo(model, allow_fallback="yes")
    with pytest.raises(ValueError, match="tiers"):
        nengo_keras.to_nengo(model, tiers=("spiking",))
    with pytest.raises(TypeError, match="synapse"):
        nengo_keras.to_nengo(model, synapse="fast")
    with pytest.raises(TypeError, match="keras.Model"):
        nengo_keras.to_nengo("model")
