"""The helper every converter test uses: convert, simulate, compare with Keras."""

import numpy as np

import nengo_keras


def random_inputs(model, batch=2, seed=0, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(low, high, size=(batch,) + tuple(x.shape[1:])).astype(np.float32)
        for x in model.inputs
    ]


def assert_close(got, expected, rtol=1e-4, atol=1e-5, what="output"):
    """``max|got - expected| <= atol + rtol * max|expected|``."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    err = np.max(np.abs(got - expected)) if got.size else 0.0
    scale = np.max(np.abs(expected)) if got.size else 0.0
    assert err <= atol + rtol * scale, f"{what}: max error {err:.3g} (scale {scale:.3g})"


def check_conversion(model, inputs=None, *, rtol=1e-4, atol=1e-5, batch=2, **options):
    """Convert ``model``, run it in nengo.Simulator, compare with ``model.predict``.

    Returns the `ConvertedModel`.
    """
    result = nengo_keras.to_nengo(model, **options)
    inputs = random_inputs(model, batch) if inputs is None else inputs
    inputs = inputs if isinstance(inputs, list) else [inputs]
    expected = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    got = result.predict(inputs)
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, e, rtol=rtol, atol=atol, what=f"output {i}")
    return result


def tiers(result):
    return {r.name: r.tier for r in result.report}
