"""The custom layers of `keras.applications` models, converted by declaration.

`keras.applications` defines a few layer classes of its own: ConvNeXt's
``LayerScale`` (a per-channel scale) and ``StochasticDepth`` (the identity at
inference), and InceptionResNetV2's ``CustomScaleLayer`` (``x + scale * r``).
They are converted exactly as a user's own custom layer would be, through the
public mechanisms: each is declared affine by registering the
`nengo_keras.Affine` converter for it, so probing finds its (elementwise) maps
and they fold into the neighbouring kernels.

Examples
--------
Any other layer class one cannot edit converts the same way:

>>> nengo_keras.register_converter(TheirScale, nengo_keras.Affine.to_nengo)
"""

from __future__ import annotations

from .. import _keras_graph as kg
from ..mixins import Affine
from ..registry import register_converter

_CLASSES = [
    kg.layer_class("applications.convnext.LayerScale"),
    kg.layer_class("applications.convnext.StochasticDepth"),
    kg.layer_class("applications.inception_resnet_v2.CustomScaleLayer"),
]

for _cls in _CLASSES:
    if _cls is not None:  # absent from this Keras version
        register_converter(_cls, Affine.to_nengo)
