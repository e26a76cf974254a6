"""nengo_keras.conversion.result: the converted model, its report, run, present and verify."""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from tests.helpers import assert_close, dense_model, random_inputs

L = keras.layers


def test_run_accepts_dict_inputs_and_time_varying_data():
    a = keras.Input((2,), name="a")
    b = keras.Input((2,), name="b")
    out = L.Add()([a, b])
    model = keras.Model([a, b], out)
    result = nengo_keras.to_nengo(model)
    xa = np.arange(8.0).reshape(2, 2, 2)  # (batch, n_steps, 2): time-varying
    xb = np.ones((2, 2))  # constant
    got = result.run({"a": xa, model.inputs[1]: xb})
    assert got.shape == (2, 2, 2)
    np.testing.assert_allclose(got, xa + 1)


def test_present_feeds_a_users_own_simulator():
    model = dense_model()
    result = nengo_keras.to_nengo(model)
    x = random_inputs(model, batch=1)[0][0]
    probe = result.outputs[model.output]
    result.present(x)
    with nengo.Simulator(result.net, progress_bar=False) as sim:
        sim.run_steps(3)
    assert_close(sim.data[probe][-1], model.predict(x[None], verbose=0)[0])
    result.present(None)
    with nengo.Simulator(result.net, progress_bar=False) as sim:
        sim.step()
    assert_close(sim.data[probe][-1], model.predict(np.zeros_like(x)[None], verbose=0)[0])
    assert_close(result.predict(x[None]), model.predict(x[None], verbose=0))


def test_verify_reports_mismatch():
    result = nengo_keras.to_nengo(
        dense_model(), swap_activations={"relu": nengo.LIFRate()}
    )
    with pytest.raises(ValueError, match="differs from Keras"):
        result.verify()


def test_report_summary_and_layers_mapping():
    model = dense_model()
    result = nengo_keras.to_nengo(model)
    text = result.summary()
    assert "hidden" in text and "neural" in text
    assert result.tier_summary() == {"neural": {"layers": 2, "neurons": 16}}
    hidden = result.layers["hidden"]
    assert isinstance(hidden, nengo.ensemble.Neurons)
    out = result.layers[model.output]  # linear output: a pass-through node on demand
    assert isinstance(out, nengo.Node) and out.output is None
    with pytest.raises(KeyError):
        result.layers["missing"]
