"""Preprocessing layers: affine maps, and augmentation that inference skips.

Rescaling and Normalization fold into the connections around them like
batch normalization does; Resizing and CenterCrop are sparse matrices (found
by probing the layer, so every interpolation matches Keras); random
augmentation layers are the identity at inference, as in ``model.predict``.
"""

from __future__ import annotations

import keras
import numpy as np

from ..conversion.transforms import Scale
from ..errors import ConversionError
from ..conversion.registry import register
from ._lib.probing import NotLinear, separable_map
from .merging import broadcast, constant_like


def _affine(ctx, x, scale, offset):
    """``x * scale + offset`` with Keras broadcasting, as a Value."""
    shape = ctx.output_shapes[0]
    x = broadcast(ctx, x, shape)
    size = int(np.prod(shape))
    return ctx.linear(x, Scale(constant_like(scale, shape), size), shape) + constant_like(
        offset, shape
    )


@register(keras.layers.Rescaling)
def convert_rescaling(layer, ctx, x, **_):
    """``x * scale + offset`` (scalars or arrays)."""
    scale = np.asarray(keras.ops.convert_to_numpy(layer.scale), dtype=np.float64)
    if scale.ndim and keras.config.image_data_format() == "channels_first":
        # Keras puts a per-channel scale on the channel axis in this case
        scale = scale.reshape(scale.shape + (1,) * (3 - scale.ndim))
    return _affine(ctx, x, scale, layer.offset)


@register(keras.layers.Normalization)
def convert_normalization(layer, ctx, x, **_):
    """``(x - mean) / max(sqrt(var), eps)``, or its inverse (``invert=True``)."""
    mean = ctx.weight(layer, "mean")
    std = np.maximum(np.sqrt(ctx.weight(layer, "variance")), keras.config.epsilon())
    if layer.invert:
        return _affine(ctx, x, std, mean)
    return _affine(ctx, x, 1.0 / std, -mean / std)


@register(keras.layers.Resizing)
@register(keras.layers.CenterCrop)
def convert_resizing(layer, ctx, x, **_):
    """A sparse matrix (a few taps per output for the usual interpolations)."""
    if len(x.shape) != 3:
        ctx.unsupported(
            f"inputs of shape {x.shape}; expected one image (height, width, channels) "
            f"per sample",
            "apply the layer to image batches of rank 4",
        )
    axis = 0 if layer.data_format == "channels_first" else 2
    try:
        matrix, offset = separable_map(
            lambda t: layer(t, training=False), x.shape, axis
        )
    except NotLinear:
        ctx.unsupported(
            "an image map that is not separable into rows and columns",
            "register a converter for it, or allow the fallback",
        )
    return ctx.linear(x, matrix, ctx.output_shapes[0]) + offset


# Random augmentation is skipped at inference: model.predict runs these layers
# with training=False, which returns the images unchanged. (Looked up by name:
# the set grows with Keras versions.)
AUGMENTATION = (
    "AugMix", "CutMix", "MixUp", "RandAugment", "RandomBrightness",
    "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop",
    "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur",
    "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPerspective",
    "RandomPosterization", "RandomRotation", "RandomSaturation", "RandomSharpness",
    "RandomShear", "RandomTranslation", "RandomZoom",
)


def convert_augmentation(layer, ctx, x, **_):
    """The identity (what ``training=False`` computes)."""
    if tuple(ctx.output_shapes[0]) != tuple(x.shape):
        # RandomCrop to another size: Keras declares the cropped shape but
        # returns the input unchanged at inference
        # unchanged: no converter (not even a fallback Node) can match both
        raise ConversionError([(
            layer,
            f"declares output shape {tuple(ctx.output_shapes[0])} but at inference "
            f"Keras returns its input, of shape {tuple(x.shape)}, unchanged",
            "for inference, replace it with keras.layers.CenterCrop or Resizing "
            "to the same size",
        )])
    return x


for _name in AUGMENTATION:
    if hasattr(keras.layers, _name):
        register(getattr(keras.layers, _name), convert_augmentation)
