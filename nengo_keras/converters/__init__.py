"""The built-in converters, one module per family of Keras layers.

Importing this package registers them all (``import nengo_keras`` does it).
`mixins` holds `~nengo_keras.Elementwise`, `~nengo_keras.Rearranging` and
`~nengo_keras.Affine`; `fallback` and `traced` the converters of last resort;
`_lib` the helpers converters share, named for what they do (``probing``:
finding a layer's linear map by running it; ``rectifiers``: exact networks of
rectified-linear neurons; ``windows``: convolution and pooling windows as
sparse matrices; ``numpy_ref``: NumPy versions of Keras functions for Nodes).

May import: `nengo_keras.conversion`, `nengo_keras.errors` and modules of
this subpackage; never `spiking`, `run` or `nengo_dl`.
"""

from . import (  # noqa: F401  (importing a module registers its converters)
    activations,
    convolutional,
    core,
    fallback,
    merging,
    mixins,
    nested,
    normalization,
    ops,
    pooling,
    preprocessing,
    recurrent,
    reshaping,
    time_distributed,
    traced,
)
