"""nengo_keras.conversion.options: validating the options of one conversion."""

import dataclasses

import pytest

import nengo_keras
from nengo_keras.conversion.options import Options
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


def test_options_are_frozen_and_replace_validates_again():
    options = Options(tiers="neural")
    assert options.tiers == ("neural",)
    assert options.allow_fallback is False  # no fallback tier, no fallback
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.scale_firing_rates = 2.0
    assert dataclasses.replace(options, scale_firing_rates=2.0).scale_firing_rates == 2.0
    with pytest.raises(ValueError, match="scale_firing_rates"):
        dataclasses.replace(options, scale_firing_rates=-1.0)

