"""Property test: any small Keras graph converts exactly, or fails naming a layer.

Hypothesis draws functional models (`tests.keras_graphs`), converts each, runs
it in `nengo.Simulator` and compares with Keras. The profile in
`tests/conftest.py` sets how many examples run (``HYPOTHESIS_PROFILE``); the
``slow`` test (``python3 run.py test --all``) runs 550 more.
"""

import keras
import pytest
from hypothesis import event, given, note, seed, settings

import nengo_keras
from tests.helpers import assert_close, random_inputs
from tests.keras_graphs import keras_graphs


def snapshot(model):
    """Bytes of every variable and the config: what conversion must not change."""
    weights = [(v.path, keras.ops.convert_to_numpy(v).tobytes()) for v in model.variables]
    return weights, model.get_config()


def check_graph(graph):
    # fresh names for every example; a full gc per example would cost a second
    keras.backend.clear_session(free_memory=False)
    model = graph.build()
    assert [tuple(t.shape[1:]) for t in model.outputs] == graph.out_shapes
    inputs = random_inputs(model, batch=2, seed=graph.seed)
    before = snapshot(model)
    must_fail = graph.shared and not graph.split_shared_weights
    try:
        result = nengo_keras.to_nengo(
            model,
            split_shared_weights=graph.split_shared_weights,
            allow_fallback=graph.allow_fallback,
        )
    except nengo_keras.ConversionError as e:
        named = {getattr(layer, "name", None) for layer, _, _ in e.problems}
        note(str(e))
        assert None not in named and named <= graph.layer_names, named
        if graph.allow_fallback:  # then only weight sharing can make it fail
            assert must_fail and named <= graph.shared, named
        event(f"ConversionError, shared weights: {must_fail}")
    else:
        assert not must_fail, f"{sorted(graph.shared)} share weights but converted"
        event("converted")
        # predict_on_batch: predict's compiled function without its per-call
        # set-up (5x faster). Not an eager call: with oneDNN, TensorFlow's eager
        # Conv1D(2, 1, data_format="channels_first") on (2, 2) inputs adds the
        # bias along the wrong axis.
        expected = model.predict_on_batch(inputs if len(inputs) > 1 else inputs[0])
        expected = expected if isinstance(expected, (list, tuple)) else [expected]
        got = result.predict(inputs)
        got = got if isinstance(got, list) else [got]
        assert len(got) == len(expected)
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_close(g, e, rtol=1e-4, atol=1e-5, what=f"output {i}")
    after = snapshot(model)
    assert after[1] == before[1], "model.get_config() changed"
    for (path, old), (_, new) in zip(before[0], after[0], strict=True):
        assert old == new, f"variable {path} changed"


@pytest.mark.backends  # on JAX it also draws what TensorFlow's kernels get wrong
@given(graph=keras_graphs())
def test_random_graphs(graph):
    check_graph(graph)


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(5))
def test_random_graphs_many(chunk):
    # five seeded chunks, so pytest-xdist spreads them over workers
    test = seed(chunk)(settings(max_examples=110)(given(graph=keras_graphs())(check_graph)))
    test()


def test_strategy_draws_every_family():
    """The strategy reaches each layer family (a guard against silent narrowing)."""
    seen = set()

    @seed(0)
    @settings(max_examples=300, database=None, derandomize=False, deadline=None)
    @given(graph=keras_graphs())
    def collect(graph):
        lines = graph.code.splitlines()
        seen.update(line.split("L.")[1].split("(")[0] for line in lines if "L." in line)
        seen.update(["shared"] if graph.shared else [])
        seen.update(["nested"] if "keras.Sequential(" in graph.code or "keras.Model(x," in graph.code else [])

    collect()
    wanted = ["Dense", "Conv1D", "Conv2D", "DepthwiseConv", "SeparableConv", "Conv1DTranspose",
              "Conv2DTranspose", "MaxPooling", "AveragePooling", "Global", "Add", "Concatenate",
              "Multiply", "Maximum", "Reshape", "Flatten", "Permute", "BatchNormalization",
              "PReLU", "LeakyReLU", "ReLU", "shared", "nested"]
    missing = [w for w in wanted if not any(s.startswith(w) for s in seen)]
    assert not missing, missing
