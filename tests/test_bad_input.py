"""Catalogue of bad inputs: each one gets a clear error before any simulation.

Every case checks the exception type and that the message says what is wrong,
where (the option, layer or input name) and how to fix it. The ``no_simulator``
fixture makes building a `nengo.Simulator` fail the test, so each error must
come from the argument checks, not from inside a simulation.
"""

import functools

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras import ConversionError
from nengo_keras.spiking.calibration import RateCalibration

L = keras.layers
SPIKING = {"relu": nengo.SpikingRectifiedLinear()}


@pytest.fixture
def no_simulator(monkeypatch):
    """Building any nengo.Simulator fails the test."""

    @functools.wraps(nengo.Simulator.__init__)  # keeps the signature it is checked against
    def refuse(self, *args, **kwargs):
        raise AssertionError("a nengo.Simulator was built before the error")

    monkeypatch.setattr(nengo.Simulator, "__init__", refuse)
    monkeypatch.setattr(nengo.Simulator, "__del__", lambda self: None)


def dense_model():
    inp = keras.Input((4,), name="pixels")
    hidden = L.Dense(3, activation="relu", name="hidden")(inp)
    return keras.Model(inp, L.Dense(2, name="scores")(hidden))


def two_input_model():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    return keras.Model([a, b], L.Dense(2, name="out")(L.Concatenate()([a, b])))


def check_message(error, *parts):
    text = str(error)
    for part in parts:
        assert part in text, f"{part!r} not in the message:\n{text}"


# --- options of to_nengo / Converter ---------------------------------------------

OPTION_CASES = {
    "synapse nan": ({"synapse": float("nan")}, ValueError, ["synapse=nan", "finite", "0.005"]),
    "synapse inf": ({"synapse": float("inf")}, ValueError, ["synapse=inf", "finite", "None"]),
    "synapse negative": ({"synapse": -0.01}, ValueError, ["synapse=-0.01", ">= 0", "0.005"]),
    "synapse Lowpass(inf)": (
        {"synapse": nengo.Lowpass(np.inf)}, ValueError,
        ["synapse=Lowpass", "infinite", "finite tau"],
    ),
    "synapse bool": ({"synapse": True}, TypeError, ["synapse", "got True", "synapse=0.005"]),
    "scale True": (
        {"scale_firing_rates": True}, TypeError, ["scale_firing_rates=True", "bool", "=100"]
    ),
    "scale list": (
        {"scale_firing_rates": [1.0, 2.0]}, TypeError,
        ["scale_firing_rates=[1.0, 2.0]", "ambiguous", "dict {layer name", "RateCalibration"],
    ),
    "scale 1-D array": (
        {"scale_firing_rates": np.ones(3)}, TypeError, ["scale_firing_rates=array", "dict"]
    ),
    "scale negative": (
        {"scale_firing_rates": {"hidden": -2.0}}, ValueError,
        ["scale_firing_rates['hidden']", "positive number", "-2.0"],
    ),
    "scale dict bool": (
        {"scale_firing_rates": {"hidden": True}}, TypeError,
        ["scale_firing_rates['hidden']=True", "positive number"],
    ),
    "converters not callable": (
        {"converters": {"hidden": 5}}, TypeError,
        ["converters['hidden'] is 5", "not a function", "fn(layer, ctx, *inputs)"],
    ),
    "converters not a dict": (
        {"converters": [keras.layers.Dense]}, TypeError, ["converters must be a dict", "list"]
    ),
    "converters bad key": (
        {"converters": {3: lambda *a: None}}, TypeError, ["converters: key 3", "layer name"]
    ),
    "swap_activations not a dict": (
        {"swap_activations": "relu"}, TypeError,
        ["swap_activations must be a dict", "'relu'", "SpikingRectifiedLinear()"],
    ),
    "scale dict bad key": (
        {"scale_firing_rates": {0: 10.0}}, TypeError,
        ["scale_firing_rates: key 0", "layer names", "{'dense': 100}"],
    ),
    "label not a string": ({"label": 5}, TypeError, ["label must be a string", "got 5"]),
    "temporal not a bool": (
        {"temporal": "yes"}, TypeError, ["option temporal", "True or False", "'yes'"]
    ),
    "max_to_avg_pool not a bool": (
        {"max_to_avg_pool": 1}, TypeError, ["option max_to_avg_pool", "True or False", "got 1"]
    ),
    "tiers misspelled": (
        {"tiers": ("nueral",)}, ValueError, ["option tiers", "did you mean 'neural'?"]
    ),
    "swap_activations key misspelled": (
        {"swap_activations": {"rleu": nengo.LIF()}}, ValueError,
        ["swap_activations key 'rleu'", "did you mean 'relu'?"],
    ),
}


@pytest.mark.parametrize("case", list(OPTION_CASES))
@pytest.mark.parametrize("entry", ["to_nengo", "Converter"])
def test_bad_option(case, entry, no_simulator):
    options, error, parts = OPTION_CASES[case]
    if entry == "Converter" and "label" in options:
        pytest.skip("Converter has no label (as in NengoDL)")
    convert = nengo_keras.to_nengo if entry == "to_nengo" else nengo_keras.Converter
    with pytest.raises(error) as info:
        convert(dense_model(), **options)
    check_message(info.value, *parts)


# --- misspelled keyword arguments ------------------------------------------------


def _converted():
    return nengo_keras.to_nengo(dense_model())


CALLS = {
    "to_nengo": lambda kw: nengo_keras.to_nengo(dense_model(), **kw),
    "Converter": lambda kw: nengo_keras.Converter(dense_model(), **kw),
    "run": lambda kw: _converted().run(np.ones((2, 4)), **kw),
    "predict": lambda kw: _converted().predict(np.ones((2, 4)), **kw),
    "evaluate": lambda kw: nengo_keras.evaluate(
        _converted(), np.ones((2, 4)), executor="serial", progress_bar=False, **kw
    ),
    "ConvertedModel.evaluate": lambda kw: _converted().evaluate(
        np.ones((2, 4)), executor="serial", progress_bar=False, **kw
    ),
    "calibrate": lambda kw: nengo_keras.spiking.calibration.calibrate(
        dense_model(), np.ones((4, 4)), **kw
    ),
}
MISSPELLED = {
    "to_nengo": ("synapes", "synapse"),
    "Converter": ("swap_activation", "swap_activations"),
    "run": ("n_step", "n_steps"),
    "predict": ("progressbar", "progress_bar"),
    "evaluate": ("n_worker", "n_workers"),
    "ConvertedModel.evaluate": ("chunksize", "chunk_size"),
    "calibrate": ("swap_activation", "swap_activations"),
}


@pytest.mark.parametrize("entry", list(CALLS))
def test_misspelled_keyword(entry, no_simulator):
    wrong, right = MISSPELLED[entry]
    with pytest.raises(TypeError) as info:
        CALLS[entry]({wrong: 1})
    name = entry.split(".")[-1]
    check_message(
        info.value, f"{name}() got an unexpected keyword argument {wrong!r}",
        f"did you mean {right!r}?",
    )


def test_simulator_keywords_still_pass_through():
    # the keyword check knows the simulator's own arguments
    out = _converted().run(np.ones((1, 4)), optimize=True)
    assert out.shape == (1, 1, 2)


# --- run / predict / evaluate arguments --------------------------------------------

RUN_CASES = {
    "n_steps 0": ({"n_steps": 0}, ValueError, ["n_steps=0", "at least one", "n_steps >= 1"]),
    "n_steps negative": ({"n_steps": -3}, ValueError, ["n_steps=-3", "n_steps >= 1"]),
    "n_steps fraction": ({"n_steps": 2.5}, TypeError, ["n_steps", "2.5", "pass an int"]),
    "n_steps float": ({"n_steps": 2.0}, TypeError, ["n_steps", "2.0", "n_steps=2"]),
    "n_steps string": ({"n_steps": "3"}, TypeError, ["n_steps", "'3'", "pass an int"]),
    "n_steps bool": ({"n_steps": True}, TypeError, ["n_steps", "True"]),
    "dt 0": ({"dt": 0}, ValueError, ["dt=0", "> 0", "dt=0.001"]),
    "dt negative": ({"dt": -0.001}, ValueError, ["dt=-0.001", "> 0", "dt=0.001"]),
    "dt nan": ({"dt": float("nan")}, ValueError, ["dt=nan", "finite", "dt=0.001"]),
    "dt string": ({"dt": "0.001"}, TypeError, ["dt must be", "seconds", "dt=0.001"]),
    "seed string": ({"seed": "a"}, TypeError, ["seed must be an int", "seed=0"]),
    "n_workers 0": ({"n_workers": 0}, ValueError, ["n_workers=0", "at least 1"]),
    "simulator instance": ({"simulator": 5}, TypeError, ["simulator=5", "nengo.Simulator"]),
}


@pytest.mark.parametrize("case", list(RUN_CASES))
@pytest.mark.parametrize("entry", ["run", "predict", "evaluate"])
def test_bad_run_argument(entry, case, no_simulator):
    kwargs, error, parts = RUN_CASES[case]
    with pytest.raises(error) as info:
        CALLS[entry](kwargs)
    check_message(info.value, f"{entry}: ", *parts)


def test_bad_evaluate_only_arguments(no_simulator):
    result = _converted()
    x = np.ones((2, 4))
    with pytest.raises(ValueError) as info:
        nengo_keras.evaluate(result, x, output="logits", executor="serial")
    check_message(info.value, "output='logits'", "the outputs are ['scores']")
    with pytest.raises(ValueError) as info:
        nengo_keras.evaluate(result, x, chunk_size=0, executor="serial")
    check_message(info.value, "chunk_size=0", "at least 1")
    with pytest.raises(TypeError) as info:
        nengo_keras.evaluate(nengo_keras.Converter(dense_model()), x)
    check_message(info.value, "ConvertedModel", "got Converter", "converter.result")
    with pytest.raises(TypeError) as info:
        result.run(x, probes=["hidden"])
    check_message(info.value, "probes must be nengo.Probe", "result.probe(name)")


# --- input data ---------------------------------------------------------------------

x_nan = np.ones((3, 4))
x_nan[2, 1] = np.nan
x_inf = np.ones((3, 4))
x_inf[1, 3] = -np.inf
DATA_CASES = {
    "scalar": (np.float64(1.0), ValueError, ["input 'pixels' is a scalar", "(batch, 4)"]),
    "no batch axis": (np.ones(4), ValueError, ["input 'pixels'", "got (4,)", "x[None]"]),
    "empty batch": (
        np.ones((0, 4)), ValueError, ["input 'pixels' has no samples", "at least one"]
    ),
    "zero time steps": (np.ones((2, 0, 4)), ValueError, ["input 'pixels' has 0 time steps"]),
    "wrong width": (np.ones((2, 5)), ValueError, ["input 'pixels'", "(batch, 4)", "got (2, 5)"]),
    "list of samples": (
        [np.ones(4)] * 3, ValueError, ["1 input(s) ['pixels']", "list of 3", "np.stack"]
    ),
    "unknown dict key": (
        {"pixel": np.ones((2, 4))}, ValueError, ["key 'pixel'", "the inputs are ['pixels']"]
    ),
    "strings": (np.array([["a"] * 4]), TypeError, ["input 'pixels' must be numeric"]),
    "NaN": (x_nan, ValueError, ["input 'pixels'", "1 sample(s)", "sample 2", "NaN at index (2, 1)",
                                "np.nan_to_num"]),
    "inf": (x_inf, ValueError, ["input 'pixels'", "sample 1", "inf at index (1, 3)"]),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
@pytest.mark.parametrize("entry", ["run", "predict", "evaluate", "verify"])
def test_bad_input_data(entry, case, no_simulator):
    x, error, parts = DATA_CASES[case]
    result = _converted()
    call = {
        "run": lambda: result.run(x),
        "predict": lambda: result.predict(x),
        "evaluate": lambda: nengo_keras.evaluate(result, x, executor="serial"),
        "verify": lambda: result.verify(inputs=x),
    }[entry]
    with pytest.raises(error) as info:
        call()
    check_message(info.value, f"{entry}: ", *parts)


MULTI_CASES = {
    "one array": (lambda: np.ones((2, 3)), ["2 input(s) ['a', 'b']", "single array"]),
    "three arrays": (lambda: [np.ones((2, 3))] * 3, ["2 input(s)", "list of 3"]),
    "missing key": (lambda: {"a": np.ones((2, 3))}, ["no data for the model inputs ['b']"]),
    "batch sizes differ": (
        lambda: [np.ones((2, 3)), np.ones((3, 2))],
        ["different numbers of samples", "'a': 2", "'b': 3"],
    ),
}


@pytest.mark.parametrize("case", list(MULTI_CASES))
def test_bad_multi_input_data(case, no_simulator):
    make, parts = MULTI_CASES[case]
    result = nengo_keras.to_nengo(two_input_model())
    with pytest.raises(ValueError) as info:
        result.predict(make())
    check_message(info.value, "predict: ", *parts)


def test_present_checks_its_sample():
    result = _converted()
    with pytest.raises(ValueError) as info:
        result.present(np.array([1.0, np.nan, 0.0, 0.0]))
    check_message(info.value, "present: input 'pixels'", "NaN")
    with pytest.raises(ValueError, match="dt=0"):
        result.present(np.ones(4), dt=0)


# --- scale_firing_rates: per-layer shapes and calibration data ------------------------

cal_nan = np.ones((6, 4))
cal_nan[4, 0] = np.nan
SCALE_CASES = {
    "wrong length": (
        {"hidden": [1.0, 2.0]}, ValueError,
        ["scale_firing_rates", "layer 'hidden' (Dense)", "shape (2,)", "3 neurons",
         "{'hidden': 100}"],
    ),
    "too many": ({"hidden": np.ones(5)}, ValueError, ["layer 'hidden'", "shape (5,)"]),
    "calibration wrong width": (
        np.ones((6, 7)), ValueError,
        ["option scale_firing_rates (calibration samples)", "input 'pixels'", "got (6, 7)"],
    ),
    "calibration NaN": (
        cal_nan, ValueError,
        ["option scale_firing_rates (calibration samples)", "input 'pixels'", "sample 4"],
    ),
    "RateCalibration NaN": (
        RateCalibration(cal_nan), ValueError, ["scale_firing_rates (calibration samples)", "NaN"]
    ),
}


@pytest.mark.parametrize("case", list(SCALE_CASES))
def test_bad_scale_firing_rates(case, no_simulator):
    scale, error, parts = SCALE_CASES[case]
    with pytest.raises(error) as info:
        nengo_keras.to_nengo(dense_model(), swap_activations=SPIKING, scale_firing_rates=scale)
    check_message(info.value, *parts)


def test_per_channel_scale_still_broadcasts():
    inp = keras.Input((5, 3))
    model = keras.Model(inp, L.Dense(2, activation="relu", name="d")(inp))
    result = nengo_keras.to_nengo(model, scale_firing_rates={"d": np.array([2.0, 4.0])})
    (ens,) = [e for e in result.net.all_ensembles]
    assert ens.n_neurons == 10 and np.allclose(ens.gain, np.tile([2.0, 4.0], 5))


# --- keys that match nothing: warnings that name the key and what exists -----------------

WARN_CASES = {
    "converters": (
        {"converters": {"hiden": lambda *a: None}},
        ["converters", "'hiden'", "matched no layer", "hidden", "scores"],
    ),
    "converters class": (
        {"converters": {L.Conv2D: lambda *a: None}}, ["'Conv2D'", "matched no layer"]
    ),
    "swap_activations": (
        {"swap_activations": {"sigmoid": nengo.LIF()}},
        ["swap_activations keys ['sigmoid']", "the model's activations are: ['relu']"],
    ),
    "scale_firing_rates": (
        {"scale_firing_rates": {"hiden": 10.0}},
        ["scale_firing_rates keys ['hiden']", "layers with neurons are: ['hidden']"],
    ),
}


@pytest.mark.parametrize("case", list(WARN_CASES))
def test_unmatched_keys_warn(case):
    options, parts = WARN_CASES[case]
    with pytest.warns(UserWarning) as record:
        nengo_keras.to_nengo(dense_model(), **options)
    messages = [str(w.message) for w in record]
    assert any(all(p in m for p in parts) for m in messages), messages


# --- models that cannot convert as asked --------------------------------------------


def _zero_input():
    return keras.Sequential([keras.Input((3, 0)), L.Flatten(), L.Dense(2)])


def _zero_slice():
    inp = keras.Input((4,))
    return keras.Model(inp, L.Dense(2)(inp[:, 4:]))


def _softmax():
    return keras.Sequential([keras.Input((4,)), L.Dense(3, activation="softmax", name="probs")])


def _gelu():
    return keras.Sequential([keras.Input((4,)), L.Dense(3, activation="gelu", name="smooth")])


MODEL_CASES = {
    "zero-sized input": (
        _zero_input, {}, ["input 'input_layer'", "(None, 3, 0)", "zero-sized", "size >= 1"]
    ),
    "zero-sized layer output": (
        _zero_slice, {}, ["'get_item'", "output shape (0,)", "zero-sized", ">= 1"]
    ),
    "softmax with tiers=neural": (
        _softmax, {"tiers": ("neural",)},
        ["layer 'probs' (Dense)", "activation 'softmax'", "activation=None",
         "classifier_activation=None", "allow the 'node' tier"],
    ),
    "gelu with tiers=neural": (
        _gelu, {"tiers": ("neural",)},
        ["layer 'smooth' (Dense)", "activation 'gelu'", "swap_activations={'gelu'"],
    ),
    "temporal=True without time": (
        dense_model, {"temporal": True}, ["temporal=True was passed", "temporal=None"]
    ),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_unconvertible_as_asked(case, no_simulator):
    make, options, parts = MODEL_CASES[case]
    with pytest.raises(ConversionError) as info:
        nengo_keras.to_nengo(make(), **options)
    check_message(info.value, *parts)


# --- verify: tolerances that fit the model's dtype --------------------------------------


def _low_precision(dtype):
    return keras.Sequential([
        keras.Input((8,)),
        L.Dense(16, activation="relu", dtype=dtype),
        L.Dense(4, dtype=dtype, name="out"),
    ])


def _skewed_dense(layer, ctx, x):
    # a deliberately wrong converter: 10% too large a kernel
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
    bias = keras.ops.convert_to_numpy(layer.bias).astype(np.float64)
    out = nengo.Node(size_in=kernel.shape[1])
    nengo.Connection(x, out, transform=1.1 * kernel.T, synapse=None)
    nengo.Connection(nengo.Node(bias), out, synapse=None)
    return out


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_verify_tolerance_fits_dtype(dtype):
    model = _low_precision(dtype)
    assert nengo_keras.to_nengo(model).verify()  # Keras' own rounding passes
    with pytest.raises(ValueError) as info:
        nengo_keras.to_nengo(model).verify(rtol=1e-7)
    check_message(info.value, f"computes in {dtype}", "machine epsilon", "larger rtol")
    # the looser default still catches a real conversion error
    wrong = nengo_keras.to_nengo(model, converters={"out": _skewed_dense})
    with pytest.raises(ValueError, match="differs from Keras"):
        wrong.verify()


def test_verify_bad_tolerance(no_simulator):
    with pytest.raises(ValueError) as info:
        _converted().verify(atol=-1)
    check_message(info.value, "atol=-1", ">= 0")


# --- converter registry and lookups by name ---------------------------------------------


def _register_not_callable():
    nengo_keras.register_converter(L.Dense, 5)


def _scope_not_callable():
    with nengo_keras.converter_scope({"hidden": 5}):
        pass


def _layer_typo():
    return _converted().layers["hiden"]


REGISTRY_CASES = {
    "register_converter not callable": (
        _register_not_callable, TypeError, ["register_converter(Dense", "not a function"]
    ),
    "converter_scope not callable": (
        _scope_not_callable, TypeError, ["converter_scope", "'hidden'", "not a function"]
    ),
    "layers key misspelled": (
        _layer_typo, KeyError, ["matches name 'hiden'", "did you mean 'hidden'"]
    ),
}


@pytest.mark.parametrize("case", list(REGISTRY_CASES))
def test_bad_registry_or_lookup(case, no_simulator):
    call, error, parts = REGISTRY_CASES[case]
    with pytest.raises(error) as info:
        call()
    check_message(info.value, *parts)
