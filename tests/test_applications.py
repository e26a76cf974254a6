"""Acceptance: every keras.applications architecture converts natively and exactly.

Each case: ``to_nengo(model, allow_fallback=False)``, one step in
``nengo.Simulator`` with rate neurons and no synapses, output equal to Keras
within rtol 1e-3 relative to the output scale. The largest models are marked
slow (``python3 run.py test --all`` runs them); CI runs the rest.
"""

import keras
import numpy as np
import pytest

import nengo_keras
from tests.helpers import assert_close

# architecture -> (input size, slow)
CASES = {
    "VGG16": (32, False),
    "ResNet50": (32, False),
    "ResNet50V2": (32, True),
    "MobileNet": (32, False),
    "MobileNetV2": (32, False),
    "MobileNetV3Small": (32, False),
    "DenseNet121": (32, True),
    "EfficientNetB0": (32, False),
    "InceptionV3": (75, True),
    "Xception": (71, True),
    "NASNetMobile": (32, True),
    "ConvNeXtTiny": (32, False),
    "EfficientNetV2B0": (32, True),
    "InceptionResNetV2": (75, True),
}


def _params():
    for name, (size, slow) in CASES.items():
        for top in (True, False):
            marks = [pytest.mark.slow] if (slow or not top) and name != "MobileNetV2" else []
            yield pytest.param(name, size, top, id=f"{name}-{'top' if top else 'notop'}", marks=marks)


@pytest.mark.parametrize("name, size, top", list(_params()))
def test_application_converts_exactly(name, size, top):
    kwargs = dict(classes=10) if top else dict(include_top=False, pooling="avg")
    model = getattr(keras.applications, name)(
        weights=None, input_shape=(size, size, 3), **kwargs
    )
    result = nengo_keras.to_nengo(model, allow_fallback=False)
    x = np.random.default_rng(0).uniform(size=(1, size, size, 3)).astype("float32")
    assert_close(result.predict(x), model.predict(x, verbose=0), rtol=1e-3, atol=0)
    assert "fallback" not in result.tier_summary()
