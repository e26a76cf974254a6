"""The built-in converters, one module per family of Keras layers.

Importing this package registers them all (`nengo_keras.to_nengo` does it).
"""

from . import (  # noqa: F401
    activations,
    convolutional,
    core,
    merging,
    models,
    normalization,
    ops,
    pooling,
    preprocessing,
    recurrent,
    reshaping,
    spiking,
)
