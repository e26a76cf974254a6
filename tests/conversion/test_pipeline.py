"""nengo_keras.conversion.pipeline: options -> "before" hooks -> walk -> result."""

import dataclasses

import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.conversion.registry import HOOKS, add_hook
from nengo_keras.spiking.calibration import RateCalibration
from tests.helpers import check_conversion, dense_model, random_inputs


@pytest.fixture
def own_hooks():
    saved = HOOKS.snapshot()
    yield
    HOOKS.restore(saved)


def test_before_hooks_hand_new_options_to_the_walk_and_finish_the_result(own_hooks):
    seen = []

    def rescale(model, options, label):
        seen.append(options.scale_firing_rates)
        return dataclasses.replace(options, scale_firing_rates=4.0), None

    def note(model, options, label):
        seen.append(options.scale_firing_rates)
        return options, lambda result: setattr(result, "noted", label)

    add_hook("before", rescale)
    add_hook("before", note)
    result = check_conversion(dense_model(), scale_firing_rates=2.0, label="net")
    assert seen == [2.0, 4.0]  # each hook sees the options the one before made
    (ens,) = result.net.all_ensembles
    np.testing.assert_allclose(ens.gain, 4.0)
    assert result.noted == "net"


def test_calibration_hands_its_scales_to_the_walk():
    model = dense_model()
    hidden = model.get_layer("hidden")
    x = random_inputs(model, batch=8, low=0, high=1)[0]
    result = nengo_keras.to_nengo(
        model,
        swap_activations={"relu": nengo.SpikingRectifiedLinear()},
        scale_firing_rates=RateCalibration(x, max_rate=100.0),
    )
    chosen = result.firing_rates.scales
    assert list(chosen) == [hidden] and chosen[hidden] != 1.0
    # the walk converted with the chosen scales, not the calibration settings
    assert result.options.scale_firing_rates.keys() == chosen.keys()
    (ens,) = result.net.all_ensembles
    np.testing.assert_allclose(ens.gain, chosen[hidden])
