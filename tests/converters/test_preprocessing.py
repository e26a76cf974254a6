import keras
import numpy as np
import pytest

import nengo_keras

from tests.helpers import check_conversion, tiers

L = keras.layers


@pytest.mark.parametrize(
    "scale, offset",
    [
        (1 / 255.0, 0.0),
        (2.0, -1.0),
        (np.array([0.5, 2.0, -1.0]), np.array([1.0, 0.0, 3.0])),
        (np.arange(1.0, 6.0).reshape(5, 1), 0.5),
        (np.ones((1, 1, 1, 3)) * 3.0, np.arange(3.0)),
    ],
)
def test_rescaling(scale, offset):
    inp = keras.Input((4, 5, 3))
    out = L.Rescaling(scale, offset, name="rescale")(inp)
    result = check_conversion(keras.Model(inp, out))
    assert tiers(result)["rescale"] == "neural"


def test_rescaling_folds_into_the_next_layer():
    inp = keras.Input((5, 5, 3))
    x = L.Rescaling(np.array([0.5, 2.0, 1.0]), offset=-1.0)(inp)
    out = L.Conv2D(4, 3, activation="relu")(x)
    result = check_conversion(keras.Model(inp, out))
    # only the input node and a bias constant; no pass-through node
    assert result.report[0].n_nodes == 0


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("axis", [-1, (1, 2), None])
def test_normalization(axis, invert, rng):
    data = rng.normal(3.0, 2.0, size=(50, 3, 4)) * np.arange(1, 5)
    layer = L.Normalization(axis=axis, invert=invert, name="norm")
    layer.adapt(data.astype("float32"))
    inp = keras.Input((3, 4))
    result = check_conversion(keras.Model(inp, layer(inp)))
    assert tiers(result)["norm"] == "neural"


def test_normalization_with_given_statistics():
    layer = L.Normalization(mean=[1.0, 2.0, 0.0], variance=[4.0, 0.25, 0.0])
    inp = keras.Input((2, 3))
    check_conversion(keras.Model(inp, layer(inp)))


@pytest.mark.parametrize(
    "layer",
    [
        lambda: L.Resizing(4, 5),
        lambda: L.Resizing(11, 9),
        lambda: L.Resizing(5, 5, interpolation="nearest"),
        lambda: L.Resizing(5, 4, interpolation="bicubic"),
        lambda: L.Resizing(4, 4, antialias=True),
        lambda: L.Resizing(4, 6, crop_to_aspect_ratio=True),
        lambda: L.Resizing(4, 6, pad_to_aspect_ratio=True, fill_value=0.5),
        lambda: L.CenterCrop(5, 3),
        lambda: L.CenterCrop(10, 12),  # larger than the input: Keras resizes
    ],
)
def test_resizing_and_center_crop_are_exact_sparse_maps(layer):
    inp = keras.Input((8, 7, 3))
    x = layer()(inp)
    model = keras.Model(inp, L.Conv2D(2, 3, activation="relu", name="conv")(x))
    result = check_conversion(model)
    assert set(tiers(result).values()) == {"neural"}


@pytest.mark.backends
def test_resizing_probes_rows_and_columns_not_pixels():
    """A 224x224x3 image resized to 32x32 converts in well under a second's
    worth of probing: H + W + 2 one-channel probes (not 150528)."""
    inp = keras.Input((224, 224, 3))
    model = keras.Model(inp, L.Resizing(32, 32)(inp))
    result = check_conversion(model, batch=1)
    (conn,) = [c for c in result.net.all_connections if c.pre_obj in result.inputs.values()]
    # bilinear downsampling by 7: at most 4 taps per output element
    assert conn.transform.init.nnz <= 4 * 32 * 32 * 3


AUGMENTATION = [
    lambda: L.RandomFlip(),
    lambda: L.RandomRotation(0.3),
    lambda: L.RandomZoom(0.3),
    lambda: L.RandomTranslation(0.2, 0.2),
    lambda: L.RandomContrast(0.5),
    lambda: L.RandomBrightness(0.3),
    lambda: L.RandomCrop(6, 6),  # the input's own size
]


@pytest.mark.parametrize("layer", AUGMENTATION)
def test_random_augmentation_is_the_identity_at_inference(layer):
    inp = keras.Input((6, 6, 3))
    x = layer()(inp)
    model = keras.Model(inp, L.Conv2D(2, 3, activation="relu", name="conv")(x))
    result = check_conversion(model, allow_fallback=False)
    assert set(tiers(result).values()) == {"neural"}
    assert len(result.net.all_nodes) == 1  # the input: no Node for the augmentation


@pytest.mark.backends
def test_augmentation_pipeline_in_front_of_a_model():
    """The usual tutorial set-up: a Sequential augmentation block, then rescaling."""
    augment = keras.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.1)])
    inp = keras.Input((8, 8, 3))
    x = L.Rescaling(1 / 255.0)(augment(inp))
    model = keras.Model(inp, L.Dense(4)(L.Flatten()(L.Conv2D(2, 3)(x))))
    check_conversion(model, allow_fallback=False)


def test_random_crop_to_another_size_is_a_clear_error():
    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, L.RandomCrop(4, 4, name="crop")(inp))
    with pytest.raises(nengo_keras.ConversionError, match="(?s)RandomCrop.*CenterCrop"):
        nengo_keras.to_nengo(model)
